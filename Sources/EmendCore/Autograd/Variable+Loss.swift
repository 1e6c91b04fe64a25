// Losses as fused ops: cross-entropy on logits, and KL divergence between log-distributions.
//
// Cross-entropy, mean over the U rows whose target is not `ignoreIndex`:
//   L = (1/U) Σ_i (lse(x_i) − x_i[t_i]);   ∂x_i = g·(softmax(x_i) − onehot(t_i)) / U, 0 on ignored rows.
// KL(P ‖ Q), "batchmean" over N rows, from log-probabilities lp, lq:
//   L = (1/N) Σ_{i,v} e^{lp} (lp − lq);   ∂lp = g·e^{lp}(lp − lq + 1)/N;   ∂lq = −g·e^{lp}/N
// (entries with lp = −∞ contribute 0 and get 0).

import Foundation

// MARK: - Forward and backward

/// Mean negative log-likelihood of `targets` under softmax(logits) (PyTorch `cross_entropy`).
/// - logits: [..., V], viewed as N rows; targets: N class indices, `ignoreIndex` skips a row
/// - returns [] (0 when every row is ignored)
public func crossEntropy(logits: Variable, targets: [Int]) -> Variable {
    let y = Tensor(crossEntropy(logits: logits.value, targets: targets))
    guard let tape = Tape.recording(logits) else { return Variable(constant: y) }
    let savedLogits = logits.value
    let v = logits.dim(-1)
    let used = targets.filter { $0 != ignoreIndex }.count
    return tape.record(y, op: "crossEntropy", inputs: [logits]) { g in
        var dx = Tensor.zeros(savedLogits.shape)
        guard used > 0 else { return [dx] }
        let scale = g.scalar / Float(used)
        savedLogits.scalars.withUnsafeBufferPointer { x in dx.scalars.withUnsafeMutableBufferPointer { d in
            for (i, t) in targets.enumerated() where t != ignoreIndex {
                let row = x.baseAddress! + i * v, lse = logSumExpRow(row, v)
                // A fully masked row (lse = −∞) has softmax 0: exp(−∞ + 0).
                crossEntropyGradientRow(row, shift: lse == -.infinity ? 0 : -lse, target: t, scale: scale, into: d.baseAddress! + i * v, v)
            }
        } }
        return [dx]
    }
}

/// KL(P ‖ Q) averaged over rows ("batchmean"), from log-probabilities (e.g. `logSoftmax` outputs).
/// PyTorch's `kl_div(input: logQ, target: logP, log_target: true, reduction: "batchmean")`.
/// - logP, logQ: [..., V] of equal shape, viewed as N rows → []
public func klDivergence(logP: Variable, logQ: Variable) -> Variable {
    let y = Tensor(klDivergence(logP: logP.value, logQ: logQ.value))
    guard let tape = Tape.recording(logP, logQ) else { return Variable(constant: y) }
    let needP = logP.requiresGrad, needQ = logQ.requiresGrad
    let savedP = logP.value, savedQ = logQ.value
    let rows = savedP.count / Swift.max(savedP.dim(-1), 1)
    return tape.record(y, op: "klDivergence", inputs: [logP, logQ]) { g in
        let scale = rows == 0 ? 0 : g.scalar / Float(rows)
        let dP = needP ? broadcastBinary(savedP, savedQ) { lp, lq in
            lp > -.infinity ? scale * Foundation.exp(lp) * (lp - lq + 1) : 0
        } : nil
        let dQ = needQ ? savedP.map { lp in -scale * Foundation.exp(lp) } : nil
        return [dP, dQ]
    }
}
