import XCTest
import EmendCore
@testable import EmendModels

/// Small random checkpoints written in Hugging Face's own layout (names, Conv1D [in, out] storage, fused
/// c_attn, shards with an index), loaded with `TransformerModel.load(.huggingFace)`, and checked against
/// NaiveDecoder64 run on weights the test rearranges itself from the arrays it wrote.
final class HuggingFaceModelTests: XCTestCase {
    // GPT-2: D 16, 2 layers, 4 heads, V 50, P 32, F 64.
    static let d = 16, layers = 2, heads = 4, vocab = 50, positions = 32, ffn = 64
    static let ids = [3, 41, 7, 0, 19, 8, 33, 2]

    // MARK: - GPT-2 checkpoint, built by hand

    /// GPT-2 arrays by HF name (with `transformer.`), in HF storage: Conv1D weights are [in, out].
    func gpt2Arrays(seed: UInt64) -> [(name: String, tensor: Tensor)] {
        var rng = SeededGenerator(seed: seed)
        let d = Self.d, f = Self.ffn
        func r(_ shape: [Int], _ std: Float = 0.3) -> Tensor { Tensor.randomNormal(shape, std: std, using: &rng) }
        func gain(_ n: Int) -> Tensor { Tensor.randomNormal([n], mean: 1, std: 0.1, using: &rng) }
        var out: [(String, Tensor)] = [("transformer.wte.weight", r([Self.vocab, d])), ("transformer.wpe.weight", r([Self.positions, d], 0.1))]
        for l in 0..<Self.layers {
            let p = "transformer.h.\(l)."
            out += [(p + "ln_1.weight", gain(d)), (p + "ln_1.bias", r([d], 0.1)),
                    (p + "attn.c_attn.weight", r([d, 3 * d])), (p + "attn.c_attn.bias", r([3 * d], 0.1)),
                    (p + "attn.c_proj.weight", r([d, d])), (p + "attn.c_proj.bias", r([d], 0.1)),
                    (p + "ln_2.weight", gain(d)), (p + "ln_2.bias", r([d], 0.1)),
                    (p + "mlp.c_fc.weight", r([d, f])), (p + "mlp.c_fc.bias", r([f], 0.1)),
                    (p + "mlp.c_proj.weight", r([f, d])), (p + "mlp.c_proj.bias", r([d], 0.1))]
        }
        out += [("transformer.ln_f.weight", gain(d)), ("transformer.ln_f.bias", r([d], 0.1))]
        return out
    }

    static let gpt2ConfigJSON = """
        {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 50, "n_embd": 16, "n_layer": 2,
         "n_head": 4, "n_positions": 32, "n_ctx": 32, "n_inner": null, "layer_norm_epsilon": 1e-05,
         "activation_function": "gelu_new", "resid_pdrop": 0.1}
        """

    /// `ModelWeights` in Emend's [out, in] layout, rearranged from the HF arrays with plain loops.
    func gpt2Reference(_ arrays: [(name: String, tensor: Tensor)]) -> ModelWeights {
        let a = Dictionary(uniqueKeysWithValues: arrays.map { ($0.name, $0.tensor) })
        let d = Self.d
        func get(_ n: String) -> Tensor { a["transformer." + n]! }
        /// Conv1D [in, out] columns `cols` → linear [cols.count, in].
        func linearFromConv(_ n: String, cols: Range<Int>) -> WeightMatrix {
            let w = get(n), inDim = w.shape[0], outDim = w.shape[1]
            var s = [Float](repeating: 0, count: cols.count * inDim)
            for (o, col) in cols.enumerated() { for i in 0..<inDim { s[o * inDim + i] = w.scalars[i * outDim + col] } }
            return WeightMatrix(Tensor(shape: [cols.count, inDim], scalars: s))
        }
        func part(_ n: String, _ range: Range<Int>) -> Tensor { Tensor(Array(get(n).scalars[range])) }
        let blocks = (0..<Self.layers).map { l -> BlockWeights in
            let p = "h.\(l)."
            return BlockWeights(
                attnNorm: get(p + "ln_1.weight"), attnNormBias: get(p + "ln_1.bias"),
                attnQ: linearFromConv(p + "attn.c_attn.weight", cols: 0..<d),
                attnK: linearFromConv(p + "attn.c_attn.weight", cols: d..<(2 * d)),
                attnV: linearFromConv(p + "attn.c_attn.weight", cols: (2 * d)..<(3 * d)),
                attnQBias: part(p + "attn.c_attn.bias", 0..<d), attnKBias: part(p + "attn.c_attn.bias", d..<(2 * d)),
                attnVBias: part(p + "attn.c_attn.bias", (2 * d)..<(3 * d)),
                attnOutput: linearFromConv(p + "attn.c_proj.weight", cols: 0..<d), attnOutputBias: get(p + "attn.c_proj.bias"),
                ffnNorm: get(p + "ln_2.weight"), ffnNormBias: get(p + "ln_2.bias"), ffnGate: nil, ffnGateBias: nil,
                ffnUp: linearFromConv(p + "mlp.c_fc.weight", cols: 0..<Self.ffn), ffnUpBias: get(p + "mlp.c_fc.bias"),
                ffnDown: linearFromConv(p + "mlp.c_proj.weight", cols: 0..<d), ffnDownBias: get(p + "mlp.c_proj.bias"))
        }
        return ModelWeights(tokenEmbedding: WeightMatrix(get("wte.weight")), positionEmbedding: get("wpe.weight"),
                            outputNorm: get("ln_f.weight"), outputNormBias: get("ln_f.bias"), output: nil, blocks: blocks)
    }

