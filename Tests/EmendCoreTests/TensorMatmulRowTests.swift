import XCTest
@testable import EmendCore
import EmendTestSupport

/// The one-row (GEMV) path of `sgemm`, used by every decoding step.
final class TensorMatmulRowTests: XCTestCase {
    /// 1-row products in both B layouts, with alpha/beta and strided B, equal NaiveOps64 (Float64 loops), and
    /// beta = 0 ignores NaN already in C.
    func testSgemm_OneRowMatchesNaiveFloat64() {
        var rng = SeededGenerator(seed: 12)
        for (n, k) in [(7, 5), (1, 9), (33, 1), (130, 70)] {
            for transposeB in [false, true] {
                let a = Tensor.randomNormal([1, k], using: &rng)
                let b = Tensor.randomNormal(transposeB ? [n, k] : [k, n], using: &rng)
                let got = matmul(a, b, transposeB: transposeB)
                let want = NaiveOps64.matmul(Naive64(a), Naive64(b), transposeB: transposeB)
                for j in 0..<n { XCTAssertEqual(Double(got.scalars[j]), want.values[j], accuracy: 1e-4, "n \(n) k \(k) tB \(transposeB) [\(j)]") }
                // alpha 2, beta 0.5 onto C = 1, and beta 0 onto C = NaN.
                for (beta, start) in [(Float(0.5), Float(1)), (0, Float.nan)] {
                    var c = [Float](repeating: start, count: n)
                    a.scalars.withUnsafeBufferPointer { pa in b.scalars.withUnsafeBufferPointer { pb in
                        sgemm(transposeA: false, transposeB: transposeB, m: 1, n: n, k: k, alpha: 2, a: pa.baseAddress!, lda: k,
                              b: pb.baseAddress!, ldb: transposeB ? k : n, beta: beta, c: &c, ldc: n)
                    } }
                    for j in 0..<n {
                        let w = 2 * want.values[j] + (beta == 0 ? 0 : Double(beta) * Double(start))
                        XCTAssertEqual(Double(c[j]), w, accuracy: 2e-4, "beta \(beta) [\(j)]")
                    }
                }
            }
        }
    }
}
