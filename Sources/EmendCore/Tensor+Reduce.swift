// Reductions along an axis, and the numerically stable softmax family.
//
// A reduction over `axis` views the tensor as [outer, n, inner] and returns [outer, inner]
// (or [outer, 1, inner] with keepDims).

import Foundation

extension Tensor {
    /// (outer, n, inner) for reducing over `axis`.
    @inline(__always)
    func reductionExtents(_ axis: Int) -> (outer: Int, n: Int, inner: Int) {
        let a = normalizedAxis(axis)
        return (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *))
    }

    private func reduced(axis: Int, keepDims: Bool, initial: Float,
                         _ combine: (Float, Float) -> Float) -> Tensor {
        let a = normalizedAxis(axis)
        let (outer, n, inner) = reductionExtents(a)
        var out = [Float](repeating: initial, count: outer * inner)
        scalars.withUnsafeBufferPointer { p in
            for o in 0..<outer {
                for j in 0..<n {
                    let base = (o * n + j) * inner
                    for i in 0..<inner { out[o * inner + i] = combine(out[o * inner + i], p[base + i]) }
                }
            }
        }
        var s = shape
        if keepDims { s[a] = 1 } else { s.remove(at: a) }
        return Tensor(shape: s, scalars: out)
    }

    /// The sum over `axis`.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { reduced(axis: axis, keepDims: keepDims, initial: 0, +) }
    /// The mean over `axis`.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        let n = Float(dim(axis))
        return sum(axis: axis, keepDims: keepDims) * (1 / n)
    }
    /// The maximum over `axis`.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        reduced(axis: axis, keepDims: keepDims, initial: -.infinity) { Swift.max($0, $1) }
    }
    /// The index of the maximum over the last axis (first one on ties): [..., n] → [...] as Ints.
    public func argmaxLast() -> [Int] {
        let n = dim(-1), rows = shape.dropLast().reduce(1, *)
        precondition(n > 0 || rows == 0, "argmaxLast: rows of shape \(shape) are empty")
        var out = [Int](repeating: 0, count: rows)
        scalars.withUnsafeBufferPointer { p in
            for r in 0..<rows {
                var best = 0
                var bv = p[r * n]
                for j in 1..<n where p[r * n + j] > bv { bv = p[r * n + j]; best = j }
                out[r] = best
            }
        }
        return out
    }

    /// The sum of all elements (accumulated in Float64).
    public func sum() -> Float {
        var s: Double = 0
        for x in scalars { s += Double(x) }
        return Float(s)
    }
    /// The mean of all elements.
    public func mean() -> Float { count == 0 ? 0 : sum() / Float(count) }
    /// The Frobenius (L2) norm of all elements, accumulated in Float64.
    public func norm() -> Float {
        var s: Double = 0
        for x in scalars { s += Double(x) * Double(x) }
        return Float(s.squareRoot())
    }
    /// The largest absolute element.
    public func maxAbs() -> Float { scalars.reduce(0) { Swift.max($0, Swift.abs($1)) } }
}

// MARK: - Softmax family (last axis)

extension Tensor {
    /// softmax over the last axis, computed as exp(x − max) / Σ exp(x − max); a fully −∞ (masked)
    /// row gives zeros.
    public func softmax() -> Tensor {
        let n = dim(-1), rows = shape.dropLast().reduce(1, *)
        var out = [Float](repeating: 0, count: count)
        scalars.withUnsafeBufferPointer { pin in out.withUnsafeMutableBufferPointer { pout in
            let x = SendableConstPointer(pin.baseAddress!), o = SendablePointer(pout.baseAddress!)
            parallelRanges(rows, grain: Swift.max(1, 16_384 / Swift.max(n, 1))) { r in
                for row in r { softmaxRow(x.base + row * n, o.base + row * n, n) }
            }
        } }
        return Tensor(shape: shape, scalars: out)
    }

    /// log-softmax over the last axis: x − max − log Σ exp(x − max); a fully −∞ row gives −∞.
    public func logSoftmax() -> Tensor {
        let n = dim(-1), rows = shape.dropLast().reduce(1, *)
        var out = [Float](repeating: 0, count: count)
        scalars.withUnsafeBufferPointer { pin in out.withUnsafeMutableBufferPointer { pout in
            let x = SendableConstPointer(pin.baseAddress!), o = SendablePointer(pout.baseAddress!)
            parallelRanges(rows, grain: Swift.max(1, 16_384 / Swift.max(n, 1))) { r in
                for row in r {
                    let xi = x.base + row * n, oi = o.base + row * n
                    let (m, logSum) = logSumExpParts(xi, n)
                    // A fully −∞ (masked) row: softmax gives zeros there, so its log is −∞, not
                    // the NaN that (−∞) − (−∞) would give.
                    if m == -.infinity { for j in 0..<n { oi[j] = -.infinity }; continue }
                    // (x − max) − log Σ: subtracting max + log Σ as one Float would round the small
                    // log Σ away whenever |max| is large.
                    for j in 0..<n { oi[j] = (xi[j] - m) - logSum }
                }
            }
        } }
        return Tensor(shape: shape, scalars: out)
    }

    /// log Σ exp over the last axis: [..., n] → [...]; an empty or fully −∞ row gives −∞.
    public func logSumExp() -> Tensor {
        let n = dim(-1), rows = shape.dropLast().reduce(1, *)
        var out = [Float](repeating: 0, count: rows)
        scalars.withUnsafeBufferPointer { p in for r in 0..<rows { out[r] = logSumExpRow(p.baseAddress! + r * n, n) } }
        return Tensor(shape: Array(shape.dropLast()), scalars: out)
    }
}

/// Stable softmax of one row of length n.
@inline(__always)
public func softmaxRow(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    var m = -Float.infinity
    for j in 0..<n { m = Swift.max(m, x[j]) }
    if m == -.infinity { for j in 0..<n { out[j] = 0 }; return }   // a fully masked row
    var s: Float = 0
    for j in 0..<n { let e = Foundation.exp(x[j] - m); out[j] = e; s += e }
    let inv = 1 / s
    for j in 0..<n { out[j] *= inv }
}

/// Stable log Σ exp of one row, accumulated in Float64.
@inline(__always)
public func logSumExpRow(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let (m, logSum) = logSumExpParts(x, n)
    return m == -.infinity ? -.infinity : m + logSum
}

/// The two parts of a row's log Σ exp: its maximum m and log Σ exp(x − m) (0 when m is −∞).
@inline(__always)
func logSumExpParts(_ x: UnsafePointer<Float>, _ n: Int) -> (max: Float, logSum: Float) {
    var m = -Float.infinity
    for j in 0..<n { m = Swift.max(m, x[j]) }
    if m == -.infinity { return (m, 0) }
    let s = sumExpShifted(x, n, shift: -m)
    return (m, Float(Foundation.log(s)))
}
