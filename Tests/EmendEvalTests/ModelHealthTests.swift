import XCTest
import EmendCore
import EmendModels
@testable import EmendEval

/// Matrix norms (closed forms), norm changes between two models, the residual share, and the overfitting
/// aggregate (hand-made scores).
final class ModelHealthTests: XCTestCase {
    /// ‖[[3, 4]]‖_F = 5; σ_max(diag(3, 1, 2)) = 3; a rank-one u·vᵀ has σ_max = ‖u‖·‖v‖ (here 5 · √2).
    func testNormsClosedForms() {
        XCTAssertEqual(MatrixNorms.frobenius(Tensor(shape: [1, 2], scalars: [3, 4])), 5, accuracy: 1e-12)
        let d = Tensor(shape: [3, 3], scalars: [3, 0, 0, 0, 1, 0, 0, 0, 2])
        XCTAssertEqual(MatrixNorms.spectral(d), 3, accuracy: 1e-6)
        let u: [Float] = [3, 4, 0], v: [Float] = [1, -1]
        let r = Tensor(shape: [3, 2], scalars: u.flatMap { a in v.map { a * $0 } })
        XCTAssertEqual(MatrixNorms.spectral(r), 5 * 2.0.squareRoot(), accuracy: 1e-5)
        // A random matrix: σ_max² is the largest eigenvalue of WᵀW, so ‖W v‖ ≤ σ_max for random unit v,
        // and σ_max ≤ ‖W‖_F ≤ √rank · σ_max.
        var rng = SeededGenerator(seed: 3)
        let w = Tensor.randomNormal([7, 5], using: &rng)
        let s = MatrixNorms.spectral(w), f = MatrixNorms.frobenius(w)
        XCTAssertLessThanOrEqual(s, f + 1e-9); XCTAssertGreaterThanOrEqual(s * 5.0.squareRoot(), f - 1e-9)
        // Wide and tall shapes against an independent route: plain power iteration on WᵀW, written out here.
        for shape in [[9, 23], [23, 9]] {
            let m = Tensor.randomNormal(shape, using: &rng)
            XCTAssertEqual(MatrixNorms.spectral(m), powerIteration(m), accuracy: 1e-9 * powerIteration(m), "\(shape)")
        }
        XCTAssertEqual(MatrixNorms.spectral(Tensor(shape: [2, 2], scalars: [0, 0, 0, 0])), 0)
    }

    /// σ_max by 5,000 steps of power iteration in Float64, scalar loops.
    func powerIteration(_ w: Tensor) -> Double {
        let o = w.shape[0], n = w.shape[1], a = w.scalars.map(Double.init)
        var v = (0..<n).map { 1 + Double($0 % 7) / 10 }, sigma = 0.0
        for _ in 0..<5000 {
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            v = v.map { $0 / norm }
            let u = (0..<o).map { r in (0..<n).reduce(0.0) { $0 + a[r * n + $1] * v[$1] } }
            sigma = u.reduce(0) { $0 + $1 * $1 }.squareRoot()
            v = (0..<n).map { j in (0..<o).reduce(0.0) { $0 + a[$1 * n + j] * u[$1] } }
        }
        return sigma
    }

    static let config = ModelConfig.llamaStyle(vocabSize: 23, hiddenSize: 16, intermediateSize: 24, layerCount: 3,
                                               headCount: 4, kvHeadCount: 2, maxPositions: 64, ropeBase: 10_000)

    /// Scaling one W_down by 2 is the only change found; both norm ratios are 2 and ‖ΔW‖_F = ‖W0‖_F.
    func testChangesFindsTheEditedMatrix() throws {
        let original = TransformerModel(config: Self.config, weights: .random(Self.config, seed: 2, std: 0.3))
        var edited = original
        edited.weights.blocks[1].ffnDown = WeightMatrix(edited.weights.blocks[1].ffnDown.dequantized() * 2)
        let c = try MatrixNorms.changes(original: original, edited: edited)
        XCTAssertEqual(c.count, 1)
        XCTAssertEqual(c.first?.layer, 1); XCTAssertEqual(c.first?.role, "ffnDown")
        XCTAssertEqual(c.first?.frobeniusRatio ?? 0, 2, accuracy: 1e-6)
        XCTAssertEqual(c.first?.spectralRatio ?? 0, 2, accuracy: 1e-5)
        XCTAssertEqual(c.first?.deltaFrobenius ?? 0, c.first?.frobenius0 ?? -1, accuracy: 1e-5)
        XCTAssertTrue(try MatrixNorms.changes(original: original, edited: original).isEmpty)
    }

    /// With W_down of layer 0 zeroed its MLP adds nothing: share 0. Otherwise the share of layer 1 equals a
    /// hand computation from the captured key and block output: ‖key·W_downᵀ‖ / ‖h‖ per token, averaged.
    func testResidualShare() throws {
        var m = TransformerModel(config: Self.config, weights: .random(Self.config, seed: 5, std: 0.3))
        m.weights.blocks[0].ffnDown = WeightMatrix(m.weights.blocks[0].ffnDown.dequantized() * 0)
        let seqs = [[1, 2, 3, 4], [5, 6]]
        let share = try ResidualShare.measure(m, layers: [0, 1], sequences: seqs)
        XCTAssertEqual(share[0] ?? -1, 0, accuracy: 1e-12)
        // Reference: block outputs of layers 0 and 1; layer 1's MLP output is h1 − (h0 + attention(h0)), so
        // compute it from the key directly in Float64.
        let batch = RowBatch(seqs)
        var hooks = ForwardHooks(captureKeys: [1], captureBlockOutputs: [1])
        var none: [KVCache]? = nil
        _ = m.run(m.embed(batch), layers: 0..<2, batch: batch, caches: &none, hooks: &hooks)
        let key = try XCTUnwrap(hooks.keys[1]), h = try XCTUnwrap(hooks.blockOutputs[1])
        let w = m.weights.blocks[1].ffnDown.dequantized(), d = 16, f = 24
        var sum = 0.0
        for r in 0..<6 {
            var mm = 0.0, hh = 0.0
            for i in 0..<d {
                var x = 0.0
                for j in 0..<f { x += Double(w.scalars[i * f + j]) * Double(key.scalars[r * f + j]) }
                mm += x * x; hh += Double(h.scalars[r * d + i]) * Double(h.scalars[r * d + i])
            }
            sum += (mm / hh).squareRoot()
        }
        XCTAssertEqual(share[1] ?? -1, sum / 6, accuracy: 1e-5)
        XCTAssertThrowsError(try ResidualShare.measure(m, layers: [3], sequences: seqs))
    }

    /// Sequence probability exp(Σ log p) and geometric-mean token probability: tokens (1/2, 1/2) give 1/4 and
    /// 1/2; a one-token 0.8 gives 0.8 and 0.8; means over the two.
    func testOverfittingAggregate() {
        let a = TargetScore(tokenLogProbs: [Float(log(0.5)), Float(log(0.5))], tokenCorrect: [true, true])
        let b = TargetScore(tokenLogProbs: [Float(log(0.8))], tokenCorrect: [true])
        let s = Overfitting.aggregate(edited: [a, b], knownByOriginal: [b])
        XCTAssertEqual(s.editedNewProbability, (0.25 + 0.8) / 2, accuracy: 1e-6)
        XCTAssertEqual(s.editedNewTokenProbability, (0.5 + 0.8) / 2, accuracy: 1e-6)
        XCTAssertEqual(s.originalKnownProbability, 0.8, accuracy: 1e-6)
        XCTAssertEqual(s.editedFacts, 2); XCTAssertEqual(s.knownFacts, 1)
    }
}
