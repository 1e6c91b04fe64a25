// Forward tests of the elementwise kernels (Tensor+Elementwise.swift) against the naive references
// in EmendTestSupport: broadcasting binary ops, `where`, unary maps and the derivative helpers.

import XCTest
@testable import EmendCore
import EmendTestSupport

final class TensorOpsElementwiseTests: XCTestCase {

    /// Values that stress every op: signed zeros, tiny/huge magnitudes, ±∞.
    private static let extremes: [Float] = [0, -0.0, 1, -1, 1e-30, -1e-30, 1e30, -1e30, 3e38, .infinity, -.infinity, 0.5]

    /// A tensor of `shape` whose first elements are the extremes (rotated by seed) and the rest seeded normals.
    private func stressTensor(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        var t = Tensor.randomNormal(shape, std: 3, using: &rng)
        let e = Self.extremes
        for i in 0..<min(t.count, e.count) { t.scalars[i] = e[(i + Int(seed % 7)) % e.count] }
        return t
    }

    /// Broadcasting +, −, ×, ÷ and the comparisons against an index-by-index naive loop; Float
    /// arithmetic is exact per element, so results must be bit-identical (NaN matching NaN).
    func testBroadcastBinary_AgainstNaive() {
        let cases: [(name: String, a: [Int], b: [Int])] = [
            ("equal", [3, 4], [3, 4]),
            ("equal large (parallel)", [300, 257], [300, 257]),
            ("equal empty", [0, 3], [0, 3]),
            ("scalar right", [2, 3], []),
            ("scalar left", [], [5]),
            ("size-1 right", [4, 1, 3], [1]),
            ("scalars", [], []),
            ("suffix", [2, 3, 4], [4]),
            ("suffix 2-D", [2, 3, 4], [3, 4]),
            ("suffix large (parallel)", [1024, 129], [129]),
            ("general [3,1,4]∘[2,1]", [3, 1, 4], [2, 1]),
            ("outer [1,4]∘[3,1]", [1, 4], [3, 1]),
            ("prefix left [5]∘[2,5]", [5], [2, 5]),
            ("middle [2,1,3]∘[2,4,3]", [2, 1, 3], [2, 4, 3]),
            ("empty suffix [2,0]∘[0]", [2, 0], [0]),
            ("empty general [0,1]∘[1,3]", [0, 1], [1, 3]),
            ("size-1 to empty [2,1]∘[0]", [2, 1], [0]),
        ]
        let ops: [(String, (Float, Float) -> Float, (Tensor, Tensor) -> Tensor)] = [
            ("+", (+), { $0 + $1 }), ("−", (-), { $0 - $1 }), ("×", (*), { $0 * $1 }), ("÷", (/), { $0 / $1 }),
            (".>", { $0 > $1 ? 1 : 0 }, { $0 .> $1 }), (".<", { $0 < $1 ? 1 : 0 }, { $0 .< $1 }),
            (".==", { $0 == $1 ? 1 : 0 }, { $0 .== $1 }),
        ]
        for (ci, c) in cases.enumerated() {
            print("broadcast case \(c.name): a \(c.a), b \(c.b)")
            let a = stressTensor(c.a, seed: UInt64(2 * ci)), b = stressTensor(c.b, seed: UInt64(2 * ci + 1))
            for (name, scalarOp, tensorOp) in ops {
                assertIdentical(tensorOp(a, b), naiveBroadcastBinary(a, b, scalarOp), "\(c.name) \(name)")
            }
        }
        // In-place forms: += on equal shapes and through broadcasting; −=; *= by a scalar.
        var rng = SeededGenerator(seed: 5)
        let a = Tensor.randomNormal([3, 4], using: &rng), row = Tensor.randomNormal([4], using: &rng)
        var x = a
        x += a
        assertIdentical(x, naiveBroadcastBinary(a, a, +), "+= equal")
        x = a; x += row
        assertIdentical(x, naiveBroadcastBinary(a, row, +), "+= broadcast")
        x = a; x -= row
        assertIdentical(x, naiveBroadcastBinary(a, row, -), "-= broadcast")
        x = a; x *= 2.5
        assertIdentical(x, a.map { $0 * 2.5 }, "*= scalar")
        assertIdentical(a + 1, naiveBroadcastBinary(a, Tensor(1), +), "+ Float")
        assertIdentical(2 * a, naiveBroadcastBinary(Tensor(2), a, *), "Float ×")
        assertIdentical(a / 4, naiveBroadcastBinary(a, Tensor(4), /), "÷ Float")
        assertIdentical(-a, naiveBroadcastBinary(Tensor(0), a, -), "negation")
    }

