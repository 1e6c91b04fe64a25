// Forward tests of the normalisations, RoPE and attention masks (Tensor+Norm.swift,
// Tensor+RoPE.swift, Tensor+Mask.swift) against the naive references in EmendTestSupport.

import XCTest
@testable import EmendCore
import EmendTestSupport

final class TensorOpsNormRoPEMaskTests: XCTestCase {

    /// rmsNormForward and layerNormForward (outputs and their saved rstd / mean) against Double
    /// formulas; rows include constants, a large offset, huge and tiny magnitudes, and width 1.
    func testNorms_AgainstNaive() {
        var rng = SeededGenerator(seed: 301)
        let cases: [(name: String, x: Tensor)] = [
            ("random 3-D", Tensor.randomNormal([2, 3, 8], using: &rng)),
            ("large (parallel)", Tensor.randomNormal([300, 64], using: &rng)),
            ("width 1", Tensor(shape: [3, 1], scalars: [2, -5, 0])),
            ("size 1", Tensor(shape: [1, 1], scalars: [0.25])),
            ("constant and zero rows", Tensor(shape: [2, 4], scalars: [3, 3, 3, 3, 0, 0, 0, 0])),
            ("offset 1e3", Tensor(shape: [1, 6], scalars: [1001, 1002, 1003, 999, 998, 1000])),
            ("huge", Tensor(shape: [1, 4], scalars: [1e15, -2e15, 3e15, 5e14])),
            ("tiny", Tensor(shape: [1, 4], scalars: [1e-20, -2e-20, 3e-20, 0])),
            ("rank 1", Tensor([1, 2, 3, 4, 5])),
            ("no rows", Tensor.zeros([0, 4])),
        ]
        for c in cases {
            let d = c.x.dim(-1)
            let w = Tensor.randomNormal([d], mean: 1, std: 0.2, using: &rng)
            let b = Tensor.randomNormal([d], using: &rng)
            print("norms \(c.name) \(c.x.shape)")
            for eps: Float in [1e-5, 1e-6] {
                let rms = rmsNormForward(c.x, weight: w, eps: eps)
                XCTAssertEqual(rms.y.shape, c.x.shape)
                assertClose(rms.y.scalars, naiveRMSNorm(c.x, weight: w, eps: eps), atol: 1e-5, rtol: 1e-5, "rmsNorm \(c.name)")
                XCTAssertEqual(rms.rstd.count, c.x.count / d)
                XCTAssertEqual(c.x.rmsNormed(weight: w, eps: eps), rms.y)

                for bias in [b, nil] as [Tensor?] {
                    let ln = layerNormForward(c.x, weight: w, bias: bias, eps: eps)
                    assertClose(ln.y.scalars, naiveLayerNorm(c.x, weight: w, bias: bias, eps: eps),
                                atol: 1e-4, rtol: 1e-5, "layerNorm \(c.name) bias \(bias != nil)")
                    let rows = c.x.count / d
                    let wantMean = (0..<rows).map { r in (0..<d).reduce(0.0) { $0 + Double(c.x.scalars[r * d + $1]) } / Double(d) }
                    assertClose(ln.mean, wantMean, atol: 1e-6, rtol: 1e-6, "layerNorm mean \(c.name)")
                    XCTAssertEqual(c.x.layerNormed(weight: w, bias: bias, eps: eps), ln.y)
                }
            }
        }
    }

    /// RoPE in both conventions against the definition (each pair rotated by pos·base^(−2i/Dh)),
    /// and the inverse rotation undoes the forward one.
    func testRoPE_AgainstNaive() {
        var rng = SeededGenerator(seed: 302)
        let cases: [(name: String, shape: [Int], positions: [Int], base: Float)] = [
            ("[T,H,Dh]", [4, 2, 8], [0, 1, 2, 3], 10_000),
            ("batched", [2, 3, 2, 6], [5, 9, 31], 10_000),
            ("Dh 2", [3, 1, 2], [0, 7, 100], 10_000),
            ("size 1", [1, 1, 2], [0], 500_000),
            ("large positions", [2, 2, 16], [1000, 4095], 10_000),
            ("no tokens", [0, 2, 4], [], 10_000),
            ("no heads", [2, 0, 4], [1, 2], 10_000),
        ]
        for c in cases {
            let x = Tensor.randomNormal(c.shape, using: &rng)
            for convention in [RoPEConvention.halfSplit, .interleaved] {
                print("rope \(c.name) \(c.shape) positions \(c.positions) base \(c.base) \(convention)")
                let got = rope(x, positions: c.positions, base: c.base, convention: convention)
                XCTAssertEqual(got.shape, x.shape)
                // Float32 angles (as Hugging Face computes them): p·θ has error ~p·2⁻²⁴ radians.
                let maxPos = Double(c.positions.max() ?? 0)
                assertClose(got.scalars, naiveRope(x, positions: c.positions, base: c.base, convention: convention),
                            atol: 1e-5 + 3e-7 * maxPos, rtol: 1e-5, "rope \(c.name) \(convention)")
                let back = rope(got, positions: c.positions, base: c.base, convention: convention, inverse: true)
                assertClose(back.scalars, doubles(x), atol: 1e-5, rtol: 1e-5, "inverse rope \(c.name) \(convention)")
            }
        }
    }

