// Causal multi-head attention over ragged sequences, with grouped-query heads and a cached prefix.
// Forward and backward side by side (llm.c style); the autograd op wraps these two functions.
//
// A batch is a list of segments. Segment s owns `count` consecutive rows of q/k/v (its new tokens) and
// continues a prefix of `prefix` cached keys/values; new row i sits at absolute position prefix + i and
// may attend to keys 0 ... prefix + i, or, with a sliding window W (Gemma-3's local layers), to the last W of
// them: keys prefix + i − W + 1 ... prefix + i (HF and llama.cpp: a key is visible when q_pos − k_pos < W).
// Sequences of different lengths need no padding.
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

/// Head counts, scale and window of an attention call.
public struct AttentionShape: Sendable, Equatable {
    public var heads: Int, kvHeads: Int, headDim: Int
    public var scale: Float
    /// W: a query at position p sees keys p − W + 1 … p; nil sees every earlier key.
    public var window: Int?
    public init(heads: Int, kvHeads: Int, headDim: Int, scale: Float? = nil, window: Int? = nil) {
        self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
        self.scale = scale ?? 1 / Float(headDim).squareRoot()
        self.window = window
    }
    var group: Int { heads / kvHeads }

    /// The first key a query sees when it sees keys up to `visible` − 1 (exclusive end `visible`).
    @inline(__always)
    func firstVisible(_ visible: Int) -> Int { window.map { max(0, visible - $0) } ?? 0 }
}

/// What the backward pass needs from the forward pass.
public struct AttentionSaved: Sendable {
    /// Per segment: the attention probabilities of every head, [H, count, Tk] row-major.
    public var probabilities: [[Float]]
    /// Per segment: all keys and values [Tk, Hkv·Dh] (prefix then new rows).
    public var keys: [[Float]], values: [[Float]]
}

// MARK: - Small kernels

/// Σ a[i]·b[i] over n elements (8 independent accumulators, so the compiler vectorises it).
@inline(__always)
func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>()
    var i = 0
    while i + 8 <= n {
        acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var s = acc.sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// y[i] += alpha·x[i] over n elements.
@inline(__always)
func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { y[i] += alpha * x[i] }
}

/// Runs `body(segment)` for every segment; in parallel when the segments are many and small (each one's
/// arithmetic stays in plain loops), sequentially otherwise (large segments use multi-threaded BLAS inside).
func forEachSegment(_ segments: [AttentionSegment], _ body: @Sendable (Int) -> Void) {
    let big = segments.contains { $0.count * ($0.prefix + $0.count) > 4_096 }
    if big || segments.count < 2 {
        for i in segments.indices { body(i) }
    } else {
        parallelRanges(segments.count, grain: 1) { r in for i in r { body(i) } }
    }
}

