// Cholesky factorisation A = L·Lᵀ of a symmetric positive definite matrix (LAPACK dpotrf) and
// solves against it (dpotrs). Factor once, solve many times: the MEMIT-family update rules solve
// (C + K·Kᵀ)·X = R with the same left side for every layer's batch of edits.
//
// Shapes: A [n, n]; right-hand sides B [n, R] → X [n, R].

import COpenBLAS
import Foundation

/// The Cholesky factor of a symmetric positive definite matrix, reusable for many solves.
public struct CholeskyFactor: Sendable {
    /// The order n of the factored matrix.
    public let order: Int
    /// [n, n] lower-triangular L with A = L·Lᵀ (the strictly upper part is zero).
    public let lower: Matrix64

    /// Factors `a` [n, n]. Only the lower triangle of `a` is read (it is assumed symmetric).
    /// - Throws: `shapeMismatch` (not square), `nonFinite` (NaN/∞ element),
    ///   `notPositiveDefinite` (a leading minor is not positive; add a ridge λ·I).
    public init(_ a: Matrix64) throws {
        var l = a
        try self.init(overwriting: &l)
    }

    /// Factors `a` [n, n] in its own storage: no second [n, n] buffer when `a` is not shared (the update rules
    /// build their F×F system matrix once and factor it here). `a` is left empty ([0, 0]), also when this throws.
    /// Only the lower triangle of `a` is read. Throws as `init(_:)`.
    public init(overwriting a: inout Matrix64) throws {
        var l = Matrix64.zeros(0, 0)
        swap(&l, &a)
        let op = "CholeskyFactor"
        try requireSquare(l, op)
        try requireFinite(l, op, "the matrix")
        let n = l.rows
        if n > 0 {
            // Column-major 'U' on row-major storage is the row-major lower triangle (LAPACKSupport).
            let info = l.scalars.withUnsafeMutableBufferPointer { p in
                LAPACKE_dpotrf(LAPACK_COL_MAJOR, lapackChar("U"), Int32(n), p.baseAddress, Int32(n))
            }
            try requireNoLAPACKFailure(info, op)
            if info > 0 { throw EmendCoreError.notPositiveDefinite(operation: op, minorOrder: Int(info)) }
            for i in 0..<n { for j in (i + 1)..<max(n, i + 1) { l.scalars[i * n + j] = 0 } }
        }
        self.order = n
        self.lower = l
    }

    /// X with A·X = B, for right-hand sides `b` [n, R] → [n, R].
    /// - Throws: `shapeMismatch` (b does not have n rows), `nonFinite` (NaN/∞ in b).
    public func solve(_ b: Matrix64) throws -> Matrix64 {
        let op = "CholeskyFactor.solve"
        try requireRightHandSides(b, rows: order, op)
        try requireFinite(b, op, "the right-hand side")
        if order == 0 || b.cols == 0 { return b }
        // [n, R] row-major transposed is the column-major n×R buffer dpotrs wants (ldb = n).
        var x = b.transposed()
        let info = lower.scalars.withUnsafeBufferPointer { pl in
            x.scalars.withUnsafeMutableBufferPointer { px in
                LAPACKE_dpotrs(LAPACK_COL_MAJOR, lapackChar("U"), Int32(order), Int32(b.cols),
                               pl.baseAddress, Int32(order), px.baseAddress, Int32(order))
            }
        }
        try requireNoLAPACKFailure(info, op)
        return x.transposed()
    }

    /// log det A = 2 Σ log L_ii (finite for every successfully factored matrix).
    public var logDeterminant: Double {
        var s: Double = 0
        for i in 0..<order { s += Foundation.log(lower.scalars[i * order + i]) }
        return 2 * s
    }
}

/// X with A·X = B for symmetric positive definite `a` [n, n] and `b` [n, R] → [n, R] (one shot;
/// keep a `CholeskyFactor` instead when the same `a` is solved against again).
/// - Throws: as `CholeskyFactor.init` and `CholeskyFactor.solve`.
public func choleskySolve(_ a: Matrix64, _ b: Matrix64) throws -> Matrix64 {
    try requireRightHandSides(b, rows: a.rows, "choleskySolve")
    return try CholeskyFactor(a).solve(b)
}
