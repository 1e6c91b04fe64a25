import XCTest
import EmendCore
import EmendTestSupport
@testable import EmendModels

/// The default model (SmolLM2-135M-Instruct, Q4_1 GGUF) against the golden outputs of an independent
/// implementation (Hugging Face transformers, float32; `shared/golden/smollm2-135m-instruct-q4_1/README.md`).
final class GoldenModelTests: XCTestCase {
    nonisolated(unsafe) static var cached: TransformerModel?

    func loadModel() throws -> TransformerModel {
        guard TestPaths.exists(TestPaths.defaultModel) else { throw XCTSkip("default model not installed (run make setup)") }
        guard TestPaths.exists(TestPaths.golden) else { throw XCTSkip("shared/golden not found beside the repository") }
        if let m = Self.cached { return m }
        let m = try TransformerModel.load(.gguf(TestPaths.defaultModel))
        Self.cached = m
        return m
    }

    func golden() throws -> SafeTensorsFile { try SafeTensorsFile(url: TestPaths.golden.appendingPathComponent("logits.safetensors")) }

    /// Config read from GGUF metadata matches the README's description of the file.
    func testLoad_ConfigFromMetadata() throws {
        let c = try loadModel().config
        XCTAssertEqual(c.architecture, "llama")
        XCTAssertEqual([c.layerCount, c.hiddenSize, c.intermediateSize, c.headCount, c.kvHeadCount, c.headDim, c.vocabSize],
                       [30, 576, 1536, 9, 3, 64, 49152])
        XCTAssertEqual(c.ropeBase, 100_000)
        XCTAssertTrue(c.tiedEmbeddings)
    }

    /// Last-position logits (abs 1e-3 and rel. L2 < 1e-3), every hidden row (rel 1e-5 or abs 2e-3), token log-probs
    /// (abs 2e-4) and argmax at every position, for the 8 golden prompts.
    func testForward_MatchesGoldenLogitsAndHiddenStates() throws {
        let m = try loadModel()
        let g = try golden()
        for p in 0..<8 {
            let ids = try g.integers("p\(p).input_ids")
            var hooks = ForwardHooks(captureBlockOutputs: Set(0..<30))
            var none: [KVCache]? = nil
            let batch = RowBatch([ids])
            let h = m.run(m.embed(batch), layers: 0..<30, batch: batch, caches: &none, hooks: &hooks)
            let normed = m.finalNorm(h)
            let logits = m.outputLogits(normed)
            let t = ids.count, v = 49152
            // Last-position logits.
            let want = try g.tensor("p\(p).logits")
            let got = logits.rows((t - 1)..<t).reshaped([v])
            let rel = (got - want).norm() / want.norm()
            XCTAssertLessThan((got - want).maxAbs(), 1e-3, "p\(p) logits")
            XCTAssertLessThan(rel, 1e-3, "p\(p) logits relative L2")
            // Hidden rows: embedding, every block output, final norm, at the last position.
            let hidden = try g.tensor("p\(p).hidden")
            var rows: [Tensor] = [m.embed(batch).rows((t - 1)..<t)]
            for l in 0..<30 { rows.append(hooks.blockOutputs[l]!.rows((t - 1)..<t)) }
            rows.append(normed.rows((t - 1)..<t))
            for (i, r) in rows.enumerated() {
                let w = hidden.rows(i..<(i + 1))
                let diff = (r.reshaped([576]) - w.reshaped([576]))
                XCTAssertTrue(diff.maxAbs() < 2e-3 || diff.norm() / w.norm() < 1e-5, "p\(p) hidden row \(i): max |Δ| \(diff.maxAbs())")
            }
            // Token log-probs and argmax at every position.
            let lp = logits.logSoftmax()
            let wantLP = try g.tensor("p\(p).token_logprobs")
            for i in 0..<(t - 1) { XCTAssertEqual(lp.scalars[i * v + ids[i + 1]], wantLP.scalars[i], accuracy: 2e-4, "p\(p) logprob \(i)") }
            XCTAssertEqual(logits.argmaxLast(), try g.integers("p\(p).argmax"), "p\(p) argmax")
        }
    }

    /// Greedy continuations (20 tokens, no stop at EOS) are identical token for token, with the KV cache.
    func testGenerate_GreedyMatchesGolden() throws {
        let m = try loadModel()
        let g = try golden()
        let prompts = try (0..<8).map { try g.integers("p\($0).input_ids") }
        let out = m.generate(prompts, maxTokens: 20)
        for p in 0..<8 { XCTAssertEqual(out[p], try g.integers("p\(p).greedy_ids"), "p\(p)") }
    }

    /// MLP keys (down-projection inputs) at layers 4–8 at the subject's last token match (abs 1e-4).
    func testKeys_MatchGoldenMLPKeys() throws {
        let m = try loadModel()
        let g = try SafeTensorsFile(url: TestPaths.golden.appendingPathComponent("mlp_keys.safetensors"))
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: TestPaths.golden.appendingPathComponent("mlp_keys.json")))
        let text = String(describing: meta)
        for (k, idx) in [(0, 8), (1, 3), (2, 13)] {
            XCTAssertTrue(text.contains("\(idx)"))
            let ids = try g.integers("k\(k).input_ids")
            var hooks = ForwardHooks(captureKeys: Set(4...8))
            var none: [KVCache]? = nil
            let batch = RowBatch([ids])
            _ = m.run(m.embed(batch), layers: 0..<9, batch: batch, caches: &none, hooks: &hooks)
            let want = try g.tensor("k\(k).keys"), wantLast = try g.tensor("k\(k).keys_last_token")
            for (i, l) in (4...8).enumerated() {
                let key = hooks.keys[l]!
                let got = key.rows(idx..<(idx + 1)).reshaped([1536])
                XCTAssertLessThan((got - want.rows(i..<(i + 1)).reshaped([1536])).maxAbs(), 1e-4, "k\(k) layer \(l)")
                let last = key.rows((ids.count - 1)..<ids.count).reshaped([1536])
                XCTAssertLessThan((last - wantLast.rows(i..<(i + 1)).reshaped([1536])).maxAbs(), 1e-4, "k\(k) layer \(l) last token")
            }
        }
    }
}
