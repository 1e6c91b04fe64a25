// General square solves by LU factorisation with partial pivoting (LAPACK dgesv): P·A = L·U.
//
// Shapes: A [n, n]; right-hand sides B [n, R] → X [n, R].

import COpenBLAS

/// X with A·X = B for a general square `a` [n, n] and `b` [n, R] → [n, R].
/// - Throws: `shapeMismatch` (a not square, or b without n rows), `nonFinite` (NaN/∞ input),
///   `singular` (an exactly zero pivot U[i, i]; i is 1-based, as LAPACK reports it).
public func luSolve(_ a: Matrix64, _ b: Matrix64) throws -> Matrix64 {
    let op = "luSolve"
    try requireSquare(a, op)
    try requireRightHandSides(b, rows: a.rows, op)
    try requireFinite(a, op, "the matrix")
    try requireFinite(b, op, "the right-hand side")
    let n = a.rows, r = b.cols
    if n == 0 || r == 0 { return b }
    var lu = a, x = b
    var pivots = [Int32](repeating: 0, count: n)
    // Row-major layout: LAPACKE transposes into column-major work copies (O(n²), beside O(n³)).
    let info = lu.scalars.withUnsafeMutableBufferPointer { pa in
        x.scalars.withUnsafeMutableBufferPointer { pb in
            pivots.withUnsafeMutableBufferPointer { pp in
                LAPACKE_dgesv(LAPACK_ROW_MAJOR, Int32(n), Int32(r), pa.baseAddress, Int32(n),
                              pp.baseAddress, pb.baseAddress, Int32(r))
            }
        }
    }
    try requireNoLAPACKFailure(info, op)
    if info > 0 { throw EmendCoreError.singular(operation: op, pivot: Int(info)) }
    return x
}
