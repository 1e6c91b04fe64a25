import XCTest
import EmendCore
@testable import EmendModels

/// Small random models, Llama-, GPT-2-, GPT-J- and Gemma-3-style, checked against the plain-loop Float64 reference.
final class TransformerModelTests: XCTestCase {
    static let llama = ModelConfig.llamaStyle(vocabSize: 23, hiddenSize: 16, intermediateSize: 24, layerCount: 3,
                                              headCount: 4, kvHeadCount: 2, maxPositions: 64, ropeBase: 10_000)
    static let gpt2 = ModelConfig.gpt2Style(vocabSize: 19, hiddenSize: 12, layerCount: 2, headCount: 3, maxPositions: 32)
    /// Parallel block, RoPE on 4 of each head's 8 dims (interleaved), biased head.
    static let gptj = ModelConfig.gptjStyle(vocabSize: 21, hiddenSize: 16, layerCount: 3, headCount: 2, rotaryDim: 4,
                                            maxPositions: 32)
    /// Gemma-3-style: QK-norm, post-norms, GeGLU, √D embedding scale, a sliding window of 3 on layers 0 and 2
    /// (layer 1 global, with another RoPE base), 1/√s logits scale with s ≠ Dh. Seven tokens reach past the window.
    static let gemma: ModelConfig = {
        var c = ModelConfig.gemma3Style(vocabSize: 25, hiddenSize: 16, intermediateSize: 24, layerCount: 3, headCount: 4,
                                        kvHeadCount: 2, headDim: 8, maxPositions: 64, normEps: 1e-6, ropeBase: 1_000, slidingWindow: 3)
        c.globalLayerEvery = 2
        c.slidingRopeBase = 50
        c.queryPreAttentionScalar = 6
        return c
    }()
    static let ids = [3, 7, 1, 0, 15, 9, 2]

    func model(_ c: ModelConfig, seed: UInt64 = 7) -> TransformerModel {
        var w = ModelWeights.random(c, seed: seed, std: 0.3)
        // Norm weights away from 1, so that a norm applied with the wrong weight (or not at all) shows.
        var rng = SeededGenerator(seed: seed + 1)
        for l in w.blocks.indices {
            for role in [TensorRole.attnQNorm, .attnKNorm, .attnPostNorm, .ffnPostNorm] {
                if let t = w.tensor(for: role, layer: l) { w.setTensor(Tensor.randomNormal(t.shape, mean: 1, std: 0.3, using: &rng), for: role, layer: l) }
            }
        }
        return TransformerModel(config: c, weights: w)
    }

    /// Forward logits of every block style equal the Float64 plain-loop reference (NaiveDecoder64).
    func testForward_MatchesNaiveFloat64() {
        for c in [Self.llama, Self.gpt2, Self.gptj, Self.gemma] {
            let m = model(c)
            let got = m.logits([Self.ids])[0]
            let want = NaiveDecoder64(c: c, w: m.weights).logits(Self.ids)
            var maxDiff: Double = 0
            for t in Self.ids.indices { for v in 0..<c.vocabSize {
                maxDiff = max(maxDiff, abs(Double(got.scalars[t * c.vocabSize + v]) - want[t][v]))
            } }
            XCTAssertLessThan(maxDiff, 1e-4, "\(c.architecture): max |Δlogit| \(maxDiff)")
        }
    }

    /// Sequences of different lengths in one batch give the same logits as one at a time (no padding leaks).
    func testForward_RaggedBatchEqualsSingle() {
        let m = model(Self.llama)
        let seqs = [[1, 2, 3], [4, 5, 6, 7, 8], [9]]
        let batched = m.logits(seqs)
        for (i, s) in seqs.enumerated() {
            let single = m.logits([s])[0]
            XCTAssertEqual(batched[i].shape, single.shape)
            for (a, b) in zip(batched[i].scalars, single.scalars) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        }
    }

    /// Generation with the KV cache equals greedy decoding by full recomputation at every step.
    func testGenerate_KVCacheEqualsFullRecompute() {
        for c in [Self.llama, Self.gpt2, Self.gptj, Self.gemma] {
            let m = model(c, seed: 11)
            let prompt = [1, 4, 2]
            let cached = m.generate([prompt], maxTokens: 8)[0]
            var seq = prompt, full: [Int] = []
            for _ in 0..<8 {
                let next = m.lastLogits([seq]).argmaxLast()[0]
                full.append(next); seq.append(next)
            }
            XCTAssertEqual(cached, full, c.architecture)
        }
    }

