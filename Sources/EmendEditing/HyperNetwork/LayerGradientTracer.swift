// One forward + backward pass of the language model over a mini-batch of labelled sequences, recording for each
// edited layer the down-projection input ("key" u, [R, F]) and the gradient of the loss with respect to that
// projection's output (δ, [R, Dm]; the block output adds it, so it is the gradient at the block output, taken
// back through the MLP post-norm where the block has one).
// Used three ways (spec §4.2, §4.5): caching (u, δ) of edit tuples, and the meta-gradient G = Σ_rows uᵀ·δ of the
// paraphrase and locality losses with respect to the edited matrices. Only one mini-batch's graph is alive.
//
// Sequences follow the decoder-only convention of spec §5.1: ids = prompt + answer[:-1]; labels hold the answer
// token at each position that predicts one (the last prompt position onwards) and `ignoreIndex` elsewhere.

import EmendCore
import EmendModels
import Foundation

/// A token sequence with, per position, the token it should predict (or `ignoreIndex`).
public struct LabelledSequence: Sendable, Equatable {
    public var ids: [Int]
    public var labels: [Int]

    /// prompt + answer[:-1], labelled with the answer at the positions that predict it.
    public init(prompt: [Int], answer: [Int]) {
        ids = prompt + answer.dropLast()
        labels = [Int](repeating: ignoreIndex, count: max(prompt.count - 1, 0)) + answer
    }

    /// The positions that carry a label.
    public var labelledPositions: [Int] { labels.indices.filter { labels[$0] != ignoreIndex } }
}

/// What one traced mini-batch gives back.
public struct LayerTrace: Sendable {
    public var loss: Float
    /// Per traced layer: keys at every row [R, F].
    public var keys: [Int: Tensor]
    /// Per traced layer: dL/d(down-projection output) at every row [R, Dm].
    public var valueGradients: [Int: Tensor]
    /// The rows (into the batch) that carry a label, in sequence order.
    public var labelledRows: [Int]
}

/// The loss whose gradient is traced.
public enum TracedLoss: Sendable {
    /// Mean cross-entropy of the labels over the labelled rows.
    case crossEntropy
    /// Mean over the labelled rows of KL(p_ref ‖ p_model); reference log-probabilities [N, V] at the labelled rows.
    case klFrom(referenceLogProbs: Tensor)
}

extension TransformerModel {
    /// Logits at the labelled rows of the sequences, in order: [N, V] (no gradient).
    public func labelledLogits(_ seqs: [LabelledSequence]) -> Tensor {
        let batch = RowBatch(seqs.map(\.ids))
        var hooks = ForwardHooks()
        var none: [KVCache]? = nil
        let h = run(embed(batch), layers: 0..<config.layerCount, batch: batch, caches: &none, hooks: &hooks)
        let rows = Self.labelledRows(seqs, batch)
        return outputLogits(finalNorm(h.gatherRows(rows)))
    }

    static func labelledRows(_ seqs: [LabelledSequence], _ batch: RowBatch) -> [Int] {
        seqs.indices.flatMap { i in seqs[i].labelledPositions.map { batch.row(i, $0) } }
    }

    /// Forward and backward over `seqs`, recording keys and value gradients of `layers` (sorted or not).
    public func traceLayers(_ seqs: [LabelledSequence], layers: [Int], loss: TracedLoss) -> LayerTrace {
        let batch = RowBatch(seqs.map(\.ids))
        let first = layers.min() ?? config.layerCount
        var hooks = ForwardHooks(captureKeys: Set(layers))
        var none: [KVCache]? = nil
        var h = run(embed(batch), layers: 0..<first, batch: batch, caches: &none, hooks: &hooks)
        var saves: [BlockSaved] = []
        for l in first..<config.layerCount {
            let (o, s) = blockForward(l, h, batch: batch, caches: &none, hooks: &hooks, save: true)
            saves.append(s!)
            h = o
        }
        let rows = Self.labelledRows(seqs, batch)
        let top = h.gatherRows(rows)
        let logits = outputLogits(finalNorm(top))
        let targets = seqs.flatMap { s in s.labelledPositions.map { s.labels[$0] } }
        let (value, dLogits) = Self.lossAndGradient(logits, targets: targets, loss: loss)
        var g = Tensor.zeros([batch.rowCount, config.hiddenSize])
        g.scatterAddRows(rows, outputBackward(dLogits: dLogits, x: top))
        var grads: [Int: Tensor] = [:]
        let wanted = Set(layers)
        for l in (first..<config.layerCount).reversed() {
            // The down-projection's output reaches the block output through the MLP post-norm where there is one.
            if wanted.contains(l) { grads[l] = mlpOutputGradient(l, dOut: g, saved: saves[l - first]) }
            if l > first { g = blockBackward(l, dOut: g, saved: saves[l - first], batch: batch) }
        }
        return LayerTrace(loss: value, keys: hooks.keys, valueGradients: grads, labelledRows: rows)
    }

    /// The loss value and dL/dlogits [N, V].
    static func lossAndGradient(_ logits: Tensor, targets: [Int], loss: TracedLoss) -> (Float, Tensor) {
        let n = logits.dim(0), v = logits.dim(1)
        guard n > 0 else { return (0, logits) }
        let logQ = logits.logSoftmax()
        var total: Double = 0
        var grad: Tensor
        switch loss {
        case .crossEntropy:
            grad = Tensor.zeros([n, v])
            logQ.scalars.withUnsafeBufferPointer { lq in grad.scalars.withUnsafeMutableBufferPointer { g in
                for r in 0..<n {
                    total -= Double(lq[r * v + targets[r]])
                    crossEntropyGradientRow(lq.baseAddress! + r * v, shift: 0, target: targets[r], scale: 1 / Float(n),
                                            into: g.baseAddress! + r * v, v)
                }
            } }
        case .klFrom(let logP):
            grad = logQ.exp()                                             // softmax
            for i in 0..<(n * v) {
                let lp = logP.scalars[i], p = Foundation.exp(lp)
                if p > 0 { total += Double(p * (lp - logQ.scalars[i])) }
                grad.scalars[i] -= p
            }
            grad *= 1 / Float(n)
        }
        return (Float(total / Double(n)), grad)
    }

    /// Per-example share of labelled positions whose argmax is the label (spec §5.3), for each sequence.
    public func tokenAccuracies(_ seqs: [LabelledSequence]) -> [Double] {
        let logits = labelledLogits(seqs)
        let predicted = logits.argmaxLast()
        var out: [Double] = [], at = 0
        for s in seqs {
            let pos = s.labelledPositions
            var hits = 0
            for p in pos { if predicted[at] == s.labels[p] { hits += 1 }; at += 1 }
            out.append(pos.isEmpty ? 0 : Double(hits) / Double(pos.count))
        }
        return out
    }
}
