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
    /// - transposed: the block's `BackwardWeights`, when the caller runs many backward passes (faster products).
    public func blockBackward(_ layer: Int, dOut: Tensor, saved s: BlockSaved, batch: RowBatch,
                              transposed t: BackwardWeights? = nil) -> Tensor {
        let w = weights.blocks[layer]
        let c = config
        /// a · W for W [out, in] → [R, in], through the stored transpose when there is one.
        func back(_ a: Tensor, _ w: Tensor, _ wT: Tensor?) -> Tensor { wT.map { matmul(a, $0, transposeB: true) } ?? matmul(a, w) }
        // MLP: out = x1 + key·Wdᵀ
        let dKey = back(dOut, w.ffnDown, t?.ffnDown)                          // [R, F]
        var dm: Tensor
        if let g = w.ffnGate, let gatePre = s.gatePre {
            let (dGate, dUp) = gatedActivationBackward(dKey: dKey, gatePre: gatePre, up: s.upPre)
            dm = back(dGate, g, t?.ffnGate) + back(dUp, w.ffnUp, t?.ffnUp)
        } else {
            dm = back(dKey * activationDerivative(s.upPre), w.ffnUp, t?.ffnUp)
        }
        var dx1 = dOut + normBackward(dm, x: s.attnMid, weight: w.ffnNorm, saved: s.norm2)
        // Attention: x1 = x + o·Woᵀ
        let dO = back(dx1, w.attnOutput, t?.attnOutput)                       // [R, H·Dh]
        var (dq, dk, dv) = attentionBackward(dOut: dO, q: s.q, segments: batch.segments, saved: s.attention,
                                             shape: attentionShape)
        if c.positions == .rope {
            let r = batch.rowCount
            dq = rope(dq.reshaped([r, c.headCount, c.headDim]), positions: batch.positions, base: c.ropeBase,
                      convention: .halfSplit, inverse: true).reshaped([r, c.headCount * c.headDim])
            dk = rope(dk.reshaped([r, c.kvHeadCount, c.headDim]), positions: batch.positions, base: c.ropeBase,
                      convention: .halfSplit, inverse: true).reshaped([r, c.kvHeadCount * c.headDim])
        }
        let da = back(dq, w.attnQ, t?.attnQ) + back(dk, w.attnK, t?.attnK) + back(dv, w.attnV, t?.attnV)   // [R, D]
        dx1 += normBackward(da, x: s.input, weight: w.attnNorm, saved: s.norm1)
        return dx1
    }

    /// The gated MLP's activation backward in one pass: key = act(g)·u ⇒ dg = dKey·u·act′(g), du = dKey·act(g).
    func gatedActivationBackward(dKey: Tensor, gatePre: Tensor, up: Tensor) -> (dGate: Tensor, dUp: Tensor) {
        let n = dKey.count
        var dGate = [Float](repeating: 0, count: n), dUp = dGate
        let activation = config.activation
        dKey.scalars.withUnsafeBufferPointer { pk in gatePre.scalars.withUnsafeBufferPointer { pg in up.scalars.withUnsafeBufferPointer { pu in
        dGate.withUnsafeMutableBufferPointer { pdg in dUp.withUnsafeMutableBufferPointer { pdu in
            let k = SendableConstPointer(pk.baseAddress!), g = SendableConstPointer(pg.baseAddress!), u = SendableConstPointer(pu.baseAddress!)
            let dg = SendablePointer(pdg.baseAddress!), du = SendablePointer(pdu.baseAddress!)
            parallelRanges(n) { r in
                for i in r {
                    let x = g.base[i]
                    let a: Float, d: Float
                    switch activation {
                    case .silu:
                        let sg = sigmoidScalar(x)
                        a = x * sg; d = sg * (1 + x * (1 - sg))
                    case .geluTanh: a = geluTanhScalar(x); d = geluTanhDerivative(x)
                    case .geluErf: a = geluErfScalar(x); d = geluErfDerivative(x)
                    }
                    dg.base[i] = k.base[i] * u.base[i] * d
                    du.base[i] = k.base[i] * a
                }
            }
        } } } } }
        return (Tensor(shape: dKey.shape, scalars: dGate), Tensor(shape: dKey.shape, scalars: dUp))
    }

    /// dL/d(final hidden rows) from dL/d(logits) at those rows: [R', V] → [R', D] (x: the un-normed rows).
    public func outputBackward(dLogits: Tensor, x: Tensor) -> Tensor {
        let (_, saved) = normForward(x, weight: weights.outputNorm, bias: weights.outputNormBias)
        let dNormed = matmul(dLogits, weights.outputHead)
        return normBackward(dNormed, x: x, weight: weights.outputNorm, saved: saved)
    }
}

/// Transposed copies of a block's matrices, so that the backward products dY·W run as dY·(Wᵀ)ᵀ — OpenBLAS is
/// markedly faster with the transposed operand here (see `make bench`). Worth building when one batch runs many
/// backward passes (the target search); it costs one extra copy of those matrices.
public struct BackwardWeights: Sendable {
    var ffnDown: Tensor      // [F, D]
    var ffnGate: Tensor?     // [D, F]
    var ffnUp: Tensor        // [D, F]
    var attnOutput: Tensor   // [H·Dh, D]
    var attnQ: Tensor        // [D, H·Dh]
    var attnK: Tensor        // [D, Hkv·Dh]
    var attnV: Tensor        // [D, Hkv·Dh]
}

extension TransformerModel {
    /// The transposed matrices of block `layer` for `blockBackward`.
    public func backwardWeights(_ layer: Int) -> BackwardWeights {
        let b = weights.blocks[layer]
        return BackwardWeights(ffnDown: b.ffnDown.transposed(), ffnGate: b.ffnGate?.transposed(), ffnUp: b.ffnUp.transposed(),
                               attnOutput: b.attnOutput.transposed(), attnQ: b.attnQ.transposed(), attnK: b.attnK.transposed(),
                               attnV: b.attnV.transposed())
    }
}
