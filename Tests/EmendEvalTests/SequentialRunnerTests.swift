import XCTest
import EmendCore
import EmendEditing
import EmendModels
@testable import EmendEval

/// The sequential protocol on a tiny random model: resumable bit for bit, checkpoints where the settings put them,
/// norms as defined, and a run directory that refuses different settings.
final class SequentialRunnerTests: XCTestCase {
    typealias F = TinySequentialFixture

    func runner(_ dir: URL, settings: SequentialSettings = F.settings(), probe: CheckpointProbe? = F.probe()) throws -> SequentialRunner {
        let m = try F.loaded()
        return try SequentialRunner(directory: dir, settings: settings, base: m, editor: try F.editor(m),
                                    requests: F.requests(settings.edits), probe: probe)
    }

    /// Reference: one uninterrupted run. Checked against: the same run killed after batch 1, again after batch 3, and
    /// once by a crash inside the checkpoint probe at 6 edits, each time continued by a new runner built from the
    /// directory. The numbers (everything but wall-clock times), the final weights and the per-layer state must be
    /// identical, bit for bit.
    func testResume_InterruptedEqualsUninterrupted() throws {
        let a = try F.temporaryDirectory("seq-a"), b = try F.temporaryDirectory("seq-b")
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        var whole = try runner(a)
        try whole.run()
        XCTAssertTrue(whole.results.complete)

        var first = try runner(b)
        try first.run(maxBatches: 1)
        XCTAssertEqual(first.results.batches.count, 1)
        XCTAssertFalse(first.results.complete)
        var second = try runner(b)
        XCTAssertEqual(second.results.batches.count, 1, "resumes after the last finished batch")
        // This session applies batch 2, then its probe's first call (the checkpoint at 6 edits) throws, like a
        // process killed mid-checkpoint.
        let counter = F.CallCounter()
        var crashing = try runner(b, probe: F.probe(failAt: 1, calls: counter))
        XCTAssertThrowsError(try crashing.run())
        XCTAssertEqual(try XCTUnwrap(SequentialResults.read(from: b)).batches.count, 2, "batch 2 was committed before the checkpoint")
        second = try runner(b)
        try second.run(maxBatches: 1)
        var third = try runner(b)
        try third.run()

        let done = try XCTUnwrap(SequentialResults.read(from: b))
        XCTAssertTrue(done.numbersEqual(whole.results), "resumed results differ from the uninterrupted run's")
        XCTAssertEqual(done.sessions, [0, 1, 2, 3])   // `second`'s first opening never committed
        let unedited = try F.loaded().model
        for l in F.preset.layers {
            XCTAssertNotEqual(whole.editor.model.weights.blocks[l].ffnDown, unedited.weights.blocks[l].ffnDown, "layer \(l) was edited")
            XCTAssertEqual(whole.editor.states[l]?.editCount, 12)
            XCTAssertEqual(third.editor.model.weights.blocks[l].ffnDown, whole.editor.model.weights.blocks[l].ffnDown, "layer \(l) weights")
            XCTAssertEqual(third.editor.states[l], whole.editor.states[l], "layer \(l) state")
        }
        // The file on disk is what the runner holds.
        XCTAssertTrue(try XCTUnwrap(SequentialResults.read(from: a)).numbersEqual(whole.results))
        // Only the last state checkpoint is kept.
        let kept = try FileManager.default.contentsOfDirectory(atPath: b.appendingPathComponent("state").path).filter { !$0.hasPrefix(".") }
        XCTAssertEqual(kept, ["after-batch-000004.safetensors"])
    }

    /// `emend bench export`'s model: the base with the last checkpoint's matrices is the runner's edited model, bit
    /// for bit, after a partial and after a finished run; another model's fingerprint is refused; no batch → nil.
    func testEditedModel_IsTheRunnersModel() throws {
        let dir = try F.temporaryDirectory("seq-export")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = try F.loaded().model
        var r = try runner(dir)
        XCTAssertNil(try SequentialCheckpoint.editedModel(of: r.results, in: dir, base: base, fingerprint: "0"))
        for partial in [true, false] {
            try r.run(maxBatches: partial ? 1 : nil)
            XCTAssertEqual(r.results.complete, !partial)
            let got = try XCTUnwrap(SequentialCheckpoint.editedModel(of: r.results, in: dir, base: base, fingerprint: "0"))
            XCTAssertEqual(got.batches, r.results.batches.count)
            for l in 0..<base.config.layerCount {
                XCTAssertEqual(got.model.weights.blocks[l].ffnDown, r.editor.model.weights.blocks[l].ffnDown, "layer \(l)")
                XCTAssertEqual(got.model.weights.blocks[l].ffnDown == base.weights.blocks[l].ffnDown, !F.preset.layers.contains(l))
            }
        }
        XCTAssertThrowsError(try SequentialCheckpoint.editedModel(of: r.results, in: dir, base: base, fingerprint: "other"))
    }

