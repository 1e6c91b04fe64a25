import XCTest
import EmendCore
@testable import EmendEditing

/// Each update rule's ΔW against its own normal equations (an identity independent of how it is solved).
final class UpdateRuleTests: XCTestCase {
    let f = 24, d = 10, n = 5

    func random(_ rows: Int, _ cols: Int, _ rng: inout SeededGenerator) -> Matrix64 {
        var m = Matrix64.zeros(rows, cols)
        for i in 0..<m.scalars.count { m.scalars[i] = Double(rng.nextNormal()) }
        return m
    }

    /// C0 = X Xᵀ / t of rank `rank` (exact null space of dimension f − rank).
    func secondMoment(rank: Int, _ rng: inout SeededGenerator) -> Matrix64 {
        let x = random(f, rank, &rng)
        return try! matmul(x, x, transposeB: true) * (1.0 / Double(rank))
    }

    func relative(_ a: Matrix64, _ b: Matrix64) -> Double { try! (a - b).frobeniusNorm() / max(b.frobeniusNorm(), 1e-300) }

    /// MEMIT/ENCORE: ΔW (λp C0 + Kp Kpᵀ + K Kᵀ + λn I) = R Kᵀ.
    func testNormConstrained_SatisfiesNormalEquations() throws {
        var rng = SeededGenerator(seed: 3)
        let k = random(f, n, &rng), r = random(d, n, &rng), c0 = secondMoment(rank: f, &rng)
        var state = LayerEditState(width: f)
        try state.add(keys: random(f, 7, &rng))
        for (lp, ln) in [(15_000.0, 0.0), (1_500.0, 20.0)] {
            let dw = try UpdateRule.normConstrained(lambdaP: lp, lambdaN: ln).solve(keys: k, residuals: r, c0: c0, state: state)
            var a = try lp * c0 + state.previousKeysGram + matmul(k, k, transposeB: true)
            try a.addDiagonal(ln)
            XCTAssertLessThan(relative(try matmul(dw, a), try matmul(r, k, transposeB: true)), 1e-10, "λp \(lp) λn \(ln)")
        }
    }

    /// AlphaEdit: ΔW (P(KKᵀ + KpKpᵀ) + αI)ᵀ = R Kᵀ P, ΔW = ΔW P, and ΔW C0 ≈ 0 (the update leaves preserved keys alone).
    func testAlphaEdit_NormalEquationsAndNullSpace() throws {
        var rng = SeededGenerator(seed: 4)
        let k = random(f, n, &rng), r = random(d, n, &rng), c0 = secondMoment(rank: 15, &rng)
        let p = try nullSpaceProjector(c0: c0, threshold: 1e-8)
        var state = LayerEditState(width: f)
        try state.add(keys: random(f, 6, &rng))
        let dw = try UpdateRule.alphaEdit(alpha: 10, nullSpaceThreshold: 1e-8).solve(keys: k, residuals: r, c0: c0, state: state, projector: p)
        var lhs = try matmul(p, try matmul(k, k, transposeB: true) + state.previousKeysGram)
        try lhs.addDiagonal(10)
        let rhs = try matmul(try matmul(r, k, transposeB: true), p)
        XCTAssertLessThan(relative(try matmul(dw, lhs, transposeB: true), rhs), 1e-10)
        XCTAssertLessThan(relative(try matmul(dw, p), dw), 1e-10)
        XCTAssertLessThan(try matmul(dw, c0).frobeniusNorm() / (dw.frobeniusNorm() * c0.frobeniusNorm()), 1e-10)
        XCTAssertGreaterThan(dw.frobeniusNorm(), 1e-6)
    }

