// Symmetric eigendecomposition A = Q·Λ·Qᵀ (LAPACK dsyevd, divide and conquer). AlphaEdit builds its
// null-space projector from the eigenvectors of the key covariance whose eigenvalues are tiny.
//
// Shapes: A [n, n] → values [n] ascending, vectors [n, n] with eigenvector k in column k.

import COpenBLAS

/// The eigenvalues and orthonormal eigenvectors of a real symmetric matrix.
public struct SymmetricEigendecomposition: Sendable {
    /// [n] eigenvalues in ascending order.
    public let values: [Double]
    /// [n, n] orthonormal eigenvectors: column k belongs to `values[k]` (A·q_k = λ_k·q_k).
    public let vectors: Matrix64

    /// Decomposes `a` [n, n]. Only the lower triangle of `a` is read (it is assumed symmetric).
    /// - Throws: `shapeMismatch` (not square), `nonFinite` (NaN/∞ element),
    ///   `noConvergence` (LAPACK failed to converge; info > 0).
    public init(_ a: Matrix64) throws {
        let op = "SymmetricEigendecomposition"
        try requireSquare(a, op)
        try requireFinite(a, op, "the matrix")
        let n = a.rows
        var z = a
        var w = [Double](repeating: 0, count: n)
        if n > 0 {
            let info = z.scalars.withUnsafeMutableBufferPointer { pz in
                w.withUnsafeMutableBufferPointer { pw in
                    LAPACKE_dsyevd(LAPACK_COL_MAJOR, lapackChar("V"), lapackChar("U"), Int32(n),
                                   pz.baseAddress, Int32(n), pw.baseAddress)
                }
            }
            try requireNoLAPACKFailure(info, op)
            if info > 0 { throw EmendCoreError.noConvergence(operation: op, info: Int(info)) }
        }
        // LAPACK wrote eigenvector k as column k of a column-major matrix, i.e. as row k of our
        // row-major storage; transpose so that it is column k here too.
        self.values = w
        self.vectors = z.transposed()
    }
}
