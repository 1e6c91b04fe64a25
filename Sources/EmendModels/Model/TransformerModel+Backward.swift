// The backward pass of the blocks with respect to their input (weights frozen), side by side with
// TransformerModel+Forward.swift. The editors differentiate losses with respect to a vector added to the
// residual stream; MEND/MALMEN and fine-tuning read the gradient at each block output (the MLP output's
// gradient, since the residual adds it) and combine it with the recorded keys.

import EmendCore

extension TransformerModel {
    /// d/dx of the normalisation, given dy (weights frozen).
    ///  RMSNorm:   y = x·r·w,            dx = r·g − x·r³·mean(g·x),          g = dy·w
    ///  LayerNorm: y = (x−μ)·r·w + b,    dx = r·(g − mean(g) − x̂·mean(g·x̂)), x̂ = (x−μ)·r
    func normBackward(_ dy: Tensor, x: Tensor, weight: Tensor, saved: NormSaved) -> Tensor {
        let d = x.dim(-1), rows = x.count / d
        var dx = [Float](repeating: 0, count: x.count)
        for r in 0..<rows {
            let base = r * d, rstd = saved.rstd[r]
            if let means = saved.mean {
                let mu = means[r]
                var mg: Float = 0, mgx: Float = 0
                for j in 0..<d {
                    let g = dy.scalars[base + j] * weight.scalars[j]
                    mg += g; mgx += g * (x.scalars[base + j] - mu) * rstd
                }
                mg /= Float(d); mgx /= Float(d)
                for j in 0..<d {
                    let g = dy.scalars[base + j] * weight.scalars[j]
                    let xh = (x.scalars[base + j] - mu) * rstd
                    dx[base + j] = rstd * (g - mg - xh * mgx)
                }
            } else {
                var gx: Float = 0
                for j in 0..<d { gx += dy.scalars[base + j] * weight.scalars[j] * x.scalars[base + j] }
                let coef = rstd * rstd * rstd * gx / Float(d)
                for j in 0..<d { dx[base + j] = rstd * dy.scalars[base + j] * weight.scalars[j] - x.scalars[base + j] * coef }
            }
        }
        return Tensor(shape: x.shape, scalars: dx)
    }

    func activationDerivative(_ x: Tensor) -> Tensor {
        switch config.activation {
        case .silu: return x.map(siluDerivative)
        case .geluTanh: return x.map(geluTanhDerivative)
        case .geluErf: return x.map(geluErfDerivative)
        }
    }

    /// dL/d(block input) from dL/d(block output), for block `layer` run with `save: true`.
    public func blockBackward(_ layer: Int, dOut: Tensor, saved s: BlockSaved, batch: RowBatch) -> Tensor {
        let w = weights.blocks[layer]
        let c = config
        // MLP: out = x1 + key·Wdᵀ
        let dKey = matmul(dOut, w.ffnDown)                                  // [R, F]
        var dm: Tensor
        if let g = w.ffnGate, let gatePre = s.gatePre {
            let dGate = dKey * s.upPre * activationDerivative(gatePre)
            let dUp = dKey * activation(gatePre)
            dm = matmul(dGate, g) + matmul(dUp, w.ffnUp)
        } else {
            dm = matmul(dKey * activationDerivative(s.upPre), w.ffnUp)
        }
        var dx1 = dOut + normBackward(dm, x: s.attnMid, weight: w.ffnNorm, saved: s.norm2)
        // Attention: x1 = x + o·Woᵀ
        let dO = matmul(dx1, w.attnOutput)                                  // [R, H·Dh]
        var (dq, dk, dv) = attentionBackward(dOut: dO, q: s.q, segments: batch.segments, saved: s.attention,
                                             shape: attentionShape)
        if c.positions == .rope {
            let r = batch.rowCount
            dq = rope(dq.reshaped([r, c.headCount, c.headDim]), positions: batch.positions, base: c.ropeBase,
                      convention: .halfSplit, inverse: true).reshaped([r, c.headCount * c.headDim])
            dk = rope(dk.reshaped([r, c.kvHeadCount, c.headDim]), positions: batch.positions, base: c.ropeBase,
                      convention: .halfSplit, inverse: true).reshaped([r, c.kvHeadCount * c.headDim])
        }
        let da = matmul(dq, w.attnQ) + matmul(dk, w.attnK) + matmul(dv, w.attnV)   // [R, D]
        dx1 += normBackward(da, x: s.input, weight: w.attnNorm, saved: s.norm1)
        return dx1
    }

    /// dL/d(final hidden rows) from dL/d(logits) at those rows: [R', V] → [R', D] (x: the un-normed rows).
    public func outputBackward(dLogits: Tensor, x: Tensor) -> Tensor {
        let (_, saved) = normForward(x, weight: weights.outputNorm, bias: weights.outputNormBias)
        let dNormed = matmul(dLogits, weights.outputHead)
        return normBackward(dNormed, x: x, weight: weights.outputNorm, saved: saved)
    }
}