    func writeFolder(_ arrays: [(name: String, tensor: Tensor)], config: String, sharded: Bool = false) throws -> URL {
        let folder = makeTemporaryFolder(self)
        try Data(config.utf8).write(to: folder.appendingPathComponent("config.json"))
        if sharded {
            let files = try SafeTensorsWriter.writeSharded(arrays, maxShardBytes: 4096, to: folder)
            XCTAssertGreaterThan(files.count, 2, "expected several shards plus an index")
        } else {
            try SafeTensorsWriter.write(arrays, metadata: ["format": "pt"], to: folder.appendingPathComponent("model.safetensors"))
        }
        return folder
    }

    /// Loaded logits vs the Float64 reference on the test's own rearrangement; prints the max |Δ| on failure.
    func assertLogitsMatch(_ folder: URL, reference: ModelWeights, config: ModelConfig, _ label: String,
                           file: StaticString = #filePath, line: UInt = #line) throws {
        let m = try TransformerModel.load(.huggingFace(folder))
        XCTAssertEqual(m.config, config, label, file: file, line: line)
        let got = m.logits([Self.ids])[0]
        let want = NaiveDecoder64(c: config, w: reference).logits(Self.ids)
        var maxDiff = 0.0
        for t in Self.ids.indices { for v in 0..<config.vocabSize {
            maxDiff = max(maxDiff, abs(Double(got.scalars[t * config.vocabSize + v]) - want[t][v]))
        } }
        // Float32 engine vs Float64 loops on O(1) logits: 1e-4 leaves ~100× headroom over observed roundoff.
        XCTAssertLessThan(maxDiff, 1e-4, "\(label): max |Δlogit| \(maxDiff)", file: file, line: line)
    }

    static var gpt2Config: ModelConfig {
        .gpt2Style(vocabSize: vocab, hiddenSize: d, layerCount: layers, headCount: heads, intermediateSize: ffn,
                   maxPositions: positions, normEps: 1e-5, activation: .geluTanh)
    }

    // MARK: - GPT-2

    /// GPT-2 folder with `transformer.` names (as GPT2LMHeadModel saves): logits equal NaiveDecoder64 on the
    /// test's own Conv1D→linear rearrangement and q|k|v split.
    func testLoadGPT2_PrefixedNamesMatchNaiveReference() throws {
        let arrays = gpt2Arrays(seed: 1)
        let folder = try writeFolder(arrays, config: Self.gpt2ConfigJSON)
        try assertLogitsMatch(folder, reference: gpt2Reference(arrays), config: Self.gpt2Config, "prefixed")
    }

    /// GPT-2 folder without the prefix and with the causal-mask buffers (as the original `gpt2` checkpoints):
    /// same logits as the reference.
    func testLoadGPT2_UnprefixedNamesWithMaskBuffersMatchNaiveReference() throws {
        let arrays = gpt2Arrays(seed: 2)
        var bare = arrays.map { (name: String($0.name.dropFirst("transformer.".count)), tensor: $0.tensor) }
        for l in 0..<Self.layers {
            bare.append(("h.\(l).attn.bias", Tensor.ones([1, 1, Self.positions, Self.positions])))
            bare.append(("h.\(l).attn.masked_bias", Tensor(-1e4)))
        }
        let folder = try writeFolder(bare, config: Self.gpt2ConfigJSON)
        try assertLogitsMatch(folder, reference: gpt2Reference(arrays), config: Self.gpt2Config, "unprefixed")
    }

