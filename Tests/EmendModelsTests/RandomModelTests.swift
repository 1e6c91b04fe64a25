// Random-weight model files (`emend init-model`): a tiny config written, loaded back by Emend's own loader and
// run; the same seed giving the same bytes; the Q4_K_M rule; the tokenizer resized; clear errors.

import EmendCore
@testable import EmendModels
import Foundation
import XCTest

final class RandomModelTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-random-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A tiny Llama config: width 256 (so the k-quants apply), 2 layers, vocabulary cut to 600.
    private func tinyConfig(_ extra: String = "", modelType: String = "llama") throws -> ModelConfig {
        let json = """
        {"model_type": "\(modelType)", "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 600, "rope_theta": 10000.0,
         "rms_norm_eps": 1e-5, "max_position_embeddings": 128, "tie_word_embeddings": false\(extra)}
        """
        return try ModelConfig(huggingFaceConfigData: Data(json.utf8), file: "tiny-config.json")
    }

    private func tokenizer() throws -> GGUFFile {
        guard let url = defaultModelURL else { throw XCTSkip("the default model is not installed (run make setup): its tokenizer is needed") }
        return try GGUFFile(url: url)
    }

    /// Written with Q4_K_M, the file loads through the same loader as `emend generate --model file.gguf`, holds
    /// the mixture's types, weights of std ≈ 0.02, and gives finite logits over the config's vocabulary.
    func testRandomModel_TinyQ4KMLoadsAndRuns() throws {
        let tok = try tokenizer()
        let url = dir.appendingPathComponent("tiny.gguf")
        let report = try RandomModel.write(config: try tinyConfig(), type: .q4_k_m, seed: 3, tokenizer: tok, to: url)
        let file = try GGUFFile(url: url)
        XCTAssertEqual(file.tensorInfo("output.weight")?.type, .q6_K)
        XCTAssertEqual(file.tensorInfo("token_embd.weight")?.type, .q4_K)
        XCTAssertEqual(file.tensorInfo("blk.0.attn_v.weight")?.type, .q4_K)   // use_more_bits(0, 2) is false
        XCTAssertEqual(file.tensorInfo("blk.1.attn_v.weight")?.type, .q6_K)   // the last eighth
        XCTAssertEqual(file.tensorInfo("blk.1.ffn_down.weight")?.type, .q6_K)
        XCTAssertEqual(file.tensorInfo("blk.0.ffn_up.weight")?.type, .q4_K)
        XCTAssertEqual(file.tensorInfo("blk.0.attn_norm.weight")?.type, .f32)
        XCTAssertEqual(report.bytes, try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int)

        let up = try file.tensor("blk.0.ffn_up.weight").scalars
        let std = (up.reduce(0) { $0 + Double($1) * Double($1) } / Double(up.count)).squareRoot()
        XCTAssertEqual(std, 0.02, accuracy: 0.001)
        XCTAssertEqual(try file.tensor("blk.0.attn_norm.weight").scalars, [Float](repeating: 1, count: 256))

        let loaded = try LoadedModel.load(url.path)
        XCTAssertEqual(loaded.model.config.vocabSize, 600)
        XCTAssertEqual(loaded.model.config.layerCount, 2)
        XCTAssertEqual(loaded.tokenizer.vocabularySize, 600)
        let logits = loaded.model.logits([[1, 2, 3, 4]])[0]
        XCTAssertEqual(logits.shape.last, 600)
        XCTAssertTrue(logits.scalars.allSatisfy(\.isFinite))
    }

    /// Qwen2 (q/k/v biases) in Q8_0 at width 64, where no k-quant fits, loads and runs too.
    func testRandomModel_QwenQ8LoadsAndRuns() throws {
        let tok = try tokenizer()
        let json = """
        {"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 600, "rope_theta": 1000000.0,
         "rms_norm_eps": 1e-6, "max_position_embeddings": 128, "tie_word_embeddings": true}
        """
        let c = try ModelConfig(huggingFaceConfigData: Data(json.utf8), file: "qwen.json")
        let url = dir.appendingPathComponent("qwen.gguf")
        try RandomModel.write(config: c, type: .q8_0, seed: 1, tokenizer: tok, to: url)
        let file = try GGUFFile(url: url)
        XCTAssertEqual(file.tensorInfo("blk.0.attn_q.bias")?.type, .f32)
        XCTAssertEqual(file.tensorInfo("token_embd.weight")?.type, .q8_0)
        XCTAssertNil(file.tensorInfo("output.weight"))
        let logits = try LoadedModel.load(url.path).model.logits([[5, 6, 7]])[0]
        XCTAssertTrue(logits.scalars.allSatisfy(\.isFinite))
    }

    /// The same seed gives the same bytes; another seed, other bytes.
    func testRandomModel_SameSeedSameBytes() throws {
        let tok = try tokenizer(), c = try tinyConfig()
        let a = dir.appendingPathComponent("a.gguf"), b = dir.appendingPathComponent("b.gguf"), other = dir.appendingPathComponent("c.gguf")
        try RandomModel.write(config: c, type: .q4_k_m, seed: 9, tokenizer: tok, to: a)
        try RandomModel.write(config: c, type: .q4_k_m, seed: 9, tokenizer: tok, to: b)
        try RandomModel.write(config: c, type: .q4_k_m, seed: 10, tokenizer: tok, to: other)
        XCTAssertEqual(try Data(contentsOf: a), try Data(contentsOf: b))
        XCTAssertNotEqual(try Data(contentsOf: a), try Data(contentsOf: other))
    }

    /// llama.cpp's use_more_bits for 32 layers: 0–3, 28–31 and every third layer from 6.
    func testRandomModel_Q4KMRule() {
        let t = RandomModelType.q4_k_m
        let more = (0..<32).filter { t.useMoreBits($0, 32) }
        XCTAssertEqual(more, [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31])
        XCTAssertEqual(t.tensorType(.ffnDown, layer: 6, layers: 32, shape: [4096, 14336], tied: false), .q6_K)
        XCTAssertEqual(t.tensorType(.ffnDown, layer: 7, layers: 32, shape: [4096, 14336], tied: false), .q4_K)
        XCTAssertEqual(t.tensorType(.tokenEmbedding, layer: 0, layers: 32, shape: [128256, 4096], tied: true), .q6_K)
        XCTAssertEqual(t.tensorType(.attnQ, layer: 0, layers: 32, shape: [64, 64], tied: false), .q5_0)  // 64 % 256 ≠ 0
        XCTAssertEqual(t.tensorType(.attnNorm, layer: 0, layers: 32, shape: [4096], tied: false), .f32)
        XCTAssertEqual(RandomModelType.bf16.tensorType(.attnQ, layer: 0, layers: 2, shape: [8, 8], tied: false), .bf16)
    }

    /// Padding appends unused tokens; cutting keeps the first V tokens and only merges among them.
    func testRandomModel_TokenizerResized() throws {
        let tok = try tokenizer()
        let n = try XCTUnwrap(tok.metadata["tokenizer.ggml.tokens"]?.array?.count)
        let padded = Dictionary(try RandomModel.tokenizerMetadata(tok, vocabSize: n + 10), uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(padded["tokenizer.ggml.tokens"]?.stringArray?.count, n + 10)
        XCTAssertEqual(padded["tokenizer.ggml.tokens"]?.stringArray?.last, "<emend-pad-\(n + 9)>")
        XCTAssertEqual(padded["tokenizer.ggml.merges"], tok.metadata["tokenizer.ggml.merges"])
        let cut = Dictionary(try RandomModel.tokenizerMetadata(tok, vocabSize: 600), uniquingKeysWith: { a, _ in a })
        let tokens = try XCTUnwrap(cut["tokenizer.ggml.tokens"]?.stringArray)
        XCTAssertEqual(tokens.count, 600)
        let kept = Set(tokens)
        for rule in cut["tokenizer.ggml.merges"]?.stringArray ?? [] {
            let p = rule.split(separator: " ").map(String.init)
            XCTAssertTrue(kept.contains(p[0] + p[1]), rule)
        }
        if let types = cut["tokenizer.ggml.token_type"]?.array { XCTAssertEqual(types.count, 600) }
    }

    /// A non-Llama architecture and an unwritable destination fail with one sentence each, leaving no file.
    func testRandomModel_Errors() throws {
        let tok = try tokenizer()
        let gpt2 = try ModelConfig(huggingFaceConfigData: Data("""
            {"model_type": "gpt2", "n_embd": 64, "n_layer": 1, "n_head": 4, "vocab_size": 600, "n_positions": 64}
            """.utf8), file: "gpt2.json")
        XCTAssertThrowsError(try RandomModel.write(config: gpt2, type: .f32, seed: 0, tokenizer: tok, to: dir.appendingPathComponent("g.gguf"))) {
            guard case EmendModelsError.invalidConfig(_, "model_type", _, "gpt2") = $0 else { return XCTFail("\($0)") }
        }
        let bad = dir.appendingPathComponent("no/such/folder/x.gguf")
        XCTAssertThrowsError(try RandomModel.write(config: try tinyConfig(), type: .f32, seed: 0, tokenizer: tok, to: bad))
        XCTAssertFalse(FileManager.default.fileExists(atPath: bad.path))
    }
}
