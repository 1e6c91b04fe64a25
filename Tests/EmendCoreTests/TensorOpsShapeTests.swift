// Forward tests of the shape ops (Tensor+Shape.swift) and matmul (Tensor+Matmul.swift) against
// the index-walking references in EmendTestSupport. Shape ops only move elements, so results must
// be bit-identical.

import XCTest
@testable import EmendCore
import EmendTestSupport

final class TensorOpsShapeTests: XCTestCase {

    /// Every permutation of several shapes (odd, size-1, empty) against the naive index map;
    /// transposed() swaps the last two axes by default.
    func testPermutedTransposed_AgainstNaive() {
        var rng = SeededGenerator(seed: 401)
        let shapes: [[Int]] = [[2, 3, 4], [1, 5, 1], [0, 3], [3, 0, 2], [7], [], [2, 3, 1, 5]]
        for shape in shapes {
            let t = Tensor.randomNormal(shape, using: &rng)
            for order in permutations(Array(0..<shape.count)) {
                print("permuted \(shape) by \(order)")
                assertIdentical(t.permuted(order), naivePermuted(t, order), "permuted \(shape) \(order)")
            }
            if shape.count >= 2 {
                var swap = Array(0..<shape.count)
                swap.swapAt(shape.count - 2, shape.count - 1)
                assertIdentical(t.transposed(), naivePermuted(t, swap), "transposed \(shape)")
                var first = Array(0..<shape.count)
                first.swapAt(0, shape.count - 1)
                assertIdentical(t.transposed(0, -1), naivePermuted(t, first), "transposed(0, -1) \(shape)")
            }
        }
    }

    /// sliced (every axis; empty, full and middle ranges), rows, subscript, and updatingSlice
    /// (its adjoint) against the naive loops.
    func testSlicing_AgainstNaive() {
        var rng = SeededGenerator(seed: 402)
        let shapes: [[Int]] = [[4, 5, 3], [1, 1], [6], [2, 0, 3]]
        for shape in shapes {
            let t = Tensor.randomNormal(shape, using: &rng)
            for axis in 0..<shape.count {
                let n = shape[axis]
                for range in Set([0..<0, 0..<n, (n / 2)..<n, min(1, n)..<max(min(1, n), n - 1)]) {
                    print("sliced \(shape) axis \(axis) range \(range)")
                    let got = t.sliced(axis: axis, range)
                    assertIdentical(got, naiveSliced(t, axis: axis, range), "sliced \(shape) axis \(axis) \(range)")
                    var valueShape = shape
                    valueShape[axis] = range.count
                    let value = Tensor.randomNormal(valueShape, using: &rng)
                    assertIdentical(t.updatingSlice(axis: axis, at: range.lowerBound, with: value),
                                    naiveUpdatingSlice(t, axis: axis, at: range.lowerBound, with: value),
                                    "updatingSlice \(shape) axis \(axis) \(range)")
                }
            }
        }
        let m = Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(m.rows(1..<3), Tensor(shape: [2, 2], scalars: [3, 4, 5, 6]))
        XCTAssertEqual(m[2], Tensor([5, 6]))
        XCTAssertEqual(Tensor([4, 5, 6])[1], Tensor(5))
        // Slicing a copy never changes the original (copy-on-write).
        var c = m
        c = c.updatingSlice(axis: 0, at: 0, with: Tensor(shape: [1, 2], scalars: [9, 9]))
        XCTAssertEqual(m.scalars, [1, 2, 3, 4, 5, 6])
    }

    /// concatenate along each axis (with zero-extent parts) and stack, against the naive loop.
    func testConcatenateStack_AgainstNaive() {
        var rng = SeededGenerator(seed: 403)
        let cases: [(name: String, shapes: [[Int]], axis: Int)] = [
            ("axis 0", [[2, 3], [1, 3], [4, 3]], 0),
            ("axis 1", [[2, 3], [2, 1], [2, 2]], 1),
            ("negative axis", [[2, 2, 1], [2, 2, 3]], -1),
            ("middle axis", [[2, 1, 3], [2, 4, 3]], 1),
            ("single part", [[3, 2]], 0),
            ("zero-extent part", [[2, 0, 3], [2, 2, 3], [2, 0, 3]], 1),
            ("all empty", [[0, 3], [0, 3]], 0),
            ("rank 1", [[3], [0], [2]], 0),
        ]
        for c in cases {
            print("concatenate \(c.name) \(c.shapes) axis \(c.axis)")
            let parts = c.shapes.map { Tensor.randomNormal($0, using: &rng) }
            let axis = c.axis < 0 ? c.axis + c.shapes[0].count : c.axis
            assertIdentical(concatenate(parts, axis: c.axis), naiveConcatenate(parts, axis: axis), c.name)
        }
        for shape in [[2, 3], [1], [0, 2], []] as [[Int]] {
            print("stack 3 × \(shape)")
            let parts = (0..<3).map { _ in Tensor.randomNormal(shape, using: &rng) }
            let want = naiveConcatenate(parts.map { $0.reshaped([1] + shape) }, axis: 0)
            assertIdentical(stack(parts), want, "stack \(shape)")
        }
    }

