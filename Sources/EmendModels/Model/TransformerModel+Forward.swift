// The forward pass: embedding, blocks, final norm and output head, on rows (see TransformerModel.swift).
// Each block saves, on request, exactly what `TransformerModel+Backward.swift` needs.

import EmendCore

/// Activations of one block saved for its backward pass.
public struct BlockSaved: Sendable {
    var input: Tensor                 // [R, D]   block input x
    var norm1: NormSaved
    var q: Tensor                     // [R, H·Dh] after RoPE
    var attention: AttentionSaved
    var qkNorm: QKNormSaved?          //          QK-norm only
    var attnProj: Tensor              // [R, D]   attention output after o_proj, before any post-norm
    var attnPostNorm: NormSaved?      //          post-norms only
    var attnMid: Tensor               // [R, D]   x + attention output (ffn_inp)
    var norm2: NormSaved?             //          sequential blocks only (a parallel block's MLP reads norm1's output)
    var gatePre: Tensor?              // [R, F]   gate projection before the activation (gated MLP)
    var upPre: Tensor                 // [R, F]   up projection (before the activation when not gated)
    var key: Tensor                   // [R, F]   ffn_down input
    var mlpOut: Tensor                // [R, D]   ffn_down output u, before any post-norm
    var ffnPostNorm: NormSaved?       //          post-norms only
}

/// QK-norm's inputs and statistics (per row and head), for its backward pass.
public struct QKNormSaved: Sendable {
    var q: Tensor                     // [R, H·Dh]   before the norm
    var k: Tensor                     // [R, Hkv·Dh]
    var qStats: NormSaved, kStats: NormSaved
}

/// Per-row statistics of a normalisation, for its backward pass.
public struct NormSaved: Sendable {
    var mean: [Float]?
    var rstd: [Float]
}

extension TransformerModel {
    // MARK: - Embedding

    /// Token (and learned position) embeddings of the batch's rows: [R, D].
    public func embed(_ batch: RowBatch) -> Tensor {
        var x = weights.tokenEmbedding.gatherRows(batch.tokens)
        if let pe = weights.positionEmbedding {
            x += pe.gatherRows(batch.positions.map { min($0, pe.shape[0] - 1) })
        }
        // Gemma: √D rounded once to Float32, as transformers does.
        if config.scaleEmbeddings { x *= Float(Double(config.hiddenSize).squareRoot()) }
        return x
    }

    // MARK: - Blocks

    func normForward(_ x: Tensor, weight: Tensor, bias: Tensor?) -> (Tensor, NormSaved) {
        switch config.norm {
        case .rms:
            let (y, r) = rmsNormForward(x, weight: weight, eps: config.normEps)
            return (y, NormSaved(mean: nil, rstd: r))
        case .layer:
            let (y, m, r) = layerNormForward(x, weight: weight, bias: bias, eps: config.normEps)
            return (y, NormSaved(mean: m, rstd: r))
        }
    }

    /// RMSNorm over each head of a q or k projection ([R, heads·Dh], weight [Dh]); the backward pass reads the
    /// same [R·heads, Dh] view.
    func headNormForward(_ x: Tensor, weight: Tensor) -> (Tensor, NormSaved) {
        let dh = weight.count
        let (y, r) = rmsNormForward(x.reshaped([x.count / dh, dh]), weight: weight, eps: config.normEps)
        return (y.reshaped(x.shape), NormSaved(mean: nil, rstd: r))
    }

    /// A norm applied to a branch's output before the residual adds it (post-norms), or the output itself.
    func postNorm(_ y: Tensor, _ weight: Tensor?) -> (Tensor, NormSaved?) {
        guard let weight else { return (y, nil) }
        let (n, s) = normForward(y, weight: weight, bias: nil)
        return (n, s)
    }

    @inline(__always)
    func activation(_ x: Tensor) -> Tensor {
        switch config.activation {
        case .silu: return x.silu()
        case .geluTanh: return x.geluTanh()
        case .geluErf: return x.geluErf()
        }
    }

