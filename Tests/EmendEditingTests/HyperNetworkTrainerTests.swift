import XCTest
import EmendCore
import EmendModels
import EmendTestSupport
@testable import EmendEditing

/// The language-model side of the hyper-network editors (caching u and δ, the meta-gradient G), the trainer, and the
/// editor checkpoint, on tiny random models.
final class HyperNetworkTrainerTests: XCTestCase {
    static let config = ModelConfig.llamaStyle(vocabSize: 48, hiddenSize: 16, intermediateSize: 24, layerCount: 3,
                                               headCount: 2, kvHeadCount: 1)
    static let model = TransformerModel(config: config, weights: .random(config, seed: 3, std: 0.2))

    static func facts(_ n: Int, seed: UInt64, vocab: Int = 48, promptLength: Int = 5) -> [TokenizedFact] {
        var rng = SeededGenerator(seed: seed)
        func ids(_ k: Int) -> [Int] { (0..<k).map { _ in Int(rng.next() % UInt64(vocab)) } }
        return (0..<n).map { _ in
            let answer = ids(1 + Int(rng.next() % 2))
            return TokenizedFact(edit: LabelledSequence(prompt: ids(promptLength), answer: answer),
                                 equivalent: LabelledSequence(prompt: ids(promptLength + 1), answer: answer),
                                 unrelated: LabelledSequence(prompt: ids(promptLength), answer: ids(1)))
        }
    }

    func settings(_ method: HyperNetworkMethod) -> HyperNetworkSettings {
        var s = HyperNetworkSettings(method: method, layers: [1, 2])
        s.rank = 8; s.lmBatchSize = 3; s.chunkTokens = 5; s.factsPerStep = 8
        s.initialEta = method == .malmen ? 1e-2 : 1e-3; s.metaLearningRate = 3e-3; s.maxGradNorm = 10
        return s
    }

    /// G = Σ_rows uᵀ·δ from one traced pass is dL/dS for W_down += Sᵀ: checked against central finite differences of
    /// the loss recomputed from logits (an independent path), for the cross-entropy and the KL losses.
    func testTracedMetaGradientMatchesFiniteDifferences() throws {
        let m = Self.model
        let seqs = Self.facts(3, seed: 1).map(\.equivalent)
        let ref = TransformerModel(config: Self.config, weights: .random(Self.config, seed: 8, std: 0.2)).labelledLogits(seqs).logSoftmax()
        let targets = seqs.flatMap { s in s.labelledPositions.map { s.labels[$0] } }
        for loss in [TracedLoss.crossEntropy, .klFrom(referenceLogProbs: ref)] {
            func value(_ model: TransformerModel) -> Double {
                let logits = model.labelledLogits(seqs)
                switch loss {
                case .crossEntropy: return Double(crossEntropy(logits: logits, targets: targets))
                case .klFrom(let r): return Double(klDivergence(logP: r, logQ: logits.logSoftmax()))
                }
            }
            let t = m.traceLayers(seqs, layers: [1, 2], loss: loss)
            XCTAssertEqual(Double(t.loss), value(m), accuracy: 1e-4)
            for l in [1, 2] {
                let g = matmul(t.keys[l]!, t.valueGradients[l]!, transposeA: true)     // [F, D]
                for (i, j) in [(0, 0), (5, 3), (23, 15), (11, 7)] {
                    let h: Float = 1e-2
                    var up = m, down = m
                    var wu = m.weights.blocks[l].ffnDown.dequantized(), wd = wu
                    wu.scalars[j * 24 + i] += h
                    wd.scalars[j * 24 + i] -= h
                    up.weights.blocks[l].ffnDown = WeightMatrix(wu)
                    down.weights.blocks[l].ffnDown = WeightMatrix(wd)
                    let fd = (value(up) - value(down)) / Double(2 * h)
                    XCTAssertEqual(Double(g.scalars[i * 16 + j]), fd, accuracy: 2e-3 + 2e-2 * abs(fd), "layer \(l) S[\(i), \(j)]")
                }
            }
        }
    }

    /// MALMEN caches exactly the answer-predicting positions (spec §4.2, token: ans); MEND every position.
    func testCachedPositions() throws {
        let facts = Self.facts(4, seed: 2)
        let answerTokens = facts.reduce(0) { $0 + $1.edit.labelledPositions.count }
        let allTokens = facts.reduce(0) { $0 + $1.edit.ids.count }
        var malmen = try HyperNetworkEditor(settings: settings(.malmen), model: Self.model)
        var mend = try HyperNetworkEditor(settings: settings(.mend), model: Self.model)
        XCTAssertEqual(malmen.cache(Self.model, edits: facts.map(\.edit), updateStatistics: true)[1]?.rowCount, answerTokens)
        XCTAssertEqual(mend.cache(Self.model, edits: facts.map(\.edit), updateStatistics: false)[2]?.rowCount, allTokens)
        XCTAssertEqual(malmen.normalizer.count, Double(2 * answerTokens))   // two layers share the statistics
        XCTAssertEqual(mend.normalizer.count, 0)
    }

    /// A fact edited alone gets the value gradients it has inside a full mini-batch of facts with as many answer tokens
    /// (sequences do not interact, and the mean-over-tokens loss is counted over a full mini-batch): the scale the
    /// editor was trained on does not depend on how many facts are edited at once.
    func testValueGradientScaleIndependentOfBatchFill() throws {
        var s = settings(.malmen)
        s.lmBatchSize = 4
        var e = try HyperNetworkEditor(settings: s, model: Self.model)
        let facts = Self.facts(12, seed: 13).filter { $0.edit.labelledPositions.count == 2 }.prefix(4).map(\.edit)
        XCTAssertEqual(facts.count, 4)
        let together = e.cache(Self.model, edits: Array(facts), updateStatistics: false)[2]!
        let alone = e.cache(Self.model, edits: [facts[0]], updateStatistics: false)[2]!
        XCTAssertLessThan((together.valueGradients[0].rows(0..<2) - alone.valueGradients[0]).maxAbs(), 1e-6)
        XCTAssertLessThan((together.keys[0].rows(0..<2) - alone.keys[0]).maxAbs(), 1e-5)
    }

