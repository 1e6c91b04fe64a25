// Forward tests of reductions, the softmax family and the losses (Tensor+Reduce.swift,
// Tensor+Loss.swift) against Double references in EmendTestSupport.

import XCTest
@testable import EmendCore
import EmendTestSupport

final class TensorOpsReduceTests: XCTestCase {

    /// sum / mean / max over every axis (negative axes too, keepDims both ways) against a Double
    /// index loop; shapes include size-1 and empty axes, values include ±1e30 and −∞.
    func testAxisReductions_AgainstNaive() {
        let shapes: [[Int]] = [[7], [3, 4, 5], [1, 6], [5, 1], [2, 1, 3], [0, 3], [3, 0], [1]]
        var rng = SeededGenerator(seed: 201)
        for shape in shapes {
            var t = Tensor.randomNormal(shape, std: 2, using: &rng)
            if t.count > 3 { t.scalars[0] = 1e30; t.scalars[1] = -1e30; t.scalars[3] = -.infinity }
            for axis in -shape.count..<shape.count {
                let a = axis < 0 ? axis + shape.count : axis
                print("reduce \(shape) axis \(axis)")
                for (kind, op): (NaiveReduction, (Tensor) -> Tensor) in [
                    (.sum, { $0.sum(axis: axis) }), (.mean, { $0.mean(axis: axis) }), (.max, { $0.max(axis: axis) })] {
                    let want = naiveReduce(t, axis: a, kind)
                    let got = op(t)
                    XCTAssertEqual(got.shape, want.shape, "\(kind) \(shape) axis \(axis)")
                    // Float accumulation of ±1e30 against Double: cancellation leaves ~1e30·2⁻²⁴ ≈ 6e22.
                    assertClose(got.scalars, doubles(want), atol: t.count > 3 ? 1e23 : 1e-5, rtol: 1e-6,
                                "\(kind) \(shape) axis \(axis)")
                }
                var kept = shape
                kept[a] = 1
                XCTAssertEqual(t.sum(axis: axis, keepDims: true).shape, kept)
                XCTAssertEqual(t.max(axis: axis, keepDims: true).scalars, t.max(axis: axis).scalars)
            }
        }
        // Whole-tensor reductions (accumulated in Float64).
        let v = Tensor([1e8, 1, -1e8, 2])
        XCTAssertEqual(v.sum(), 3)
        XCTAssertEqual(v.mean(), 0.75)
        XCTAssertEqual(Tensor([3, -4]).norm(), 5)
        XCTAssertEqual(Tensor([3, -7, 2]).maxAbs(), 7)
        XCTAssertEqual(Tensor.zeros([0]).mean(), 0)
    }

    /// argmaxLast picks the first maximum of each last-axis row (ties, −∞ rows, size-1 rows).
    func testArgmaxLast_AgainstNaive() {
        let cases: [(String, Tensor)] = [
            ("ties", Tensor(shape: [2, 4], scalars: [1, 3, 3, 2, 5, 5, 5, 5])),
            ("−∞ row", Tensor(shape: [2, 3], scalars: [-.infinity, -.infinity, -.infinity, -.infinity, 0, -.infinity])),
            ("size-1 rows", Tensor(shape: [3, 1], scalars: [4, -1, 0])),
            ("rank 1", Tensor([0.5, 9, -9])),
            ("no rows", Tensor.zeros([0, 4])),
            ("random 3-D", { var r = SeededGenerator(seed: 9); return Tensor.randomNormal([2, 3, 17], using: &r) }()),
        ]
        for (name, t) in cases {
            print("argmaxLast \(name) \(t.shape)")
            XCTAssertEqual(t.argmaxLast(), naiveArgmaxLast(t), name)
        }
    }

