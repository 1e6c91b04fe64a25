// The backward pass of the blocks with respect to their input (weights frozen), side by side with
// TransformerModel+Forward.swift. The editors differentiate losses with respect to a vector added to the
// residual stream; MEND/MALMEN and fine-tuning read the gradient at each block output (the MLP output's
// gradient, since the residual adds it) and combine it with the recorded keys.

import EmendCore

extension TransformerModel {
    /// d/dx of the normalisation, given dy (weights frozen): the kernels beside the forwards in Tensor+Norm.swift.
    func normBackward(_ dy: Tensor, x: Tensor, weight: Tensor, saved: NormSaved) -> Tensor {
        if let mean = saved.mean { return layerNormBackward(dy, x: x, weight: weight, mean: mean, rstd: saved.rstd) }
        return rmsNormBackward(dy, x: x, weight: weight, rstd: saved.rstd)
    }

    func activationDerivative(_ x: Tensor) -> Tensor {
        switch config.activation {
        case .silu: return x.map(siluDerivative)
        case .geluTanh: return x.map(geluTanhDerivative)
        case .geluErf: return x.map(geluErfDerivative)
        }
    }

    /// dL/d(block input) from dL/d(block output), for block `layer` run with `save: true`.
    /// - frozen: the block's `FrozenBlock` (the same one the forward pass used), or nil for the weights as held.
    public func blockBackward(_ layer: Int, dOut: Tensor, saved s: BlockSaved, batch: RowBatch,
                              frozen t: FrozenBlock? = nil) -> Tensor {
        let w = weights.blocks[layer]
        let c = config
        /// a · W for W [out, in] → [R, in], through the frozen copy when there is one.
        func back(_ a: Tensor, _ w: WeightMatrix, _ f: WeightMatrix?) -> Tensor { (f ?? w).backward(a) }
        // MLP: out = x1 + postNorm(u), u = key·Wdᵀ (no post-norm: out = x1 + u)
        let dU = mlpOutputGradient(layer, dOut: dOut, saved: s)                // [R, D]
        let dKey = back(dU, w.ffnDown, t?.ffnDown)                            // [R, F]
        var dm: Tensor
        if let g = w.ffnGate, let gatePre = s.gatePre {
            let (dGate, dUp) = gatedActivationBackward(dKey: dKey, gatePre: gatePre, up: s.upPre)
            if let t { dm = t.gateUp.backward(concatenate([dGate, dUp], axis: 1)) }     // one product through [Wg; Wu]
            else { dm = g.backward(dGate) + w.ffnUp.backward(dUp) }
        } else {
            dm = back(dKey * activationDerivative(s.upPre), w.ffnUp, t?.gateUp.parts.first)
        }
        // Sequential: m = norm2(x1), so dm flows into x1. Parallel (GPT-J): m = a = norm1(x), so dm joins the
        // attention's da below, and out = x1 + mlp(a) passes dOut to x1 unchanged.
        var dx1: Tensor, dmToNorm1: Tensor?
        if let n2 = s.norm2, let ffnNorm = w.ffnNorm {
            dx1 = dOut + normBackward(dm, x: s.attnMid, weight: ffnNorm, saved: n2); dmToNorm1 = nil
        } else {
            dx1 = dOut; dmToNorm1 = dm
        }
        // Attention: x1 = x + postNorm(o·Woᵀ)
        var dProj = dx1
        if let pn = w.attnPostNorm, let ps = s.attnPostNorm { dProj = normBackward(dx1, x: s.attnProj, weight: pn, saved: ps) }
        let dO = back(dProj, w.attnOutput, t?.attnOutput)                     // [R, H·Dh]
        var (dq, dk, dv) = attentionBackward(dOut: dO, q: s.q, segments: batch.segments, saved: s.attention,
                                             shape: attentionShape(layer))
        if c.positions == .rope {
            dq = ropeRows(dq, heads: c.headCount, batch: batch, layer: layer, inverse: true)
            dk = ropeRows(dk, heads: c.kvHeadCount, batch: batch, layer: layer, inverse: true)
        }
        if let qk = s.qkNorm, let qn = w.attnQNorm, let kn = w.attnKNorm {
            dq = headNormBackward(dq, x: qk.q, weight: qn, saved: qk.qStats)
            dk = headNormBackward(dk, x: qk.k, weight: kn, saved: qk.kStats)
        }
        var da = t.map { $0.qkv.backward(concatenate([dq, dk, dv], axis: 1)) }                       // [R, D]
            ?? w.attnQ.backward(dq) + w.attnK.backward(dk) + w.attnV.backward(dv)
        if let dmToNorm1 { da += dmToNorm1 }
        dx1 += normBackward(da, x: s.input, weight: w.attnNorm, saved: s.norm1)
        return dx1
    }

    /// dL/du, u the MLP's output before any post-norm (what the down-projection writes), from dL/d(block output):
    /// through the post-norm where the block has one, dOut itself otherwise. [R, D] → [R, D]
    public func mlpOutputGradient(_ layer: Int, dOut: Tensor, saved s: BlockSaved) -> Tensor {
        guard let pn = weights.blocks[layer].ffnPostNorm, let ps = s.ffnPostNorm else { return dOut }
        return normBackward(dOut, x: s.mlpOut, weight: pn, saved: ps)
    }

