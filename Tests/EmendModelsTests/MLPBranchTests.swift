import XCTest
import EmendCore
@testable import EmendModels

/// The MLP branch through a post-norm and its inverse (TransformerModel+MLPBranch.swift), by closed-form identities of
/// RMSNorm: n(u) = g ⊙ u / ρ(u) is scale-invariant and its image is { g ⊙ v : rms(v) = 1 } (up to ε).
final class MLPBranchTests: XCTestCase {
    static let config: ModelConfig = {
        var c = ModelConfig.gemma3Style(vocabSize: 11, hiddenSize: 12, intermediateSize: 16, layerCount: 2, headCount: 2,
                                        kvHeadCount: 1, headDim: 4, maxPositions: 16, slidingWindow: 4)
        c.normEps = 1e-10
        return c
    }()

    func model() -> TransformerModel {
        var w = ModelWeights.random(Self.config, seed: 3)
        var rng = SeededGenerator(seed: 4)
        w.blocks[1].ffnPostNorm = Tensor.randomNormal([12], mean: 1, std: 0.4, using: &rng)
        return TransformerModel(config: Self.config, weights: w)
    }

    /// For a branch value n can produce, y* = n(u + δ), the inverse finds u* with n(u*) = y*; and u* is the point of
    /// the ray through u + δ nearest u (so never farther from u than u + δ is).
    func testInverse_ReachesEveryReachableBranch() {
        let m = model()
        var rng = SeededGenerator(seed: 5)
        let u = Tensor.randomNormal([3, 12], std: 2, using: &rng), delta = Tensor.randomNormal([3, 12], std: 1, using: &rng)
        let wanted = m.mlpBranch(1, u + delta)
        let uStar = m.mlpOutputs(1, reaching: wanted, from: u)
        XCTAssertLessThan((m.mlpBranch(1, uStar) - wanted).maxAbs(), 1e-5)
        for r in 0..<3 {
            XCTAssertLessThanOrEqual((uStar.rows(r..<(r + 1)) - u.rows(r..<(r + 1))).norm(), delta.rows(r..<(r + 1)).norm() * 1.0001)
        }
    }

    /// An unreachable y* lands on the image point nearest it: on the image (rms(n/g) = 1), and no nearby image point
    /// (random moves along the constraint) is closer to y*, a local-optimality check independent of the solver.
    /// Without a post-norm the branch is u itself and the inverse is the identity.
    func testInverse_ProjectsUnreachableAndIsIdentityWithoutNorm() {
        let m = model()
        let g = m.weights.blocks[1].ffnPostNorm!
        var rng = SeededGenerator(seed: 6)
        let u = Tensor.randomNormal([1, 12], std: 2, using: &rng)
        let wanted = m.mlpBranch(1, u) * 2 + Tensor.randomNormal([1, 12], std: 1, using: &rng)
        let got = m.mlpBranch(1, m.mlpOutputs(1, reaching: wanted, from: u))
        let v = (0..<12).map { Double(got.scalars[$0] / g.scalars[$0]) }
        XCTAssertEqual(v.reduce(0) { $0 + $1 * $1 } / 12, 1, accuracy: 1e-4, "on the image")
        let best = (got - wanted).norm()
        for _ in 0..<500 {
            let noise = Tensor.randomNormal([12], std: 0.05, using: &rng).scalars.map(Double.init)
            var w = zip(v, noise).map { $0 + $1 }
            let rms = (w.reduce(0) { $0 + $1 * $1 } / 12).squareRoot()
            w = w.map { $0 / rms }
            let other = Tensor(shape: [1, 12], scalars: (0..<12).map { Float(w[$0]) * g.scalars[$0] })
            XCTAssertGreaterThanOrEqual((other - wanted).norm(), best * (1 - 1e-5))
        }
        var noNorm = m
        noNorm.weights.blocks[1].ffnPostNorm = nil
        XCTAssertEqual(noNorm.mlpOutputs(1, reaching: wanted, from: u).scalars, wanted.scalars)
        XCTAssertEqual(noNorm.mlpBranch(1, u).scalars, u.scalars)
    }

    /// mlpBranchBackward against central differences of Σ n(u) ⊙ R.
    func testBackward_MatchesFiniteDifferences() {
        let m = model()
        var rng = SeededGenerator(seed: 7)
        let u = Tensor.randomNormal([2, 12], std: 1.5, using: &rng), r = Tensor.randomNormal([2, 12], using: &rng)
        let grad = m.mlpBranchBackward(1, u, dBranch: r)
        let eps: Float = 1e-2
        for i in 0..<u.count {
            var up = u, down = u
            up.scalars[i] += eps; down.scalars[i] -= eps
            let fd = ((m.mlpBranch(1, up) * r).sum() - (m.mlpBranch(1, down) * r).sum()) / (2 * eps)
            XCTAssertEqual(grad.scalars[i], fd, accuracy: 2e-3 + 1e-2 * abs(fd), "component \(i)")
        }
    }
}