/// A segment is "small" when plain loops beat BLAS call overhead.
@inline(__always)
func isSmall(_ seg: AttentionSegment) -> Bool { seg.count * (seg.prefix + seg.count) <= 4_096 }

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
    for (si, seg) in segments.enumerated() {
        precondition(prefixKeys[si].count == seg.prefix * kw && prefixValues[si].count == seg.prefix * kw,
                     "attention: segment \(si) prefix cache does not hold \(seg.prefix) positions")
    }
    var out = [Float](repeating: 0, count: q.count)
    var probs = [[Float]](repeating: [], count: segments.count)
    var keysAll = [[Float]](repeating: [], count: segments.count)
    var valuesAll = keysAll
    q.scalars.withUnsafeBufferPointer { pq in out.withUnsafeMutableBufferPointer { po in
    probs.withUnsafeMutableBufferPointer { pp in keysAll.withUnsafeMutableBufferPointer { pk in
    valuesAll.withUnsafeMutableBufferPointer { pv in
        let qp = SendableConstPointer(pq.baseAddress!), op = SendablePointer(po.baseAddress!)
        let probsOut = SendablePointer(pp.baseAddress!), keysOut = SendablePointer(pk.baseAddress!)
        let valuesOut = SendablePointer(pv.baseAddress!)
        forEachSegment(segments) { si in
            let seg = segments[si]
            let tk = seg.prefix + seg.count, n = seg.count
            // All keys/values of this segment, contiguous: [Tk, Hkv·Dh].
            var kAll = prefixKeys[si].scalars, vAll = prefixValues[si].scalars
            kAll.append(contentsOf: k.scalars[(seg.rowStart * kw)..<((seg.rowStart + n) * kw)])
            vAll.append(contentsOf: v.scalars[(seg.rowStart * kw)..<((seg.rowStart + n) * kw)])
            var p = [Float](repeating: 0, count: h * n * tk)
            kAll.withUnsafeBufferPointer { kb in vAll.withUnsafeBufferPointer { vb in p.withUnsafeMutableBufferPointer { pb in
                let kp = kb.baseAddress!, vp = vb.baseAddress!
                for head in 0..<h {
                    let kvh = head / g
                    let scores = pb.baseAddress! + head * n * tk
                    let qh = qp.base + seg.rowStart * qw + head * dh
                    let oh = op.base + seg.rowStart * qw + head * dh
                    if isSmall(seg) {
                        for i in 0..<n {
                            let row = scores + i * tk, visible = seg.prefix + i + 1, first = shape.firstVisible(visible)
                            for j in first..<visible { row[j] = shape.scale * dotProduct(qh + i * qw, kp + j * kw + kvh * dh, dh) }
                            softmaxRow(row + first, row + first, visible - first)
                            for j in first..<visible { axpy(row[j], vp + j * kw + kvh * dh, oh + i * qw, dh) }
                        }
                    } else {
                        sgemm(transposeA: false, transposeB: true, m: n, n: tk, k: dh, alpha: shape.scale,
                              a: qh, lda: qw, b: kp + kvh * dh, ldb: kw, c: scores, ldc: tk)
                        for i in 0..<n {
                            let row = scores + i * tk, visible = seg.prefix + i + 1, first = shape.firstVisible(visible)
                            softmaxRow(row + first, row + first, visible - first)
                            for j in 0..<first { row[j] = 0 }
                            for j in visible..<tk { row[j] = 0 }
                        }
                        sgemm(transposeA: false, transposeB: false, m: n, n: dh, k: tk,
                              a: scores, lda: tk, b: vp + kvh * dh, ldb: kw, c: oh, ldc: qw)
                    }
                }
            } } }
            if saveForBackward {
                (probsOut.base + si).pointee = p
                (keysOut.base + si).pointee = kAll
                (valuesOut.base + si).pointee = vAll
            }
        }
    } } } } }
    let saved = saveForBackward ? AttentionSaved(probabilities: probs, keys: keysAll, values: valuesAll) : nil
    return (Tensor(shape: q.shape, scalars: out), saved)
}

// MARK: - Backward