    /// QK-norm's backward on the [R·heads, Dh] view its forward used.
    func headNormBackward(_ dy: Tensor, x: Tensor, weight: Tensor, saved: NormSaved) -> Tensor {
        let dh = weight.count, view = [x.count / dh, dh]
        return rmsNormBackward(dy.reshaped(view), x: x.reshaped(view), weight: weight, rstd: saved.rstd).reshaped(x.shape)
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
                if activation == .silu {
                    let lo = r.lowerBound
                    siluMultiplyBackward(dKey: k.base + lo, gate: g.base + lo, up: u.base + lo, dGate: dg.base + lo, dUp: du.base + lo, r.count)
                    return
                }
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
    /// - head: the frozen output head the forward pass used, or nil for the weights as held.
    public func outputBackward(dLogits: Tensor, x: Tensor, head: WeightMatrix? = nil) -> Tensor {
        let (_, saved) = normForward(x, weight: weights.outputNorm, bias: weights.outputNormBias)
        let dNormed = (head ?? weights.outputHead).backward(dLogits)
        return normBackward(dNormed, x: x, weight: weights.outputNorm, saved: saved)
    }
}

/// A block's matrices frozen for many forward and backward passes (the target search), each offering x·Wᵀ and
/// g·W at one compute precision (`WeightMatrix`). Matrices that read the same input are stacked (`StackedMatrix`), so
/// a dense model runs one wide product instead of several narrow ones (measured: the 576×192 key/value products ran
/// at a quarter of the 576×1536 ones' GFLOP/s): [Wq; Wk; Wv] and, in a gated MLP, [Wgate; Wup]. Stored matrices
/// stay in their blocks (one product each); only dense ones get a bfloat16 copy when that precision is asked for.
public struct FrozenBlock: Sendable {
    public let qkv: StackedMatrix          // [H·Dh + 2·Hkv·Dh, D]
    public let attnOutput: WeightMatrix    // [D, H·Dh]
    public let gateUp: StackedMatrix       // [2F, D] gated (gate rows first), [F, D] otherwise
    public let ffnDown: WeightMatrix       // [D, F]
    public let gated: Bool
    /// The widths of q, k, v in the stacked product's output.
    public let qWidth: Int, kvWidth: Int

    /// All weight matrices, for FLOP counts.
    public var matrices: [WeightMatrix] { qkv.parts + [attnOutput] + gateUp.parts + [ffnDown] }
}

extension TransformerModel {
    /// Models up to this many parameters expand stored matrices when a search freezes them at bfloat16: a dense
    /// bfloat16 copy runs the search's products at oneDNN's bfloat16 speed (2–3× the tiled stored kernels at its
    /// shapes, `EmendBench models`), for 2 bytes a parameter of the blocks above the edit layer while the search runs.
    /// Larger models compute on their blocks (an 8B model's copy would be 16 GB).
    public static let frozenExpansionLimit = 500_000_000

    /// Whether `frozenBlock`/`frozenHead` expand stored matrices by default (see `frozenExpansionLimit`).
    public var expandsFrozenWeights: Bool { config.parameterCount <= Self.frozenExpansionLimit }

    /// The matrices of block `layer` for `blockForward`/`blockBackward`, at `precision`.
    /// - expandStored: give stored matrices a dense copy at `precision` when it is bfloat16 (default: small models).
    public func frozenBlock(_ layer: Int, precision: ComputePrecision, expandStored: Bool? = nil) -> FrozenBlock {
        let b = weights.blocks[layer], expand = expandStored ?? expandsFrozenWeights
        func frozen(_ w: WeightMatrix) -> WeightMatrix { expanded(w, precision, expand) }
        return FrozenBlock(qkv: StackedMatrix([b.attnQ, b.attnK, b.attnV].map(frozen), precision: precision),
                           attnOutput: frozen(b.attnOutput),
                           gateUp: StackedMatrix((b.ffnGate.map { [$0, b.ffnUp] } ?? [b.ffnUp]).map(frozen), precision: precision),
                           ffnDown: frozen(b.ffnDown),
                           gated: b.ffnGate != nil, qWidth: b.attnQ.outputs, kvWidth: b.attnK.outputs)
    }

    /// The output head [V, D] frozen at `precision` (for `outputLogits(_:head:)` and `outputBackward`).
    public func frozenHead(precision: ComputePrecision, expandStored: Bool? = nil) -> WeightMatrix {
        expanded(weights.outputHead, precision, expandStored ?? expandsFrozenWeights)
    }

    /// `w` at `precision`: a stored matrix becomes a dense one first when `expand` is set and the precision is
    /// bfloat16 (a Float32 expansion would only be slower than the stored kernels' own tiles).
    private func expanded(_ w: WeightMatrix, _ precision: ComputePrecision, _ expand: Bool) -> WeightMatrix {
        guard expand, w.isStored, precision == .bfloat16 else { return w.computing(at: precision) }
        let dense = WeightMatrix(w.dequantized(), precision: precision)
        return dense.precision == .bfloat16 ? dense : w   // no native bfloat16: keep the blocks
    }
}
