// Matrix64: the Float64, row-major, copy-on-write matrix that Emend's solvers work in.
//
// Shape legend (as everywhere): B batch, T tokens, D width, H/Hkv heads, Dh head dim, F FFN width,
// V vocab, L layers, N requests, K key dim. Here a matrix is [rows, cols], row-major.
//
// Goals, in order: correct, obvious, fast. Models compute in Float32 (`Tensor`); the closed-form
// edit rules (MEMIT, AlphaEdit, …) solve K×K systems whose condition numbers Float32 cannot hold,
// so they convert to `Matrix64`, solve through LAPACK, and convert back. Every operation whose
// operands come from data throws `EmendCoreError` instead of trapping.

import COpenBLAS

/// A dense Float64 matrix stored row-major. Storage is a Swift `[Double]`, so copies are
/// copy-on-write: `var b = a; b.scalars[0] = 1` never changes `a`.
public struct Matrix64: Sendable, Equatable, CustomStringConvertible {
    /// The number of rows.
    public private(set) var rows: Int
    /// The number of columns.
    public private(set) var cols: Int
    /// The elements, row-major: element (i, j) is `scalars[i * cols + j]`; count is rows·cols.
    public var scalars: [Double]

    // MARK: - Creation

    /// A matrix from its row-major elements; throws `shapeMismatch` unless `scalars.count == rows·cols`.
    public init(rows: Int, cols: Int, scalars: [Double]) throws {
        guard rows >= 0, cols >= 0, scalars.count == rows * cols else {
            throw EmendCoreError.shapeMismatch(operation: "Matrix64(rows:cols:scalars:)",
                                               expected: "\(max(rows, 0) * max(cols, 0)) elements for [\(rows), \(cols)]",
                                               got: "\(scalars.count) elements")
        }
        self.rows = rows
        self.cols = cols
        self.scalars = scalars
    }

    /// A matrix with every element equal to `value` (negative extents count as 0).
    public init(rows: Int, cols: Int, repeating value: Double = 0) {
        self.rows = max(rows, 0)
        self.cols = max(cols, 0)
        self.scalars = [Double](repeating: value, count: self.rows * self.cols)
    }

    /// The [rows, cols] zero matrix.
    public static func zeros(_ rows: Int, _ cols: Int) -> Matrix64 { Matrix64(rows: rows, cols: cols) }

    /// The [n, n] identity matrix.
    public static func identity(_ n: Int) -> Matrix64 {
        var m = Matrix64(rows: n, cols: n)
        for i in 0..<m.rows { m.scalars[i * n + i] = 1 }
        return m
    }

    /// The Float64 copy of a rank-2 tensor: [rows, cols] → [rows, cols]; throws for other ranks.
    public init(_ tensor: Tensor) throws {
        guard tensor.rank == 2 else {
            throw EmendCoreError.shapeMismatch(operation: "Matrix64(Tensor)", expected: "a rank-2 tensor",
                                               got: "shape \(tensor.shape)")
        }
        self.rows = tensor.shape[0]
        self.cols = tensor.shape[1]
        self.scalars = tensor.scalars.map { Double($0) }
    }

    // MARK: - Access

    /// Element (i, j). Indices are not checked beyond Swift's array bounds check.
    public subscript(_ i: Int, _ j: Int) -> Double {
        get { scalars[i * cols + j] }
        set { scalars[i * cols + j] = newValue }
    }

    /// Whether the matrix is square.
    public var isSquare: Bool { rows == cols }

    /// Whether every element is finite (no NaN, no ±∞).
    public var isFinite: Bool { scalars.allSatisfy { $0.isFinite } }

    public var description: String {
        let head = scalars.prefix(6).map { "\($0)" }.joined(separator: ", ")
        return "Matrix64([\(rows), \(cols)], [\(head)\(scalars.count > 6 ? ", …" : "")])"
    }

    // MARK: - Arithmetic

    /// The transpose: [rows, cols] → [cols, rows].
    public func transposed() -> Matrix64 {
        var out = Matrix64(rows: cols, cols: rows)
        // Blocked so that both the reads and the writes stay within cache lines.
        let block = 32
        for i0 in stride(from: 0, to: rows, by: block) {
            for j0 in stride(from: 0, to: cols, by: block) {
                for i in i0..<min(i0 + block, rows) {
                    for j in j0..<min(j0 + block, cols) { out.scalars[j * rows + i] = scalars[i * cols + j] }
                }
            }
        }
        return out
    }

    /// The Frobenius norm √(Σ a_ij²), scaled to avoid overflow for huge elements.
    public func frobeniusNorm() -> Double {
        let scale = scalars.reduce(0) { Swift.max($0, Swift.abs($1)) }
        if scale == 0 || !scale.isFinite { return scale }
        var s: Double = 0
        for x in scalars { let y = x / scale; s += y * y }
        return scale * s.squareRoot()
    }

