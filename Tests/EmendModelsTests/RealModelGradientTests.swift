import XCTest
import EmendCore
@testable import EmendModels

/// The editors' two real-model paths on SmolLM2-135M: the residual-δ gradient (blockForward(save:) →
/// outputBackward → blockBackward) against central differences of the Float32 forward pass, and the
/// "resume from block l with a cached prefix" forward against the full forward.
final class RealModelGradientTests: XCTestCase {
    static let layer = 8, position = 3

    /// Mean NLL of ids[1...] from logits [T, V], in Float64.
    func meanNLL(_ logits: Tensor, _ ids: [Int]) -> Double {
        let v = logits.dim(-1)
        var total = 0.0
        for t in 0..<(ids.count - 1) {
            let row = logits.scalars[(t * v)..<((t + 1) * v)].map(Double.init)
            let m = row.max() ?? 0
            total += m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) }) - row[ids[t + 1]]
        }
        return total / Double(ids.count - 1)
    }

    /// dNLL/dδ for δ added to block 8's output at the 4th token (p1, 10 tokens) matches central differences
    /// of the forward pass: the 5 largest components and the directional derivative along the gradient.
    func testDeltaGradient_MatchesFiniteDifferencesOnRealModel() throws {
        let m = try RealModelFixture.model()
        let ids = try RealModelFixture.promptIDs(1)
        let c = m.config, batch = RowBatch([ids]), t = ids.count, v = c.vocabSize
        var hooks = ForwardHooks(captureBlockOutputs: [Self.layer])
        var none: [KVCache]? = nil
        _ = m.run(m.embed(batch), layers: 0..<(Self.layer + 1), batch: batch, caches: &none, hooks: &hooks)
        let h8 = try XCTUnwrap(hooks.blockOutputs[Self.layer])
        let upper = (Self.layer + 1)..<c.layerCount

        // Analytic: forward with saves, then back through the head and blocks 29…9.
        var h = h8, saves: [BlockSaved] = [], hk = ForwardHooks()
        for l in upper {
            let (o, s) = m.blockForward(l, h, batch: batch, caches: &none, hooks: &hk, save: true)
            saves.append(try XCTUnwrap(s)); h = o
        }
        var dl = m.outputLogits(m.finalNorm(h)).softmax()
        for r in 0..<t { for j in 0..<v {
            dl.scalars[r * v + j] = r < t - 1 ? (dl.scalars[r * v + j] - (ids[r + 1] == j ? 1 : 0)) / Float(t - 1) : 0
        } }
        var g = m.outputBackward(dLogits: dl, x: h)
        for (i, l) in upper.enumerated().reversed() { g = m.blockBackward(l, dOut: g, saved: saves[i], batch: batch) }
        let grad = g.rows(Self.position..<(Self.position + 1)).scalars.map(Double.init)

        // Numeric: the plain forward from block 9 with δ added at the position.
        func loss(_ delta: [Double]) -> Double {
            var hk = ForwardHooks(), none: [KVCache]? = nil
            let x = h8.addingVector(Tensor(delta.map(Float.init)), toRows: [Self.position])
            let out = m.run(x, layers: upper, batch: batch, caches: &none, hooks: &hk)
            return meanNLL(m.outputLogits(m.finalNorm(out)), ids)
        }
        func central(_ direction: [Double], _ eps: Double) -> Double {
            (loss(direction.map { $0 * eps }) - loss(direction.map { -$0 * eps })) / (2 * eps)
        }
        // ε: the Float32 forward's noise in the loss is ~1e-6, so ε = 0.1 keeps noise/ε near 1e-5, under 1e-3
        // of the components checked (|g| ≥ 0.015); the curvature error (∝ ε²) is smaller still (measured:
        // ε = 0.01, 0.05, 0.2 agree to 1e-2, 1.4e-3, 3e-4).
        let eps = 0.1
        let top = grad.indices.sorted { abs(grad[$0]) > abs(grad[$1]) }.prefix(5)
        for j in top {
            var e = [Double](repeating: 0, count: grad.count); e[j] = 1
            let fd = central(e, eps)
            let rel = abs(grad[j] - fd) / abs(fd)
            XCTAssertLessThan(rel, 1e-2, "component \(j): analytic \(grad[j]) vs central difference \(fd)")
        }
        let norm = grad.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let fd = central(grad.map { $0 / norm }, eps)
        XCTAssertLessThan(abs(fd - norm) / norm, 1e-2, "directional derivative: |g| \(norm) vs central difference \(fd)")
    }

    /// Blocks 9…29 run on cached block-8 outputs of the suffix, over a KV cache of the 4-token prefix, give the
    /// full forward's logits on the suffix (relative L2 ≤ 1e-5).
    func testRunFromLayer_PrefixCacheEqualsFullForwardOnRealModel() throws {
        let m = try RealModelFixture.model()
        let ids = try RealModelFixture.promptIDs(1)
        let c = m.config, split = 4, layer = Self.layer
        var hooks = ForwardHooks(captureBlockOutputs: [layer])
        var none: [KVCache]? = nil
        let full = RowBatch([ids])
        let hFull = m.run(m.embed(full), layers: 0..<c.layerCount, batch: full, caches: &none, hooks: &hooks)
        let want = m.outputLogits(m.finalNorm(hFull)).rows(split..<ids.count)

        var caches: [KVCache]? = [KVCache(layers: c.layerCount, kvWidth: c.kvHeadCount * c.headDim)]
        let pre = RowBatch([Array(ids[..<split])])
        var h2 = ForwardHooks()
        _ = m.run(m.embed(pre), layers: 0..<c.layerCount, batch: pre, caches: &caches, hooks: &h2)
        let suffix = RowBatch([Array(ids[split...])], prefixes: [split])
        let start = try XCTUnwrap(hooks.blockOutputs[layer]).rows(split..<ids.count)
        let hSuffix = m.run(start, layers: (layer + 1)..<c.layerCount, batch: suffix, caches: &caches, hooks: &h2)
        let got = m.outputLogits(m.finalNorm(hSuffix))
        let rel = (got - want).norm() / want.norm()
        // Same ops on the same rows; only attention's summation split (cache vs in-batch keys) differs.
        XCTAssertLessThan(rel, 1e-5, "relative L2 \(rel), max |Δ| \((got - want).maxAbs())")
        XCTAssertEqual(got.argmaxLast(), want.argmaxLast())
    }
}
