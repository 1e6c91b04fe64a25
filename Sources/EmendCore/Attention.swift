// Causal multi-head attention over ragged sequences, with grouped-query heads and a cached prefix.
// Forward and backward side by side (llm.c style); the autograd op wraps these two functions.
//
// A batch is a list of segments. Segment s owns `count` consecutive rows of q/k/v (its new tokens) and
// continues a prefix of `prefix` cached keys/values; new row i sits at absolute position prefix + i and
// may attend to keys 0 ... prefix + i. Sequences of different lengths need no padding.
//
// Shapes: R rows (all segments' new tokens), H query heads, Hkv key/value heads (H = g·Hkv),
// Dh head dim; Tk = prefix + count keys per segment.
//   q: [R, H·Dh]   k, v: [R, Hkv·Dh]   prefix keys/values of segment s: [prefix, Hkv·Dh]   out: [R, H·Dh]
// Query head h reads key/value head h / g (consecutive query heads share a kv head, as in HF and llama.cpp).

import Foundation

/// One sequence's slice of a ragged attention batch.
public struct AttentionSegment: Sendable, Equatable {
    /// The first row of this segment in q/k/v.
    public var rowStart: Int
    /// The number of new rows (tokens).
    public var count: Int
    /// The number of cached prefix positions before the first new row.
    public var prefix: Int
    public init(rowStart: Int, count: Int, prefix: Int = 0) {
        self.rowStart = rowStart; self.count = count; self.prefix = prefix
    }
}

/// Head counts and scale of an attention call.
public struct AttentionShape: Sendable, Equatable {
    public var heads: Int, kvHeads: Int, headDim: Int
    public var scale: Float
    public init(heads: Int, kvHeads: Int, headDim: Int, scale: Float? = nil) {
        self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
        self.scale = scale ?? 1 / Float(headDim).squareRoot()
    }
    var group: Int { heads / kvHeads }
}

/// What the backward pass needs from the forward pass.
public struct AttentionSaved: Sendable {
    /// Per segment, per head: the attention probabilities [count, Tk], row-major.
    public var probabilities: [[Float]]
    /// Per segment: all keys and values [Tk, Hkv·Dh] (prefix then new rows).
    public var keys: [[Float]], values: [[Float]]
}

// MARK: - Forward

/// Causal attention of each segment's new rows over its prefix and itself.
/// - Parameters:
///   - q: [R, H·Dh] (RoPE already applied); k, v: [R, Hkv·Dh]
///   - prefixKeys/prefixValues: per segment [prefix, Hkv·Dh] (empty tensors when prefix is 0)
///   - saveForBackward: keep probabilities, keys and values
/// - Returns: out [R, H·Dh], and the saved state when asked.
public func attentionForward(q: Tensor, k: Tensor, v: Tensor, segments: [AttentionSegment],
                             prefixKeys: [Tensor], prefixValues: [Tensor], shape: AttentionShape,
                             saveForBackward: Bool) -> (out: Tensor, saved: AttentionSaved?) {
    let h = shape.heads, hkv = shape.kvHeads, dh = shape.headDim, g = shape.group
    let qw = h * dh, kw = hkv * dh
    precondition(q.dim(-1) == qw && k.dim(-1) == kw && v.dim(-1) == kw, "attention: widths \(q.shape) \(k.shape) \(v.shape) do not match \(shape)")
    var out = [Float](repeating: 0, count: q.count)
    var probs = [[Float]](repeating: [], count: saveForBackward ? segments.count * h : 0)
    var keysAll = [[Float]](repeating: [], count: saveForBackward ? segments.count : 0)
    var valuesAll = keysAll
    for (si, seg) in segments.enumerated() {
        let tk = seg.prefix + seg.count
        precondition(prefixKeys[si].count == seg.prefix * kw && prefixValues[si].count == seg.prefix * kw,
                     "attention: segment \(si) prefix cache does not hold \(seg.prefix) positions")
        // All keys/values of this segment, contiguous: [Tk, Hkv·Dh].
        var kAll = prefixKeys[si].scalars, vAll = prefixValues[si].scalars
        kAll.append(contentsOf: k.scalars[(seg.rowStart * kw)..<((seg.rowStart + seg.count) * kw)])
        vAll.append(contentsOf: v.scalars[(seg.rowStart * kw)..<((seg.rowStart + seg.count) * kw)])
        var scores = [Float](repeating: 0, count: seg.count * tk)
        for head in 0..<h {
            let kvh = head / g
            q.scalars.withUnsafeBufferPointer { pq in kAll.withUnsafeBufferPointer { pk in
                scores.withUnsafeMutableBufferPointer { ps in
                    sgemm(transposeA: false, transposeB: true, m: seg.count, n: tk, k: dh, alpha: shape.scale,
                          a: pq.baseAddress! + seg.rowStart * qw + head * dh, lda: qw,
                          b: pk.baseAddress! + kvh * dh, ldb: kw, c: ps.baseAddress!, ldc: tk)
                    for i in 0..<seg.count {
                        let row = ps.baseAddress! + i * tk
                        let visible = seg.prefix + i + 1
                        softmaxRow(row, row, visible)
                        for j in visible..<tk { row[j] = 0 }
                    }
                }
            } }
            scores.withUnsafeBufferPointer { ps in vAll.withUnsafeBufferPointer { pv in
                out.withUnsafeMutableBufferPointer { po in
                    sgemm(transposeA: false, transposeB: false, m: seg.count, n: dh, k: tk,
                          a: ps.baseAddress!, lda: tk, b: pv.baseAddress! + kvh * dh, ldb: kw,
                          c: po.baseAddress! + seg.rowStart * qw + head * dh, ldc: qw)
                }
            } }
            if saveForBackward { probs[si * h + head] = scores }
        }
        if saveForBackward { keysAll[si] = kAll; valuesAll[si] = vAll }
    }
    let saved = saveForBackward ? AttentionSaved(probabilities: probs, keys: keysAll, values: valuesAll) : nil
    return (Tensor(shape: q.shape, scalars: out), saved)
}

