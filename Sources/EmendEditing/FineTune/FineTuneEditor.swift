// The fine-tuning baseline (FT-L of Zhu et al. 2020, as MEND and ROME/MEMIT run it): Adam on the MLP
// down-projections of the same layers the hyper-network editors change, minimising the mean answer-token
// cross-entropy of all edit tuples at once (mini-batches accumulate gradients, like the trainer), with the update
// kept inside an L∞ ball: after every step each element of W − W₀ is clamped to [−ε, ε].

import EmendCore
import EmendModels
import Foundation

public struct FineTuneSettings: Codable, Sendable, Equatable {
    public var layers: [Int]
    /// Optimisation steps over all facts.
    public var steps: Int = 25
    public var learningRate: Double = 5e-4
    /// ε of the L∞ constraint on W − W₀ (per element).
    public var normConstraint: Float = 5e-4
    public var lmBatchSize: Int = 32
    /// Stop once the mean loss is below this.
    public var stopLoss: Double = 1e-2

    public init(layers: [Int]) { self.layers = layers }
}

/// What one fine-tuning edit did.
public struct FineTuneReport: Sendable {
    /// Mean edit loss before each step.
    public var losses: [Double]
}

public enum FineTuneEditor {
    /// A copy of `model` fine-tuned on the edit sequences.
    public static func edit(_ model: TransformerModel, edits: [LabelledSequence], settings s: FineTuneSettings) throws -> (model: TransformerModel, report: FineTuneReport) {
        for l in s.layers where l < 0 || l >= model.config.layerCount { throw EmendEditingError.layerOutOfRange(layer: l, layerCount: model.config.layerCount) }
        guard s.steps > 0, s.lmBatchSize > 0, s.learningRate > 0, s.normConstraint >= 0 else {
            throw EmendEditingError.invalidSettings(field: "fine-tune settings", expected: "positive steps, batch size and learning rate; ε ≥ 0",
                                                    got: "steps \(s.steps), batch \(s.lmBatchSize), lr \(s.learningRate), ε \(s.normConstraint)")
        }
        var edited = model
        var adam = Adam(learningRate: s.learningRate)
        let original = s.layers.map { model.weights.blocks[$0].ffnDown.dequantized() }
        var losses: [Double] = []
        let batches = stride(from: 0, to: edits.count, by: s.lmBatchSize).map { Array(edits[$0..<min($0 + s.lmBatchSize, edits.count)]) }
        for _ in 0..<s.steps {
            var grads = original.map { Tensor.zeros($0.shape) }
            var loss = 0.0
            for mb in batches {
                let t = edited.traceLayers(mb, layers: s.layers, loss: .crossEntropy)
                loss += Double(t.loss) / Double(batches.count)
                for (i, l) in s.layers.enumerated() {
                    guard let k = t.keys[l], let d = t.valueGradients[l] else { continue }
                    grads[i] += matmul(d, k, transposeA: true) * (1 / Float(batches.count))   // [Dm, F]
                }
            }
            losses.append(loss)
            if loss < s.stopLoss { break }
            var params = s.layers.map { edited.weights.blocks[$0].ffnDown.dequantized() }
            try adam.step(params: &params, grads: grads)
            let eps = s.normConstraint
            for (i, l) in s.layers.enumerated() {
                var w = params[i]
                w.scalars.withUnsafeMutableBufferPointer { p in
                    for j in 0..<p.count { let w0 = original[i].scalars[j]; p[j] = min(max(p[j], w0 - eps), w0 + eps) }
                }
                guard w.scalars.allSatisfy({ $0.isFinite }) else { throw EmendEditingError.nonFiniteUpdate(layer: l, what: "the fine-tuned weights") }
                edited.weights.blocks[l].ffnDown = WeightMatrix(w)
            }
        }
        return (edited, FineTuneReport(losses: losses))
    }
}