    /// `where` with condition, a and b broadcast together, against the naive index loop.
    func testWhere_AgainstNaive() {
        let cases: [(name: String, c: [Int], a: [Int], b: [Int])] = [
            ("all equal", [2, 3], [2, 3], [2, 3]),
            ("condition column", [3, 1], [3, 4], [3, 4]),
            ("scalar branches", [2, 5], [], []),
            ("all broadcast", [3, 1], [1, 4], [4]),
            ("size-1", [1], [1], [1]),
            ("empty", [0, 2], [2], []),
        ]
        for (ci, c) in cases.enumerated() {
            print("where case \(c.name): condition \(c.c), a \(c.a), b \(c.b)")
            var rng = SeededGenerator(seed: UInt64(100 + ci))
            let cond = Tensor.randomNormal(c.c, using: &rng) .> Tensor(0)
            let a = Tensor.randomNormal(c.a, using: &rng), b = Tensor.randomNormal(c.b, using: &rng)
            assertIdentical(Tensor.where(cond, a, b), naiveWhere(cond, a, b), c.name)
        }
        let t = Tensor([1, 2]), big = Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5])
        assertIdentical(t.broadcasted(to: [3, 2]), naiveBroadcastBinary(Tensor.zeros([3, 2]), t) { $1 }, "broadcasted")
        assertIdentical(big.broadcasted(to: [2, 3]), big, "broadcasted to own shape")
    }

    /// Unary maps against the textbook formulas in Double, over a table of points including ±100,
    /// ±∞, 0 and the edges of Float32's range.
    func testUnaryMaps_AgainstDoubleFormulas() {
        let xs: [Float] = [-.infinity, -100, -88, -20, -3, -1, -1e-3, -0.0, 0, 1e-3, 0.5, 1, 3, 20, 88, 100, .infinity]
        let pos: [Float] = [0, 1e-38, 1e-30, 1e-3, 0.5, 1, 2, 1e30, 3e38, .infinity, -1]
        typealias Case = (name: String, inputs: [Float], op: (Tensor) -> Tensor, ref: (Double) -> Double, atol: Double, rtol: Double)
        let cases: [Case] = [
            ("exp", xs, { $0.exp() }, { Foundation.exp($0) }, 1e-45, 2e-7),
            ("log", pos, { $0.log() }, { Foundation.log($0) }, 1e-7, 2e-7),
            ("tanh", xs, { $0.tanh() }, { Foundation.tanh($0) }, 1e-7, 2e-7),
            ("sqrt", pos, { $0.sqrt() }, { $0.squareRoot() }, 0, 2e-7),
            ("squared", xs, { $0.squared() }, { $0 * $0 }, 0, 2e-7),
            ("abs", xs, { $0.abs() }, { Swift.abs($0) }, 0, 0),
            ("relu", xs, { $0.relu() }, { Swift.max($0, 0) }, 0, 0),
            ("clamped", xs, { $0.clamped(min: -2, max: 3) }, { Swift.min(Swift.max($0, -2), 3) }, 0, 0),
            // Subnormal σ(−100) ≈ 3.7e-44 has only a few significant bits in Float32, hence atol.
            ("sigmoid", xs, { $0.sigmoid() }, NaiveScalar.sigmoid, 1e-42, 3e-7),
            ("silu", xs.filter { $0.isFinite }, { $0.silu() }, NaiveScalar.silu, 1e-40, 3e-7),
            ("geluTanh", xs.filter { $0.isFinite }, { $0.geluTanh() }, NaiveScalar.geluTanh, 1e-7, 1e-6),
            ("geluErf", xs.filter { $0.isFinite }, { $0.geluErf() }, NaiveScalar.geluErf, 1e-7, 1e-6),
        ]
        var rng = SeededGenerator(seed: 7)
        for c in cases {
            // The table, a size-1 tensor, an empty one and a large random one (the parallel path).
            let random = Tensor.randomNormal([200, 200], std: 4, using: &rng)
            let positiveOnly = c.name == "log" || c.name == "sqrt"
            let randomInDomain = positiveOnly ? random.abs() : random
            for (label, t) in [("table", Tensor(c.inputs)), ("size-1", Tensor(shape: [1, 1], scalars: [0.75])),
                               ("empty", Tensor.zeros([0, 3])), ("random 200×200", randomInDomain)] {
                print("unary \(c.name): \(label) \(t.shape)")
                let got = c.op(t)
                XCTAssertEqual(got.shape, t.shape, "\(c.name) \(label)")
                // The reference is rounded to Float32 once, so overflow to ±∞ matches.
                assertClose(got.scalars, t.scalars.map { Double(Float(c.ref(Double($0)))) }, atol: c.atol, rtol: c.rtol, "\(c.name) \(label)")
            }
        }
    }

    /// siluDerivative, geluTanhDerivative and geluErfDerivative against central differences of the
    /// Double formulas (step 1e-6, truncation error ~1e-12), at points including ±100.
    func testActivationDerivatives_AgainstCentralDifferences() {
        let xs: [Float] = [-100, -30, -8, -3, -1.5, -1, -0.3, -1e-4, 0, 1e-4, 0.3, 1, 1.5, 3, 8, 30, 100]
        let cases: [(String, (Float) -> Float, (Double) -> Double)] = [
            ("silu", siluDerivative, NaiveScalar.silu),
            ("geluTanh", geluTanhDerivative, NaiveScalar.geluTanh),
            ("geluErf", geluErfDerivative, NaiveScalar.geluErf),
        ]
        for (name, derivative, f) in cases {
            print("derivative \(name) at \(xs.count) points")
            let got = xs.map(derivative)
            let want = xs.map { NaiveScalar.centralDifference(f, at: Double($0)) }
            assertClose(got, want, atol: 1e-6, rtol: 1e-5, "d/dx \(name)")
        }
        // And the scalar forward kernels the maps share.
        for x in xs {
            XCTAssertEqual(Double(sigmoidScalar(x)), NaiveScalar.sigmoid(Double(x)), accuracy: 1e-7, "σ(\(x))")
            XCTAssertEqual(Double(geluTanhScalar(x)), NaiveScalar.geluTanh(Double(x)), accuracy: 1e-6 * Double(Swift.max(1, Swift.abs(x))))
            XCTAssertEqual(Double(geluErfScalar(x)), NaiveScalar.geluErf(Double(x)), accuracy: 1e-6 * Double(Swift.max(1, Swift.abs(x))))
        }
    }
}
