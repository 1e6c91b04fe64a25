// Float64 linear algebra (Matrix64, Cholesky, LU, symmetric eigendecomposition, Gram accumulation),
// checked against plain-loop references in EmendTestSupport and against the defining equations.

import XCTest
@testable import EmendCore
import EmendTestSupport

final class LinearAlgebraTests: XCTestCase {

    // MARK: - Helpers

    /// A well-conditioned SPD matrix: GᵀG/n + I, so that every eigenvalue lies in [1, ~5].
    private func randomSPD(_ n: Int, using rng: inout SeededGenerator) -> Matrix64 {
        let g = randomMatrix64(n, n, using: &rng)
        var a = (1 / Double(max(n, 1))) * naiveMatmul64(naiveTranspose64(g), g)
        for i in 0..<n { a[i, i] += 1 }
        return a
    }

    /// ‖A·X − B‖_F / ‖B‖_F, with the product formed by the naive triple loop.
    private func relativeResidual(_ a: Matrix64, _ x: Matrix64, _ b: Matrix64) -> Double {
        let ax = naiveMatmul64(a, x)
        var r = ax
        for i in 0..<r.scalars.count { r.scalars[i] -= b.scalars[i] }
        return naiveFrobenius64(r) / max(naiveFrobenius64(b), .leastNormalMagnitude)
    }

