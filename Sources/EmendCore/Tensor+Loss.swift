// Losses on logits: cross-entropy (mean NLL of targets) and KL divergence between two distributions.

import Foundation

/// The index that marks a position without a label (PyTorch's convention).
public let ignoreIndex = -100

/// Mean negative log-likelihood of `targets` under softmax(logits).
/// - logits: [N, V]; targets: N class indices (`ignoreIndex` skips a row) → scalar
public func crossEntropy(logits: Tensor, targets: [Int]) -> Float {
    let v = logits.dim(-1), n = logits.count / max(v, 1)
    precondition(targets.count == n, "crossEntropy: \(targets.count) targets for \(n) rows")
    var total: Double = 0
    var used = 0
    logits.scalars.withUnsafeBufferPointer { p in
        for r in 0..<n where targets[r] != ignoreIndex {
            precondition(targets[r] >= 0 && targets[r] < v, "crossEntropy: target \(targets[r]) out of 0..<\(v)")
            let row = p.baseAddress! + r * v
            total += Double(logSumExpRow(row, v) - row[targets[r]])
            used += 1
        }
    }
    return used == 0 ? 0 : Float(total / Double(used))
}

/// One row of a cross-entropy gradient with respect to the logits: out[j] = scale·(softmax(x)[j] − [j = target]),
/// from x[j] + shift = log softmax(x)[j]: logits with shift −log Σ exp x, or log-probabilities with shift 0.
/// The tape's `crossEntropy`, the target search and the hyper-network's gradient tracer all form it here.
/// - x, out: v entries each (out may be x).
@inlinable
public func crossEntropyGradientRow(_ x: UnsafePointer<Float>, shift: Float, target: Int, scale: Float,
                                    into out: UnsafeMutablePointer<Float>, _ v: Int) {
    precondition(target >= 0 && target < v, "crossEntropyGradientRow: target \(target) out of 0..<\(v)")
    expShifted(x, out, v, shift: shift, scale: scale)
    out[target] -= scale
}

/// KL(P ‖ Q) = Σ_v P(v) (log P(v) − log Q(v)), averaged over rows ("batchmean").
/// - logP, logQ: [N, V] log-probabilities → scalar
public func klDivergence(logP: Tensor, logQ: Tensor) -> Float {
    precondition(logP.shape == logQ.shape, "klDivergence: shapes \(logP.shape) and \(logQ.shape) differ")
    let v = logP.dim(-1), n = logP.count / max(v, 1)
    var total: Double = 0
    for i in 0..<logP.count {
        let lp = logP.scalars[i]
        if lp > -.infinity { total += Double(Foundation.exp(lp) * (lp - logQ.scalars[i])) }
    }
    return n == 0 ? 0 : Float(total / Double(n))
}
