// Obviously-right reference implementations for the Float64 linear algebra: plain loops, no BLAS.
// Tests compare LAPACK/BLAS results against these (STYLE rule 12).

import EmendCore
import Foundation

/// A·B by a triple loop: a [M, K], b [K, N] → [M, N].
public func naiveMatmul64(_ a: Matrix64, _ b: Matrix64) -> Matrix64 {
    precondition(a.cols == b.rows, "naiveMatmul64: [\(a.rows), \(a.cols)] · [\(b.rows), \(b.cols)]")
    var c = Matrix64(rows: a.rows, cols: b.cols)
    for i in 0..<a.rows {
        for j in 0..<b.cols {
            var s: Double = 0
            for p in 0..<a.cols { s += a[i, p] * b[p, j] }
            c[i, j] = s
        }
    }
    return c
}

/// The transpose by a double loop: [M, N] → [N, M].
public func naiveTranspose64(_ a: Matrix64) -> Matrix64 {
    var t = Matrix64(rows: a.cols, cols: a.rows)
    for i in 0..<a.rows { for j in 0..<a.cols { t[j, i] = a[i, j] } }
    return t
}

/// Xᵀ·X in Float64 by a triple loop: x [N, F] → [F, F].
public func naiveGram64(_ x: Tensor) -> Matrix64 {
    precondition(x.rank == 2, "naiveGram64: keys must be [N, F], got \(x.shape)")
    let n = x.shape[0], f = x.shape[1]
    var g = Matrix64(rows: f, cols: f)
    for i in 0..<f {
        for j in 0..<f {
            var s: Double = 0
            for t in 0..<n { s += Double(x.scalars[t * f + i]) * Double(x.scalars[t * f + j]) }
            g[i, j] = s
        }
    }
    return g
}

/// The largest |a_ij − b_ij| (the shapes must agree).
public func maxAbsDifference64(_ a: Matrix64, _ b: Matrix64) -> Double {
    precondition(a.rows == b.rows && a.cols == b.cols, "maxAbsDifference64: shapes differ")
    var m: Double = 0
    for i in 0..<a.scalars.count { m = max(m, abs(a.scalars[i] - b.scalars[i])) }
    return m
}

/// The Frobenius norm √(Σ a_ij²) by a plain loop.
public func naiveFrobenius64(_ a: Matrix64) -> Double {
    var s: Double = 0
    for x in a.scalars { s += x * x }
    return s.squareRoot()
}

/// A [rows, cols] matrix of independent N(0, 1) samples from a seeded generator.
public func randomMatrix64(_ rows: Int, _ cols: Int, using rng: inout SeededGenerator) -> Matrix64 {
    var m = Matrix64(rows: rows, cols: cols)
    for i in 0..<m.scalars.count {
        // Box–Muller in Double, so the matrix is not limited to Float32 values.
        let u1 = max(rng.nextUniformDouble(), 1e-300), u2 = rng.nextUniformDouble()
        m.scalars[i] = (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }
    return m
}