    /// The GGUF convention: with Q/K rows permuted as row h·Dh + 2i + j ← h·Dh + (Dh/2)·j + i,
    /// interleaved RoPE on the permuted projection equals the permuted halfSplit RoPE on the
    /// original one, so un-permuting once at load lets models use halfSplit.
    func testRoPE_InterleavedOnPermutedRowsEqualsHalfSplit() {
        var rng = SeededGenerator(seed: 303)
        for (t, h, dh, d) in [(5, 2, 8, 12), (3, 3, 4, 5), (1, 1, 2, 3), (4, 1, 64, 16)] {
            print("rope GGUF permutation T \(t) H \(h) Dh \(dh) D \(d)")
            let x = Tensor.randomNormal([t, d], using: &rng)
            let wq = Tensor.randomNormal([h * dh, d], using: &rng)      // [H·Dh, D], HF row order
            let wqGGUF = naiveGGUFRopePermutation(wq, headDim: dh)      // [H·Dh, D], GGUF row order
            let positions = (0..<t).map { 3 * $0 + 1 }
            let qHF = linear(x, wq).reshaped([t, h, dh])
            let qGGUF = linear(x, wqGGUF).reshaped([t, h, dh])
            let half = rope(qHF, positions: positions, base: 10_000, convention: .halfSplit)
            let inter = rope(qGGUF, positions: positions, base: 10_000, convention: .interleaved)
            // Permute the halfSplit result's head components the same way as the rows.
            let halfPermuted = naiveGGUFRopePermutation(half.reshaped([t, h * dh]).transposed(), headDim: dh)
                .transposed().reshaped([t, h, dh])
            assertClose(inter.scalars, doubles(halfPermuted), atol: 1e-5, rtol: 1e-5,
                        "GGUF rope T \(t) H \(h) Dh \(dh)")
        }
    }

    /// Additive masks against their definitions: causal (key j visible to query i iff
    /// j ≤ offset + i), padding (1 for the first lengths[b] tokens), causal+padding.
    func testMasks_AgainstDefinitions() {
        for (q, offset) in [(1, 0), (4, 0), (3, 2), (0, 3), (2, 5)] {
            print("causalMask queries \(q) offset \(offset)")
            let m = causalMask(queries: q, offset: offset)
            XCTAssertEqual(m.shape, [q, offset + q])
            for i in 0..<q { for j in 0..<(offset + q) {
                XCTAssertEqual(m.scalars[i * (offset + q) + j], j <= offset + i ? 0 : -.infinity, "(\(i), \(j))")
            } }
        }
        for (lengths, t) in [([3, 1, 0], 3), ([2], 4), ([], 2), ([0], 0)] {
            print("paddingMask lengths \(lengths) T \(t)")
            let p = paddingMask(lengths: lengths, length: t)
            XCTAssertEqual(p.shape, [lengths.count, t])
            let cp = causalPaddingMask(lengths: lengths, length: t)
            XCTAssertEqual(cp.shape, [lengths.count, t, t])
            for (b, n) in lengths.enumerated() {
                for j in 0..<t { XCTAssertEqual(p.scalars[b * t + j], j < n ? 1 : 0) }
                for i in 0..<t { for j in 0..<t {
                    XCTAssertEqual(cp.scalars[(b * t + i) * t + j], (j <= i && j < n) ? 0 : -.infinity, "b \(b) (\(i), \(j))")
                } }
            }
        }
    }
}
