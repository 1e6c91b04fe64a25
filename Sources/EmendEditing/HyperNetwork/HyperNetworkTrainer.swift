// Meta-training of a MEND or MALMEN editor (spec §4.5–§4.6). One step edits `factsPerStep` facts at once:
//   1. cache (u, δ) of the edit tuples, LM mini-batch by mini-batch (the input statistics are updated here);
//   2. the shifts S_l (editor network in chunks, no trace kept);
//   3. on the edited copy of the model: for every paraphrase mini-batch, L_gen = mean answer-token CE with the edit
//      target; for every unrelated mini-batch, L_loc = mean over answer positions of KL(p_unedited ‖ p_edited);
//      each backward gives G_l += Σ_rows uᵀ·δ (gradients accumulate; L_meta = Σ L_gen + c_loc Σ L_loc);
//   4. the editor's backward pass from G (chunks again), global-norm clip, Adam.
// At no time are the LM graph and the editor graph alive together; the LM graph holds one mini-batch and the editor
// graph one chunk, so peak memory does not grow with the facts per step (beyond the O(n·(F+Dm)) token caches).

import EmendCore
import EmendModels
import Foundation

/// The losses of one training step.
public struct TrainingStepReport: Sendable {
    public var generalizationLoss: Double
    public var localityLoss: Double
    public var gradientNorm: Double
    public var cachedTokens: Int
}

/// Edit quality of one validation pass (spec §5.3): ES, GS, LS as mean per-example token accuracies.
public struct ValidationReport: Sendable, Codable {
    public var editSuccess: Double
    public var generalizationSuccess: Double
    public var localitySuccess: Double
    /// Mean over edit batches of (Σ L_gen + c_loc Σ L_loc) / mini-batches.
    public var loss: Double
    public var facts: Int
}

/// The trainer: an editor, its optimiser and the early-stopping state.
public struct HyperNetworkTrainer: Sendable {
    public var editor: HyperNetworkEditor
    public var optimizer: Adam
    public var step: Int = 0
    public var bestLoss: Double = .infinity
    /// Validations since the best one.
    public var sinceBest: Int = 0

    public init(editor: HyperNetworkEditor) {
        self.editor = editor
        self.optimizer = Adam(learningRate: editor.settings.metaLearningRate)
    }

    var layers: [Int] { editor.settings.layers }

    func miniBatches(_ seqs: [LabelledSequence]) -> [[LabelledSequence]] {
        let b = editor.settings.lmBatchSize
        return stride(from: 0, to: seqs.count, by: b).map { Array(seqs[$0..<min($0 + b, seqs.count)]) }
    }

    /// One meta-training step on `facts` (edited at once).
    public mutating func trainStep(_ model: TransformerModel, facts: [TokenizedFact]) throws -> TrainingStepReport {
        let caches = editor.cache(model, edits: facts.map(\.edit), updateStatistics: true)
        let shifts = try editor.shifts(caches)
        let edited = HyperNetworkEditor.applying(shifts, to: model)
        var g: [Int: Tensor] = [:]
        func accumulate(_ t: LayerTrace, weight: Float) {
            for l in layers {
                guard let k = t.keys[l], let d = t.valueGradients[l] else { continue }
                let gl = matmul(k, d, transposeA: true)
                g[l] = (g[l] ?? Tensor.zeros(gl.shape)) + (weight == 1 ? gl : gl * weight)
            }
        }
        var lGen = 0.0, lLoc = 0.0
        for mb in miniBatches(facts.map(\.equivalent)) {
            let t = edited.traceLayers(mb, layers: layers, loss: .crossEntropy)
            lGen += Double(t.loss)
            accumulate(t, weight: 1)
        }
        let cLoc = Float(editor.settings.localityWeight)
        if cLoc > 0 {
            for mb in miniBatches(facts.map(\.unrelated)) {
                let ref = model.labelledLogits(mb).logSoftmax()
                let t = edited.traceLayers(mb, layers: layers, loss: .klFrom(referenceLogProbs: ref))
                lLoc += Double(t.loss)
                accumulate(t, weight: cLoc)
            }
        }
        var grads = editor.parameters.zeros()
        try editor.backward(caches: caches, shifts: shifts, metaGradients: g, into: &grads)
        let (clipped, norm) = clipGlobalNorm(grads.flat, maxNorm: editor.settings.maxGradNorm)
        guard norm.isFinite else { throw EmendEditingError.nonFiniteUpdate(layer: layers[0], what: "the editor's gradient") }
        var params = editor.parameters.flat
        try optimizer.step(params: &params, grads: clipped)
        editor.parameters.flat = params
        step += 1
        return TrainingStepReport(generalizationLoss: lGen, localityLoss: lLoc, gradientNorm: norm,
                                  cachedTokens: caches.values.first?.rowCount ?? 0)
    }

    /// Edits the validation facts in batches of `factsPerStep` (statistics frozen) and measures ES, GS, LS and loss.
    public func validate(_ model: TransformerModel, facts: [TokenizedFact]) throws -> ValidationReport {
        try Self.evaluate(editor, model, facts: facts, batchSize: editor.settings.factsPerStep)
    }

    /// ES, GS, LS of editing `facts` in batches of `batchSize` facts at once with `editor`.
    public static func evaluate(_ editor: HyperNetworkEditor, _ model: TransformerModel, facts: [TokenizedFact],
                                batchSize: Int) throws -> ValidationReport {
        var es: [Double] = [], gs: [Double] = [], ls: [Double] = [], loss = 0.0, batches = 0
        let b = editor.settings.lmBatchSize
        for s in stride(from: 0, to: facts.count, by: batchSize) {
            let batch = Array(facts[s..<min(s + batchSize, facts.count)])
            let (edited, _) = try editor.edit(model, edits: batch.map(\.edit))
            es += edited.tokenAccuracies(batch.map(\.edit))
            gs += edited.tokenAccuracies(batch.map(\.equivalent))
            ls += edited.tokenAccuracies(batch.map(\.unrelated))
            var l = 0.0, n = 0
            for m in stride(from: 0, to: batch.count, by: b) {
                let mb = Array(batch[m..<min(m + b, batch.count)])
                let eq = mb.map(\.equivalent), un = mb.map(\.unrelated)
                let targets = eq.flatMap { q in q.labelledPositions.map { q.labels[$0] } }
                l += Double(crossEntropy(logits: edited.labelledLogits(eq), targets: targets))
                l += editor.settings.localityWeight * Double(klDivergence(logP: model.labelledLogits(un).logSoftmax(),
                                                                          logQ: edited.labelledLogits(un).logSoftmax()))
                n += 1
            }
            loss += l / Double(max(n, 1))
            batches += 1
        }
        func mean(_ x: [Double]) -> Double { x.isEmpty ? 0 : x.reduce(0, +) / Double(x.count) }
        return ValidationReport(editSuccess: mean(es), generalizationSuccess: mean(gs), localitySuccess: mean(ls),
                                loss: loss / Double(max(batches, 1)), facts: facts.count)
    }

    /// Records a validation loss; returns whether it is the best so far. `shouldStop` turns true after `patience`
    /// validations without improvement.
    public mutating func recordValidation(_ loss: Double) -> Bool {
        if loss < bestLoss { bestLoss = loss; sinceBest = 0; return true }
        sinceBest += 1
        return false
    }

    public var shouldStop: Bool { sinceBest >= editor.settings.patience }
}
