import Foundation
import XCTest
@testable import EmendCore

/// The vectorised exp kernels (CEmendKernels/emend_math.c) against Foundation's exp in Float64 (the independent
/// reference): relative error within a few ulp over the whole range, the documented ends (0 below −87.3, +∞ above
/// 88, NaN kept), and every length's tail (n not a multiple of the vector width).
final class FastMathTests: XCTestCase {
    func testExp_WithinFewUlpOfFloat64Exp() {
        var xs: [Float] = stride(from: -87.0, through: 88.0, by: 0.0137).map { Float($0) }
        xs += [0, -0, 1e-8, -1e-8, 0.5 * Float(M_LN2), -0.5 * Float(M_LN2)]
        var ys = [Float](repeating: 0, count: xs.count)
        expShifted(xs, &ys, xs.count)
        var worst = 0.0
        for (x, y) in zip(xs, ys) {
            let want = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(y) - want) / want)
        }
        XCTAssertLessThan(worst, 4 * Double(Float.ulpOfOne), "max relative error \(worst)")
    }

    func testExp_EndsAndNaN() {
        let xs: [Float] = [-200, -.infinity, 100, .infinity, .nan, -87.5]
        var ys = [Float](repeating: 1, count: xs.count)
        expShifted(xs, &ys, xs.count)
        XCTAssertEqual(ys[0], 0); XCTAssertEqual(ys[1], 0)
        XCTAssertEqual(ys[2], .infinity); XCTAssertEqual(ys[3], .infinity)
        XCTAssertTrue(ys[4].isNaN)
        XCTAssertEqual(ys[5], 0)
    }

    func testSumsAndKL_MatchFloat64LoopsAtEveryTailLength() {
        var rng = SeededGenerator(seed: 8)
        for n in [1, 7, 15, 16, 17, 255, 256, 257, 1000] {
            let a = (0..<n).map { _ in Float(rng.nextNormal()) * 3 }
            let b = (0..<n).map { _ in Float(rng.nextNormal()) * 3 }
            let sum = sumExpShifted(a, n, shift: -1.5)
            let sumWant = a.reduce(0.0) { $0 + Foundation.exp(Double($1) - 1.5) }
            XCTAssertEqual(sum, sumWant, accuracy: 1e-5 * sumWant, "sum n \(n)")
            let kl = klDivergence(a, b, n)
            let klWant = zip(a, b).reduce(0.0) { $0 + Foundation.exp(Double($1.0)) * Double($1.0 - $1.1) }
            XCTAssertEqual(kl, klWant, accuracy: 1e-5 * max(1, zip(a, b).reduce(0.0) { $0 + Foundation.exp(Double($1.0)) * abs(Double($1.0 - $1.1)) }), "kl n \(n)")
            var g = [Float](repeating: 0, count: n)
            klGradient(a, b, &g, n, factor: 0.25, kl: 0.5)
            for i in 0..<n {
                let w = 0.25 * Foundation.exp(Double(a[i])) * (Double(a[i] - b[i]) - 0.5)
                XCTAssertEqual(Double(g[i]), w, accuracy: 1e-5 * max(1, abs(w)), "kl gradient n \(n) [\(i)]")
            }
        }
    }

    /// SiLU·up and its backward against the scalar formulas in Float64, and the backward against central
    /// differences of the forward.
    func testSiluMultiply_ForwardBackwardAndFiniteDifferences() {
        var rng = SeededGenerator(seed: 9)
        let n = 37
        let gate = (0..<n).map { _ in Float(rng.nextNormal()) * 4 }, up = (0..<n).map { _ in Float(rng.nextNormal()) }
        let dKey = (0..<n).map { _ in Float(rng.nextNormal()) }
        var key = [Float](repeating: 0, count: n), dGate = key, dUp = key
        siluMultiply(gate: gate, up: up, key: &key, n)
        siluMultiplyBackward(dKey: dKey, gate: gate, up: up, dGate: &dGate, dUp: &dUp, n)
        for i in 0..<n {
            let x = Double(gate[i]), s = 1 / (1 + Foundation.exp(-x))
            XCTAssertEqual(Double(key[i]), x * s * Double(up[i]), accuracy: 1e-5 * max(1, abs(x)))
            XCTAssertEqual(Double(dUp[i]), Double(dKey[i]) * x * s, accuracy: 1e-5 * max(1, abs(x)))
            let f = { (g: Double) in g / (1 + Foundation.exp(-g)) * Double(up[i]) }
            let fd = (f(x + 1e-4) - f(x - 1e-4)) / 2e-4 * Double(dKey[i])
            XCTAssertEqual(Double(dGate[i]), fd, accuracy: 1e-3 * max(1, abs(fd)), "dgate [\(i)]")
        }
    }
}