    /// Checkpoints at 0, 6, 12 edits for 12 edits / batch 3 / every 6 (worked by hand); edit metrics on the sampled
    /// records edited so far (the whole sample at 0); the probe's average is the mean of the two tasks' F1; the norms
    /// of each batch recomputed here from the checkpoint file and the unedited weights.
    func testRun_CheckpointsSampleAndNorms() throws {
        let dir = try F.temporaryDirectory("seq-c")
        defer { try? FileManager.default.removeItem(at: dir) }
        var r = try runner(dir)
        try r.run()
        let res = r.results
        XCTAssertEqual(res.batches.map(\.edits), [3, 6, 9, 12])
        XCTAssertEqual(res.checkpoints.map(\.edits), [0, 6, 12])
        XCTAssertEqual(res.evaluationSample.count, 6)                            // round(0.5 × 12)
        let sample = res.evaluationSample
        XCTAssertEqual(res.checkpoints[0].editMetrics?.records, sample.count)
        XCTAssertEqual(res.checkpoints[1].editMetrics?.records, sample.filter { $0 < 6 }.count)
        XCTAssertEqual(res.checkpoints[2].editMetrics?.records, sample.count)
        for c in res.checkpoints {
            let a = try XCTUnwrap(c.downstream?["a"]?["f1"]), b = try XCTUnwrap(c.downstream?["b"]?["f1"])
            XCTAssertEqual(try XCTUnwrap(c.downstreamAverage?["f1"]), (a + b) / 2, accuracy: 1e-15)
            XCTAssertEqual(try XCTUnwrap(c.downstreamAverage?["accuracy"]), 0.5)     // only task a reports it
        }
        // Norms: ‖W‖/‖W0‖ and ‖W − W0‖/‖W0‖ in Float64 from the final weights.
        let m = try F.loaded()
        let last = try XCTUnwrap(res.batches.last)
        for l in F.preset.layers {
            let w = r.editor.model.weights.blocks[l].ffnDown.dequantized().scalars.map(Double.init)
            let w0 = m.model.weights.blocks[l].ffnDown.dequantized().scalars.map(Double.init)
            let n0 = w0.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let n = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let d = zip(w, w0).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            XCTAssertEqual(try XCTUnwrap(last.relativeNorms[l]), n / n0, accuracy: 1e-5)
            XCTAssertEqual(try XCTUnwrap(last.relativeDistances[l]), d / n0, accuracy: 1e-5)
            XCTAssertGreaterThan(d, 0, "layer \(l) was edited")
            XCTAssertEqual(try XCTUnwrap(res.originalNorms[l]), n0, accuracy: 1e-4 * n0)
        }
        XCTAssertEqual(last.searchSteps.count, 3)
        XCTAssertTrue(last.searchSteps.allSatisfy { (1...F.preset.search.maxSteps).contains($0) })
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("report.html").path))
    }

    /// The state checkpoint round-trips exactly: Float32 weights, a Float64 Gram matrix and a factored state (its
    /// key blocks), bit for bit (random values, including ones that are not representable in Float32).
    func testCheckpoint_RoundTripsExactly() throws {
        let dir = try F.temporaryDirectory("seq-d")
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SeededGenerator(seed: 3)
        let c = F.config
        var weights: [Int: Tensor] = [:], states: [Int: LayerEditState] = [:]
        for l in [0, 2] {
            weights[l] = Tensor.randomNormal([c.hiddenSize, c.intermediateSize], std: 1, using: &rng)
            var s = LayerEditState(width: c.intermediateSize)
            s.previousKeysGram = try Matrix64(rows: c.intermediateSize, cols: c.intermediateSize,
                                              scalars: (0..<(c.intermediateSize * c.intermediateSize)).map { _ in rng.nextUniformDouble() / 3 })
            s.editCount = 7 + l
            states[l] = s
        }
        let blocks = try [2, 3].map { n in
            try Matrix64(rows: c.intermediateSize, cols: n, scalars: (0..<(c.intermediateSize * n)).map { _ in rng.nextUniformDouble() - 0.5 })
        }
        states[2] = try LayerEditState(width: c.intermediateSize, keyBlocks: blocks)
        XCTAssertEqual(states[2]?.isFactored, true)
        let cp = SequentialCheckpoint(batches: 5, weights: weights, states: states)
        try cp.write(to: dir)
        let read = try SequentialCheckpoint.read(from: dir, batches: 5, layers: [0, 2], config: c)
        XCTAssertEqual(read, cp)
        XCTAssertEqual(read.states[2]?.keyBlocks, blocks, "factored state read back as its keys")
        // Asking for another batch count or a layer it does not hold throws, naming it.
        XCTAssertThrowsError(try SequentialCheckpoint.read(from: dir, batches: 4, layers: [0, 2], config: c))
        XCTAssertThrowsError(try SequentialCheckpoint.read(from: dir, batches: 5, layers: [1], config: c)) {
            XCTAssertTrue("\($0)".contains("blk.1.ffn_down"), "\($0)")
        }
    }

    /// A run directory resumes only its own run: other settings (batch size) or another probe throw, naming the
    /// field, and leave results.json as it was.
    func testResume_DifferentSettingsThrow() throws {
        let dir = try F.temporaryDirectory("seq-e")
        defer { try? FileManager.default.removeItem(at: dir) }
        var r = try runner(dir)
        try r.run(maxBatches: 1)
        let before = try Data(contentsOf: dir.appendingPathComponent("results.json"))
        XCTAssertThrowsError(try runner(dir, settings: F.settings(batch: 2))) { XCTAssertTrue("\($0)".contains("settings.batchSize"), "\($0)") }
        XCTAssertThrowsError(try runner(dir, probe: nil)) { XCTAssertTrue("\($0)".contains("downstream"), "\($0)") }
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("results.json")), before)
    }

    /// A corrupt results.json throws `invalidRun` naming the file instead of starting over.
    func testResume_CorruptResultsThrow() throws {
        let dir = try F.temporaryDirectory("seq-f")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("{\"format\": \"emend.sequential.v1\"}".utf8).write(to: dir.appendingPathComponent("results.json"))
        XCTAssertThrowsError(try runner(dir)) { XCTAssertTrue("\($0)".contains("results.json"), "\($0)") }
    }
}
