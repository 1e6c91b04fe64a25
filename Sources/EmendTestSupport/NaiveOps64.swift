// Obviously-right Float64 reference implementations of every differentiable op, for tests.
//
// Goals, in order: obviously correct, independent of EmendCore's kernels (no shared helpers:
// broadcasting, strides and reductions are re-derived here from multi-indices), then fast enough
// for central finite differences on small tensors. Nothing here is clever, parallel or fused.
//
// Shape legend: B batch, T tokens, D width, H/Hkv heads, Dh head dim, F FFN width, V vocab.

import EmendCore
import Foundation

// MARK: - Types

/// A Float64 tensor: a shape and its elements in row-major order.
public struct Naive64: Sendable, CustomStringConvertible {
    public var shape: [Int]
    public var values: [Double]

    public init(shape: [Int], values: [Double]) {
        precondition(values.count == shape.reduce(1, *), "Naive64: \(values.count) values for shape \(shape)")
        self.shape = shape
        self.values = values
    }

    /// The Float32 tensor's elements, widened exactly.
    public init(_ t: Tensor) { self.init(shape: t.shape, values: t.scalars.map(Double.init)) }

    public static func scalar(_ x: Double) -> Naive64 { Naive64(shape: [], values: [x]) }

    public var count: Int { values.count }
    /// Rounded to Float32.
    public var float32: Tensor { Tensor(shape: shape, scalars: values.map(Float.init)) }

    /// The element at a multi-index.
    public subscript(_ index: [Int]) -> Double {
        get { values[naiveOffset(index, shape)] }
        set { values[naiveOffset(index, shape)] = newValue }
    }

    public var description: String { "Naive64(\(shape), \(values.prefix(8)))" }
}

/// The row-major offset of a multi-index.
public func naiveOffset(_ index: [Int], _ shape: [Int]) -> Int {
    var offset = 0
    for (i, n) in zip(index, shape) { offset = offset * n + i }
    return offset
}

/// Every multi-index of `shape`, in row-major order.
public func naiveIndices(_ shape: [Int]) -> [[Int]] {
    var all: [[Int]] = [[]]
    for n in shape {
        var next: [[Int]] = []
        for prefix in all { for i in 0..<n { next.append(prefix + [i]) } }
        all = next
    }
    return all
}

// MARK: - Elementwise

