import XCTest
import EmendModels
import EmendTestSupport

/// `emend tokenize` run as the real binary. The independent truth: sentencepiece's own ids in
/// shared/golden/spm-mistral-tokenization.json (for the Mistral vocabulary-only GGUF and tokenizer.json), and
/// the process's exit status and output.
final class TokenizeCLITests: XCTestCase {
    var folder: URL { TestPaths.shared.appendingPathComponent("data/tokenizers/mistral-7b-v0.1") }

    override func setUpWithError() throws {
        guard TestPaths.exists(EmendProcess.binary) else {
            throw XCTSkip("\(EmendProcess.binary.path) not built (swift build -c release --build-tests builds it)")
        }
        guard TestPaths.exists(folder.appendingPathComponent("vocab-only.gguf")) else { throw XCTSkip("\(folder.path) is absent") }
    }

    func emend(_ args: [String]) throws -> EmendProcess.Result {
        try EmendProcess.run(args, home: FileManager.default.temporaryDirectory.appendingPathComponent("emend-tokenize-home"))
    }

    /// The golden entries' ids and pieces, by text.
    func golden() throws -> [String: (ids: [Int], pieces: [String])] {
        let url = TestPaths.shared.appendingPathComponent("golden/spm-mistral-tokenization.json")
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var out: [String: (ids: [Int], pieces: [String])] = [:]
        for case let e as [String: Any] in root["entries"] as? [Any] ?? [] {
            if let text = e["text"] as? String, let ids = e["ids"] as? [Int], let pieces = e["pieces"] as? [String] {
                out[text] = (ids, pieces)
            }
        }
        return out
    }

    /// --json prints exactly one object with sentencepiece's ids and pieces, from the GGUF and tokenizer.json;
    /// without it, one "id<TAB>piece" line per token.
    func testTokenize_JSONAndLines() throws {
        let want = try golden()
        for text in ["The mother tongue of Danielle Darrieux is", " English", "<s>literal special text</s>", "tab\there"] {
            let g = try XCTUnwrap(want[text], "golden entry \(text.debugDescription)")
            for model in ["vocab-only.gguf", "tokenizer.json"] {
                let r = try emend(["tokenize", "--model", folder.appendingPathComponent(model).path, "--json", text])
                XCTAssertEqual(r.status, 0, r.output)
                let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any],
                                           "not one JSON object: \(r.output)")
                XCTAssertEqual(Set(object.keys), ["ids", "pieces"])
                XCTAssertEqual(object["ids"] as? [Int], g.ids, "\(model) \(text.debugDescription)")
                XCTAssertEqual(object["pieces"] as? [String], g.pieces, "\(model) \(text.debugDescription)")
            }
        }
        let text = "The mother tongue of Danielle Darrieux is"
        let r = try emend(["tokenize", "--model", folder.appendingPathComponent("vocab-only.gguf").path, text])
        XCTAssertEqual(r.status, 0, r.output)
        let lines = r.output.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines, zip(want[text]?.ids ?? [], want[text]?.pieces ?? []).map { "\($0)\t\($1)" })
        let tab = try emend(["tokenize", "--model", folder.appendingPathComponent("vocab-only.gguf").path, "tab\there"])
        XCTAssertTrue(tab.output.split(separator: "\n").contains("12\t<0x09>"), tab.output)
    }

    /// Errors: a missing model and a malformed tokenizer.json end with one sentence and status 1; a missing text
    /// is a usage error (64); --help shows examples.
    func testTokenize_Errors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-tokenize-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = try emend(["tokenize", "--model", dir.appendingPathComponent("none.gguf").path, "x"])
        XCTAssertEqual(missing.status, 1, missing.output)
        XCTAssertTrue(missing.output.hasPrefix("Error: "), missing.output)
        let bad = dir.appendingPathComponent("tokenizer.json")
        try Data(#"{"model": {"type": "BPE", "byte_fallback": true, "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Whitespace"}}"#.utf8).write(to: bad)
        let malformed = try emend(["tokenize", "--model", bad.path, "x"])
        XCTAssertEqual(malformed.status, 1, malformed.output)
        XCTAssertTrue(malformed.output.contains("pre_tokenizer [Whitespace]"), malformed.output)
        let usage = try emend(["tokenize", "--model", bad.path])
        XCTAssertEqual(usage.status, 64, usage.output)
        let help = try emend(["tokenize", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.output.contains("emend tokenize --model"), help.output)
    }
}
