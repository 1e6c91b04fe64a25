// exp over long rows (log-softmax, its gradient, the KL term) and the gated MLP's SiLU, through the C kernels in
// CEmendKernels (emend_math.h): libm's scalar expf was the largest cost after the matrix products once those
// ran in oneDNN (`make bench`, issue 15). Relative error ≤ 2 ulp against exp (tested in FastMathTests).

import CEmendKernels

/// y[i] = scale · exp(x[i] + shift) for i in 0..<n (y may be x).
@inlinable
public func expShifted(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, shift: Float = 0, scale: Float = 1) {
    emend_exp(x, y, n, shift, scale)
}

/// Σ exp(x[i] + shift) for i in 0..<n, accumulated in Float64 over blocks of 256.
@inlinable
public func sumExpShifted(_ x: UnsafePointer<Float>, _ n: Int, shift: Float) -> Double { emend_sum_exp(x, n, shift) }

/// KL(p ‖ q) = Σ exp(lp[i])·(lp[i] − lq[i]) for log-probabilities lp, lq of length n.
@inlinable
public func klDivergence(_ lp: UnsafePointer<Float>, _ lq: UnsafePointer<Float>, _ n: Int) -> Double { emend_kl(lp, lq, n) }

/// The KL term's gradient with respect to the logits: out[i] = factor · exp(lp[i]) · (lp[i] − lq[i] − kl).
@inlinable
public func klGradient(_ lp: UnsafePointer<Float>, _ lq: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int,
                       factor: Float, kl: Float) {
    emend_kl_gradient(lp, lq, out, n, factor, kl)
}

/// key[i] = silu(gate[i]) · up[i].
@inlinable
public func siluMultiply(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, key: UnsafeMutablePointer<Float>, _ n: Int) {
    emend_silu_mul(gate, up, key, n)
}

/// The backward of `siluMultiply`: dgate = dkey·up·σ·(1 + x·(1 − σ)), dup = dkey·x·σ (x = gate).
@inlinable
public func siluMultiplyBackward(dKey: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                 dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>, _ n: Int) {
    emend_silu_mul_backward(dKey, gate, up, dGate, dUp, n)
}