    /// x·Wᵀ + b, through the frozen copy of W when there is one: [.., In] → [.., Out].
    func affine(_ x: Tensor, _ w: WeightMatrix, _ frozen: WeightMatrix?, _ b: Tensor?) -> Tensor {
        let m = frozen ?? w
        let y = m.forward(x.reshaped([x.count / x.dim(-1), x.dim(-1)])).reshaped(Array(x.shape.dropLast()) + [m.outputs])
        return b.map { y + $0 } ?? y
    }

    /// The gated MLP's activation: key = act(gate)·up (forward of `gatedActivationBackward`); SiLU in one
    /// vectorised pass, the GELUs through the elementwise ops.
    func gatedActivation(gatePre: Tensor, up: Tensor) -> Tensor {
        guard config.activation == .silu else { return activation(gatePre) * up }
        let n = gatePre.count
        let out = [Float](unsafeUninitializedCapacity: n) { po, initialized in
            gatePre.scalars.withUnsafeBufferPointer { pg in up.scalars.withUnsafeBufferPointer { pu in
                let g = SendableConstPointer(pg.baseAddress!), u = SendableConstPointer(pu.baseAddress!)
                let o = SendablePointer(po.baseAddress!)
                parallelRanges(n) { r in
                    siluMultiply(gate: g.base + r.lowerBound, up: u.base + r.lowerBound, key: o.base + r.lowerBound, r.count)
                }
            } }
            initialized = n
        }
        return Tensor(shape: gatePre.shape, scalars: out)
    }

