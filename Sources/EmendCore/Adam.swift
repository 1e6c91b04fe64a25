// Adam (Kingma & Ba 2015) with exactly PyTorch's `torch.optim.Adam` defaults and update
// (single-tensor path, amsgrad off, maximize off). For step t = 1, 2, …:
//
//     g  ← g + weightDecay · p                 (L2 added to the gradient, not decoupled)
//     m  ← m + (1 − β1)(g − m)                 (torch `lerp_`, = β1·m + (1 − β1)·g)
//     v  ← β2·v + (1 − β2)·g²
//     p  ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)
//
// As in PyTorch, hyper-parameters and bias corrections are Float64 (Python floats); each scalar
// is rounded to Float32 once, where the Float32 kernel uses it (so 1 − β1 rounds to exactly 0.1f).

import Foundation

/// The Adam optimiser over a fixed list of parameter tensors.
public struct Adam: Sendable {
    /// Learning rate (PyTorch default 1e-3).
    public var learningRate: Double
    /// Decay rates of the first and second moment estimates (default 0.9, 0.999).
    public var beta1: Double
    public var beta2: Double
    /// Added to the bias-corrected √v (default 1e-8).
    public var eps: Double
    /// L2 penalty added to the gradient (default 0).
    public var weightDecay: Double
    /// The number of steps taken so far.
    public private(set) var stepCount: Int = 0
    /// First and second moment estimates, one per parameter (shaped like it); empty before step 1.
    public private(set) var firstMoments: [Tensor] = []
    public private(set) var secondMoments: [Tensor] = []

    public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                eps: Double = 1e-8, weightDecay: Double = 0) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
    }

    /// Updates every parameter in place from its gradient.
    /// - params: the parameters, the same list (count, order, shapes) at every step
    /// - grads: one gradient per parameter, shaped like it
    /// - Throws: `EmendCoreError.shapeMismatch` if the lists or shapes disagree (nothing changes).
    public mutating func step(params: inout [Tensor], grads: [Tensor]) throws {
        guard params.count == grads.count else {
            throw EmendCoreError.shapeMismatch(operation: "Adam.step: one gradient per parameter",
                                               expected: "\(params.count) gradients", got: "\(grads.count)")
        }
        for (i, (p, g)) in zip(params, grads).enumerated() where p.shape != g.shape {
            throw EmendCoreError.shapeMismatch(operation: "Adam.step: gradient \(i)", expected: "\(p.shape)", got: "\(g.shape)")
        }
        if stepCount == 0 {
            firstMoments = params.map { Tensor.zeros($0.shape) }
            secondMoments = firstMoments
        }
        for (i, p) in params.enumerated() where firstMoments[i].shape != p.shape {
            throw EmendCoreError.shapeMismatch(operation: "Adam.step: parameter \(i) changed shape since step 1",
                                               expected: "\(firstMoments[i].shape)", got: "\(p.shape)")
        }
        stepCount += 1
        let t = Double(stepCount)
        let biasCorrection1 = 1 - Foundation.pow(beta1, t)
        let biasCorrection2 = 1 - Foundation.pow(beta2, t)
        let stepSize = Float(learningRate / biasCorrection1)
        let biasCorrection2Sqrt = Float(biasCorrection2.squareRoot())
        let oneMinusB1 = Float(1 - beta1), b2 = Float(beta2), oneMinusB2 = Float(1 - beta2)
        let eps = Float(self.eps), wd = Float(weightDecay)

        for i in params.indices {
            let g = grads[i].scalars
            params[i].scalars.withUnsafeMutableBufferPointer { p in
                firstMoments[i].scalars.withUnsafeMutableBufferPointer { m in
                    secondMoments[i].scalars.withUnsafeMutableBufferPointer { v in
                        for j in 0..<p.count {
                            var gj = g[j]
                            if wd != 0 { gj += wd * p[j] }
                            m[j] += oneMinusB1 * (gj - m[j])
                            v[j] = v[j] * b2 + oneMinusB2 * gj * gj
                            let denom = v[j].squareRoot() / biasCorrection2Sqrt + eps
                            p[j] += -stepSize * (m[j] / denom)
                        }
                    }
                }
            }
        }
    }
}

extension Adam {
    /// An optimiser resumed from saved state (the moments and step count of an earlier run), for resumable training.
    public init(learningRate: Double, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0,
                stepCount: Int, firstMoments: [Tensor], secondMoments: [Tensor]) {
        self.init(learningRate: learningRate, beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay)
        self.stepCount = stepCount
        self.firstMoments = firstMoments
        self.secondMoments = secondMoments
    }
}