    private func assertThrows(_ expected: String, _ body: () throws -> Void,
                              file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected \(expected), nothing was thrown", file: file, line: line)
        } catch let e as EmendCoreError {
            XCTAssertTrue("\(e)".count > 10, file: file, line: line)
            let name = String(describing: e).isEmpty ? "" : "\(Mirror(reflecting: e).children.first?.label ?? "")"
            XCTAssertEqual(name, expected, "got \(e)", file: file, line: line)
        } catch {
            XCTFail("expected EmendCoreError.\(expected), got \(error)", file: file, line: line)
        }
    }

    // MARK: - Matrix64 basics

    /// Float32 → Float64 → Float32 is exact (every Float is a Double); Float64 → Float32 rounds to nearest.
    func testMatrix64_TensorRoundTrip() throws {
        var rng = SeededGenerator(seed: 11)
        for shape in [[3, 5], [1, 1], [0, 4], [7, 1]] {
            let t = Tensor.randomNormal(shape, std: 1e3, using: &rng)
            let m = try Matrix64(t)
            XCTAssertEqual([m.rows, m.cols], shape, "shape \(shape)")
            XCTAssertEqual(Tensor(m), t, "shape \(shape)")
        }
        let m = try Matrix64(rows: 1, cols: 3, scalars: [1.0 / 3.0, 1e300, -2.5])
        XCTAssertEqual(Tensor(m).scalars, [Float(1.0 / 3.0), Float.infinity, -2.5])
        assertThrows("shapeMismatch") { _ = try Matrix64(Tensor([1, 2, 3])) }
        assertThrows("shapeMismatch") { _ = try Matrix64(rows: 2, cols: 2, scalars: [1, 2, 3]) }
    }

    /// dgemm with all four transpose combinations against the naive triple loop; +, −, scaling,
    /// λ·I, transpose and the Frobenius norm against elementwise loops.
    func testMatrix64_ArithmeticAgainstNaiveLoops() throws {
        var rng = SeededGenerator(seed: 12)
        for (m, k, n) in [(7, 5, 3), (1, 1, 1), (33, 64, 17), (4, 0, 3)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = randomMatrix64(ta ? k : m, ta ? m : k, using: &rng)
                let b = randomMatrix64(tb ? n : k, tb ? k : n, using: &rng)
                let got = try matmul(a, b, transposeA: ta, transposeB: tb, alpha: 2)
                let want = 2 * naiveMatmul64(ta ? naiveTranspose64(a) : a, tb ? naiveTranspose64(b) : b)
                XCTAssertEqual([got.rows, got.cols], [m, n])
                XCTAssertLessThan(maxAbsDifference64(got, want), 1e-12 * Double(max(k, 1)),
                                  "m \(m) k \(k) n \(n) ta \(ta) tb \(tb)")
            }
        }
        assertThrows("shapeMismatch") { _ = try matmul(Matrix64.zeros(2, 3), Matrix64.zeros(2, 3)) }

        let a = randomMatrix64(5, 4, using: &rng), b = randomMatrix64(5, 4, using: &rng)
        let sum = try a + b, diff = try a - b, scaled = 3 * a
        for i in 0..<20 {
            XCTAssertEqual(sum.scalars[i], a.scalars[i] + b.scalars[i])
            XCTAssertEqual(diff.scalars[i], a.scalars[i] - b.scalars[i])
            XCTAssertEqual(scaled.scalars[i], 3 * a.scalars[i])
        }
        XCTAssertEqual(a.transposed(), naiveTranspose64(a))
        let big = randomMatrix64(45, 65, using: &rng)
        XCTAssertEqual(big.transposed(), naiveTranspose64(big))
        XCTAssertEqual(a.frobeniusNorm(), naiveFrobenius64(a), accuracy: 1e-14 * naiveFrobenius64(a))
        XCTAssertEqual(Matrix64.zeros(3, 3).frobeniusNorm(), 0)
        // Elements near the overflow threshold: the naive Σx² would overflow, the scaled norm does not.
        let huge = try Matrix64(rows: 1, cols: 2, scalars: [3e200, 4e200])
        XCTAssertEqual(huge.frobeniusNorm(), 5e200, accuracy: 1e186)

        let sq = randomMatrix64(4, 4, using: &rng)
        let ridged = try sq.addingDiagonal(0.5)
        for i in 0..<4 { for j in 0..<4 { XCTAssertEqual(ridged[i, j], sq[i, j] + (i == j ? 0.5 : 0)) } }
        assertThrows("shapeMismatch") { _ = try a + Matrix64.zeros(4, 5) }
        assertThrows("shapeMismatch") { _ = try a.addingDiagonal(1) }
    }

    /// Copy-on-write: changing a copy never changes the original (STYLE rule 8).
    func testMatrix64_CopyOnWrite() throws {
        let a = Matrix64.identity(3)
        var b = a
        b[0, 1] = 7
        try b.addDiagonal(1)
        XCTAssertEqual(a, Matrix64.identity(3))
        XCTAssertEqual(b[0, 1], 7)
        XCTAssertEqual(b[2, 2], 2)
    }

    // MARK: - Solves

    /// Cholesky solves of well-conditioned random SPD systems with many right-hand sides:
    /// ‖A·X − B‖/‖B‖ < 1e-10 with A·X formed by the naive loop, and L·Lᵀ = A.
    func testCholeskySolve_RandomSPDManyRHS() throws {
        var rng = SeededGenerator(seed: 21)
        for (n, r) in [(1, 1), (2, 3), (7, 1), (64, 33), (150, 100)] {
            let a = randomSPD(n, using: &rng), b = randomMatrix64(n, r, using: &rng)
            let x = try choleskySolve(a, b)
            let res = relativeResidual(a, x, b)
            print("cholesky n \(n) R \(r): residual \(res)")
            XCTAssertLessThan(res, 1e-10, "n \(n) R \(r)")

            let factor = try CholeskyFactor(a)
            let l = factor.lower
            for i in 0..<n { for j in (i + 1)..<max(n, i + 1) { XCTAssertEqual(l[i, j], 0, "upper part of L") } }
            let llt = naiveMatmul64(l, naiveTranspose64(l))
            XCTAssertLessThan(maxAbsDifference64(llt, a), 1e-12 * naiveFrobenius64(a), "n \(n): L·Lᵀ ≠ A")
            // The factor is reusable: a second, different right-hand side.
            let b2 = randomMatrix64(n, 2, using: &rng)
            XCTAssertLessThan(relativeResidual(a, try factor.solve(b2), b2), 1e-10, "n \(n) reuse")
        }
        // log det of diag(2, 3, 4) is log 24.
        var d = Matrix64.zeros(3, 3)
        d[0, 0] = 2; d[1, 1] = 3; d[2, 2] = 4
        XCTAssertEqual(try CholeskyFactor(d).logDeterminant, Foundation.log(24.0), accuracy: 1e-14)
        // Empty systems are valid and solve to empty results.
        XCTAssertEqual(try choleskySolve(Matrix64.zeros(0, 0), Matrix64.zeros(0, 5)).cols, 5)
        XCTAssertEqual(try choleskySolve(Matrix64.identity(3), Matrix64.zeros(3, 0)).rows, 3)
    }

    /// LU solves of random general (non-symmetric) systems with many right-hand sides:
    /// ‖A·X − B‖/‖B‖ < 1e-10 with A·X formed by the naive loop.
    func testLUSolve_RandomGeneralManyRHS() throws {
        var rng = SeededGenerator(seed: 22)
        for (n, r) in [(1, 1), (3, 2), (9, 1), (80, 40), (150, 100)] {
            // A random Gaussian plus a diagonal shift of 2√n keeps the condition number modest.
            var a = randomMatrix64(n, n, using: &rng)
            for i in 0..<n { a[i, i] += 2 * Double(n).squareRoot() }
            let b = randomMatrix64(n, r, using: &rng)
            let x = try luSolve(a, b)
            let res = relativeResidual(a, x, b)
            print("lu n \(n) R \(r): residual \(res)")
            XCTAssertLessThan(res, 1e-10, "n \(n) R \(r)")
        }
        XCTAssertEqual(try luSolve(Matrix64.zeros(0, 0), Matrix64.zeros(0, 2)).cols, 2)
    }

    /// Symmetric eigendecomposition: ‖Q·Λ·Qᵀ − A‖/‖A‖ < 1e-12, QᵀQ = I to 1e-12, eigenvalues
    /// ascending, and a diagonal matrix's eigenvalues are its sorted diagonal.
    func testSymmetricEigen_ReconstructionAndOrthonormality() throws {
        var rng = SeededGenerator(seed: 23)
        for n in [1, 2, 5, 40, 120] {
            let g = randomMatrix64(n, n, using: &rng)
            let a = 0.5 * (try g + naiveTranspose64(g))
            let eig = try SymmetricEigendecomposition(a)
            XCTAssertEqual(eig.values.count, n)
            XCTAssertEqual(eig.values, eig.values.sorted(), "n \(n): eigenvalues not ascending")
            let q = eig.vectors
            var qLambda = q
            for i in 0..<n { for k in 0..<n { qLambda[i, k] *= eig.values[k] } }
            let recon = naiveMatmul64(qLambda, naiveTranspose64(q))
            let err = naiveFrobenius64(try recon - a) / naiveFrobenius64(a)
            let orth = maxAbsDifference64(naiveMatmul64(naiveTranspose64(q), q), Matrix64.identity(n))
            print("eigh n \(n): reconstruction \(err), orthogonality \(orth)")
            XCTAssertLessThan(err, 1e-12, "n \(n)")
            XCTAssertLessThan(orth, 1e-12, "n \(n)")
        }
        var d = Matrix64.zeros(3, 3)
        d[0, 0] = 3; d[1, 1] = -1; d[2, 2] = 2
        XCTAssertEqual(try SymmetricEigendecomposition(d).values, [-1, 2, 3])
        XCTAssertEqual(try SymmetricEigendecomposition(Matrix64.zeros(0, 0)).values, [])
    }

    // MARK: - Errors

    /// An indefinite matrix throws notPositiveDefinite naming the first bad leading minor
    /// ([[1, 2], [2, 1]] has det −3 < 0, so minor 2; a negative first element is minor 1).
    func testCholesky_NotPositiveDefiniteThrows() throws {
        let indefinite = try Matrix64(rows: 2, cols: 2, scalars: [1, 2, 2, 1])
        XCTAssertThrowsError(try CholeskyFactor(indefinite)) { e in
            guard case let EmendCoreError.notPositiveDefinite(_, k) = e else { return XCTFail("got \(e)") }
            XCTAssertEqual(k, 2)
        }
        let negative = try Matrix64(rows: 2, cols: 2, scalars: [-1, 0, 0, 1])
        XCTAssertThrowsError(try choleskySolve(negative, Matrix64.zeros(2, 1))) { e in
            guard case let EmendCoreError.notPositiveDefinite(_, k) = e else { return XCTFail("got \(e)") }
            XCTAssertEqual(k, 1)
        }
        // Rank-deficient PSD (a Gram matrix of 2 vectors in 3-D) is not positive definite either…
        var rng = SeededGenerator(seed: 31)
        var gram = Matrix64.zeros(3, 3)
        try gramAccumulate(Tensor.randomNormal([2, 3], using: &rng), into: &gram)
        XCTAssertThrowsError(try CholeskyFactor(gram))
        // …until a ridge λ·I is added.
        XCTAssertNoThrow(try CholeskyFactor(try gram.addingDiagonal(1e-3)))
    }

    /// An exactly singular matrix throws singular from luSolve ([[1, 2], [2, 4]]: second pivot 0).
    func testLUSolve_SingularThrows() throws {
        let singular = try Matrix64(rows: 2, cols: 2, scalars: [1, 2, 2, 4])
        XCTAssertThrowsError(try luSolve(singular, Matrix64.zeros(2, 3))) { e in
            guard case let EmendCoreError.singular(_, p) = e else { return XCTFail("got \(e)") }
            XCTAssertEqual(p, 2)
        }
        XCTAssertThrowsError(try luSolve(Matrix64.zeros(3, 3), Matrix64.zeros(3, 1))) { e in
            guard case let EmendCoreError.singular(_, p) = e else { return XCTFail("got \(e)") }
            XCTAssertEqual(p, 1)
        }
    }

    /// Shape mismatches and NaN/∞ inputs throw typed errors from every entry point, never trap.
    func testLinearAlgebra_BadInputsThrow() throws {
        let table: [(name: String, expected: String, body: () throws -> Void)] = [
            ("cholesky non-square", "shapeMismatch", { _ = try CholeskyFactor(Matrix64.zeros(2, 3)) }),
            ("cholesky NaN", "nonFinite", {
                var a = Matrix64.identity(2); a[1, 0] = .nan; _ = try CholeskyFactor(a) }),
            ("cholesky rhs rows", "shapeMismatch", { _ = try choleskySolve(Matrix64.identity(3), Matrix64.zeros(2, 1)) }),
            ("cholesky rhs ∞", "nonFinite", {
                var b = Matrix64.zeros(2, 1); b[0, 0] = .infinity
                _ = try CholeskyFactor(Matrix64.identity(2)).solve(b) }),
            ("lu non-square", "shapeMismatch", { _ = try luSolve(Matrix64.zeros(3, 2), Matrix64.zeros(3, 1)) }),
            ("lu rhs rows", "shapeMismatch", { _ = try luSolve(Matrix64.identity(2), Matrix64.zeros(3, 1)) }),
            ("lu NaN", "nonFinite", {
                var a = Matrix64.identity(2); a[0, 1] = .nan; _ = try luSolve(a, Matrix64.zeros(2, 1)) }),
            ("eigh non-square", "shapeMismatch", { _ = try SymmetricEigendecomposition(Matrix64.zeros(1, 2)) }),
            ("eigh −∞", "nonFinite", {
                var a = Matrix64.identity(2); a[1, 1] = -.infinity; _ = try SymmetricEigendecomposition(a) }),
            ("gram rank 1", "shapeMismatch", {
                var acc = Matrix64.zeros(3, 3); try gramAccumulate(Tensor([1, 2, 3]), into: &acc) }),
            ("gram accumulator", "shapeMismatch", {
                var acc = Matrix64.zeros(2, 2); try gramAccumulate(Tensor.zeros([4, 3]), into: &acc) }),
            ("gram NaN", "nonFinite", {
                var acc = Matrix64.zeros(2, 2)
                try gramAccumulate(Tensor(shape: [2, 2], scalars: [1, .nan, 0, 0]), into: &acc) }),
        ]
        for c in table {
            print("bad input: \(c.name)")
            assertThrows(c.expected, c.body)
        }
        // A failed accumulation leaves the accumulator unchanged.
        var acc = Matrix64.identity(2)
        _ = try? gramAccumulate(Tensor(shape: [2, 2], scalars: [1, 2, .infinity, 0]), into: &acc)
        XCTAssertEqual(acc, Matrix64.identity(2))
    }

    // MARK: - Gram accumulation

    /// gramAccumulate over several calls and chunk sizes equals Σ xᵢxᵢᵀ by a naive Float64 loop,
    /// and the result is exactly symmetric.
    func testGramAccumulate_AgainstNaiveLoop() throws {
        var rng = SeededGenerator(seed: 41)
        for (n, f, chunk) in [(1, 1, 512), (1000, 37, 64), (129, 16, 1), (300, 5, 512), (0, 4, 8)] {
            let x1 = Tensor.randomNormal([n, f], using: &rng)
            let x2 = Tensor.randomNormal([n / 2 + 1, f], std: 10, using: &rng)
            var acc = Matrix64.zeros(f, f)
            try gramAccumulate(x1, into: &acc, chunkRows: chunk)
            try gramAccumulate(x2, into: &acc, chunkRows: chunk)
            let want = try naiveGram64(x1) + naiveGram64(x2)
            let err = maxAbsDifference64(acc, want) / max(naiveFrobenius64(want), 1)
            print("gram n \(n) f \(f) chunk \(chunk): relative error \(err)")
            XCTAssertLessThan(err, 1e-13, "n \(n) f \(f) chunk \(chunk)")
            XCTAssertEqual(acc, acc.transposed(), "n \(n) f \(f): not exactly symmetric")
        }
    }

    /// lowerGramAccumulate adds K·Kᵀ (naive triple loop) to the lower triangle only: the strictly upper triangle keeps
    /// its old values exactly, and the lower one matches to rounding.
    func testLowerGramAccumulate_LowerTriangleAgainstNaiveLoop() throws {
        var rng = SeededGenerator(seed: 42)
        for (f, n) in [(1, 1), (9, 3), (40, 17), (33, 0)] {
            let k = randomMatrix64(f, n, using: &rng), start = randomMatrix64(f, f, using: &rng)
            var acc = start
            try lowerGramAccumulate(k, into: &acc)
            let want = naiveMatmul64(k, naiveTranspose64(k))
            for i in 0..<f {
                for j in 0..<f where j > i { XCTAssertEqual(acc[i, j], start[i, j], "f \(f): upper (\(i), \(j)) changed") }
                for j in 0...i { XCTAssertEqual(acc[i, j], start[i, j] + want[i, j], accuracy: 1e-12 * max(1, abs(want[i, j]))) }
            }
        }
        var wrong = Matrix64.zeros(3, 4)
        XCTAssertThrowsError(try lowerGramAccumulate(Matrix64.zeros(3, 2), into: &wrong))
    }

    /// Factoring in place (`CholeskyFactor(overwriting:)`) gives the same L, bit for bit, as factoring a copy, and
    /// leaves the argument empty; a matrix that is not positive definite throws and is still taken.
    func testCholesky_OverwritingEqualsCopying() throws {
        var rng = SeededGenerator(seed: 43)
        let a = randomSPD(37, using: &rng)
        var work = a
        let inPlace = try CholeskyFactor(overwriting: &work)
        XCTAssertEqual(inPlace.lower, try CholeskyFactor(a).lower)
        XCTAssertEqual(work.rows, 0)
        var bad = Matrix64.identity(3) * -1
        XCTAssertThrowsError(try CholeskyFactor(overwriting: &bad))
        XCTAssertEqual(bad.rows, 0)
    }

    /// In-place `+=` and `*=` round as `+` and `*` do (bit for bit), and `+=` checks shapes.
    func testMatrix64_InPlaceOperatorsEqualPureOnes() throws {
        var rng = SeededGenerator(seed: 44)
        let a = randomMatrix64(5, 7, using: &rng), b = randomMatrix64(5, 7, using: &rng)
        var c = a
        try c += b
        XCTAssertEqual(c, try a + b)
        var d = a
        d *= 0.37
        XCTAssertEqual(d, 0.37 * a)
        XCTAssertThrowsError(try c += Matrix64.zeros(7, 5))
    }
}