    /// Block `layer` on rows x: [R, D] → [R, D]. Reads each segment's prefix from `caches` when given, and
    /// appends this batch's keys/values to them unless `appendToCache` is false (a frozen prefix, re-used by
    /// many passes over the same suffix).
    /// - frozen: the block's `FrozenBlock` (its matrices at a chosen compute precision), when the caller runs
    ///   many passes over the same weights; nil computes with the weights as held (stored blocks or Float32).
    public func blockForward(_ layer: Int, _ x: Tensor, batch: RowBatch, caches: inout [KVCache]?,
                             hooks: inout ForwardHooks, save: Bool = false,
                             appendToCache: Bool = true, frozen f: FrozenBlock? = nil) -> (Tensor, BlockSaved?) {
        let w = weights.blocks[layer]
        let c = config
        let (a, n1) = normForward(x, weight: w.attnNorm, bias: w.attnNormBias)
        var q: Tensor, k: Tensor, v: Tensor
        if let f {
            // One product through [Wq; Wk; Wv], then the three column ranges.
            let qkv = f.qkv.forward(a)
            q = qkv.columns(0..<f.qWidth); k = qkv.columns(f.qWidth..<(f.qWidth + f.kvWidth))
            v = qkv.columns((f.qWidth + f.kvWidth)..<(f.qWidth + 2 * f.kvWidth))
            if let b = w.attnQBias { q = q + b }
            if let b = w.attnKBias { k = k + b }
            if let b = w.attnVBias { v = v + b }
        } else {
            q = affine(a, w.attnQ, nil, w.attnQBias)
            k = affine(a, w.attnK, nil, w.attnKBias)
            v = affine(a, w.attnV, nil, w.attnVBias)
        }
        var qkSaved: QKNormSaved? = nil
        if c.qkNorm, let qn = w.attnQNorm, let kn = w.attnKNorm {
            let (qN, qs) = headNormForward(q, weight: qn), (kN, ks) = headNormForward(k, weight: kn)
            if save { qkSaved = QKNormSaved(q: q, k: k, qStats: qs, kStats: ks) }
            q = qN; k = kN
        }
        if c.positions == .rope {
            q = ropeRows(q, heads: c.headCount, batch: batch, layer: layer)
            k = ropeRows(k, heads: c.kvHeadCount, batch: batch, layer: layer)
        }
        let kvw = c.kvHeadCount * c.headDim
        let prefixK = batch.segments.indices.map { caches?[$0].keys[layer] ?? Tensor.zeros([0, kvw]) }
        let prefixV = batch.segments.indices.map { caches?[$0].values[layer] ?? Tensor.zeros([0, kvw]) }
        let (o, attnSaved) = attentionForward(q: q, k: k, v: v, segments: batch.segments, prefixKeys: prefixK,
                                              prefixValues: prefixV, shape: attentionShape(layer), saveForBackward: save)
        if caches != nil && appendToCache {
            for (i, seg) in batch.segments.enumerated() {
                let rows = seg.rowStart..<(seg.rowStart + seg.count)
                caches![i].keys[layer] = concatenate([caches![i].keys[layer], k.rows(rows)], axis: 0)
                caches![i].values[layer] = concatenate([caches![i].values[layer], v.rows(rows)], axis: 0)
            }
        }
        let attnProj = affine(o, w.attnOutput, f?.attnOutput, w.attnOutputBias)
        let (attnBranch, attnPost) = postNorm(attnProj, w.attnPostNorm)
        let x1 = x + attnBranch
        // The MLP reads the second norm of x1 (sequential), or the attention's own input a (parallel, GPT-J), so
        // that out = x + attn(a) + mlp(a).
        var m = a, n2: NormSaved? = nil
        if c.block == .sequential, let ffnNorm = w.ffnNorm { (m, n2) = normForward(x1, weight: ffnNorm, bias: w.ffnNormBias) }
        var up: Tensor
        var gatePre: Tensor? = nil
        if let f, f.gated {
            // One product through [Wgate; Wup].
            let gu = f.gateUp.forward(m)
            let width = gu.dim(-1) / 2
            gatePre = gu.columns(0..<width); up = gu.columns(width..<(2 * width))
            if let b = w.ffnGateBias { gatePre = gatePre! + b }
            if let b = w.ffnUpBias { up = up + b }
        } else {
            up = affine(m, w.ffnUp, f?.gateUp.parts.first, w.ffnUpBias)
            if let g = w.ffnGate { gatePre = affine(m, g, nil, w.ffnGateBias) }
        }
        let key: Tensor
        if let gatePre {
            key = gatedActivation(gatePre: gatePre, up: up)
        } else {
            key = activation(up)
        }
        if hooks.captureKeys.contains(layer) { hooks.keys[layer] = key }
        let mlpOut = affine(key, w.ffnDown, f?.ffnDown, w.ffnDownBias)
        if hooks.captureMLPOutputs.contains(layer) { hooks.mlpOutputs[layer] = MLPOutput(residual: x1, output: mlpOut) }
        let (mlpBranch, ffnPost) = postNorm(mlpOut, w.ffnPostNorm)
        var out = x1 + mlpBranch
        if let adds = hooks.residualAdditions[layer] {
            for (rows, vec) in adds { out = out.addingVector(vec, toRows: rows) }
        }
        if hooks.captureBlockOutputs.contains(layer) { hooks.blockOutputs[layer] = out }
        let saved = save ? BlockSaved(input: x, norm1: n1, q: q, attention: attnSaved!, qkNorm: qkSaved, attnProj: attnProj,
                                      attnPostNorm: attnPost, attnMid: x1, norm2: n2, gatePre: gatePre, upPre: up, key: key,
                                      mlpOut: mlpOut, ffnPostNorm: ffnPost) : nil
        return (out, saved)
    }

    /// RoPE on the rows of a q or k projection of block `layer`: [R, heads·Dh] → same, by the config's convention,
    /// rotated width and that layer's base (`inverse`: the backward pass's rotation by −angle).
    func ropeRows(_ t: Tensor, heads: Int, batch: RowBatch, layer: Int, inverse: Bool = false) -> Tensor {
        let c = config, r = batch.rowCount
        return rope(t.reshaped([r, heads, c.headDim]), positions: batch.positions, base: c.ropeBase(layer),
                    convention: c.ropeConvention, rotaryDims: c.rotaryDim, inverse: inverse).reshaped([r, heads * c.headDim])
    }

