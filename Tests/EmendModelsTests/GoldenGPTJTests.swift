import XCTest
import EmendCore
import EmendTestSupport
@testable import EmendModels

/// The GPT-J family against `shared/golden/gptj-tiny-random` (a random-weight `GPTJForCausalLM` run by Hugging Face
/// transformers 5.25 in float32: logits at every position, hidden states and 12 greedy tokens for 4 id sequences;
/// see its README), loaded from its Hugging Face folder and from a GGUF written here with llama.cpp's names.
final class GoldenGPTJTests: XCTestCase {
    static var folder: URL { TestPaths.shared.appendingPathComponent("golden/gptj-tiny-random") }
    static let lengths = [1, 7, 31, 100]

    /// The model as a Hugging Face folder: its config.json and model.safetensors alone (the fixture's folder also
    /// holds golden.safetensors, which a folder without an index would read as a shard).
    func modelFolder() throws -> URL {
        guard TestPaths.exists(Self.folder.appendingPathComponent("model.safetensors")) else {
            throw XCTSkip("shared/golden/gptj-tiny-random not found beside the repository")
        }
        let dir = makeTemporaryFolder(self).appendingPathComponent("gptj-tiny-random")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: Self.folder.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        return dir
    }

    func loadModel() throws -> TransformerModel { try TransformerModel.load(.huggingFace(try modelFolder())) }

    func golden() throws -> SafeTensorsFile { try SafeTensorsFile(url: Self.folder.appendingPathComponent("golden.safetensors")) }

    /// config.json read as the README describes the model: V 512, D 96, 3 blocks, 4 heads of 24, rotary 8 of 24
    /// (interleaved), F 384, LayerNorm 1e-5, parallel block, untied head with a bias.
    func testLoad_ConfigFromConfigJSON() throws {
        let c = try loadModel().config
        XCTAssertEqual(c.architecture, "gptj")
        XCTAssertEqual([c.vocabSize, c.hiddenSize, c.layerCount, c.headCount, c.kvHeadCount, c.headDim, c.intermediateSize],
                       [512, 96, 3, 4, 4, 24, 384])
        XCTAssertEqual(c.rotaryDim, 8)
        XCTAssertEqual(c.ropeConvention, .interleaved)
        XCTAssertEqual(c.block, .parallel)
        XCTAssertEqual(c.activation, .geluTanh)
        XCTAssertEqual(c.normEps, 1e-5)
        XCTAssertFalse(c.tiedEmbeddings)
        XCTAssertTrue(c.outputBias)
    }

    /// Logits at every position (abs 1e-3 and relative L2 < 1e-3) and every hidden row at every position (rel 1e-5 or
    /// abs 2e-3): the tolerances of the SmolLM2 golden test. Row 0 is the embedding, row k the output of block k−1,
    /// the last the final LayerNorm's output (transformers' convention).
    func testForward_MatchesGoldenLogitsAndHiddenStates() throws {
        let m = try loadModel()
        let g = try golden()
        let c = m.config, v = c.vocabSize, d = c.hiddenSize
        var worstLogit: Float = 0, worstHidden: Float = 0
        for (s, t) in Self.lengths.enumerated() {
            let ids = try g.integers("s\(s).input_ids")
            XCTAssertEqual(ids.count, t)
            var hooks = ForwardHooks(captureBlockOutputs: Set(0..<c.layerCount))
            var none: [KVCache]? = nil
            let batch = RowBatch([ids])
            let h = m.run(m.embed(batch), layers: 0..<c.layerCount, batch: batch, caches: &none, hooks: &hooks)
            let normed = m.finalNorm(h)
            let logits = m.outputLogits(normed)
            let want = try g.tensor("s\(s).logits").reshaped([t, v])
            let diff = (logits - want).maxAbs(), rel = (logits - want).norm() / want.norm()
            worstLogit = max(worstLogit, diff)
            XCTAssertLessThan(diff, 1e-3, "s\(s) logits: max |Δ| \(diff)")
            XCTAssertLessThan(rel, 1e-3, "s\(s) logits relative L2 \(rel)")
            let hidden = try g.tensor("s\(s).hidden").reshaped([c.layerCount + 1, t, d])
            let rows = [m.embed(batch)] + (0..<(c.layerCount - 1)).map { hooks.blockOutputs[$0]! } + [normed]
            for (i, r) in rows.enumerated() {
                let w = hidden.sliced(axis: 0, i..<(i + 1)).reshaped([t, d])
                for p in 0..<t {
                    let dr = r.rows(p..<(p + 1)) - w.rows(p..<(p + 1))
                    worstHidden = max(worstHidden, dr.maxAbs())
                    XCTAssertTrue(dr.maxAbs() < 2e-3 || dr.norm() / w.rows(p..<(p + 1)).norm() < 1e-5,
                                  "s\(s) hidden row \(i) position \(p): max |Δ| \(dr.maxAbs())")
                }
            }
            XCTAssertEqual(logits.argmaxLast(), want.argmaxLast(), "s\(s) argmax")
        }
        print("GPT-J golden: max |Δlogit| \(worstLogit), max |Δhidden| \(worstHidden)")
    }