    /// gatherRows and scatterAddRows (repeated ids accumulate) against naive row loops.
    func testGatherScatterRows_AgainstNaive() {
        var rng = SeededGenerator(seed: 404)
        let cases: [(name: String, v: Int, d: Int, ids: [Int])] = [
            ("distinct", 6, 4, [5, 0, 3]),
            ("repeated ids", 5, 3, [1, 1, 4, 1, 0, 4]),
            ("no ids", 4, 2, []),
            ("width 1", 3, 1, [2, 2, 0]),
            ("width 0", 3, 0, [1, 2]),
            ("single row table", 1, 7, [0, 0]),
        ]
        for c in cases {
            print("gather/scatter \(c.name): table [\(c.v), \(c.d)], ids \(c.ids)")
            let table = Tensor.randomNormal([c.v, c.d], using: &rng)
            assertIdentical(table.gatherRows(c.ids), naiveGatherRows(table, c.ids), "gatherRows \(c.name)")
            let values = Tensor.randomNormal([c.ids.count, c.d], using: &rng)
            var got = table
            got.scatterAddRows(c.ids, values)
            // Float addition in the same order as the naive loop: bit-identical.
            assertIdentical(got, naiveScatterAddRows(table, c.ids, values), "scatterAddRows \(c.name)")
        }
    }

    /// matmul: 2-D with all transposes, batched (3-D and 4-D) with transposes, a 2-D right
    /// operand broadcast over the batch (folded and looped paths), empty and k = 0 shapes, and
    /// `linear`, against a Double triple loop.
    func testMatmul_BatchedAndBroadcast_AgainstNaive() {
        var rng = SeededGenerator(seed: 405)
        let cases: [(name: String, a: [Int], b: [Int], ta: Bool, tb: Bool)] = [
            ("2-D", [7, 5], [5, 3], false, false),
            ("2-D ᵀ·", [5, 7], [5, 3], true, false),
            ("2-D ·ᵀ", [7, 5], [3, 5], false, true),
            ("2-D ᵀ·ᵀ", [5, 7], [3, 5], true, true),
            ("size 1", [1, 1], [1, 1], false, false),
            ("batched 3-D", [3, 4, 5], [3, 5, 2], false, false),
            ("batched 4-D ᵀ·ᵀ", [2, 3, 5, 4], [2, 3, 6, 5], true, true),
            ("broadcast 2-D right (folded)", [2, 3, 4], [4, 5], false, false),
            ("broadcast 2-D right ·ᵀ (folded)", [2, 3, 4], [5, 4], false, true),
            ("broadcast 2-D right ᵀ· (looped)", [2, 4, 3], [4, 5], true, false),
            ("broadcast 4-D left", [2, 2, 3, 4], [4, 1], false, false),
            ("empty M", [0, 4], [4, 3], false, false),
            ("empty N", [3, 4], [4, 0], false, false),
            ("k = 0 gives zeros", [3, 0], [0, 2], false, false),
            ("empty batch", [0, 3, 4], [0, 4, 2], false, false),
        ]
        for c in cases {
            print("matmul \(c.name): a \(c.a)\(c.ta ? "ᵀ" : ""), b \(c.b)\(c.tb ? "ᵀ" : "")")
            let a = Tensor.randomNormal(c.a, using: &rng), b = Tensor.randomNormal(c.b, using: &rng)
            let got = matmul(a, b, transposeA: c.ta, transposeB: c.tb)
            let want = naiveMatmul(a, b, transposeA: c.ta, transposeB: c.tb)
            XCTAssertEqual(got.shape, want.shape, c.name)
            assertClose(got.scalars, doubles(want), atol: 1e-5, rtol: 1e-5, "matmul \(c.name)")
        }
        let x = Tensor.randomNormal([2, 3, 6], using: &rng), w = Tensor.randomNormal([4, 6], using: &rng)
        let y = linear(x, w)
        XCTAssertEqual(y.shape, [2, 3, 4])
        assertClose(y.scalars, doubles(naiveMatmul(x, w, transposeB: true)), atol: 1e-5, rtol: 1e-5, "linear")
    }

    // MARK: - Helpers

    private func permutations(_ xs: [Int]) -> [[Int]] {
        if xs.count <= 1 { return [xs] }
        return xs.indices.flatMap { i -> [[Int]] in
            var rest = xs
            let head = rest.remove(at: i)
            return permutations(rest).map { [head] + $0 }
        }
    }
}
