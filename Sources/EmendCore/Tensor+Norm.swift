// Normalisations over the last axis: RMSNorm (Llama) and LayerNorm (GPT-2).
// Forward returns the per-row statistics the backward pass needs (`rstd`, `mean`).

import Foundation

/// RMSNorm: y = x · rsqrt(mean(x²) + eps) · weight.
/// - x: [..., D]; weight: [D] → (y [..., D], rstd [rows])
public func rmsNormForward(_ x: Tensor, weight: Tensor, eps: Float) -> (y: Tensor, rstd: [Float]) {
    let d = x.dim(-1), rows = x.shape.dropLast().reduce(1, *)
    precondition(weight.shape == [d], "rmsNorm: weight \(weight.shape) does not match width \(d)")
    var y = [Float](repeating: 0, count: x.count)
    var rstd = [Float](repeating: 0, count: rows)
    x.scalars.withUnsafeBufferPointer { px in weight.scalars.withUnsafeBufferPointer { pw in
        y.withUnsafeMutableBufferPointer { py in rstd.withUnsafeMutableBufferPointer { pr in
            let xs = SendableConstPointer(px.baseAddress!), ws = SendableConstPointer(pw.baseAddress!)
            let ys = SendablePointer(py.baseAddress!), rs = SendablePointer(pr.baseAddress!)
            parallelRanges(rows, grain: Swift.max(1, 16_384 / Swift.max(d, 1))) { r in
                for row in r {
                    let xi = xs.base + row * d, yi = ys.base + row * d
                    var ss: Float = 0
                    for j in 0..<d { ss += xi[j] * xi[j] }
                    let inv = 1 / (ss / Float(d) + eps).squareRoot()
                    rs.base[row] = inv
                    for j in 0..<d { yi[j] = xi[j] * inv * ws.base[j] }
                }
            }
        } }
    } }
    return (Tensor(shape: x.shape, scalars: y), rstd)
}

/// LayerNorm: y = (x − mean) · rsqrt(var + eps) · weight + bias (biased variance, as PyTorch).
/// - x: [..., D]; weight, bias: [D] → (y, mean [rows], rstd [rows])
public func layerNormForward(_ x: Tensor, weight: Tensor, bias: Tensor?, eps: Float)
    -> (y: Tensor, mean: [Float], rstd: [Float]) {
    let d = x.dim(-1), rows = x.shape.dropLast().reduce(1, *)
    precondition(weight.shape == [d] && (bias == nil || bias!.shape == [d]),
                 "layerNorm: weight \(weight.shape) / bias \(bias?.shape ?? []) do not match width \(d)")
    var y = [Float](repeating: 0, count: x.count)
    var means = [Float](repeating: 0, count: rows), rstds = [Float](repeating: 0, count: rows)
    let b = bias?.scalars ?? [Float](repeating: 0, count: d)
    x.scalars.withUnsafeBufferPointer { px in
        for row in 0..<rows {
            let xi = px.baseAddress! + row * d
            var m: Float = 0
            for j in 0..<d { m += xi[j] }
            m /= Float(d)
            var v: Float = 0
            for j in 0..<d { let c = xi[j] - m; v += c * c }
            v /= Float(d)
            let inv = 1 / (v + eps).squareRoot()
            means[row] = m; rstds[row] = inv
            for j in 0..<d { y[row * d + j] = (xi[j] - m) * inv * weight.scalars[j] + b[j] }
        }
    }
    return (Tensor(shape: x.shape, scalars: y), means, rstds)
}

extension Tensor {
    /// RMSNorm over the last axis (see `rmsNormForward`).
    public func rmsNormed(weight: Tensor, eps: Float) -> Tensor { rmsNormForward(self, weight: weight, eps: eps).y }
    /// LayerNorm over the last axis (see `layerNormForward`).
    public func layerNormed(weight: Tensor, bias: Tensor?, eps: Float) -> Tensor {
        layerNormForward(self, weight: weight, bias: bias, eps: eps).y
    }
}

// MARK: - Backward
//
// Per row of width D, with r = rstd and upstream g (the derivation: differentiate r through mean(x²), resp. var(x):
// ∂r/∂x_k = −r³·x_k/D, resp. −r³·(x_k − μ)/D):
// RMSNorm    ∂x_j = r·g_j w_j − (r³/D)·x_j·Σ_k g_k w_k x_k          ∂w_j = Σ_rows g_j x_j r
// LayerNorm  x̂ = (x − μ)·r,  ∂x̂ = g ⊙ w,  ∂x = r·(∂x̂ − mean(∂x̂) − x̂·mean(∂x̂ ⊙ x̂))
//            ∂w_j = Σ_rows g_j x̂_j                                   ∂b_j = Σ_rows g_j
// The decoder's hand-written backward (TransformerModel+Backward.swift) and the tape's VJPs (Variable+Norm.swift)
// both call these.