public enum NaiveOps64 {
    /// NumPy broadcasting, written out: pad with leading 1s, then each axis takes the non-1 extent.
    public static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
        let r = Swift.max(a.count, b.count)
        let pa = [Int](repeating: 1, count: r - a.count) + a, pb = [Int](repeating: 1, count: r - b.count) + b
        return zip(pa, pb).map { x, y in
            precondition(x == y || x == 1 || y == 1, "naive broadcast: \(a) vs \(b)")
            return x == 1 ? y : x          // a 1 stretches to the other extent (even 0)
        }
    }

    /// The element of `t` that output index `index` (of a broadcast shape) reads.
    static func broadcastRead(_ t: Naive64, _ index: [Int]) -> Double {
        let off = index.count - t.shape.count
        let local = (0..<t.shape.count).map { t.shape[$0] == 1 ? 0 : index[off + $0] }
        return t[local]
    }

    public static func binary(_ a: Naive64, _ b: Naive64, _ f: (Double, Double) -> Double) -> Naive64 {
        let shape = broadcastShape(a.shape, b.shape)
        return Naive64(shape: shape, values: naiveIndices(shape).map { f(broadcastRead(a, $0), broadcastRead(b, $0)) })
    }

    public static func unary(_ a: Naive64, _ f: (Double) -> Double) -> Naive64 {
        Naive64(shape: a.shape, values: a.values.map(f))
    }

    public static func `where`(_ c: Naive64, _ a: Naive64, _ b: Naive64) -> Naive64 {
        let shape = broadcastShape(broadcastShape(c.shape, a.shape), b.shape)
        return Naive64(shape: shape, values: naiveIndices(shape).map {
            broadcastRead(c, $0) != 0 ? broadcastRead(a, $0) : broadcastRead(b, $0)
        })
    }

    public static func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
    public static func silu(_ x: Double) -> Double { x / (1 + Foundation.exp(-x)) }
    public static func geluTanh(_ x: Double) -> Double {
        0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
    }
    public static func geluErf(_ x: Double) -> Double { 0.5 * x * (1 + Foundation.erf(x / 2.0.squareRoot())) }

    // MARK: - Reductions

    /// Reduces `axis` with `f` over the list of entries along it.
    static func reduce(_ a: Naive64, axis: Int, keepDims: Bool, _ f: ([Double]) -> Double) -> Naive64 {
        let ax = axis < 0 ? axis + a.shape.count : axis
        var kept = a.shape
        kept[ax] = 1
        let values = naiveIndices(kept).map { idx -> Double in
            f((0..<a.shape[ax]).map { j in var i = idx; i[ax] = j; return a[i] })
        }
        var shape = kept
        if !keepDims { shape.remove(at: ax) }
        return Naive64(shape: shape, values: values)
    }

    public static func sum(_ a: Naive64, axis: Int, keepDims: Bool = false) -> Naive64 {
        reduce(a, axis: axis, keepDims: keepDims) { $0.reduce(0, +) }
    }
    public static func mean(_ a: Naive64, axis: Int, keepDims: Bool = false) -> Naive64 {
        reduce(a, axis: axis, keepDims: keepDims) { $0.reduce(0, +) / Double($0.count) }
    }
    public static func max(_ a: Naive64, axis: Int, keepDims: Bool = false) -> Naive64 {
        reduce(a, axis: axis, keepDims: keepDims) { $0.max() ?? -.infinity }
    }
    public static func sumAll(_ a: Naive64) -> Naive64 { .scalar(a.values.reduce(0, +)) }
    public static func meanAll(_ a: Naive64) -> Naive64 { .scalar(a.values.reduce(0, +) / Double(a.count)) }

    // MARK: - Products

    /// Batched matmul by the definition C[..., i, j] = Σ_p op(A)[..., i, p] · op(B)[..., p, j].
    public static func matmul(_ a: Naive64, _ b: Naive64, transposeA: Bool = false, transposeB: Bool = false) -> Naive64 {
        let ra = a.shape.count, rb = b.shape.count
        let m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2], k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1]
        let n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1]
        let batch = Array(a.shape.dropLast(2))
        var out = Naive64(shape: batch + [m, n], values: [Double](repeating: 0, count: batch.reduce(1, *) * m * n))
        for bi in naiveIndices(batch) {
            let bb = rb == 2 ? [] : bi
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0
                    for p in 0..<k {
                        let x = transposeA ? a[bi + [p, i]] : a[bi + [i, p]]
                        let y = transposeB ? b[bb + [j, p]] : b[bb + [p, j]]
                        s += x * y
                    }
                    out[bi + [i, j]] = s
                }
            }
        }
        return out
    }

    /// y[..., o] = Σ_i x[..., i] · W[o, i] + bias[o].
    public static func linear(_ x: Naive64, _ w: Naive64, bias: Naive64? = nil) -> Naive64 {
        let outW = w.shape[0], inW = w.shape[1]
        let lead = Array(x.shape.dropLast())
        var out = Naive64(shape: lead + [outW], values: [Double](repeating: 0, count: lead.reduce(1, *) * outW))
        for li in naiveIndices(lead) {
            for o in 0..<outW {
                var s = bias?.values[o] ?? 0
                for i in 0..<inW { s += x[li + [i]] * w[[o, i]] }
                out[li + [o]] = s
            }
        }
        return out
    }

    // MARK: - Shape

    public static func reshape(_ a: Naive64, _ shape: [Int]) -> Naive64 { Naive64(shape: shape, values: a.values) }

    /// out[i_0, …] = a[index with axis order[k] set to i_k].
    public static func permute(_ a: Naive64, _ order: [Int]) -> Naive64 {
        let shape = order.map { a.shape[$0] }
        return Naive64(shape: shape, values: naiveIndices(shape).map { idx in
            var src = [Int](repeating: 0, count: idx.count)
            for (k, o) in order.enumerated() { src[o] = idx[k] }
            return a[src]
        })
    }

    public static func slice(_ a: Naive64, axis: Int, _ range: Range<Int>) -> Naive64 {
        let ax = axis < 0 ? axis + a.shape.count : axis
        var shape = a.shape
        shape[ax] = range.count
        return Naive64(shape: shape, values: naiveIndices(shape).map { idx in
            var src = idx
            src[ax] += range.lowerBound
            return a[src]
        })
    }

    public static func concatenate(_ parts: [Naive64], axis: Int) -> Naive64 {
        let ax = axis < 0 ? axis + parts[0].shape.count : axis
        var shape = parts[0].shape
        shape[ax] = parts.reduce(0) { $0 + $1.shape[ax] }
        return Naive64(shape: shape, values: naiveIndices(shape).map { idx in
            var i = idx[ax], p = 0
            while i >= parts[p].shape[ax] { i -= parts[p].shape[ax]; p += 1 }
            var src = idx
            src[ax] = i
            return parts[p][src]
        })
    }

    public static func gatherRows(_ table: Naive64, _ ids: [Int]) -> Naive64 {
        let d = table.shape[1]
        return Naive64(shape: [ids.count, d], values: ids.flatMap { id in (0..<d).map { table[[id, $0]] } })
    }

    /// x with delta (shared [D], or [rows.count, D]) added into each listed row of the [R, D] view.
    public static func addingRows(_ x: Naive64, _ delta: Naive64, rows: [Int]) -> Naive64 {
        let d = x.shape.last ?? 1
        var out = x
        for (i, r) in rows.enumerated() {
            for j in 0..<d { out.values[r * d + j] += delta.shape.count == 1 ? delta.values[j] : delta.values[i * d + j] }
        }
        return out
    }

    public static func pickColumns(_ x: Naive64, _ columns: [Int]) -> Naive64 {
        Naive64(shape: [columns.count], values: columns.enumerated().map { i, c in x[[i, c]] })
    }

    /// [B, Hkv, T, Dh] → [B, Hkv·g, T, Dh], head h reading kv head h / g.
    public static func repeatKVHeads(_ x: Naive64, groups: Int) -> Naive64 {
        let shape = [x.shape[0], x.shape[1] * groups, x.shape[2], x.shape[3]]
        return Naive64(shape: shape, values: naiveIndices(shape).map { i in x[[i[0], i[1] / groups, i[2], i[3]]] })
    }

    // MARK: - Softmax and norms (last axis)

    /// Applies `f` to every last-axis row.
    static func rowwise(_ x: Naive64, _ f: ([Double]) -> [Double]) -> Naive64 {
        let n = x.shape.last ?? 1
        var out: [Double] = []
        for r in 0..<(x.count / Swift.max(n, 1)) { out += f(Array(x.values[(r * n)..<((r + 1) * n)])) }
        return Naive64(shape: x.shape, values: out)
    }

    public static func softmax(_ x: Naive64) -> Naive64 {
        rowwise(x) { row in
            let m = row.max() ?? 0
            let e = row.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            return e.map { $0 / s }
        }
    }

    public static func logSoftmax(_ x: Naive64) -> Naive64 {
        rowwise(x) { row in
            let m = row.max() ?? 0
            let lse = m + Foundation.log(row.map { Foundation.exp($0 - m) }.reduce(0, +))
            return row.map { $0 - lse }
        }
    }

    public static func rmsNorm(_ x: Naive64, weight: Naive64, eps: Double) -> Naive64 {
        rowwise(x) { row in
            let ms = row.map { $0 * $0 }.reduce(0, +) / Double(row.count)
            return row.enumerated().map { j, v in v / (ms + eps).squareRoot() * weight.values[j] }
        }
    }

    public static func layerNorm(_ x: Naive64, weight: Naive64, bias: Naive64?, eps: Double) -> Naive64 {
        rowwise(x) { row in
            let mu = row.reduce(0, +) / Double(row.count)
            let variance = row.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(row.count)
            return row.enumerated().map { j, v in
                (v - mu) / (variance + eps).squareRoot() * weight.values[j] + (bias?.values[j] ?? 0)
            }
        }
    }

    // MARK: - RoPE

    /// Rotates pairs of x [..., T, H, Dh] by position·base^(−2i/Dh), all in Float64.
    public static func rope(_ x: Naive64, positions: [Int], base: Double, convention: RoPEConvention) -> Naive64 {
        let r = x.shape.count, dh = x.shape[r - 1], half = dh / 2
        var out = x
        for idx in naiveIndices(Array(x.shape.dropLast())) {
            let p = Double(positions[idx[r - 3]])
            for i in 0..<half {
                let angle = p * Foundation.pow(base, -Double(2 * i) / Double(dh))
                let (ia, ib) = convention == .halfSplit ? (i, i + half) : (2 * i, 2 * i + 1)
                let a = x[idx + [ia]], b = x[idx + [ib]]
                out[idx + [ia]] = a * Foundation.cos(angle) - b * Foundation.sin(angle)
                out[idx + [ib]] = b * Foundation.cos(angle) + a * Foundation.sin(angle)
            }
        }
        return out
    }

    // MARK: - Losses

    /// Mean over non-ignored rows of −log softmax(logits)[target].
    public static func crossEntropy(_ logits: Naive64, targets: [Int]) -> Naive64 {
        let lsm = logSoftmax(logits), v = logits.shape.last ?? 1
        var total = 0.0, used = 0
        for (i, t) in targets.enumerated() where t != ignoreIndex {
            total -= lsm.values[i * v + t]
            used += 1
        }
        return .scalar(used == 0 ? 0 : total / Double(used))
    }

    /// (1/N) Σ e^{lp}(lp − lq) over N last-axis rows.
    public static func klDivergence(logP: Naive64, logQ: Naive64) -> Naive64 {
        let rows = logP.count / Swift.max(logP.shape.last ?? 1, 1)
        var total = 0.0
        for (lp, lq) in zip(logP.values, logQ.values) where lp > -.infinity { total += Foundation.exp(lp) * (lp - lq) }
        return .scalar(total / Double(rows))
    }
}