    /// self + λ·I for a square matrix (ridge regularisation); throws `shapeMismatch` if not square.
    public func addingDiagonal(_ lambda: Double) throws -> Matrix64 {
        var out = self
        try out.addDiagonal(lambda)
        return out
    }

    /// Adds λ to every diagonal element in place; throws `shapeMismatch` if not square.
    public mutating func addDiagonal(_ lambda: Double) throws {
        guard isSquare else {
            throw EmendCoreError.shapeMismatch(operation: "Matrix64.addDiagonal", expected: "a square matrix",
                                               got: "[\(rows), \(cols)]")
        }
        for i in 0..<rows { scalars[i * cols + i] += lambda }
    }

    /// Elementwise sum; throws `shapeMismatch` unless both are [rows, cols].
    public static func + (a: Matrix64, b: Matrix64) throws -> Matrix64 {
        try checkSameShape(a, b, "Matrix64 +")
        var out = a
        for i in 0..<out.scalars.count { out.scalars[i] += b.scalars[i] }
        return out
    }

    /// Elementwise sum in place (the same roundings as `a + b`, without a second [rows, cols] buffer); throws
    /// `shapeMismatch` unless both are [rows, cols].
    public static func += (a: inout Matrix64, b: Matrix64) throws {
        try checkSameShape(a, b, "Matrix64 +=")
        for i in 0..<a.scalars.count { a.scalars[i] += b.scalars[i] }
    }

    /// Elementwise difference; throws `shapeMismatch` unless both are [rows, cols].
    public static func - (a: Matrix64, b: Matrix64) throws -> Matrix64 {
        try checkSameShape(a, b, "Matrix64 -")
        var out = a
        for i in 0..<out.scalars.count { out.scalars[i] -= b.scalars[i] }
        return out
    }

    /// Every element times `s`.
    public static func * (s: Double, a: Matrix64) -> Matrix64 {
        var out = a
        for i in 0..<out.scalars.count { out.scalars[i] *= s }
        return out
    }

    /// Every element times `s`.
    public static func * (a: Matrix64, s: Double) -> Matrix64 { s * a }

    /// Every element times `s`, in place (the same roundings as `s * a`).
    public static func *= (a: inout Matrix64, s: Double) {
        for i in 0..<a.scalars.count { a.scalars[i] *= s }
    }

    private static func checkSameShape(_ a: Matrix64, _ b: Matrix64, _ op: String) throws {
        guard a.rows == b.rows && a.cols == b.cols else {
            throw EmendCoreError.shapeMismatch(operation: op, expected: "[\(a.rows), \(a.cols)]",
                                               got: "[\(b.rows), \(b.cols)]")
        }
    }
}

// MARK: - Conversion back to Float32

extension Tensor {
    /// The Float32 rounding of a Float64 matrix: [rows, cols] → [rows, cols].
    public init(_ matrix: Matrix64) {
        self.init(shape: [matrix.rows, matrix.cols], scalars: matrix.scalars.map { Float($0) })
    }
}

// MARK: - Product (dgemm)

/// alpha · op(A) · op(B) through `cblas_dgemm`; transposes are flags, never copies.
/// - a: [M, K] (or [K, M] with `transposeA`); b: [K, N] (or [N, K] with `transposeB`) → [M, N]
/// - Throws: `shapeMismatch` when the inner extents differ.
public func matmul(_ a: Matrix64, _ b: Matrix64, transposeA: Bool = false, transposeB: Bool = false,
                   alpha: Double = 1) throws -> Matrix64 {
    let (m, k) = transposeA ? (a.cols, a.rows) : (a.rows, a.cols)
    let (kb, n) = transposeB ? (b.cols, b.rows) : (b.rows, b.cols)
    guard k == kb else {
        throw EmendCoreError.shapeMismatch(
            operation: "matmul(Matrix64)",
            expected: "op(B) with \(k) rows to match op(A) [\(m), \(k)]",
            got: "op(B) [\(kb), \(n)] (A [\(a.rows), \(a.cols)]\(transposeA ? "ᵀ" : ""), B [\(b.rows), \(b.cols)]\(transposeB ? "ᵀ" : ""))")
    }
    var out = Matrix64(rows: m, cols: n)
    if m == 0 || n == 0 || k == 0 { return out }
    a.scalars.withUnsafeBufferPointer { pa in b.scalars.withUnsafeBufferPointer { pb in
        out.scalars.withUnsafeMutableBufferPointer { pc in
            guard let ap = pa.baseAddress, let bp = pb.baseAddress, let cp = pc.baseAddress else { return }
            cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), alpha, ap, Int32(a.cols), bp, Int32(b.cols),
                        0, cp, Int32(n))
        }
    } }
    return out
}
