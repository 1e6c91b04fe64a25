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
}
