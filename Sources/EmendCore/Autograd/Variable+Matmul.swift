// Matrix products on Variables: batched `matmul` with transposes, and `linear` (x·Wᵀ + b).
//
// With C = op(A)·op(B) and upstream G = ∂L/∂C:
//   ∂L/∂op(A) = G · op(B)ᵀ        ∂L/∂op(B) = op(A)ᵀ · G
// and ∂L/∂A is ∂L/∂op(A), transposed back when A was passed transposed (same for B). A rank-2 B
// shared by every batch entry of A receives the sum over the batch. Transposes are BLAS flags.

// MARK: - Forward and backward

/// The matrix product of the last two axes, batched over the leading axes (see `matmul` on Tensor).
/// - a: [..., M, K] (or [..., K, M] with transposeA)
/// - b: [..., K, N] (or [..., N, K] with transposeB); rank 2 is shared by a's whole batch
/// - returns [..., M, N]
public func matmul(_ a: Variable, _ b: Variable, transposeA: Bool = false, transposeB: Bool = false) -> Variable {
    let y = matmul(a.value, b.value, transposeA: transposeA, transposeB: transposeB)
    guard let tape = Tape.recording(a, b) else { return Variable(constant: y) }
    let needA = a.requiresGrad, needB = b.requiresGrad
    let savedA = a.value, savedB = b.value
    return tape.record(y, op: "matmul", inputs: [a, b]) { g in
        [needA ? matmulGradientA(g, savedA, savedB, transposeA, transposeB) : nil,
         needB ? matmulGradientB(g, savedA, savedB, transposeA, transposeB) : nil]
    }
}

/// ∂L/∂a for C = op(a)·op(b): shaped like a.
func matmulGradientA(_ g: Tensor, _ a: Tensor, _ b: Tensor, _ tA: Bool, _ tB: Bool) -> Tensor {
    // G · op(b)ᵀ: op(b)ᵀ is b itself when b was transposed.
    let dOpA = matmul(g, b, transposeB: !tB)                          // [..., M, K]
    return tA ? dOpA.transposed() : dOpA
}

/// ∂L/∂b for C = op(a)·op(b): shaped like b (summed over a's batch when b is a shared matrix).
func matmulGradientB(_ g: Tensor, _ a: Tensor, _ b: Tensor, _ tA: Bool, _ tB: Bool) -> Tensor {
    if b.rank == 2 && a.rank > 2 && !tA {
        // Fold the batch into rows: a2 [R, K], g2 [R, N], R = batch·M.
        let a2 = a.reshaped([-1, a.dim(-1)]), g2 = g.reshaped([-1, g.dim(-1)])
        return tB ? matmul(g2, a2, transposeA: true) : matmul(a2, g2, transposeA: true)
    }
    // op(a)ᵀ · G, or its transpose Gᵀ · op(a) when b was passed transposed.
    let perBatch = tB ? matmul(g, a, transposeA: true, transposeB: tA)   // [..., N, K]
                      : matmul(a, g, transposeA: !tA)                    // [..., K, N]
    if b.rank == 2 && perBatch.rank > 2 {
        return perBatch.reshaped([-1] + b.shape).sum(axis: 0)
    }
    return perBatch
}

/// A linear layer: x · Wᵀ (+ bias), weight in PyTorch's [Out, In] layout.
/// - x: [..., In]; weight: [Out, In]; bias: [Out] → [..., Out]
///
/// Backward, with x and g viewed as rows x2 [R, In], g2 [R, Out]:
///   ∂x = g2 · W;   ∂W = g2ᵀ · x2;   ∂bias = Σ_rows g2.
public func linear(_ x: Variable, _ weight: Variable, bias: Variable? = nil) -> Variable {
    var y = linear(x.value, weight.value)
    if let bias { y += bias.value }
    // Checked before building an input list, so inference allocates nothing extra.
    if !x.requiresGrad && !weight.requiresGrad && !(bias?.requiresGrad ?? false) { return Variable(constant: y) }
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    guard let tape = Tape.recording(inputs) else { return Variable(constant: y) }
    let needX = x.requiresGrad, needW = weight.requiresGrad, needBias = bias?.requiresGrad ?? false
    let savedX = x.value, savedW = weight.value
    let xShape = x.shape, inWidth = weight.dim(1), outWidth = weight.dim(0), hasBias = bias != nil
    return tape.record(y, op: "linear", inputs: inputs) { g in
        let g2 = g.reshaped([-1, outWidth])                               // [R, Out]
        var grads: [Tensor?] = [
            needX ? matmul(g2, savedW).reshaped(xShape) : nil,            // [R, In] → x's shape
            needW ? matmul(g2, savedX.reshaped([-1, inWidth]), transposeA: true) : nil,  // [Out, In]
        ]
        if hasBias { grads.append(needBias ? g2.sum(axis: 0) : nil) }
        return grads
    }
}
