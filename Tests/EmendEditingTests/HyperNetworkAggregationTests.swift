import XCTest
import EmendCore
import EmendTestSupport
@testable import EmendEditing

/// MALMEN's least-squares aggregation (spec §4.4) and its closed-form backward pass (spec §4.6).
final class HyperNetworkAggregationTests: XCTestCase {
    func random(_ r: Int, _ c: Int, seed: UInt64) -> Matrix64 {
        var rng = SeededGenerator(seed: seed)
        return try! Matrix64(rows: r, cols: c, scalars: (0..<(r * c)).map { _ in Double(rng.nextNormal()) })
    }

    /// Checked against the normal equations themselves: (UᵀU + λI)·S* − UᵀD ≈ 0, in both the primal (n > F) and the
    /// dual (n < F) regime, and primal and dual give the same S* (the dual identity of spec §4.4).
    func testSolveSatisfiesNormalEquations() throws {
        for (n, f) in [(12, 5), (3, 7)] {
            let u = random(n, f, seed: 1), d = random(n, 4, seed: 2), lambda = 0.7
            for dual in [false, true] {
                let s = try LeastSquaresShift(keys: u, values: d, lambda: lambda, forceDual: dual).shift
                var m = try matmul(u, u, transposeA: true)
                try m.addDiagonal(lambda)
                let residual = try matmul(m, s) - (try matmul(u, d, transposeA: true))
                XCTAssertLessThan(residual.frobeniusNorm(), 1e-10, "n \(n), F \(f), dual \(dual)")
            }
            let p = try LeastSquaresShift(keys: u, values: d, lambda: lambda, forceDual: false).shift
            let q = try LeastSquaresShift(keys: u, values: d, lambda: lambda, forceDual: true).shift
            XCTAssertLessThan((try p - q).frobeniusNorm(), 1e-10)
        }
    }

    /// Limits the paper's geometry implies: one key with λ → 0 reproduces its value difference exactly (uᵀS* = d);
    /// a huge λ shrinks S* to zero.
    func testLimits() throws {
        let u = random(1, 6, seed: 3), d = random(1, 3, seed: 4)
        let s = try LeastSquaresShift(keys: u, values: d, lambda: 1e-10).shift
        let fit = try matmul(u, s)
        XCTAssertLessThan((try fit - d).frobeniusNorm(), 1e-8)
        let big = try LeastSquaresShift(keys: u, values: d, lambda: 1e12).shift
        XCTAssertLessThan(big.frobeniusNorm(), 1e-10)
    }

    /// The backward pass against central finite differences of L = ⟨W, S*(D, e^ℓ)⟩ for a random W, with respect to
    /// every element of D and to ℓ, in both forms.
    func testBackwardMatchesFiniteDifferences() throws {
        for (n, f) in [(9, 4), (3, 6)] {
            let u = random(n, f, seed: 5), d = random(n, 3, seed: 6), w = random(f, 3, seed: 7)
            let ell = -0.3
            for dual in [false, true] {
                func loss(_ dd: Matrix64, _ l: Double) -> Double {
                    let s = try! LeastSquaresShift(keys: u, values: dd, lambda: Foundation.exp(l), forceDual: dual).shift
                    return zip(s.scalars, w.scalars).reduce(0) { $0 + $1.0 * $1.1 }
                }
                let solve = try LeastSquaresShift(keys: u, values: d, lambda: Foundation.exp(ell), forceDual: dual)
                let (gd, gl) = try solve.backward(w)
                let h = 1e-6
                var fd = [Double](repeating: 0, count: d.scalars.count)
                for i in fd.indices {
                    var up = d, down = d
                    up.scalars[i] += h; down.scalars[i] -= h
                    fd[i] = (loss(up, ell) - loss(down, ell)) / (2 * h)
                }
                let worst = maxAbsDifference(gd.scalars, fd)
                XCTAssertLessThan(worst.value, 1e-7, "dL/dD, dual \(dual): \(firstPairs(gd.scalars, fd))")
                let fdl = (loss(d, ell + h) - loss(d, ell - h)) / (2 * h)
                XCTAssertEqual(gl, fdl, accuracy: 1e-7 * max(1, abs(fdl)), "dL/dlog λ, dual \(dual)")
            }
        }
    }
}