    /// Running blocks l+1…L from cached block-l outputs and a cached prefix equals the full forward.
    func testRunFromLayer_PrefixCacheEqualsFullForward() {
        for config in [Self.llama, Self.gptj, Self.gemma] {
            let m = model(config)
            let c = m.config
            let ids = Self.ids, split = 3, layer = 1
            // Full forward, recording block-`layer` outputs.
            var hooks = ForwardHooks(captureBlockOutputs: [layer])
            var none: [KVCache]? = nil
            let full = RowBatch([ids])
            let hFull = m.run(m.embed(full), layers: 0..<c.layerCount, batch: full, caches: &none, hooks: &hooks)
            let lFull = m.outputLogits(m.finalNorm(hFull))
            // Prefix: tokens before `split`, run through all blocks with a cache; but the suffix restarts at layer+1.
            let kvw = c.kvHeadCount * c.headDim
            var caches: [KVCache]? = [KVCache(layers: c.layerCount, kvWidth: kvw)]
            let pre = RowBatch([Array(ids[..<split])])
            var h2 = ForwardHooks()
            _ = m.run(m.embed(pre), layers: 0..<c.layerCount, batch: pre, caches: &caches, hooks: &h2)
            let suffix = RowBatch([Array(ids[split...])], prefixes: [split])
            let start = hooks.blockOutputs[layer]!.rows(split..<ids.count)
            let hSuffix = m.run(start, layers: (layer + 1)..<c.layerCount, batch: suffix, caches: &caches, hooks: &h2)
            let lSuffix = m.outputLogits(m.finalNorm(hSuffix))
            let want = lFull.rows(split..<ids.count)
            let rel = (lSuffix - want).norm() / want.norm()
            XCTAssertLessThan(rel, 1e-5, c.architecture)
        }
    }

    /// blockBackward + outputBackward give dNLL/dδ matching central differences on the Float64 reference.
    func testBackward_DeltaGradientMatchesFiniteDifferences() {
        for c in [Self.llama, Self.gpt2, Self.gptj, Self.gemma] {
            let m = model(c, seed: 5)
            let ids = Self.ids, layer = 0, pos = 2
            let batch = RowBatch([ids])
            // Forward with saves from layer+1.
            var hooks = ForwardHooks(captureBlockOutputs: [layer])
            var none: [KVCache]? = nil
            _ = m.run(m.embed(batch), layers: 0..<(layer + 1), batch: batch, caches: &none, hooks: &hooks)
            var h = hooks.blockOutputs[layer]!
            var saves: [BlockSaved] = []
            var hk = ForwardHooks()
            for l in (layer + 1)..<c.layerCount {
                let (o, s) = m.blockForward(l, h, batch: batch, caches: &none, hooks: &hk, save: true)
                saves.append(s!); h = o
            }
            let logits = m.outputLogits(m.finalNorm(h))
            // d mean NLL / d logits = (softmax − onehot) / (T−1) on rows 0..T-2.
            let t = ids.count, v = c.vocabSize
            var dl = logits.softmax()
            for r in 0..<t { for j in 0..<v { dl.scalars[r * v + j] = r < t - 1 ? (dl.scalars[r * v + j] - (ids[r + 1] == j ? 1 : 0)) / Float(t - 1) : 0 } }
            var g = m.outputBackward(dLogits: dl, x: h)
            for (i, l) in ((layer + 1)..<c.layerCount).enumerated().reversed() {
                g = m.blockBackward(l, dOut: g, saved: saves[i], batch: batch)
            }
            let analytic = g.rows(pos..<(pos + 1)).scalars
            let fd = NaiveDecoder64(c: c, w: m.weights).deltaGradient(ids, layer: layer, pos: pos)
            for (j, want) in fd.enumerated() {
                XCTAssertEqual(Double(analytic[j]), want, accuracy: 1e-4 + 1e-3 * abs(want), "\(c.architecture) component \(j)")
            }
        }
    }
}