    /// EMMET with λe = 0: ΔW K = R exactly, and ΔW A lies in the row space of Kᵀ (the Lagrange condition).
    func testEmmet_ConstraintAndStationarity() throws {
        var rng = SeededGenerator(seed: 5)
        let k = random(f, n, &rng), r = random(d, n, &rng), c0 = secondMoment(rank: f, &rng)
        let state = LayerEditState(width: f)
        let dw = try UpdateRule.emmet(lambdaP: 100, lambdaN: 0, emmetLambda: 0).solve(keys: k, residuals: r, c0: c0, state: state)
        XCTAssertLessThan(relative(try matmul(dw, k), r), 1e-10)
        let a = 100 * c0
        let ktk = try matmul(k, k, transposeA: true)
        let proj = try matmul(k, try choleskySolve(ktk, k.transposed()))       // K (KᵀK)⁻¹ Kᵀ
        let dwa = try matmul(dw, a)
        XCTAssertLessThan(relative(try matmul(dwa, proj), dwa), 1e-9)
    }

    // MARK: - The in-place solve against the dense formulas it replaced

    /// The rules exactly as written before the in-place solve: dense sums of [F, F] matrices, the previous keys as
    /// the Gram `g` summed here from the batches (not by LayerEditState), and Cholesky on a copy.
    func denseSolve(_ rule: UpdateRule, k: Matrix64, r: Matrix64, c0: Matrix64, g: Matrix64) throws -> Matrix64 {
        switch rule {
        case let .normConstrained(lp, ln):
            let a = try (lp * c0 + g + matmul(k, k, transposeB: true)).addingDiagonal(ln)
            return try matmul(r, try choleskySolve(a, k), transposeB: true)
        case let .emmet(lp, ln, le):
            let aInvK = try choleskySolve(try (lp * c0 + g).addingDiagonal(ln), k)
            let d = try matmul(k, aInvK, transposeA: true).addingDiagonal(le)
            return try matmul(try choleskySolve(d, r.transposed()), aInvK, transposeA: true, transposeB: true)
        case .alphaEdit:
            throw XCTSkip("AlphaEdit keeps its dense solve")
        }
    }

    /// MEMIT, ENCORE and EMMET (with and without λn) solved in one in-place buffer equal the dense formulas to 1e-10
    /// (relative, Frobenius), with no previous keys, previous keys kept as a factor (F = 24: up to 6 keys), exactly
    /// at the limit, and past it (the state switched to its dense Gram). The truth is the old formula on the
    /// independently summed Gram.
    func testSolve_InPlaceEqualsDenseFormulas() throws {
        var rng = SeededGenerator(seed: 6)
        let k = random(f, n, &rng), r = random(d, n, &rng), c0 = secondMoment(rank: f, &rng)
        let rules: [UpdateRule] = [.memit(lambdaP: 15_000), .normConstrained(lambdaP: 1_500, lambdaN: 20),
                                   .emmet(lambdaP: 100, lambdaN: 0, emmetLambda: 0), .emmet(lambdaP: 100, lambdaN: 5, emmetLambda: 0.1)]
        // (batch sizes of the previous keys, whether the state is still factored after them)
        let regimes: [([Int], Bool)] = [([], true), ([3, 2], true), ([3, 3], true), ([3, 3, 1], false), ([4, 4, 9], false)]
        for (sizes, factored) in regimes {
            var state = LayerEditState(width: f)
            var g = Matrix64.zeros(f, f)
            for m in sizes {
                let kp = random(f, m, &rng)
                try state.add(keys: kp)
                g = try g + matmul(kp, kp, transposeB: true)
            }
            XCTAssertEqual(state.isFactored, factored, "previous batches \(sizes)")
            for rule in rules {
                let got = try rule.solve(keys: k, residuals: r, c0: c0, state: state)
                let want = try denseSolve(rule, k: k, r: r, c0: c0, g: g)
                let diff = relative(got, want)
                print("\(rule) previous \(sizes): relative difference \(diff)")
                XCTAssertLessThan(diff, 1e-10, "\(rule) previous \(sizes)")
            }
        }
    }
}
