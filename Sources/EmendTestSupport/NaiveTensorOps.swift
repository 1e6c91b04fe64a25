// Obviously-right reference implementations of EmendCore's Tensor kernels (STYLE rule 12).
//
// Shape legend: B batch, T tokens, D width, H/Hkv heads, Dh head dim, F FFN width, V vocab,
// L layers, N requests, K key dim.
//
// Goals: obvious first. Every function walks multi-indices with plain loops, computes in Double
// where rounding matters, and shares no code with the kernels it checks. Slow by design.

import EmendCore
import Foundation

// MARK: - Index helpers

/// The multi-index of row-major flat index `flat` in `shape`.
public func naiveUnravel(_ flat: Int, _ shape: [Int]) -> [Int] {
    var idx = [Int](repeating: 0, count: shape.count)
    var rest = flat
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
        idx[axis] = rest % shape[axis]
        rest /= shape[axis]
    }
    return idx
}

/// The row-major flat index of multi-index `idx` in `shape`.
public func naiveRavel(_ idx: [Int], _ shape: [Int]) -> Int {
    var flat = 0
    for axis in 0..<shape.count { flat = flat * shape[axis] + idx[axis] }
    return flat
}

/// The element of `t` read at output index `outIdx` under NumPy broadcasting (align right; an
/// extent of 1 repeats).
public func naiveBroadcastRead(_ t: Tensor, _ outIdx: [Int]) -> Float {
    let pad = outIdx.count - t.rank
    var idx = [Int](repeating: 0, count: t.rank)
    for axis in 0..<t.rank { idx[axis] = t.shape[axis] == 1 ? 0 : outIdx[axis + pad] }
    return t.scalars[naiveRavel(idx, t.shape)]
}

// MARK: - Elementwise

/// op(a, b) elementwise under broadcasting, one output element at a time.
public func naiveBroadcastBinary(_ a: Tensor, _ b: Tensor, _ op: (Float, Float) -> Float) -> Tensor {
    let r = max(a.rank, b.rank)
    var shape = [Int](repeating: 1, count: r)
    for axis in 0..<r {
        let x = axis < r - a.rank ? 1 : a.shape[axis - (r - a.rank)]
        let y = axis < r - b.rank ? 1 : b.shape[axis - (r - b.rank)]
        precondition(x == y || x == 1 || y == 1, "naiveBroadcastBinary: \(a.shape) vs \(b.shape)")
        shape[axis] = x == 1 ? y : x
    }
    return Tensor(shape: shape) { o in
        let idx = naiveUnravel(o, shape)
        return op(naiveBroadcastRead(a, idx), naiveBroadcastRead(b, idx))
    }
}

/// condition ? a : b elementwise under broadcasting of all three.
public func naiveWhere(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
    let shapeCA = naiveBroadcastBinary(condition, a) { x, _ in x }.shape
    let shape = naiveBroadcastBinary(Tensor.zeros(shapeCA), b) { x, _ in x }.shape
    return Tensor(shape: shape) { o in
        let idx = naiveUnravel(o, shape)
        return naiveBroadcastRead(condition, idx) != 0 ? naiveBroadcastRead(a, idx) : naiveBroadcastRead(b, idx)
    }
}

/// The textbook scalar functions, in Double.
public enum NaiveScalar {
    public static func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
    public static func silu(_ x: Double) -> Double { x * sigmoid(x) }
    public static func geluTanh(_ x: Double) -> Double {
        0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
    }
    public static func geluErf(_ x: Double) -> Double { 0.5 * x * (1 + Foundation.erf(x / 2.0.squareRoot())) }
    /// (f(x + h) − f(x − h)) / 2h.
    public static func centralDifference(_ f: (Double) -> Double, at x: Double, step h: Double = 1e-6) -> Double {
        (f(x + h) - f(x - h)) / (2 * h)
    }
}

// MARK: - Reductions

/// Sum, mean or max over `axis` (keepDims false), accumulated in Double.
public func naiveReduce(_ t: Tensor, axis: Int, _ kind: NaiveReduction) -> Tensor {
    let a = axis < 0 ? axis + t.rank : axis
    var outShape = t.shape
    outShape.remove(at: a)
    let n = t.shape[a]
    return Tensor(shape: outShape) { o in
        var idx = naiveUnravel(o, outShape)
        idx.insert(0, at: a)
        var acc: Double = kind == .max ? -.infinity : 0
        for j in 0..<n {
            idx[a] = j
            let x = Double(t.scalars[naiveRavel(idx, t.shape)])
            acc = kind == .max ? Swift.max(acc, x) : acc + x
        }
        return Float(kind == .mean ? acc / Double(n) : acc)
    }
}

