// RMSNorm and LayerNorm over the last axis as fused ops: one forward kernel that saves per-row
// statistics (`rstd`, `mean`), and analytic VJPs that reuse them.
//
// Per row of width D, with r = rstd and upstream g:
// RMSNorm    y = x·r·w,                 r = (mean(x²) + eps)^(−1/2)
//            ∂x_j = r·g_j w_j − (r³/D)·x_j·Σ_k g_k w_k x_k          ∂w_j = Σ_rows g_j x_j r
// LayerNorm  y = x̂·w + b,   x̂ = (x − μ)·r,   r = (var(x) + eps)^(−1/2)
//            ∂x̂ = g ⊙ w;   ∂x = r·(∂x̂ − mean(∂x̂) − x̂·mean(∂x̂ ⊙ x̂))
//            ∂w_j = Σ_rows g_j x̂_j                                   ∂b_j = Σ_rows g_j
// (differentiate r through mean(x²) or var(x): ∂r/∂x_k = −r³·x_k/D, resp. −r³·(x_k − μ)/D.)

// MARK: - Forward and backward

extension Variable {
    /// RMSNorm over the last axis (Llama): x·rsqrt(mean(x²) + eps)·weight.
    /// - self: [..., D]; weight: [D] → [..., D]
    public func rmsNormed(weight: Variable, eps: Float) -> Variable {
        let (y, rstd) = rmsNormForward(value, weight: weight.value, eps: eps)
        guard let tape = Tape.recording(self, weight) else { return Variable(constant: y) }
        let needX = requiresGrad, needW = weight.requiresGrad
        let savedX = value, savedW = weight.value
        let d = dim(-1), rows = count / Swift.max(d, 1)
        return tape.record(y, op: "rmsNorm", inputs: [self, weight]) { g in
            var dx = [Float](repeating: 0, count: needX ? rows * d : 0)
            var dw = [Float](repeating: 0, count: d)
            let x = savedX.scalars, w = savedW.scalars, gs = g.scalars
            for row in 0..<rows {
                let base = row * d, r = rstd[row]
                if needX {
                    var dot: Float = 0
                    for k in 0..<d { dot += gs[base + k] * w[k] * x[base + k] }
                    let c = r * r * r / Float(d) * dot
                    for j in 0..<d { dx[base + j] = r * gs[base + j] * w[j] - c * x[base + j] }
                }
                if needW {
                    for j in 0..<d { dw[j] += gs[base + j] * x[base + j] * r }
                }
            }
            return [needX ? Tensor(shape: savedX.shape, scalars: dx) : nil,
                    needW ? Tensor(shape: [d], scalars: dw) : nil]
        }
    }

    /// LayerNorm over the last axis (GPT-2): (x − mean)·rsqrt(var + eps)·weight + bias.
    /// - self: [..., D]; weight, bias: [D] → [..., D]
    public func layerNormed(weight: Variable, bias: Variable?, eps: Float) -> Variable {
        let (y, mean, rstd) = layerNormForward(value, weight: weight.value, bias: bias?.value, eps: eps)
        if !requiresGrad && !weight.requiresGrad && !(bias?.requiresGrad ?? false) { return Variable(constant: y) }
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        guard let tape = Tape.recording(inputs) else { return Variable(constant: y) }
        let needX = requiresGrad, needW = weight.requiresGrad, needB = bias?.requiresGrad ?? false
        let hasBias = bias != nil
        let savedX = value, savedW = weight.value
        let d = dim(-1), rows = count / Swift.max(d, 1)
        return tape.record(y, op: "layerNorm", inputs: inputs) { g in
            var dx = [Float](repeating: 0, count: needX ? rows * d : 0)
            var dw = [Float](repeating: 0, count: d), db = [Float](repeating: 0, count: d)
            var xHat = [Float](repeating: 0, count: d), dxHat = [Float](repeating: 0, count: d)
            let x = savedX.scalars, w = savedW.scalars, gs = g.scalars
            for row in 0..<rows {
                let base = row * d, r = rstd[row], mu = mean[row]
                var meanDxHat: Float = 0, meanDxHatXHat: Float = 0
                for j in 0..<d {
                    xHat[j] = (x[base + j] - mu) * r
                    dxHat[j] = gs[base + j] * w[j]
                    meanDxHat += dxHat[j]
                    meanDxHatXHat += dxHat[j] * xHat[j]
                    dw[j] += gs[base + j] * xHat[j]
                    db[j] += gs[base + j]
                }
                meanDxHat /= Float(d); meanDxHatXHat /= Float(d)
                if needX {
                    for j in 0..<d { dx[base + j] = r * (dxHat[j] - meanDxHat - xHat[j] * meanDxHatXHat) }
                }
            }
            var grads: [Tensor?] = [needX ? Tensor(shape: savedX.shape, scalars: dx) : nil,
                                    needW ? Tensor(shape: [d], scalars: dw) : nil]
            if hasBias { grads.append(needB ? Tensor(shape: [d], scalars: db) : nil) }
            return grads
        }
    }
}
