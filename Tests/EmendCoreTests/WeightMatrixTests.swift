import XCTest
@testable import EmendCore
import EmendTestSupport

/// The matrix-product layer: oneDNN's Float32 products inside `matmul`, and `WeightMatrix`'s two products
/// (x·Wᵀ and g·W) in Float32 and bfloat16. The independent reference is NaiveOps64 (Float64 loops); for bfloat16,
/// the same loops over operands rounded to bfloat16 by a rule written out here (round to nearest even).
final class WeightMatrixTests: XCTestCase {
    /// Shapes of the search (576 wide, 1536 FFN) at small row counts, plus odd ones; 1 and 7 rows included.
    let shapes: [(rows: Int, inputs: Int, outputs: Int)] = [(1, 576, 384), (7, 576, 384), (7, 1536, 96), (48, 576, 192),
                                                              (33, 65, 129), (3, 17, 1)]

    /// matmul of large products (oneDNN when available) equals Float64 loops, in every transpose combination.
    func testMatmul_LargeProductsMatchNaiveFloat64() {
        var rng = SeededGenerator(seed: 41)
        for (m, k, n) in [(40, 576, 256), (7, 1536, 96), (128, 96, 200)] {
            for transposeB in [false, true] {
                let a = Tensor.randomNormal([m, k], using: &rng)
                let b = Tensor.randomNormal(transposeB ? [n, k] : [k, n], using: &rng)
                let got = matmul(a, b, transposeB: transposeB)
                let want = NaiveOps64.matmul(Naive64(a), Naive64(b), transposeB: transposeB)
                var worst = 0.0
                for i in 0..<(m * n) { worst = max(worst, abs(Double(got.scalars[i]) - want.values[i])) }
                // Sums of k products of N(0,1) have |value| ~ √k; Float32 accumulation error stays far below 1e-3·√k.
                XCTAssertLessThan(worst, 1e-3 * Double(k).squareRoot(), "m \(m) k \(k) n \(n) tB \(transposeB) (\(MatmulBackend.current))")
            }
        }
    }

    /// Float32 WeightMatrix: forward = x·Wᵀ and backward = g·W, to Float32 accuracy.
    func testWeightMatrix_Float32ProductsMatchNaive() {
        var rng = SeededGenerator(seed: 42)
        for s in shapes {
            let w = Tensor.randomNormal([s.outputs, s.inputs], using: &rng)
            let x = Tensor.randomNormal([s.rows, s.inputs], using: &rng)
            let g = Tensor.randomNormal([s.rows, s.outputs], using: &rng)
            let wm = WeightMatrix(w, precision: .float32)
            XCTAssertEqual(wm.precision, .float32)
            assertClose(wm.forward(x), NaiveOps64.matmul(Naive64(x), Naive64(w), transposeB: true).values, tolerance: 1e-3, "forward \(s)")
            assertClose(wm.backward(g), NaiveOps64.matmul(Naive64(g), Naive64(w)).values, tolerance: 1e-3, "backward \(s)")
        }
    }

    /// bfloat16 WeightMatrix: equal to Float64 loops over the bfloat16-rounded operands (so only accumulation order
    /// differs), and within bfloat16's documented error of the exact Float32 product (relative L1 < 1e-2).
    func testWeightMatrix_BFloat16ProductsMatchRoundedNaive() throws {
        try XCTSkipUnless(ComputePrecision.hasNativeBFloat16 && MatmulBackend.usesOneDNN,
                          "no native bfloat16 products here: WeightMatrix falls back to Float32 (tested above)")
        var rng = SeededGenerator(seed: 43)
        for s in shapes {
            let w = Tensor.randomNormal([s.outputs, s.inputs], using: &rng)
            let x = Tensor.randomNormal([s.rows, s.inputs], using: &rng)
            let g = Tensor.randomNormal([s.rows, s.outputs], using: &rng)
            let wm = WeightMatrix(w, precision: .bfloat16)
            XCTAssertEqual(wm.precision, .bfloat16)
            let (wr, xr, gr) = (roundedToBFloat16(w), roundedToBFloat16(x), roundedToBFloat16(g))
            let forward = wm.forward(x), backward = wm.backward(g)
            assertClose(forward, NaiveOps64.matmul(Naive64(xr), Naive64(wr), transposeB: true).values, tolerance: 1e-3, "bf16 forward \(s)")
            assertClose(backward, NaiveOps64.matmul(Naive64(gr), Naive64(wr)).values, tolerance: 1e-3, "bf16 backward \(s)")
            let exact = NaiveOps64.matmul(Naive64(x), Naive64(w), transposeB: true).values
            var err = 0.0, mag = 0.0
            for i in exact.indices { err += abs(Double(forward.scalars[i]) - exact[i]); mag += abs(exact[i]) }
            XCTAssertLessThan(err / mag, 1e-2, "bf16 relative L1 error \(s)")
        }
    }

    /// A NaN or infinity in the input stays visible in the output (no silent clamping in the bfloat16 rounding).
    func testWeightMatrix_NonFiniteInputsPropagate() {
        var rng = SeededGenerator(seed: 44)
        let w = Tensor.randomNormal([64, 32], using: &rng)
        var x = Tensor.randomNormal([5, 32], using: &rng)
        x.scalars[3] = .nan
        x.scalars[32 + 4] = .infinity
        for p in ComputePrecision.allCases {
            let y = WeightMatrix(w, precision: p).forward(x)
            XCTAssertTrue((0..<64).allSatisfy { !y.scalars[$0].isFinite }, "\(p): row 0 holds a NaN input")
            XCTAssertTrue((64..<128).allSatisfy { !y.scalars[$0].isFinite }, "\(p): row 1 holds an infinite input")
            XCTAssertTrue(y.scalars[128...].allSatisfy { $0.isFinite }, "\(p): other rows stay finite")
        }
    }

    // MARK: - Helpers

    /// Round to nearest even at bit 16, written independently of the library's C routine.
    private func roundedToBFloat16(_ t: Tensor) -> Tensor {
        Tensor(shape: t.shape, scalars: t.scalars.map { f in
            let bits = f.bitPattern
            let lower = bits & 0xFFFF, upper = bits & 0xFFFF_0000
            let roundUp = lower > 0x8000 || (lower == 0x8000 && (bits & 0x1_0000) != 0)
            return Float(bitPattern: roundUp ? upper &+ 0x1_0000 : upper)
        })
    }

    private func assertClose(_ got: Tensor, _ want: [Double], tolerance: Double, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        var worst = 0.0, scale = 1.0
        for i in want.indices { worst = max(worst, abs(Double(got.scalars[i]) - want[i])); scale = max(scale, abs(want[i])) }
        XCTAssertLessThan(worst, tolerance * scale, "\(what): max |Δ| \(worst)", file: file, line: line)
    }
}
