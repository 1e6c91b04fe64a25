// Tensor: the Float32, row-major, copy-on-write value type everything in Emend computes with.
//
// Shape legend (used across the codebase): B batch, T tokens, D width, H/Hkv heads, Dh head dim,
// F FFN width, V vocab, L layers, N requests, K key dim.
//
// Goals, in order: correct, obvious, fast. Storage is a Swift `[Float]`, so copy-on-write comes for
// free: `var b = a; b += 1` never changes `a` (a test proves it). Every view (reshape) shares the
// buffer until written; every permutation (transpose) is materialised.

import Foundation

/// A dense Float32 array of any rank, stored row-major (outermost axis first, as in PyTorch).
public struct Tensor: Sendable, Equatable, CustomStringConvertible {
    /// The extent of each axis, outermost first. `[]` is a scalar.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `scalars.count == shape.product`.
    public var scalars: [Float]

    // MARK: - Creation

    /// A tensor from its elements; `scalars.count` must equal the product of `shape`.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in shape \(shape)")
        precondition(scalars.count == shape.reduce(1, *),
                     "Tensor: \(scalars.count) scalars do not fill shape \(shape)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor with every element equal to `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// A tensor whose elements are produced by `body(flatIndex)`.
    public init(shape: [Int], generator body: (Int) -> Float) {
        let n = shape.reduce(1, *)
        var s = [Float](repeating: 0, count: n)
        for i in 0..<n { s[i] = body(i) }
        self.init(shape: shape, scalars: s)
    }

    /// A rank-0 tensor.
    public init(_ scalar: Float) { self.init(shape: [], scalars: [scalar]) }

    /// A rank-1 tensor.
    public init(_ values: [Float]) { self.init(shape: [values.count], scalars: values) }

    /// A rank-2 tensor from rows of equal length.
    public init(rows: [[Float]]) {
        let cols = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == cols }, "Tensor(rows:): rows differ in length")
        self.init(shape: [rows.count, cols], scalars: rows.flatMap { $0 })
    }

    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }

    /// Independent normal samples N(mean, std²) from a seeded generator.
    public static func randomNormal(_ shape: [Int], mean: Float = 0, std: Float = 1,
                                    using rng: inout SeededGenerator) -> Tensor {
        let n = shape.reduce(1, *)
        var s = [Float](repeating: 0, count: n)
        for i in 0..<n { s[i] = mean + std * rng.nextNormal() }
        return Tensor(shape: shape, scalars: s)
    }

    /// Independent uniform samples in [low, high) from a seeded generator.
    public static func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1,
                                     using rng: inout SeededGenerator) -> Tensor {
        let n = shape.reduce(1, *)
        var s = [Float](repeating: 0, count: n)
        for i in 0..<n { s[i] = low + (high - low) * rng.nextUniform() }
        return Tensor(shape: shape, scalars: s)
    }

    /// The n×n identity matrix.
    public static func identity(_ n: Int) -> Tensor {
        var t = Tensor.zeros([n, n])
        for i in 0..<n { t.scalars[i * n + i] = 1 }
        return t
    }

    // MARK: - Shape

    public var rank: Int { shape.count }
    public var count: Int { scalars.count }
    /// The extent of `axis`; negative axes count from the end.
    public func dim(_ axis: Int) -> Int { shape[normalizedAxis(axis)] }

    /// The axis index for a possibly negative axis (`-1` is the last).
    public func normalizedAxis(_ axis: Int) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < rank, "axis \(axis) out of range for rank \(rank)")
        return a
    }

    /// The single element of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "scalar: tensor of shape \(shape) has \(count) elements")
        return scalars[0]
    }

    /// The same elements under a new shape; one extent may be `-1` (inferred). Shares storage.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "reshaped: cannot infer \(newShape) from \(shape)")
            s[i] = count / known
        }
        precondition(s.reduce(1, *) == count, "reshaped: \(shape) has \(count) elements, \(s) needs \(s.reduce(1, *))")
        return Tensor(shape: s, scalars: scalars)
    }

    /// All elements as a rank-1 tensor.
    public var flattened: Tensor { reshaped([count]) }

    public var description: String {
        let head = scalars.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(head)\(count > 8 ? ", …" : "")])"
    }
}

// MARK: - Strides

extension Array where Element == Int {
    /// Row-major strides for a shape.
    public var rowMajorStrides: [Int] {
        var s = [Int](repeating: 1, count: count)
        var acc = 1
        for i in stride(from: count - 1, through: 0, by: -1) { s[i] = acc; acc *= self[i] }
        return s
    }
    /// The number of elements a shape holds.
    public var product: Int { reduce(1, *) }
}