/// dL/dx of `rmsNormForward`, from dy and the forward's saved `rstd`.
/// - dy, x: [..., D]; weight: [D]; rstd: [rows] → [..., D]
public func rmsNormBackward(_ dy: Tensor, x: Tensor, weight: Tensor, rstd: [Float]) -> Tensor {
    let d = x.dim(-1), rows = x.count / Swift.max(d, 1)
    var dx = [Float](repeating: 0, count: x.count)
    dy.scalars.withUnsafeBufferPointer { pg in x.scalars.withUnsafeBufferPointer { px in weight.scalars.withUnsafeBufferPointer { pw in
        dx.withUnsafeMutableBufferPointer { pd in
            for row in 0..<rows {
                let g = pg.baseAddress! + row * d, xi = px.baseAddress! + row * d, out = pd.baseAddress! + row * d
                let w = pw.baseAddress!, r = rstd[row]
                var dot: Float = 0
                for k in 0..<d { dot += g[k] * w[k] * xi[k] }
                let c = r * r * r * dot / Float(d)
                for j in 0..<d { out[j] = r * g[j] * w[j] - xi[j] * c }
            }
        }
    } } }
    return Tensor(shape: x.shape, scalars: dx)
}

/// dL/dweight of `rmsNormForward`: [D].
public func rmsNormWeightGradient(_ dy: Tensor, x: Tensor, rstd: [Float]) -> Tensor {
    let d = x.dim(-1), rows = x.count / Swift.max(d, 1)
    var dw = [Float](repeating: 0, count: d)
    for row in 0..<rows {
        let base = row * d, r = rstd[row]
        for j in 0..<d { dw[j] += dy.scalars[base + j] * x.scalars[base + j] * r }
    }
    return Tensor(shape: [d], scalars: dw)
}

/// dL/dx of `layerNormForward`, from dy and the forward's saved `mean` and `rstd`.
/// - dy, x: [..., D]; weight: [D]; mean, rstd: [rows] → [..., D]
public func layerNormBackward(_ dy: Tensor, x: Tensor, weight: Tensor, mean: [Float], rstd: [Float]) -> Tensor {
    let d = x.dim(-1), rows = x.count / Swift.max(d, 1)
    var dx = [Float](repeating: 0, count: x.count)
    dy.scalars.withUnsafeBufferPointer { pg in x.scalars.withUnsafeBufferPointer { px in weight.scalars.withUnsafeBufferPointer { pw in
        dx.withUnsafeMutableBufferPointer { pd in
            for row in 0..<rows {
                let g = pg.baseAddress! + row * d, xi = px.baseAddress! + row * d, out = pd.baseAddress! + row * d
                let w = pw.baseAddress!, r = rstd[row], mu = mean[row]
                var meanDxHat: Float = 0, meanDxHatXHat: Float = 0
                for j in 0..<d {
                    let dxHat = g[j] * w[j]
                    meanDxHat += dxHat; meanDxHatXHat += dxHat * (xi[j] - mu) * r
                }
                meanDxHat /= Float(d); meanDxHatXHat /= Float(d)
                for j in 0..<d { out[j] = r * (g[j] * w[j] - meanDxHat - (xi[j] - mu) * r * meanDxHatXHat) }
            }
        }
    } } }
    return Tensor(shape: x.shape, scalars: dx)
}

/// dL/dweight and dL/dbias of `layerNormForward`: [D] each.
public func layerNormParameterGradients(_ dy: Tensor, x: Tensor, mean: [Float], rstd: [Float]) -> (dw: Tensor, db: Tensor) {
    let d = x.dim(-1), rows = x.count / Swift.max(d, 1)
    var dw = [Float](repeating: 0, count: d), db = dw
    for row in 0..<rows {
        let base = row * d, r = rstd[row], mu = mean[row]
        for j in 0..<d {
            dw[j] += dy.scalars[base + j] * (x.scalars[base + j] - mu) * r
            db[j] += dy.scalars[base + j]
        }
    }
    return (Tensor(shape: [d], scalars: dw), Tensor(shape: [d], scalars: db))
}
