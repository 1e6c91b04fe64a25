import Foundation
import XCTest
import EmendCore
import EmendModels
@testable import EmendEditing

/// Peak resident memory of one MALMEN training step stays flat when the facts per step grow 4× (spec §4.6: the LM
/// graph holds one mini-batch and the editor graph one chunk).
///
/// How it is measured: each configuration runs in a fresh child process (this test binary, re-run on the probe test
/// below with an environment variable), which reports the kernel's peak resident set size (VmHWM in
/// /proc/self/status) after one training step. Separate processes mean no configuration inherits another's heap,
/// and VmHWM counts everything the process touched, allocator caches included. The model is wide enough (D 256,
/// F 1024, 40-token prompts) that one mini-batch's saved activations are tens of MB, well above the process's
/// baseline noise. The control run puts all 4N facts into one LM mini-batch (what an implementation without
/// mini-batching does); it must exceed the bound, which shows the test can fail.
final class HyperNetworkMemoryTests: XCTestCase {
    static let probeVariable = "EMEND_HN_MEMORY_PROBE"   // "facts,lmBatch,outputFile"

    static func peakResidentKiB() -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }

    /// Runs in the child only.
    func testProbe() throws {
        guard let spec = ProcessInfo.processInfo.environment[Self.probeVariable] else { throw XCTSkip("runs only as the memory test's child") }
        let parts = spec.split(separator: ",").map(String.init)
        guard parts.count == 3, let n = Int(parts[0]), let lmBatch = Int(parts[1]) else { return XCTFail("bad probe spec \(spec)") }
        let config = ModelConfig.llamaStyle(vocabSize: 512, hiddenSize: 256, intermediateSize: 1024, layerCount: 2,
                                            headCount: 4, kvHeadCount: 2)
        let model = TransformerModel(config: config, weights: .random(config, seed: 1))
        var s = HyperNetworkSettings(method: .malmen, layers: [0, 1])
        s.rank = 16; s.lmBatchSize = lmBatch; s.chunkTokens = 64; s.factsPerStep = n
        var t = HyperNetworkTrainer(editor: try HyperNetworkEditor(settings: s, model: model))
        _ = try t.trainStep(model, facts: HyperNetworkTrainerTests.facts(n, seed: 7, vocab: 512, promptLength: 40))
        guard let peak = Self.peakResidentKiB() else { throw XCTSkip("no /proc/self/status") }
        try "\(peak)".write(toFile: parts[2], atomically: true, encoding: .utf8)
    }

    func childPeak(facts: Int, lmBatch: Int) throws -> Int {
        let exe = ProcessInfo.processInfo.arguments[0]
        guard exe.hasSuffix(".xctest"), FileManager.default.isExecutableFile(atPath: exe) else {
            throw XCTSkip("needs the Linux XCTest runner to start a child process (got \(exe))")
        }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("emend-hn-mem-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["EmendEditingTests.HyperNetworkMemoryTests/testProbe"]
        var env = ProcessInfo.processInfo.environment
        env[Self.probeVariable] = "\(facts),\(lmBatch),\(out)"
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let text = try? String(contentsOfFile: out, encoding: .utf8), let kib = Int(text) else {
            // A crash or a throw in the child is a failure, not a skip (only a missing /proc skips, checked above).
            XCTFail("the child process did not report its peak memory (status \(p.terminationStatus))")
            return 0
        }
        return kib
    }

    func testPeakMemoryFlatWhenFactsGrowFourfold() throws {
        guard FileManager.default.fileExists(atPath: "/proc/self/status") else { throw XCTSkip("needs /proc (Linux)") }
        // Under AddressSanitizer the resident set is mostly shadow memory and its quarantine: not the editor's peak.
        if dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__asan_init") != nil { throw XCTSkip("peak memory is not measurable under AddressSanitizer") }
        let small = try childPeak(facts: 16, lmBatch: 8)
        let large = try childPeak(facts: 64, lmBatch: 8)
        let unbatched = try childPeak(facts: 64, lmBatch: 64)
        print("peak RSS: 16 facts \(small / 1024) MiB, 64 facts \(large / 1024) MiB, 64 facts in one LM batch \(unbatched / 1024) MiB")
        XCTAssertLessThanOrEqual(Double(large), 1.15 * Double(small), "16 facts: \(small) KiB, 64 facts: \(large) KiB")
        XCTAssertGreaterThan(Double(unbatched), 1.15 * Double(small), "control: without mini-batches the bound must fail")
    }
}