    /// Meta-training does what it is for: on a fixed set of facts, the validation meta-loss (paraphrase CE + locality
    /// KL after editing all of them at once) falls below its value for the identity-initialised editor, for both methods.
    func testTrainingLowersTheMetaLoss() throws {
        let facts = Self.facts(8, seed: 4)
        for method in HyperNetworkMethod.allCases {
            var t = HyperNetworkTrainer(editor: try HyperNetworkEditor(settings: settings(method), model: Self.model))
            _ = try t.trainStep(Self.model, facts: facts)   // statistics from one pass
            let before = try t.validate(Self.model, facts: facts).loss
            for _ in 0..<25 { _ = try t.trainStep(Self.model, facts: facts) }
            let after = try t.validate(Self.model, facts: facts)
            XCTAssertLessThan(after.loss, before * 0.9, "\(method): \(before) → \(after.loss)")
        }
    }

    /// Resuming is exact: two steps, save, resume, one more step gives the same parameters as three uninterrupted steps.
    func testResumeIsExact() throws {
        let facts = Self.facts(6, seed: 5)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-hn-resume-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var a = HyperNetworkTrainer(editor: try HyperNetworkEditor(settings: settings(.malmen), model: Self.model))
        for _ in 0..<2 { _ = try a.trainStep(Self.model, facts: facts) }
        try a.saveState(to: dir)
        _ = try a.trainStep(Self.model, facts: facts)
        guard var b = try HyperNetworkTrainer.resume(from: dir) else { return XCTFail("no state written") }
        XCTAssertEqual(b.step, 2)
        _ = try b.trainStep(Self.model, facts: facts)
        XCTAssertEqual(a.editor.parameters.flat, b.editor.parameters.flat)
        XCTAssertEqual(a.editor.normalizer.mean, b.editor.normalizer.mean)

        // A save killed between its two renames (resume → resume.old done, resume.tmp → resume not): the previous
        // complete set is used, never a mix.
        try b.saveState(to: dir)
        try FileManager.default.moveItem(at: dir.appendingPathComponent("resume"), to: dir.appendingPathComponent("resume.old"))
        XCTAssertEqual(try HyperNetworkTrainer.resume(from: dir)?.step, 3)
        // A save killed between editor.safetensors and editor.json: the pair tokens differ and the load is refused.
        let other = dir.appendingPathComponent("other")
        try a.editor.save(to: other)
        try b.editor.save(to: dir)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("editor.json"))
        try FileManager.default.copyItem(at: other.appendingPathComponent("editor.json"), to: dir.appendingPathComponent("editor.json"))
        XCTAssertThrowsError(try HyperNetworkEditor.load(from: dir)) { e in XCTAssertTrue("\(e)".contains("interrupted"), "\(e)") }
    }

    /// The checkpoint round-trips (same edit afterwards), and bad inputs are refused before any weight changes: a model
    /// of another shape, a truncated tensor file, a tensor of the wrong shape.
    func testCheckpointRoundTripAndRefusals() throws {
        let facts = Self.facts(5, seed: 6)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-hn-ckpt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var t = HyperNetworkTrainer(editor: try HyperNetworkEditor(settings: settings(.malmen), model: Self.model))
        for _ in 0..<2 { _ = try t.trainStep(Self.model, facts: facts) }
        try t.editor.save(to: dir)
        let loaded = try HyperNetworkEditor.load(from: dir)
        XCTAssertEqual(loaded.parameters.flat, t.editor.parameters.flat)
        XCTAssertEqual(try loaded.edit(Self.model, edits: facts.map(\.edit)).model.weights.blocks[2].ffnDown,
                       try t.editor.edit(Self.model, edits: facts.map(\.edit)).model.weights.blocks[2].ffnDown)

        let other = ModelConfig.llamaStyle(vocabSize: 48, hiddenSize: 16, intermediateSize: 32, layerCount: 3, headCount: 2, kvHeadCount: 1)
        XCTAssertThrowsError(try loaded.edit(TransformerModel(config: other, weights: .random(other, seed: 1)), edits: facts.map(\.edit)))

        let st = dir.appendingPathComponent("editor.safetensors")
        let bytes = try Data(contentsOf: st)
        try bytes.prefix(bytes.count / 2).write(to: st)
        XCTAssertThrowsError(try HyperNetworkEditor.load(from: dir))

        var wrong = t.editor
        wrong.settings.rank = 9                           // editor.json now promises another shape
        try t.editor.save(to: dir)
        let json = try Data(contentsOf: dir.appendingPathComponent("editor.json"))
        try wrong.save(to: dir)
        try json.write(to: dir.appendingPathComponent("editor.json"))
        try SafeTensorsWriter.write(Array(zip(wrong.parameters.names, wrong.parameters.flat.map { $0.rank == 2 && $0.dim(1) == 8 ? Tensor.zeros([$0.dim(0), 9]) : $0 }))
            .map { (name: $0.0, tensor: $0.1) }, to: st)
        XCTAssertThrowsError(try HyperNetworkEditor.load(from: dir)) { e in
            XCTAssertTrue("\(e)".contains("shape"), "\(e)")
        }
    }
}
