import XCTest
import EmendCore
import EmendTestSupport
@testable import EmendModels

/// `ModelSummary` (what `emend inspect` prints) read from file headers.
final class ModelSummaryTests: XCTestCase {
    /// The default GGUF: tensor types and counts as the golden README lists them (210 × Q4_1, 1 × Q8_0 token
    /// embedding, 61 × F32 norms), and 134,515,008 parameters (SmolLM2-135M's published count, tied head).
    func testSummary_DefaultGGUFMatchesREADME() throws {
        guard TestPaths.exists(TestPaths.defaultModel) else { throw XCTSkip("default model not installed (run make setup)") }
        let s = try ModelSummary(.gguf(TestPaths.defaultModel))
        XCTAssertEqual(s.format, "GGUF v3")
        XCTAssertEqual(s.parameterCount, 134_515_008)
        XCTAssertEqual(s.typeTotals.map { "\($0.type)×\($0.count)" }, ["Q4_1×210", "Q8_0×1", "F32×61"])
        XCTAssertEqual(s.tensors.count, 272)
        XCTAssertEqual(s.typeTotals.reduce(0) { $0 + $1.elements }, s.parameterCount, "every parameter stored once")
        let lines = s.lines(listTensors: true)
        XCTAssertEqual(lines.count, s.lines().count + 272)
        XCTAssertTrue(lines.contains { $0.contains("token_embd.weight") && $0.contains("Q8_0") && $0.contains("[49152, 576]") })
    }

    /// An exported HF folder: safetensors format, F32 only, sizes = elements × 4, and the parameter count equals
    /// the sum of the weights' element counts.
    func testSummary_HuggingFaceFolder() throws {
        let c = TransformerModelTests.gpt2
        let m = TransformerModel(config: c, weights: .random(c, seed: 2))
        let folder = makeTemporaryFolder(self)
        try m.export(to: folder, format: .safetensors)
        let s = try ModelSummary(.huggingFace(folder))
        XCTAssertEqual(s.format, "safetensors (1 shard)")
        XCTAssertEqual(s.config, c)
        let stored = ModelFamily.gpt2.hfNames.roles.reduce(0) { n, role in
            n + (0..<(role.isPerBlock ? c.layerCount : 1)).reduce(0) { $0 + (m.weights.tensor(for: role, layer: $1)?.count ?? 0) }
        }
        XCTAssertEqual(s.parameterCount, stored)
        XCTAssertEqual(s.typeTotals.map(\.type), ["F32"])
        XCTAssertEqual(s.totalTensorBytes, 4 * stored)
    }

    /// A bare Llama-3-8B `config.json` (the shape of the GPU anchor): 8,030,261,248 parameters, the count the
    /// official code's model reported (`../shared/anchors/reference-gpu.md`), and 29.9 GiB in F32 as measured there.
    func testSummary_ConfigOnlyLlama3_8B() throws {
        let json = """
        {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336,
         "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
         "rope_theta": 500000.0, "max_position_embeddings": 8192, "rms_norm_eps": 1e-05, "tie_word_embeddings": false,
         "hidden_act": "silu"}
        """
        let folder = makeTemporaryFolder(self)
        let url = folder.appendingPathComponent("config.json")
        try Data(json.utf8).write(to: url)
        let s = try ModelSummary(configFile: url)
        XCTAssertEqual(s.parameterCount, 8_030_261_248)
        XCTAssertTrue(s.tensors.isEmpty)
        XCTAssertTrue(s.lines().contains { $0.hasPrefix("weights:") && $0.contains("29.92 GiB as F32") }, "\(s.lines())")
    }
}

