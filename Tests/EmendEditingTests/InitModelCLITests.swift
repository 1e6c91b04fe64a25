import XCTest
import EmendModels
import EmendTestSupport

/// `emend init-model` run as the real binary. The independent truths: Emend's own loader and `emend generate`
/// reading the file back, the bytes of a second run with the same seed, and the exit statuses and sentences.
final class InitModelCLITests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        guard TestPaths.exists(EmendProcess.binary) else {
            throw XCTSkip("\(EmendProcess.binary.path) not built (swift build -c release --build-tests builds it)")
        }
        guard TestPaths.exists(TestPaths.defaultModel) else { throw XCTSkip("the default model is not installed: its tokenizer is needed") }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-init-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    private func emend(_ args: [String]) throws -> EmendProcess.Result {
        try EmendProcess.run(args, home: dir.appendingPathComponent("home"))
    }

    /// A tiny config (width 64, 2 layers, the default model's vocabulary size).
    private func tinyConfig() throws -> URL {
        let url = dir.appendingPathComponent("config.json")
        try Data("""
            {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 49152, "rope_theta": 10000.0,
             "rms_norm_eps": 1e-5, "max_position_embeddings": 128, "tie_word_embeddings": true}
            """.utf8).write(to: url)
        return url
    }

    /// init-model writes a file `emend generate` runs; the same seed writes the same bytes.
    func testInitModel_WritesALoadableFileDeterministically() throws {
        let config = try tinyConfig().path, tok = TestPaths.defaultModel.path
        let a = dir.appendingPathComponent("a.gguf").path, b = dir.appendingPathComponent("b.gguf").path
        for out in [a, b] {
            let r = try emend(["init-model", "--config", config, "--type", "q8_0", "--seed", "5", "--out", out, "--tokenizer", tok])
            XCTAssertEqual(r.status, 0, r.output)
            XCTAssertTrue(r.output.contains("wrote \(out)"), r.output)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)))
        let g = try emend(["generate", "--model", a, "--max-tokens", "3", "Hello"])
        XCTAssertEqual(g.status, 0, g.output)
        XCTAssertTrue(g.output.hasPrefix("Hello"), g.output)
    }

    /// A missing config, a bad field, an unknown type and an unwritable destination: one sentence each, status 1
    /// (64 for the usage error), and no file left behind.
    func testInitModel_Errors() throws {
        let config = try tinyConfig().path, tok = TestPaths.defaultModel.path
        let out = dir.appendingPathComponent("x.gguf").path
        let missing = try emend(["init-model", "--config", dir.appendingPathComponent("none.json").path, "--type", "f32", "--out", out, "--tokenizer", tok])
        XCTAssertEqual(missing.status, 1, missing.output)
        XCTAssertTrue(missing.output.contains("none.json"), missing.output)
        let badField = dir.appendingPathComponent("bad.json")
        try Data(#"{"model_type": "llama", "hidden_size": "wide"}"#.utf8).write(to: badField)
        let bad = try emend(["init-model", "--config", badField.path, "--type", "f32", "--out", out, "--tokenizer", tok])
        XCTAssertEqual(bad.status, 1, bad.output)
        XCTAssertTrue(bad.output.contains("hidden_size"), bad.output)
        let type = try emend(["init-model", "--config", config, "--type", "q3_k", "--out", out, "--tokenizer", tok])
        XCTAssertEqual(type.status, 64, type.output)
        XCTAssertTrue(type.output.contains("q4_k_m"), type.output)
        let unwritable = dir.appendingPathComponent("no/such/folder/x.gguf").path
        let w = try emend(["init-model", "--config", config, "--type", "f32", "--out", unwritable, "--tokenizer", tok])
        XCTAssertEqual(w.status, 1, w.output)
        XCTAssertTrue(w.output.contains("writing failed"), w.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertFalse(FileManager.default.fileExists(atPath: unwritable))
    }
}