public enum NaiveReduction: Sendable { case sum, mean, max }

/// The first index of the maximum of each last-axis row: [..., n] → [...].
public func naiveArgmaxLast(_ t: Tensor) -> [Int] {
    let n = t.shape.last ?? 1
    let rows = t.shape.dropLast().reduce(1, *)
    return (0..<rows).map { r in
        var best = 0
        for j in 0..<n where t.scalars[r * n + j] > t.scalars[r * n + best] { best = j }
        return best
    }
}

// MARK: - Softmax family

/// log Σ exp of each last-axis row in Double: [..., n] → [...]. An empty or fully −∞ row gives −∞.
public func naiveLogSumExp(_ t: Tensor) -> [Double] {
    let n = t.shape.last ?? 1
    let rows = t.shape.dropLast().reduce(1, *)
    return (0..<rows).map { r in
        let row = (0..<n).map { Double(t.scalars[r * n + $0]) }
        let m = row.max() ?? -.infinity
        if m == -.infinity { return -.infinity }
        return m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) })
    }
}

/// softmax of each last-axis row in Double, exp(x − max) / Σ exp(x − max) (a fully −∞ row gives
/// zeros, as EmendCore documents).
public func naiveSoftmax(_ t: Tensor) -> [Double] {
    naiveSoftmaxRows(t).flatMap { row in row.map { $0.sum == 0 ? 0 : $0.e / $0.sum } }
}

/// log-softmax of each last-axis row in Double, x − max − log Σ exp(x − max) (a fully −∞ row
/// gives −∞: the log of softmax's zeros).
public func naiveLogSoftmax(_ t: Tensor) -> [Double] {
    naiveSoftmaxRows(t).flatMap { row in
        row.map { $0.sum == 0 ? -.infinity : $0.shifted - Foundation.log($0.sum) }
    }
}

/// Per row: each element's x − max, exp(x − max), and the row's Σ exp(x − max).
private func naiveSoftmaxRows(_ t: Tensor) -> [[(shifted: Double, e: Double, sum: Double)]] {
    let n = t.shape.last ?? 1
    let rows = t.shape.dropLast().reduce(1, *)
    return (0..<rows).map { r in
        let row = (0..<n).map { Double(t.scalars[r * n + $0]) }
        let m = row.max() ?? -.infinity
        if m == -.infinity { return row.map { _ in (-.infinity, 0, 0) } }
        let shifted = row.map { $0 - m }
        let sum = shifted.reduce(0) { $0 + Foundation.exp($1) }
        return shifted.map { ($0, Foundation.exp($0), sum) }
    }
}

// MARK: - Normalisation

/// RMSNorm in Double: y = x / √(mean(x²) + eps) · w, per last-axis row.
public func naiveRMSNorm(_ x: Tensor, weight: Tensor, eps: Float) -> [Double] {
    let d = x.shape.last ?? 1
    return (0..<x.count).map { i in
        let r = i / d
        var ss: Double = 0
        for j in 0..<d { ss += Double(x.scalars[r * d + j]) * Double(x.scalars[r * d + j]) }
        return Double(x.scalars[i]) / (ss / Double(d) + Double(eps)).squareRoot() * Double(weight.scalars[i % d])
    }
}

/// LayerNorm in Double: y = (x − μ) / √(σ² + eps) · w + b with the biased variance σ².
public func naiveLayerNorm(_ x: Tensor, weight: Tensor, bias: Tensor?, eps: Float) -> [Double] {
    let d = x.shape.last ?? 1
    return (0..<x.count).map { i in
        let r = i / d
        var mean: Double = 0
        for j in 0..<d { mean += Double(x.scalars[r * d + j]) }
        mean /= Double(d)
        var v: Double = 0
        for j in 0..<d { let c = Double(x.scalars[r * d + j]) - mean; v += c * c }
        v /= Double(d)
        let b = bias.map { Double($0.scalars[i % d]) } ?? 0
        return (Double(x.scalars[i]) - mean) / (v + Double(eps)).squareRoot() * Double(weight.scalars[i % d]) + b
    }
}

