// Shared checks and conventions for the LAPACK wrappers.
//
// Storage trick used by the symmetric routines (Cholesky, eigh): a row-major symmetric matrix is
// bit-for-bit its own column-major transpose, so it is handed to LAPACK as column-major with no
// copy. LAPACK's column-major upper triangle ('U') is then the row-major lower triangle, which is
// the triangle these wrappers document as "read". Right-hand sides are [n, R] row-major and are
// transposed into a column-major n×R buffer (O(n·R), negligible beside the O(n²·R) solve).

import COpenBLAS

/// LAPACK's `uplo` / `jobz` character arguments.
@inline(__always) func lapackChar(_ c: Unicode.Scalar) -> CChar { CChar(UInt8(ascii: c)) }

/// Throws `shapeMismatch` unless `a` is square.
func requireSquare(_ a: Matrix64, _ operation: String) throws {
    guard a.isSquare else {
        throw EmendCoreError.shapeMismatch(operation: operation, expected: "a square matrix",
                                           got: "[\(a.rows), \(a.cols)]")
    }
}

/// Throws `nonFinite` if any element of `a` is NaN or infinite.
func requireFinite(_ a: Matrix64, _ operation: String, _ what: String) throws {
    guard a.isFinite else { throw EmendCoreError.nonFinite(operation: operation, what: what) }
}

/// Throws `shapeMismatch` unless the right-hand sides `b` have `n` rows.
func requireRightHandSides(_ b: Matrix64, rows n: Int, _ operation: String) throws {
    guard b.rows == n else {
        throw EmendCoreError.shapeMismatch(operation: operation, expected: "right-hand sides [\(n), R]",
                                           got: "[\(b.rows), \(b.cols)]")
    }
}

/// Maps a negative LAPACK `info` (bad argument, or -1010 out of memory) to an error.
func requireNoLAPACKFailure(_ info: Int32, _ operation: String) throws {
    if info < 0 { throw EmendCoreError.lapackFailure(operation: operation, info: Int(info)) }
}
