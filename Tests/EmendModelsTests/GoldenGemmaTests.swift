import XCTest
import EmendCore
import EmendTestSupport
@testable import EmendModels

/// Gemma-3-270M (base, GGUF Q4_K_M) against the golden outputs of an independent implementation: Hugging Face
/// transformers' `Gemma3ForCausalLM` in float32 reading the same file (`shared/golden/gemma3-270m/README.md`).
/// Tolerances are the SmolLM2 golden tests' (GoldenModelTests).
final class GoldenGemmaTests: XCTestCase {
    nonisolated(unsafe) static var cached: (TransformerModel, any Tokenizer)?

    static var golden: URL { TestPaths.shared.appendingPathComponent("golden/gemma3-270m") }

    func load() throws -> (TransformerModel, any Tokenizer) {
        guard TestPaths.exists(TestPaths.gemmaModel) else { throw XCTSkip(TestPaths.gemmaMissing) }
        guard TestPaths.exists(Self.golden) else { throw XCTSkip("shared/golden/gemma3-270m not found beside the repository") }
        if let c = Self.cached { return c }
        let file = try GGUFFile(url: TestPaths.gemmaModel)
        let c = (try TransformerModel.load(.gguf(TestPaths.gemmaModel)), try TokenizerLoader.tokenizer(gguf: file))
        Self.cached = c
        return c
    }

    func logits() throws -> SafeTensorsFile { try SafeTensorsFile(url: Self.golden.appendingPathComponent("logits.safetensors")) }

    /// The config read from GGUF metadata: the README's description, plus what llama.cpp and transformers fix for
    /// Gemma-3 (local RoPE base 10,000, every 6th layer global, scale 1/√256, √D embedding scale).
    func testConfig_FromMetadata() throws {
        let c = try load().0.config
        XCTAssertEqual(c.architecture, "gemma3")
        XCTAssertEqual([c.layerCount, c.hiddenSize, c.intermediateSize, c.headCount, c.kvHeadCount, c.headDim, c.vocabSize],
                       [18, 640, 2048, 4, 1, 256, 262_144])
        XCTAssertEqual(c.ropeBase, 1_000_000)
        XCTAssertEqual(c.slidingRopeBase, 10_000)
        XCTAssertEqual(c.slidingWindow, 512)
        XCTAssertEqual((0..<18).filter { !c.isSliding($0) }, [5, 11, 17])
        XCTAssertEqual(c.attentionScale, 1 / 16)
        XCTAssertEqual(c.normEps, 1e-6, accuracy: 1e-12)
        XCTAssertTrue(c.tiedEmbeddings && c.qkNorm && c.postNorms && c.scaleEmbeddings)
        XCTAssertEqual(c.activation, .geluTanh)
    }

    /// Tokenization: ids with and without BOS, vocabulary strings and decoding of every golden entry, exactly.
    /// transformers parses control tokens written in the text (`<start_of_turn>`), so ids are compared with
    /// `parseSpecial: true`; the GGUF stores the runs-of-spaces pieces with real spaces where transformers shows "▁".
    func testTokenization_MatchesTransformers() throws {
        struct Entry: Decodable { var text: String; var ids: [Int]; var tokens: [String]; var ids_with_bos: [Int]; var decoded: String }
        struct File: Decodable { var entries: [Entry] }
        let (_, tok) = try load()
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: Self.golden.appendingPathComponent("tokenization.json")))
        XCTAssertGreaterThan(file.entries.count, 40)
        XCTAssertTrue(tok.addsBOS)
        XCTAssertEqual(tok.bosTokenId, 2)
        for e in file.entries {
            let ids = tok.encode(e.text, parseSpecial: true, continuing: false)
            XCTAssertEqual(ids, e.ids, "ids of \(e.text.debugDescription)")
            XCTAssertEqual(tok.withBOS(ids), e.ids_with_bos, "ids with BOS of \(e.text.debugDescription)")
            XCTAssertEqual(e.ids.map { (tok.tokenString($0) ?? "?").replacingOccurrences(of: " ", with: "\u{2581}") }, e.tokens,
                           "tokens of \(e.text.debugDescription)")
            XCTAssertEqual(tok.decode(e.ids), e.decoded, "decode of \(e.text.debugDescription)")
        }
    }

    /// Last-position logits (abs 1e-3 or relative L2 < 1e-3), every stored hidden row (rel 1e-5 or abs 2e-3), token
    /// log-probs (abs 2e-4) and argmax at every position, for the 8 golden prompts (one of 122 tokens).
    func testForward_MatchesGoldenLogitsAndHiddenStates() throws {
        let (m, _) = try load()
        let g = try logits()
        let v = 262_144, d = 640
        for p in 0..<8 {
            let ids = try g.integers("p\(p).input_ids")
            var hooks = ForwardHooks(captureBlockOutputs: Set(0..<18))
            var none: [KVCache]? = nil
            let batch = RowBatch([ids])
            let h = m.run(m.embed(batch), layers: 0..<18, batch: batch, caches: &none, hooks: &hooks)
            let normed = m.finalNorm(h)
            let logits = m.outputLogits(normed)
            let t = ids.count
            let want = try g.tensor("p\(p).logits")
            let got = logits.rows((t - 1)..<t).reshaped([v])
            let rel = (got - want).norm() / want.norm()
            XCTAssertTrue((got - want).maxAbs() < 1e-3 || rel < 1e-3, "p\(p) logits: max |Δ| \((got - want).maxAbs()), rel \(rel)")
            // Rows: the scaled embedding, blocks 0…16, the final norm (transformers' hidden_states).
            let hidden = try g.tensor("p\(p).hidden")
            var rows: [Tensor] = [m.embed(batch).rows((t - 1)..<t)]
            for l in 0..<17 { rows.append(hooks.blockOutputs[l]!.rows((t - 1)..<t)) }
            rows.append(normed.rows((t - 1)..<t))
            for (i, r) in rows.enumerated() {
                let w = hidden.rows(i..<(i + 1)).reshaped([d])
                let diff = r.reshaped([d]) - w
                XCTAssertTrue(diff.maxAbs() < 2e-3 || diff.norm() / w.norm() < 1e-5,
                              "p\(p) hidden row \(i): max |Δ| \(diff.maxAbs()), rel \(diff.norm() / w.norm())")
            }
            let lp = logits.logSoftmax()
            let wantLP = try g.tensor("p\(p).token_logprobs")
            for i in 0..<(t - 1) { XCTAssertEqual(lp.scalars[i * v + ids[i + 1]], wantLP.scalars[i], accuracy: 2e-4, "p\(p) logprob \(i)") }
            XCTAssertEqual(logits.argmaxLast(), try g.integers("p\(p).argmax"), "p\(p) argmax")
        }
    }

    /// Greedy continuations (20 tokens) are identical token for token, through the KV cache.
    func testGenerate_GreedyMatchesGolden() throws {
        let (m, _) = try load()
        let g = try logits()
        let prompts = try (0..<8).map { try g.integers("p\($0).input_ids") }
        let out = m.generate(prompts, maxTokens: 20)
        for p in 0..<8 { XCTAssertEqual(out[p], try g.integers("p\(p).greedy_ids"), "p\(p)") }
    }
}