    /// 12 greedy tokens (KV cache, no stop at EOS) identical to transformers' for the 4 sequences.
    func testGenerate_GreedyMatchesGolden() throws {
        let m = try loadModel()
        let g = try golden()
        let prompts = try Self.lengths.indices.map { try g.integers("s\($0).input_ids") }
        let out = m.generate(prompts, maxTokens: 12)
        for s in prompts.indices { XCTAssertEqual(out[s], try g.integers("s\(s).greedy_ids"), "s\(s)") }
    }

    /// dNLL/dδ for δ added to block 0's output at position 3 of the 7-token sequence, through blocks 1–2, the final
    /// LayerNorm and the biased head (the autograd tape's ops, whose VJPs are blockBackward and outputBackward), equals
    /// central differences of the Float64 plain-loop reference (NaiveDecoder64) on the golden weights.
    func testBackward_DeltaGradientMatchesFiniteDifferencesOnGoldenWeights() throws {
        try TapeModelTests.assertTapeGradientMatchesReference(try loadModel(), ids: try golden().integers("s1.input_ids"),
                                                              layer: 0, pos: 3, "gptj-tiny-random")
    }

    // MARK: - GGUF

    /// The golden weights written as a GGUF `gptj` file the way llama.cpp's converter names them (its tensor map:
    /// transformer.wte → token_embd, h.{l}.ln_1 → blk.{l}.attn_norm, attn.q_proj → attn_q, attn.out_proj →
    /// attn_output, mlp.fc_in → ffn_up, mlp.fc_out → ffn_down, ln_f → output_norm, lm_head → output) and its keys.
    func writeGGUF(to url: URL) throws {
        let st = try SafeTensorsFile(url: Self.folder.appendingPathComponent("model.safetensors"))
        let renames = [("transformer.wte", "token_embd"), ("transformer.ln_f", "output_norm"), ("lm_head", "output"),
                       ("transformer.h.", "blk."), (".ln_1", ".attn_norm"), (".attn.q_proj", ".attn_q"),
                       (".attn.k_proj", ".attn_k"), (".attn.v_proj", ".attn_v"), (".attn.out_proj", ".attn_output"),
                       (".mlp.fc_in", ".ffn_up"), (".mlp.fc_out", ".ffn_down")]
        let tensors = try st.names.sorted().map { name -> GGUFWriter.TensorData in
            let t = try st.tensor(name)
            let gguf = renames.reduce(name) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
            return GGUFWriter.TensorData(name: gguf, dims: t.shape.reversed(), type: .f32, bytes: GGUFWriter.encode(t.scalars, as: .f32))
        }
        try GGUFWriter.write(metadata: [
            ("general.architecture", .string("gptj")), ("general.name", .string("gptj-tiny-random")),
            ("gptj.context_length", .uint32(256)), ("gptj.embedding_length", .uint32(96)), ("gptj.block_count", .uint32(3)),
            ("gptj.feed_forward_length", .uint32(384)), ("gptj.attention.head_count", .uint32(4)),
            ("gptj.rope.dimension_count", .uint32(8)), ("gptj.attention.layer_norm_epsilon", .float32(1e-5)),
        ], tensors: tensors, to: url)
    }

    /// The GGUF loads to the same config (but the context length it states) and the same logits, bit for bit, as the
    /// Hugging Face folder; an edit of blk.1.ffn_down exported as GGUF replaces exactly that tensor and reloads to
    /// the edited model's logits, bit for bit; exported as a Hugging Face folder, to the same weights and config.
    func testGGUF_LoadsAsTheFolderAndRoundTripsAnEdit() throws {
        let hf = try loadModel()
        let dir = makeTemporaryFolder(self)
        let url = dir.appendingPathComponent("gptj-tiny.gguf")
        try writeGGUF(to: url)
        var m = try TransformerModel.load(.gguf(url))
        var want = hf.config
        want.maxPositions = 256
        XCTAssertEqual(m.config, want)
        let ids = try golden().integers("s2.input_ids")
        XCTAssertEqual(m.logits([ids])[0].scalars, hf.logits([ids])[0].scalars)

        var rng = SeededGenerator(seed: 5)
        m.weights.blocks[1].ffnDown += Tensor.randomNormal(m.weights.blocks[1].ffnDown.shape, std: 0.05, using: &rng)
        let out = dir.appendingPathComponent("edited.gguf")
        XCTAssertEqual(try m.export(to: out, format: .gguf, dtype: .f32).writtenTensors, ["blk.1.ffn_down.weight"])
        let back = try TransformerModel.load(.gguf(out))
        XCTAssertEqual(back.logits([ids])[0].scalars, m.logits([ids])[0].scalars)
        XCTAssertNotEqual(back.logits([ids])[0].scalars, hf.logits([ids])[0].scalars)

        let folder = dir.appendingPathComponent("edited-hf")
        try m.export(to: folder, format: .safetensors)
        let reread = try TransformerModel.load(.huggingFace(folder))
        XCTAssertEqual(reread.config, m.config)
        for role in TensorRole.allCases {
            for l in 0..<(role.isPerBlock ? m.config.layerCount : 1) {
                XCTAssertEqual(reread.weights.tensor(for: role, layer: l), m.weights.tensor(for: role, layer: l), "\(role) \(l)")
            }
        }
        let names = try SafeTensorsFile(url: folder.appendingPathComponent("model.safetensors")).names
        XCTAssertEqual(Set(names), Set(try SafeTensorsFile(url: Self.folder.appendingPathComponent("model.safetensors")).names))
    }
}