/// Gradients of `attentionForward` with respect to q, k and v of the new rows (the prefix is constant).
/// With S = scale·Q Kᵀ, P = softmax(S) (causal, windowed; P is 0 outside what a query sees), O = P V:
///   dP = dO Vᵀ;  dV = Pᵀ dO;  dS = P ⊙ (dP − rowsum(dP ⊙ P));  dQ = scale·dS K;  dK = scale·dSᵀ Q.
/// - Returns: dq [R, H·Dh], dk, dv [R, Hkv·Dh]
public func attentionBackward(dOut: Tensor, q: Tensor, segments: [AttentionSegment], saved: AttentionSaved,
                              shape: AttentionShape) -> (dq: Tensor, dk: Tensor, dv: Tensor) {
    let h = shape.heads, hkv = shape.kvHeads, dh = shape.headDim, g = shape.group
    let qw = h * dh, kw = hkv * dh
    let rows = q.count / qw
    var dq = [Float](repeating: 0, count: q.count)
    var dk = [Float](repeating: 0, count: rows * kw), dv = dk
    dOut.scalars.withUnsafeBufferPointer { pdo in q.scalars.withUnsafeBufferPointer { pq in
    dq.withUnsafeMutableBufferPointer { pdq in dk.withUnsafeMutableBufferPointer { pdk in dv.withUnsafeMutableBufferPointer { pdv in
        let doP = SendableConstPointer(pdo.baseAddress!), qP = SendableConstPointer(pq.baseAddress!)
        let dqP = SendablePointer(pdq.baseAddress!), dkP = SendablePointer(pdk.baseAddress!), dvP = SendablePointer(pdv.baseAddress!)
        forEachSegment(segments) { si in
            let seg = segments[si]
            let tk = seg.prefix + seg.count, n = seg.count
            var dkAll = [Float](repeating: 0, count: tk * kw), dvAll = dkAll
            var dp = [Float](repeating: 0, count: n * tk)
            saved.probabilities[si].withUnsafeBufferPointer { pb in saved.keys[si].withUnsafeBufferPointer { kb in
            saved.values[si].withUnsafeBufferPointer { vb in dp.withUnsafeMutableBufferPointer { dpb in
            dkAll.withUnsafeMutableBufferPointer { dkb in dvAll.withUnsafeMutableBufferPointer { dvb in
                let kp = kb.baseAddress!, vp = vb.baseAddress!, dpp = dpb.baseAddress!
                for head in 0..<h {
                    let kvh = head / g
                    let p = pb.baseAddress! + head * n * tk
                    let doh = doP.base + seg.rowStart * qw + head * dh
                    let qh = qP.base + seg.rowStart * qw + head * dh
                    let dqh = dqP.base + seg.rowStart * qw + head * dh
                    if isSmall(seg) {
                        for i in 0..<n {
                            let prow = p + i * tk, drow = dpp + i * tk, visible = seg.prefix + i + 1
                            let first = shape.firstVisible(visible)
                            var dot: Float = 0
                            for j in first..<visible {
                                drow[j] = dotProduct(doh + i * qw, vp + j * kw + kvh * dh, dh)      // dP
                                dot += prow[j] * drow[j]
                                axpy(prow[j], doh + i * qw, dvb.baseAddress! + j * kw + kvh * dh, dh)  // dV += P dO
                            }
                            for j in first..<visible {
                                let ds = prow[j] * (drow[j] - dot) * shape.scale
                                axpy(ds, kp + j * kw + kvh * dh, dqh + i * qw, dh)                    // dQ += dS K
                                axpy(ds, qh + i * qw, dkb.baseAddress! + j * kw + kvh * dh, dh)       // dK += dS Q
                            }
                        }
                    } else {
                        sgemm(transposeA: false, transposeB: true, m: n, n: tk, k: dh,
                              a: doh, lda: qw, b: vp + kvh * dh, ldb: kw, c: dpp, ldc: tk)
                        sgemm(transposeA: true, transposeB: false, m: tk, n: dh, k: n,
                              a: p, lda: tk, b: doh, ldb: qw, beta: 1, c: dvb.baseAddress! + kvh * dh, ldc: kw)
                        for i in 0..<n {
                            let prow = p + i * tk, drow = dpp + i * tk
                            var dot: Float = 0
                            for j in 0..<tk { dot += prow[j] * drow[j] }
                            for j in 0..<tk { drow[j] = prow[j] * (drow[j] - dot) * shape.scale }
                        }
                        sgemm(transposeA: false, transposeB: false, m: n, n: dh, k: tk,
                              a: dpp, lda: tk, b: kp + kvh * dh, ldb: kw, c: dqh, ldc: qw)
                        sgemm(transposeA: true, transposeB: false, m: tk, n: dh, k: n,
                              a: dpp, lda: tk, b: qh, ldb: qw, beta: 1, c: dkb.baseAddress! + kvh * dh, ldc: kw)
                    }
                }
                // Only the new rows' keys/values are inputs of this op; the prefix is a constant.
                for i in 0..<n {
                    (dkP.base + (seg.rowStart + i) * kw).update(from: dkb.baseAddress! + (seg.prefix + i) * kw, count: kw)
                    (dvP.base + (seg.rowStart + i) * kw).update(from: dvb.baseAddress! + (seg.prefix + i) * kw, count: kw)
                }
            } } } } } }
        }
    } } } } }
    return (Tensor(shape: q.shape, scalars: dq), Tensor(shape: [rows, kw], scalars: dk), Tensor(shape: [rows, kw], scalars: dv))
}
