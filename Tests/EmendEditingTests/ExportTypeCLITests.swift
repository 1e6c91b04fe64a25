import EmendModelTestSupport
import EmendModels
import EmendTestSupport
import XCTest

/// `--export-type` against the real `emend` binary on the tiny GGUF: a bad value and a block type for a safetensors
/// folder are usage errors (exit 64) before any work, leaving no file; a good one is written and named in the summary
/// line. The independent truth is the process's exit status and output, the file system, and the written file read
/// back with `GGUFFile`.
final class ExportTypeCLITests: XCTestCase {
    nonisolated(unsafe) static var fixture: URL?

    var dir: URL { Self.fixture! }
    var model: String { dir.appendingPathComponent("tiny.gguf").path }
    var requests: String { dir.appendingPathComponent("requests.json").path }

    override func setUpWithError() throws {
        guard TestPaths.exists(EmendProcess.binary) else {
            throw XCTSkip("\(EmendProcess.binary.path) not built (swift build -c release --build-tests builds it)")
        }
        if Self.fixture == nil {
            let d = FileManager.default.temporaryDirectory.appendingPathComponent("emend-export-type-\(UUID().uuidString)")
            try TinyModelFile.writeFixture(in: d, requestCount: 2)
            Self.fixture = d
        }
    }

    override class func tearDown() {
        if let d = fixture { try? FileManager.default.removeItem(at: d) }
        fixture = nil
        super.tearDown()
    }

    func emend(_ args: [String]) throws -> EmendProcess.Result {
        try EmendProcess.run(args, home: dir.appendingPathComponent("home"))
    }

    /// A fresh empty folder: what is in it after a command is what the command left behind.
    func scratch() throws -> URL {
        let s = dir.appendingPathComponent("scratch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: s, withIntermediateDirectories: true)
        return s
    }

    func edit(_ extra: [String]) -> [String] {
        ["edit", "--model", model, "--preset", dir.appendingPathComponent("tiny-preset.json").path,
         "--corpus", dir.appendingPathComponent("corpus.json").path, "--requests", requests, "--quiet"] + extra
    }

    func assertUsage(_ r: EmendProcess.Result, contains needles: [String], leftIn folder: URL, _ line: UInt = #line) {
        XCTAssertEqual(r.status, 64, r.output, line: line)
        for n in needles { XCTAssertTrue(r.output.contains(n), "missing '\(n)' in: \(r.output)", line: line) }
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? ["?"], [], line: line)
    }

    /// An unknown type, and a block type for a safetensors folder (edit, store export, bench export), are refused
    /// with exit 64 naming the option and the allowed values, and nothing is written.
    func testExportType_BadValueAndSafeTensorsBlockTypeRefused() throws {
        let s = try scratch()
        assertUsage(try emend(edit(["--out", s.appendingPathComponent("x.gguf").path, "--export-type", "q3_k"])),
                    contains: ["--export-type", "q4_k", "keep"], leftIn: s)
        let allowed = "a safetensors folder takes f32, f16, bf16"
        assertUsage(try emend(edit(["--out", s.appendingPathComponent("hf").path, "--export-type", "q4_k"])),
                    contains: ["--export-type q4_k", allowed], leftIn: s)
        assertUsage(try emend(["store", "export", s.appendingPathComponent("no.store").path, "--format", "safetensors",
                               "--out", s.appendingPathComponent("hf").path, "--export-type", "q8_0"]),
                    contains: ["--export-type q8_0", allowed], leftIn: s)
        assertUsage(try emend(["bench", "export", s.appendingPathComponent("run").path, "--out", s.appendingPathComponent("hf").path,
                               "--export-type", "keep"]),
                    contains: ["--export-type keep", allowed], leftIn: s)
        assertUsage(try emend(edit(["--dry-run", "--export-type", "q8_0"])), contains: ["--export-type", "--out"], leftIn: s)
    }

    /// `--export-type q8_0`: the summary line names Q8_0 and the edited tensors read back as Q8_0; Q4_K, whose 256-element
    /// blocks cannot tile the tiny model's 128-wide ffn_down rows, fails naming the tensor and the type, with no file.
    func testExportType_Q8_0WrittenAndNamedQ4_KUntileableRefused() throws {
        let s = try scratch()
        let out = s.appendingPathComponent("q8.gguf")
        let r = try emend(edit(["--out", out.path, "--export-type", "q8_0"]))
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("as Q8_0"), r.output)
        let g = try GGUFFile(url: out)
        let replaced = g.tensors.filter { $0.type != .f32 }
        XCTAssertFalse(replaced.isEmpty)
        XCTAssertTrue(replaced.allSatisfy { $0.type == .q8_0 && $0.name.hasSuffix("ffn_down.weight") }, "\(replaced)")

        let bad = try scratch()
        let r4 = try emend(edit(["--out", bad.appendingPathComponent("q4k.gguf").path, "--export-type", "q4_k"]))
        XCTAssertEqual(r4.status, 1, r4.output)
        XCTAssertTrue(r4.output.contains("ffn_down.weight") && r4.output.contains("Q4_K"), r4.output)
        // Refused before the edit starts (OutputTarget.check), not after the work is done.
        XCTAssertTrue(r4.output.contains("nothing was edited") && !r4.output.contains("steps/fact"), r4.output)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: bad.path), [])
    }
}
