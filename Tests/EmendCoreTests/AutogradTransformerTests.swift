// A two-layer Llama-style decoder written once against the Variable API (as EmendModels will be),
// checked end to end: its loss against the independent Float64 loops of `naiveToyTransformerLoss`,
// and its gradients (embedding table, several weights, and the edit vector δ) against Float64
// central differences of that reference.

import XCTest
@testable import EmendCore
import EmendTestSupport

final class AutogradTransformerTests: XCTestCase {
    let config = ToyTransformerConfig()   // D 8, T 5, H 2, Hkv 1, Dh 4, F 12, V 11, L 2
    let tokens = [3, 7, 0, 10, 3]
    let targets = [7, 0, ignoreIndex, 3, 5]
    let deltaRows = [1, 3]

    /// The toy decoder on Variables: the same network as `naiveToyTransformerLoss`.
    /// - weights: by `config.weightShapes` names; delta: [D] added at rows `deltaRows` after layer 0
    /// - returns the mean cross-entropy, []
    func toyLoss(_ weights: [String: Variable], delta: Variable?) -> Variable {
        let c = config, t = tokens.count, group = c.heads / c.kvHeads
        let eps = Float(c.eps), base = Float(c.ropeBase), positions = Array(0..<t)
        func w(_ name: String) -> Variable { weights[name] ?? Variable(constant: Tensor.zeros([0])) }
        var h = w("embed").gatherRows(tokens)                                                  // [T, D]
        for l in 0..<c.layers {
            let x = h.rmsNormed(weight: w("l\(l).attnNorm"), eps: eps)                          // [T, D]
            let q = rope(linear(x, w("l\(l).wq")).reshaped([1, t, c.heads, c.headDim]),
                         positions: positions, base: base, convention: .halfSplit)
                .permuted([0, 2, 1, 3])                                                          // [1, H, T, Dh]
            let k = rope(linear(x, w("l\(l).wk")).reshaped([1, t, c.kvHeads, c.headDim]),
                         positions: positions, base: base, convention: .halfSplit)
                .permuted([0, 2, 1, 3]).repeatedKVHeads(groups: group)                           // [1, H, T, Dh]
            let v = linear(x, w("l\(l).wv")).reshaped([1, t, c.kvHeads, c.headDim])
                .permuted([0, 2, 1, 3]).repeatedKVHeads(groups: group)                           // [1, H, T, Dh]
            let scores = matmul(q, k, transposeB: true) * (1 / Float(c.headDim).squareRoot())    // [1, H, T, T]
            let probs = scores.addingMask(causalMask(queries: t)).softmax()
            let attn = matmul(probs, v).permuted([0, 2, 1, 3]).reshaped([t, c.heads * c.headDim]) // [T, H·Dh]
            h = h + linear(attn, w("l\(l).wo"))
            let m = h.rmsNormed(weight: w("l\(l).mlpNorm"), eps: eps)
            h = h + linear(linear(m, w("l\(l).wGate")).silu() * linear(m, w("l\(l).wUp")), w("l\(l).wDown"))
            if l == 0, let delta { h = h.addingRows(delta, at: deltaRows) }
        }
        let logits = linear(h.rmsNormed(weight: w("finalNorm"), eps: eps), w("lmHead"))          // [T, V]
        return crossEntropy(logits: logits, targets: targets)
    }

    /// Loss and gradients w.r.t. the embedding, attention/MLP/norm weights and δ vs Float64
    /// central differences on the independently written naive decoder.
    func testToyTransformer_GradientsMatchFiniteDifferences() throws {
        let weights = config.randomWeights(seed: 3)
        var rng = SeededGenerator(seed: 4)
        let delta = Tensor.randomNormal([config.width], std: 0.3, using: &rng)
        let trained = ["embed", "l0.wq", "l0.wk", "l0.attnNorm", "l1.wDown", "l1.wv", "finalNorm"]

        // Inference path: constants only, nothing recorded.
        let constantLoss = toyLoss(weights.mapValues { Variable(constant: $0) }, delta: Variable(constant: delta))
        XCTAssertNil(constantLoss.tape)

        let tape = Tape()
        var vars: [String: Variable] = [:]
        for (name, t) in weights { vars[name] = trained.contains(name) ? tape.parameter(t, name: name) : Variable(constant: t) }
        let deltaVar = tape.parameter(delta, name: "delta")
        let loss = toyLoss(vars, delta: deltaVar)
        XCTAssertEqual(loss.value, constantLoss.value, "recording changed the forward value")
        let grads = try tape.gradients(of: loss)

        let naiveWeights = weights.mapValues(Naive64.init)
        let naiveLoss = naiveToyTransformerLoss(config, weights: naiveWeights, tokens: tokens, targets: targets,
                                                delta: Naive64(delta), deltaRows: deltaRows)
        // Float32 forward through ~40 ops of O(1) values: 1e-4 relative is generous.
        XCTAssertEqual(Double(loss.value.scalar), naiveLoss, accuracy: 1e-4 * Swift.max(1, Swift.abs(naiveLoss)))

        // Every weight plus δ, as one list of Float64 inputs, for central differences.
        let names = trained + ["delta"]
        let inputs = names.map { $0 == "delta" ? Naive64(delta) : naiveWeights[$0] ?? Naive64(shape: [0], values: []) }
        func f(_ xs: [Naive64]) -> Double {
            var w = naiveWeights
            for (n, x) in zip(names, xs) where n != "delta" { w[n] = x }
            return naiveToyTransformerLoss(config, weights: w, tokens: tokens, targets: targets,
                                           delta: xs[names.count - 1], deltaRows: deltaRows)
        }
        for (k, name) in names.enumerated() {
            let numeric = centralDifferenceGradient(of: f, at: inputs, wrt: k)
            let variable = name == "delta" ? deltaVar : vars[name] ?? deltaVar
            let analytic = grads.gradient(variable).scalars.map(Double.init)
            let (worst, at) = maxAbsDifference(analytic, numeric.values)
            let scale = Swift.max(1e-2, numeric.values.map { Swift.abs($0) }.max() ?? 0)
            // Float32 backward through the whole network: ~1e-5 relative; 2e-3 flags any wrong VJP.
            XCTAssertLessThanOrEqual(worst / scale, 2e-3,
                                     "\(name) \(numeric.shape): max |diff| \(worst) at \(at) (scale \(scale)); "
                                     + firstPairs(analytic, numeric.values))
        }
        // Constant weights get no gradient at all.
        XCTAssertNil(grads[vars["l1.wq"] ?? deltaVar])
    }
}