// MARK: - RoPE

/// RoPE written from the definition: pair p of head vector v (indices (i, i + Dh/2) for
/// `.halfSplit`, (2i, 2i + 1) for `.interleaved`) is rotated by angle pos · base^(−2i/Dh), in Double.
/// - x: [..., T, H, Dh] → same shape.
public func naiveRope(_ x: Tensor, positions: [Int], base: Float, convention: RoPEConvention) -> [Double] {
    let dh = x.shape[x.rank - 1]
    let half = dh / 2
    var out = x.scalars.map { Double($0) }
    for i in 0..<x.count {
        let idx = naiveUnravel(i, x.shape)
        let pos = Double(positions[idx[x.rank - 3]])
        let k = idx[x.rank - 1]
        // (pair index, this element's partner, whether this is the first of the pair)
        let (pair, partner, first): (Int, Int, Bool) = convention == .halfSplit
            ? (k % half, k < half ? k + half : k - half, k < half)
            : (k / 2, k % 2 == 0 ? k + 1 : k - 1, k % 2 == 0)
        let angle = pos * Foundation.pow(Double(base), -2 * Double(pair) / Double(dh))
        let me = Double(x.scalars[i]), other = Double(x.scalars[i - k + partner])
        out[i] = first ? me * Foundation.cos(angle) - other * Foundation.sin(angle)
                       : me * Foundation.cos(angle) + other * Foundation.sin(angle)
    }
    return out
}

/// The GGUF Q/K row permutation within each head: row h·Dh + 2i + j of the result is row
/// h·Dh + (Dh/2)·j + i of `rows` [H·Dh, ...] (j ∈ {0, 1}, i ∈ 0..<Dh/2).
public func naiveGGUFRopePermutation(_ rows: Tensor, headDim dh: Int) -> Tensor {
    let nRows = rows.shape[0], width = rows.count / max(nRows, 1)
    var out = rows.scalars
    for hd in stride(from: 0, to: nRows, by: dh) {
        for i in 0..<(dh / 2) {
            for j in 0..<2 {
                let dst = hd + 2 * i + j, src = hd + (dh / 2) * j + i
                for c in 0..<width { out[dst * width + c] = rows.scalars[src * width + c] }
            }
        }
    }
    return Tensor(shape: rows.shape, scalars: out)
}

// MARK: - Losses

/// Mean over non-ignored rows of logsumexp(row) − row[target], in Double (0 when all are ignored).
public func naiveCrossEntropy(logits: Tensor, targets: [Int], ignoreIndex: Int) -> Double {
    let lse = naiveLogSumExp(logits)
    let v = logits.shape.last ?? 1
    var total: Double = 0, used = 0
    for (r, target) in targets.enumerated() where target != ignoreIndex {
        total += lse[r] - Double(logits.scalars[r * v + target])
        used += 1
    }
    return used == 0 ? 0 : total / Double(used)
}

/// (1/N) Σ_rows Σ_v p·(log p − log q), with 0·log 0 = 0, in Double.
public func naiveKLDivergence(logP: Tensor, logQ: Tensor) -> Double {
    let v = logP.shape.last ?? 1
    let n = logP.count / max(v, 1)
    var total: Double = 0
    for i in 0..<logP.count {
        let lp = Double(logP.scalars[i]), lq = Double(logQ.scalars[i])
        if lp == -.infinity { continue }
        total += Foundation.exp(lp) * (lp - lq)
    }
    return n == 0 ? 0 : total / Double(n)
}

// MARK: - Shape ops

/// Axis permutation: result axis i is input axis order[i].
public func naivePermuted(_ t: Tensor, _ order: [Int]) -> Tensor {
    let shape = order.map { t.shape[$0] }
    return Tensor(shape: shape) { o in
        let outIdx = naiveUnravel(o, shape)
        var inIdx = [Int](repeating: 0, count: t.rank)
        for (i, axis) in order.enumerated() { inIdx[axis] = outIdx[i] }
        return t.scalars[naiveRavel(inIdx, t.shape)]
    }
}

/// Elements with index in `range` along `axis`.
public func naiveSliced(_ t: Tensor, axis: Int, _ range: Range<Int>) -> Tensor {
    var shape = t.shape
    shape[axis] = range.count
    return Tensor(shape: shape) { o in
        var idx = naiveUnravel(o, shape)
        idx[axis] += range.lowerBound
        return t.scalars[naiveRavel(idx, t.shape)]
    }
}