// MARK: - Backward

/// Gradients of `attentionForward` with respect to q, k and v of the new rows (the prefix is constant).
/// With S = scale·Q Kᵀ, P = softmax(S) (causal), O = P V:
///   dP = dO Vᵀ;  dV = Pᵀ dO;  dS = P ⊙ (dP − rowsum(dP ⊙ P));  dQ = scale·dS K;  dK = scale·dSᵀ Q.
/// - Returns: dq [R, H·Dh], dk, dv [R, Hkv·Dh]
public func attentionBackward(dOut: Tensor, q: Tensor, segments: [AttentionSegment], saved: AttentionSaved,
                              shape: AttentionShape) -> (dq: Tensor, dk: Tensor, dv: Tensor) {
    let h = shape.heads, hkv = shape.kvHeads, dh = shape.headDim, g = shape.group
    let qw = h * dh, kw = hkv * dh
    let rows = q.count / qw
    var dq = [Float](repeating: 0, count: q.count)
    var dk = [Float](repeating: 0, count: rows * kw), dv = dk
    for (si, seg) in segments.enumerated() {
        let tk = seg.prefix + seg.count
        var dkAll = [Float](repeating: 0, count: tk * kw), dvAll = dkAll
        var dp = [Float](repeating: 0, count: seg.count * tk)
        for head in 0..<h {
            let kvh = head / g
            let p = saved.probabilities[si * h + head]
            dOut.scalars.withUnsafeBufferPointer { pdo in saved.values[si].withUnsafeBufferPointer { pv in
                p.withUnsafeBufferPointer { pp in dp.withUnsafeMutableBufferPointer { pdp in
                    dvAll.withUnsafeMutableBufferPointer { pdv in
                        // dP = dO · Vᵀ   [count, Tk]
                        sgemm(transposeA: false, transposeB: true, m: seg.count, n: tk, k: dh,
                              a: pdo.baseAddress! + seg.rowStart * qw + head * dh, lda: qw,
                              b: pv.baseAddress! + kvh * dh, ldb: kw, c: pdp.baseAddress!, ldc: tk)
                        // dV += Pᵀ · dO  [Tk, Dh]
                        sgemm(transposeA: true, transposeB: false, m: tk, n: dh, k: seg.count,
                              a: pp.baseAddress!, lda: tk, b: pdo.baseAddress! + seg.rowStart * qw + head * dh, ldb: qw,
                              beta: 1, c: pdv.baseAddress! + kvh * dh, ldc: kw)
                        // dS = P ⊙ (dP − Σ_j dP·P), scaled.
                        for i in 0..<seg.count {
                            let prow = pp.baseAddress! + i * tk, drow = pdp.baseAddress! + i * tk
                            var dot: Float = 0
                            for j in 0..<tk { dot += prow[j] * drow[j] }
                            for j in 0..<tk { drow[j] = prow[j] * (drow[j] - dot) * shape.scale }
                        }
                    }
                } }
            } }
            dp.withUnsafeBufferPointer { pds in saved.keys[si].withUnsafeBufferPointer { pk in
                q.scalars.withUnsafeBufferPointer { pq in dq.withUnsafeMutableBufferPointer { pdq in
                    dkAll.withUnsafeMutableBufferPointer { pdk in
                        // dQ = dS · K   [count, Dh]
                        sgemm(transposeA: false, transposeB: false, m: seg.count, n: dh, k: tk,
                              a: pds.baseAddress!, lda: tk, b: pk.baseAddress! + kvh * dh, ldb: kw,
                              c: pdq.baseAddress! + seg.rowStart * qw + head * dh, ldc: qw)
                        // dK += dSᵀ · Q  [Tk, Dh]
                        sgemm(transposeA: true, transposeB: false, m: tk, n: dh, k: seg.count,
                              a: pds.baseAddress!, lda: tk, b: pq.baseAddress! + seg.rowStart * qw + head * dh, ldb: qw,
                              beta: 1, c: pdk.baseAddress! + kvh * dh, ldc: kw)
                    }
                } }
            } }
        }
        // Only the new rows' keys/values are inputs of this op; the prefix is a constant.
        for i in 0..<seg.count {
            for c in 0..<kw {
                dk[(seg.rowStart + i) * kw + c] = dkAll[(seg.prefix + i) * kw + c]
                dv[(seg.rowStart + i) * kw + c] = dvAll[(seg.prefix + i) * kw + c]
            }
        }
    }
    return (Tensor(shape: q.shape, scalars: dq), Tensor(shape: [rows, kw], scalars: dk), Tensor(shape: [rows, kw], scalars: dv))
}
