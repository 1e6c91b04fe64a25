// Elementwise arithmetic with NumPy broadcasting, and the unary functions transformers use.
// Large work is split across cores (`parallelRanges`).

import Foundation

// MARK: - Broadcasting

/// The shape two shapes broadcast to (NumPy rules: align from the right; extents equal or 1).
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
    let r = max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
        let x = i < r - a.count ? 1 : a[i - (r - a.count)]
        let y = i < r - b.count ? 1 : b[i - (r - b.count)]
        precondition(x == y || x == 1 || y == 1, "broadcast: shapes \(a) and \(b) are incompatible")
        out[i] = x == 1 ? y : x
    }
    return out
}

/// Applies `op` elementwise to `a` and `b` broadcast together.
@inline(__always)
public func broadcastBinary(_ a: Tensor, _ b: Tensor, _ op: @escaping @Sendable (Float, Float) -> Float) -> Tensor {
    // An empty operand broadcasts to an empty result (its zero extent meets 0 or 1); returning
    // early also keeps the suffix path below from dividing by a zero inner count.
    if a.count == 0 || b.count == 0 { return Tensor.zeros(broadcastShape(a.shape, b.shape)) }
    // Fast paths: equal shapes; a scalar; b a suffix of a (e.g. [T, D] ∘ [D]).
    if a.shape == b.shape {
        var out = [Float](repeating: 0, count: a.count)
        a.scalars.withUnsafeBufferPointer { pa in b.scalars.withUnsafeBufferPointer { pb in
            out.withUnsafeMutableBufferPointer { po in
                let x = SendableConstPointer(pa.baseAddress!), y = SendableConstPointer(pb.baseAddress!)
                let o = SendablePointer(po.baseAddress!)
                parallelRanges(a.count) { r in for i in r { o.base[i] = op(x.base[i], y.base[i]) } }
            }
        } }
        return Tensor(shape: a.shape, scalars: out)
    }
    if b.count == 1 {
        let s = b.scalars[0]
        return a.map { op($0, s) }.reshaped(broadcastShape(a.shape, b.shape))
    }
    if a.count == 1 {
        let s = a.scalars[0]
        return b.map { op(s, $0) }.reshaped(broadcastShape(a.shape, b.shape))
    }
    let shape = broadcastShape(a.shape, b.shape)
    if shape == a.shape, b.rank <= a.rank, Array(a.shape.suffix(b.rank)) == b.shape {
        let inner = b.count, outer = a.count / inner
        var out = [Float](repeating: 0, count: a.count)
        a.scalars.withUnsafeBufferPointer { pa in b.scalars.withUnsafeBufferPointer { pb in
            out.withUnsafeMutableBufferPointer { po in
                let x = SendableConstPointer(pa.baseAddress!), y = SendableConstPointer(pb.baseAddress!)
                let o = SendablePointer(po.baseAddress!)
                parallelRanges(outer, grain: max(1, 32_768 / inner)) { r in
                    for i in r { let base = i * inner; for j in 0..<inner { o.base[base + j] = op(x.base[base + j], y.base[j]) } }
                }
            }
        } }
        return Tensor(shape: shape, scalars: out)
    }
    // General path: walk the output index and map it into each input through broadcast strides.
    let r = shape.count
    func stridesFor(_ s: [Int]) -> [Int] {
        let padded = [Int](repeating: 1, count: r - s.count) + s
        let st = padded.rowMajorStrides
        return (0..<r).map { padded[$0] == 1 ? 0 : st[$0] }
    }
    let sa = stridesFor(a.shape), sb = stridesFor(b.shape)
    let n = shape.product
    var out = [Float](repeating: 0, count: n)
    var idx = [Int](repeating: 0, count: r)
    var ia = 0, ib = 0
    for o in 0..<n {
        out[o] = op(a.scalars[ia], b.scalars[ib])
        var d = r - 1
        while d >= 0 {
            idx[d] += 1; ia += sa[d]; ib += sb[d]
            if idx[d] < shape[d] { break }
            ia -= sa[d] * shape[d]; ib -= sb[d] * shape[d]; idx[d] = 0
            d -= 1
        }
    }
    return Tensor(shape: shape, scalars: out)
}

/// Sums `t` down to `shape` over the axes that broadcasting expanded (the adjoint of broadcasting).
public func unbroadcast(_ t: Tensor, to shape: [Int]) -> Tensor {
    if t.shape == shape { return t }
    var g = t
    while g.rank > shape.count { g = g.sum(axis: 0) }
    for axis in 0..<shape.count where shape[axis] == 1 && g.shape[axis] != 1 {
        g = g.sum(axis: axis, keepDims: true)
    }
    return g.reshaped(shape)
}

// MARK: - Arithmetic operators

