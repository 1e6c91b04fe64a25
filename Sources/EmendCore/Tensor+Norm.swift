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
