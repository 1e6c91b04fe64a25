import XCTest
@testable import EmendCore
import EmendTestSupport

final class TensorTests: XCTestCase {
    /// Copy-on-write: mutating a copy never changes the original (value semantics, STYLE rule 8).
    func testTensor_CopyOnWrite() {
        let a = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        var b = a
        b += Tensor(shape: [2, 2], scalars: [1, 1, 1, 1])
        XCTAssertEqual(a.scalars, [1, 2, 3, 4])
        XCTAssertEqual(b.scalars, [2, 3, 4, 5])
        var c = a.reshaped([4])
        c.scalars[0] = 9
        XCTAssertEqual(a.scalars[0], 1)
    }

    /// matmul against a plain triple loop, all four transpose combinations and a batched case.
    func testMatmul_AgainstNaiveLoop() {
        var rng = SeededGenerator(seed: 1)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let m = 7, k = 5, n = 3
            let a = Tensor.randomNormal(ta ? [k, m] : [m, k], using: &rng)
            let b = Tensor.randomNormal(tb ? [n, k] : [k, n], using: &rng)
            let got = matmul(a, b, transposeA: ta, transposeB: tb)
            XCTAssertEqual(got.shape, [m, n])
            for i in 0..<m { for j in 0..<n {
                var s: Float = 0
                for p in 0..<k {
                    let x = ta ? a.scalars[p * m + i] : a.scalars[i * k + p]
                    let y = tb ? b.scalars[j * k + p] : b.scalars[p * n + j]
                    s += x * y
                }
                XCTAssertEqual(got.scalars[i * n + j], s, accuracy: 1e-4)
            } }
        }
        let a = Tensor.randomNormal([3, 4, 5], using: &rng), b = Tensor.randomNormal([3, 5, 2], using: &rng)
        let c = matmul(a, b)
        for i in 0..<3 { XCTAssertEqual(c[i].scalars, matmul(a[i], b[i]).scalars) }
    }
}