    /// Runs blocks `layers` on rows x, updating caches (unless frozen) and hooks.
    public func run(_ x: Tensor, layers: Range<Int>, batch: RowBatch, caches: inout [KVCache]?,
                    hooks: inout ForwardHooks, appendToCache: Bool = true) -> Tensor {
        var h = x
        for l in layers {
            h = blockForward(l, h, batch: batch, caches: &caches, hooks: &hooks, appendToCache: appendToCache).0
        }
        if caches != nil && appendToCache { for i in caches!.indices { caches![i].count += batch.segments[i].count } }
        return h
    }

    // MARK: - Output

    /// The final normalisation: [R, D] → [R, D].
    public func finalNorm(_ x: Tensor) -> Tensor {
        normForward(x, weight: weights.outputNorm, bias: weights.outputNormBias).0
    }

    /// Logits of final hidden rows (after `finalNorm`): [R, D] → [R, V], plus the head's bias where it has one.
    /// - head: a frozen copy of the output head (`frozenHead(precision:)`), or nil for the weights as held.
    public func outputLogits(_ normed: Tensor, head: WeightMatrix? = nil) -> Tensor {
        let logits = (head ?? weights.outputHead).forward(normed)
        return weights.outputBias.map { logits + $0 } ?? logits
    }

    // MARK: - Conveniences

    /// Logits at every position of each sequence (no padding needed): per sequence [T, V].
    public func logits(_ sequences: [[Int]]) -> [Tensor] {
        let batch = RowBatch(sequences)
        var hooks = ForwardHooks()
        var none: [KVCache]? = nil
        let h = run(embed(batch), layers: 0..<config.layerCount, batch: batch, caches: &none, hooks: &hooks)
        let logits = outputLogits(finalNorm(h))
        return sequences.indices.map { logits.rows(batch.rows(of: $0)) }
    }

    /// Logits at the last position of each sequence: [N, V].
    public func lastLogits(_ sequences: [[Int]]) -> Tensor {
        let batch = RowBatch(sequences)
        var hooks = ForwardHooks()
        var none: [KVCache]? = nil
        let h = run(embed(batch), layers: 0..<config.layerCount, batch: batch, caches: &none, hooks: &hooks)
        let last = sequences.indices.map { batch.row($0, sequences[$0].count - 1) }
        return outputLogits(finalNorm(h.gatherRows(last)))
    }

    /// Logits for a right-padded batch: ids [B, T] with `lengths`; padded positions give zeros. → [B, T, V]
    public func paddedLogits(ids: [[Int]], lengths: [Int]) -> Tensor {
        let t = ids.map(\.count).max() ?? 0
        let seqs = ids.indices.map { Array(ids[$0].prefix(lengths[$0])) }
        let per = logits(seqs)
        var out = Tensor.zeros([ids.count, t, config.vocabSize])
        for (b, l) in per.enumerated() where l.count > 0 {
            out.scalars.replaceSubrange((b * t * config.vocabSize)..<((b * t + l.shape[0]) * config.vocabSize), with: l.scalars)
        }
        return out
    }
}

extension Tensor {
    /// Adds a [D] vector to the given rows of a [R, D] tensor.
    public func addingVector(_ v: Tensor, toRows rows: [Int]) -> Tensor {
        let d = dim(-1)
        precondition(v.count == d, "addingVector: vector of \(v.count) for width \(d)")
        var out = self
        out.scalars.withUnsafeMutableBufferPointer { p in
            for r in rows { for j in 0..<d { p[r * d + j] += v.scalars[j] } }
        }
        return out
    }
}