extension Tensor {
    public static func + (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, +) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, -) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, *) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, /) }
    public static func + (a: Tensor, s: Float) -> Tensor { a.map { $0 + s } }
    public static func - (a: Tensor, s: Float) -> Tensor { a.map { $0 - s } }
    public static func * (a: Tensor, s: Float) -> Tensor { a.map { $0 * s } }
    public static func / (a: Tensor, s: Float) -> Tensor { a.map { $0 / s } }
    public static func * (s: Float, a: Tensor) -> Tensor { a.map { s * $0 } }
    public static prefix func - (a: Tensor) -> Tensor { a.map { -$0 } }

    public static func += (a: inout Tensor, b: Tensor) {
        if a.shape == b.shape {
            a.scalars.withUnsafeMutableBufferPointer { pa in b.scalars.withUnsafeBufferPointer { pb in
                let o = SendablePointer(pa.baseAddress!), y = SendableConstPointer(pb.baseAddress!)
                parallelRanges(pa.count) { r in for i in r { o.base[i] += y.base[i] } }
            } }
        } else {
            a = a + b
        }
    }
    public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
    public static func *= (a: inout Tensor, s: Float) { a.scalars.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= s } } }

    /// Elementwise comparison results as 0/1 tensors.
    public static func .> (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b) { $0 > $1 ? 1 : 0 } }
    public static func .< (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b) { $0 < $1 ? 1 : 0 } }
    public static func .== (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b) { $0 == $1 ? 1 : 0 } }

    /// `condition ? a : b` elementwise (condition nonzero means true), all three broadcast together.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let shape = broadcastShape(broadcastShape(condition.shape, a.shape), b.shape)
        let c = condition.broadcasted(to: shape), x = a.broadcasted(to: shape), y = b.broadcasted(to: shape)
        var out = [Float](repeating: 0, count: shape.product)
        for i in 0..<out.count { out[i] = c.scalars[i] != 0 ? x.scalars[i] : y.scalars[i] }
        return Tensor(shape: shape, scalars: out)
    }

    /// The tensor expanded (materialised) to a shape it broadcasts to.
    public func broadcasted(to target: [Int]) -> Tensor {
        if shape == target { return self }
        return broadcastBinary(Tensor.zeros(target), self) { _, y in y }
    }
}

// MARK: - Unary maps

extension Tensor {
    /// A new tensor with `f` applied to every element (parallel for large tensors).
    @inline(__always)
    public func map(_ f: @escaping @Sendable (Float) -> Float) -> Tensor {
        var out = [Float](repeating: 0, count: count)
        scalars.withUnsafeBufferPointer { pa in out.withUnsafeMutableBufferPointer { po in
            if pa.isEmpty { return }
            let x = SendableConstPointer(pa.baseAddress!), o = SendablePointer(po.baseAddress!)
            parallelRanges(pa.count) { r in for i in r { o.base[i] = f(x.base[i]) } }
        } }
        return Tensor(shape: shape, scalars: out)
    }

    public func exp() -> Tensor { map { Foundation.exp($0) } }
    public func log() -> Tensor { map { Foundation.log($0) } }
    public func tanh() -> Tensor { map { Foundation.tanh($0) } }
    public func sqrt() -> Tensor { map { $0.squareRoot() } }
    public func squared() -> Tensor { map { $0 * $0 } }
    public func abs() -> Tensor { map { Swift.abs($0) } }
    public func sigmoid() -> Tensor { map { sigmoidScalar($0) } }
    /// SiLU (swish): x·σ(x).
    public func silu() -> Tensor { map { $0 * sigmoidScalar($0) } }
    /// GELU, tanh approximation (GPT-2's `gelu_new`).
    public func geluTanh() -> Tensor { map { geluTanhScalar($0) } }
    /// GELU, exact erf form.
    public func geluErf() -> Tensor { map { geluErfScalar($0) } }
    public func relu() -> Tensor { map { Swift.max($0, 0) } }
    public func clamped(min lo: Float, max hi: Float) -> Tensor { map { Swift.min(Swift.max($0, lo), hi) } }
}

// MARK: - Scalar kernels (shared with the backward passes)

/// σ(x) = 1 / (1 + e^{−x}), evaluated without overflow for large |x|.
@inline(__always) public func sigmoidScalar(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
    let e = Foundation.exp(x)
    return e / (1 + e)
}

/// √(2/π)
public let geluTanhCoefficient: Float = 0.7978845608028654

/// 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))
@inline(__always) public func geluTanhScalar(_ x: Float) -> Float {
    0.5 * x * (1 + Foundation.tanh(geluTanhCoefficient * (x + 0.044715 * x * x * x)))
}

/// d/dx of the tanh-form GELU.
@inline(__always) public func geluTanhDerivative(_ x: Float) -> Float {
    let u = geluTanhCoefficient * (x + 0.044715 * x * x * x)
    let t = Foundation.tanh(u)
    let du = geluTanhCoefficient * (1 + 3 * 0.044715 * x * x)
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
}

/// 0.5·x·(1 + erf(x/√2))
@inline(__always) public func geluErfScalar(_ x: Float) -> Float {
    0.5 * x * (1 + Foundation.erf(x * 0.7071067811865476))
}

/// d/dx of the erf-form GELU: Φ(x) + x·φ(x).
@inline(__always) public func geluErfDerivative(_ x: Float) -> Float {
    let cdf = 0.5 * (1 + Foundation.erf(x * 0.7071067811865476))
    let pdf = Foundation.exp(-0.5 * x * x) * 0.3989422804014327
    return cdf + x * pdf
}

/// d/dx of SiLU: σ(x)·(1 + x·(1 − σ(x))).
@inline(__always) public func siluDerivative(_ x: Float) -> Float {
    let s = sigmoidScalar(x)
    return s * (1 + x * (1 - s))
}

infix operator .> : ComparisonPrecedence
infix operator .< : ComparisonPrecedence
infix operator .== : ComparisonPrecedence