    /// GPT-2 sharded into several files with `model.safetensors.index.json`: same logits as the reference.
    func testLoadGPT2_ShardedWithIndexMatchesNaiveReference() throws {
        let arrays = gpt2Arrays(seed: 3)
        let folder = try writeFolder(arrays, config: Self.gpt2ConfigJSON, sharded: true)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("model.safetensors.index.json").path))
        try assertLogitsMatch(folder, reference: gpt2Reference(arrays), config: Self.gpt2Config, "sharded")
    }

    // MARK: - Qwen2 (Llama-style with q/k/v biases)

    static let qwenConfigJSON = """
        {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 50, "hidden_size": 16,
         "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "max_position_embeddings": 64, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "hidden_act": "silu",
         "tie_word_embeddings": false, "use_sliding_window": false}
        """

    /// Qwen2 folder (HF [out, in] linears, q/k/v biases, GQA, untied lm_head): logits equal NaiveDecoder64 on
    /// the arrays as written.
    func testLoadQwen2_BiasesAndGQAMatchNaiveReference() throws {
        var rng = SeededGenerator(seed: 4)
        let d = 16, f = 24, kv = 8
        func r(_ shape: [Int], _ std: Float = 0.3) -> Tensor { Tensor.randomNormal(shape, std: std, using: &rng) }
        func gain() -> Tensor { Tensor.randomNormal([d], mean: 1, std: 0.1, using: &rng) }
        var arrays: [(name: String, tensor: Tensor)] = [("model.embed_tokens.weight", r([Self.vocab, d]))]
        var blocks: [BlockWeights] = []
        for l in 0..<2 {
            let p = "model.layers.\(l)."
            func m(_ shape: [Int]) -> WeightMatrix { WeightMatrix(r(shape)) }
            let b = BlockWeights(attnNorm: gain(), attnNormBias: nil, attnQ: m([d, d]), attnK: m([kv, d]), attnV: m([kv, d]),
                                 attnQBias: r([d], 0.2), attnKBias: r([kv], 0.2), attnVBias: r([kv], 0.2),
                                 attnOutput: m([d, d]), attnOutputBias: nil, ffnNorm: gain(), ffnNormBias: nil,
                                 ffnGate: m([f, d]), ffnGateBias: nil, ffnUp: m([f, d]), ffnUpBias: nil,
                                 ffnDown: m([d, f]), ffnDownBias: nil)
            blocks.append(b)
            arrays += [(p + "input_layernorm.weight", b.attnNorm),
                       (p + "self_attn.q_proj.weight", b.attnQ.dequantized()), (p + "self_attn.q_proj.bias", b.attnQBias!),
                       (p + "self_attn.k_proj.weight", b.attnK.dequantized()), (p + "self_attn.k_proj.bias", b.attnKBias!),
                       (p + "self_attn.v_proj.weight", b.attnV.dequantized()), (p + "self_attn.v_proj.bias", b.attnVBias!),
                       (p + "self_attn.o_proj.weight", b.attnOutput.dequantized()), (p + "post_attention_layernorm.weight", b.ffnNorm!),
                       (p + "mlp.gate_proj.weight", b.ffnGate!.dequantized()), (p + "mlp.up_proj.weight", b.ffnUp.dequantized()),
                       (p + "mlp.down_proj.weight", b.ffnDown.dequantized())]
        }
        let norm = gain(), head = r([Self.vocab, d])
        arrays += [("model.norm.weight", norm), ("lm_head.weight", head)]
        let reference = ModelWeights(tokenEmbedding: WeightMatrix(arrays[0].tensor), positionEmbedding: nil, outputNorm: norm,
                                     outputNormBias: nil, output: WeightMatrix(head), blocks: blocks)
        let config = ModelConfig.llamaStyle(architecture: "qwen2", vocabSize: Self.vocab, hiddenSize: d, intermediateSize: f,
                                            layerCount: 2, headCount: 4, kvHeadCount: 2, headDim: 4, maxPositions: 64,
                                            normEps: 1e-6, ropeBase: 1_000_000, tiedEmbeddings: false, attentionBias: true)
        let folder = try writeFolder(arrays, config: Self.qwenConfigJSON)
        try assertLogitsMatch(folder, reference: reference, config: config, "qwen2")
    }

    // MARK: - Errors

    /// A missing tensor, a wrong shape and an unknown model_type each throw their own EmendModelsError case.
    func testLoad_MissingTensorWrongShapeUnknownTypeThrowTheirCases() throws {
        let arrays = gpt2Arrays(seed: 5)
        // Missing: drop layer 1's MLP up-projection.
        let missing = try writeFolder(arrays.filter { $0.name != "transformer.h.1.mlp.c_fc.weight" }, config: Self.gpt2ConfigJSON)
        XCTAssertThrowsError(try TransformerModel.load(.huggingFace(missing))) { e in
            XCTAssertEqual(e as? EmendModelsError, .tensorNotFound(file: missing.path, tensor: "transformer.h.1.mlp.c_fc.weight"))
        }
        // Wrong shape: a final-norm gain of D+1.
        let wrong = try writeFolder(arrays.map { $0.name == "transformer.ln_f.weight" ? ($0.name, Tensor.ones([Self.d + 1])) : $0 },
                                    config: Self.gpt2ConfigJSON)
        XCTAssertThrowsError(try TransformerModel.load(.huggingFace(wrong))) { e in
            XCTAssertEqual(e as? EmendModelsError, .tensorShapeMismatch(file: wrong.path, tensor: "transformer.ln_f.weight",
                                                                        expected: [Self.d], got: [Self.d + 1]))
        }
        // Unknown model_type.
        let bert = try writeFolder(arrays, config: Self.gpt2ConfigJSON.replacingOccurrences(of: "\"gpt2\"", with: "\"bert\""))
        XCTAssertThrowsError(try TransformerModel.load(.huggingFace(bert))) { e in
            XCTAssertEqual(e as? EmendModelsError, .unsupportedArchitecture(file: bert.appendingPathComponent("config.json").path,
                                                                            architecture: "bert", supported: ModelFamily.supportedNames))
        }
    }
}