    /// softmax / logSoftmax / logSumExp against Double references: rows like [1000, −1000, 0],
    /// partly and fully −∞-masked rows, size-1 and empty rows, and a large batch (parallel path).
    func testSoftmaxFamily_AgainstNaive() {
        var rng = SeededGenerator(seed: 202)
        let ninf = -Float.infinity
        let cases: [(String, Tensor)] = [
            ("extreme row", Tensor(shape: [1, 3], scalars: [1000, -1000, 0])),
            ("huge equal", Tensor(shape: [1, 2], scalars: [3e38, 3e38])),
            ("partly masked", Tensor(shape: [2, 3], scalars: [0, ninf, 1, ninf, ninf, -5])),
            ("fully masked", Tensor(shape: [2, 3], scalars: [ninf, ninf, ninf, 1, 2, 3])),
            ("size-1 rows", Tensor(shape: [3, 1], scalars: [7, -1e30, ninf])),
            ("rank 1", Tensor([0.1, 0.2, 0.3])),
            ("empty rows", Tensor.zeros([2, 0])),
            ("no rows", Tensor.zeros([0, 5])),
            ("random 3-D", Tensor.randomNormal([2, 3, 11], std: 5, using: &rng)),
            ("large (parallel)", Tensor.randomNormal([64, 1024], std: 10, using: &rng)),
        ]
        for (name, t) in cases {
            print("softmax family \(name) \(t.shape)")
            let sm = t.softmax(), lsm = t.logSoftmax(), lse = t.logSumExp()
            XCTAssertEqual(sm.shape, t.shape, name)
            XCTAssertEqual(lsm.shape, t.shape, name)
            XCTAssertEqual(lse.shape, Array(t.shape.dropLast()), name)
            assertClose(sm.scalars, naiveSoftmax(t), atol: 1e-7, rtol: 1e-5, "softmax \(name)")
            assertClose(lsm.scalars, naiveLogSoftmax(t), atol: 1e-5, rtol: 1e-6, "logSoftmax \(name)")
            assertClose(lse.scalars, naiveLogSumExp(t), atol: 1e-5, rtol: 1e-6, "logSumExp \(name)")
        }
    }

    /// crossEntropy (with ignoreIndex) and klDivergence against Double references.
    func testLosses_AgainstNaive() {
        var rng = SeededGenerator(seed: 203)
        let logits = Tensor.randomNormal([6, 10], std: 3, using: &rng)
        let ceCases: [(String, Tensor, [Int])] = [
            ("plain", logits, [0, 9, 3, 3, 5, 1]),
            ("some ignored", logits, [ignoreIndex, 9, ignoreIndex, 3, 5, ignoreIndex]),
            ("all ignored", logits, [Int](repeating: ignoreIndex, count: 6)),
            ("extreme row", Tensor(shape: [2, 3], scalars: [1000, -1000, 0, 1000, -1000, 0]), [0, 2]),
            ("masked target", Tensor(shape: [1, 3], scalars: [0, -.infinity, 1]), [1]),
            ("size-1 vocab", Tensor(shape: [2, 1], scalars: [3, -3]), [0, 0]),
            ("no rows", Tensor.zeros([0, 4]), []),
            ("3-D logits", Tensor.randomNormal([2, 3, 5], using: &rng), [0, 1, 2, 3, 4, ignoreIndex]),
        ]
        for (name, l, targets) in ceCases {
            print("crossEntropy \(name) \(l.shape) targets \(targets)")
            let want = naiveCrossEntropy(logits: l, targets: targets, ignoreIndex: ignoreIndex)
            assertClose([crossEntropy(logits: l, targets: targets)], [want], atol: 1e-5, rtol: 1e-6, "crossEntropy \(name)")
        }

        let p = Tensor.randomNormal([4, 7], using: &rng).logSoftmax()
        let q = Tensor.randomNormal([4, 7], using: &rng).logSoftmax()
        var pMasked = Tensor.randomNormal([2, 3], using: &rng)
        pMasked.scalars[1] = -.infinity
        pMasked = pMasked.logSoftmax()
        let klCases: [(String, Tensor, Tensor)] = [
            ("random", p, q),
            ("identical", p, p),
            ("zero-probability P entries", pMasked, Tensor.randomNormal([2, 3], using: &rng).logSoftmax()),
            ("Q zero where P is not", Tensor(shape: [1, 2], scalars: [Foundation.log(Float(0.5)), Foundation.log(Float(0.5))]),
             Tensor(shape: [1, 2], scalars: [0, -.infinity])),
            ("no rows", Tensor.zeros([0, 3]), Tensor.zeros([0, 3])),
        ]
        for (name, lp, lq) in klCases {
            print("klDivergence \(name) \(lp.shape)")
            assertClose([klDivergence(logP: lp, logQ: lq)], [naiveKLDivergence(logP: lp, logQ: lq)],
                        atol: 1e-6, rtol: 1e-5, "klDivergence \(name)")
        }
        XCTAssertEqual(klDivergence(logP: p, logQ: p), 0)
    }
}