/// `t` with `value` written at indices start..<start + value.shape[axis] along `axis`.
public func naiveUpdatingSlice(_ t: Tensor, axis: Int, at start: Int, with value: Tensor) -> Tensor {
    var out = t.scalars
    for v in 0..<value.count {
        var idx = naiveUnravel(v, value.shape)
        idx[axis] += start
        out[naiveRavel(idx, t.shape)] = value.scalars[v]
    }
    return Tensor(shape: t.shape, scalars: out)
}

/// Parts joined along `axis`: each output element is found by walking the parts' extents.
public func naiveConcatenate(_ parts: [Tensor], axis: Int) -> Tensor {
    var shape = parts[0].shape
    shape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
    return Tensor(shape: shape) { o in
        var idx = naiveUnravel(o, shape)
        for p in parts {
            if idx[axis] < p.shape[axis] { return p.scalars[naiveRavel(idx, p.shape)] }
            idx[axis] -= p.shape[axis]
        }
        preconditionFailure("naiveConcatenate: index past the last part")
    }
}

/// Rows `ids` of `table` [V, D] → [N, D].
public func naiveGatherRows(_ table: Tensor, _ ids: [Int]) -> Tensor {
    let d = table.shape[1]
    return Tensor(shape: [ids.count, d]) { o in table.scalars[ids[o / d] * d + o % d] }
}

/// table [V, D] with row i of `values` [N, D] added to row ids[i], one element at a time.
public func naiveScatterAddRows(_ table: Tensor, _ ids: [Int], _ values: Tensor) -> Tensor {
    let d = table.shape[1]
    var out = table.scalars
    for (i, id) in ids.enumerated() { for c in 0..<d { out[id * d + c] += values.scalars[i * d + c] } }
    return Tensor(shape: table.shape, scalars: out)
}

// MARK: - Matmul

/// Batched op(A)·op(B) by a triple loop in Double; a rank-2 `b` is shared by every batch entry.
/// - a: [..., M, K] ([..., K, M] transposed); b: [..., K, N] or [K, N] ([..., N, K] transposed) → [..., M, N]
public func naiveMatmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    let ar = a.shape[a.rank - 2], ac = a.shape[a.rank - 1]
    let br = b.shape[b.rank - 2], bc = b.shape[b.rank - 1]
    let m = transposeA ? ac : ar, k = transposeA ? ar : ac
    let n = transposeB ? br : bc
    let batch = Array(a.shape.dropLast(2))
    let nBatch = batch.reduce(1, *)
    var out = [Float](repeating: 0, count: nBatch * m * n)
    for bi in 0..<nBatch {
        let aOff = bi * ar * ac, bOff = b.rank == 2 ? 0 : bi * br * bc
        for i in 0..<m {
            for j in 0..<n {
                var s: Double = 0
                for p in 0..<k {
                    let x = transposeA ? a.scalars[aOff + p * ac + i] : a.scalars[aOff + i * ac + p]
                    let y = transposeB ? b.scalars[bOff + j * bc + p] : b.scalars[bOff + p * bc + j]
                    s += Double(x) * Double(y)
                }
                out[(bi * m + i) * n + j] = Float(s)
            }
        }
    }
    return Tensor(shape: batch + [m, n], scalars: out)
}

// MARK: - Comparison

/// The largest |got − want| / (atol + rtol·|want|) over all elements (≤ 1 means within tolerance).
/// NaNs must match NaNs and infinities must match exactly; otherwise the result is +∞.
public func naiveToleranceRatio(_ got: [Float], _ want: [Double], atol: Double, rtol: Double) -> Double {
    precondition(got.count == want.count, "naiveToleranceRatio: \(got.count) vs \(want.count) elements")
    var worst: Double = 0
    for (g, w) in zip(got.map { Double($0) }, want) {
        if w.isNaN || g.isNaN {
            if !(w.isNaN && g.isNaN) { return .infinity }
            continue
        }
        if w.isInfinite || g.isInfinite {
            if g != w { return .infinity }
            continue
        }
        worst = max(worst, Swift.abs(g - w) / (atol + rtol * Swift.abs(w)))
    }
    return worst
}
