// Golden tokenization of SmolLM2-135M-Instruct: every one of the 131 strings in
// shared/golden/smollm2-135m-instruct-q4_1/tokenization.json (generated with Hugging Face
// transformers and cross-checked by an independent llama.cpp-style Python BPE) must encode to the
// same ids and decode to the same text.

import Foundation
import XCTest
@testable import EmendModels

/// The fields of tokenization.json the tests read.
struct GoldenTokenization: Decodable {
    struct Entry: Decodable {
        var category: String
        var text: String
        var ids: [Int]
        var tokens: [String]
        var decoded: String
        var decoded_skip_special_tokens: String?
        var ids_special_tokens_as_plain_text: [Int]?
    }
    struct Header: Decodable {
        var vocab_size: Int
        var n_merges: Int
        var bos_token_id: Int
        var eos_token_id: Int
        var unk_token_id: Int
        var pad_token_id: Int
        var special_tokens: [String: Int]
    }
    struct Chat: Decodable {
        struct Message: Decodable { var role: String; var content: String }
        var messages: [Message]
        var add_generation_prompt: Bool
        var rendered: String
        var ids: [Int]
    }
    var tokenizer: Header
    var chat_template: Chat
    var entries: [Entry]

    /// `<repo root>/../shared`, the repo root found from this file's path.
    static let sharedDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared")

    static let directory = sharedDirectory.appendingPathComponent("golden/smollm2-135m-instruct-q4_1")

    static func load() throws -> GoldenTokenization {
        let url = directory.appendingPathComponent("tokenization.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("golden file \(url.path) is absent")
        }
        return try JSONDecoder().decode(GoldenTokenization.self, from: Data(contentsOf: url))
    }
}

/// Compares a tokenizer with every golden entry, failing with the first differing ids.
func checkGoldenTokenization(_ tok: BPETokenizer, _ golden: GoldenTokenization,
                             file: StaticString = #filePath, line: UInt = #line) {
    var failures = 0
    for e in golden.entries {
        let ids = tok.encode(e.text)
        if ids != e.ids {
            failures += 1
            XCTFail("encode(\(e.text.debugDescription)) [\(e.category)]\n  got      \(ids)\n  expected \(e.ids)",
                    file: file, line: line)
        }
        XCTAssertEqual(e.ids.map { tok.tokenString($0) ?? "<out of range>" }, e.tokens,
                       "token strings of \(e.text.debugDescription)", file: file, line: line)
        XCTAssertEqual(tok.decode(e.ids), e.decoded, "decode of \(e.text.debugDescription)", file: file, line: line)
        if let skip = e.decoded_skip_special_tokens {
            XCTAssertEqual(tok.decode(e.ids, skipSpecial: true), skip,
                           "decode(skipSpecial) of \(e.text.debugDescription)", file: file, line: line)
        }
        if let plain = e.ids_special_tokens_as_plain_text {
            XCTAssertEqual(tok.encode(e.text, parseSpecial: false), plain,
                           "encode(parseSpecial: false) of \(e.text.debugDescription)", file: file, line: line)
        }
    }
    XCTAssertEqual(failures, 0, "\(failures) of \(golden.entries.count) golden strings encode differently",
                   file: file, line: line)
}

final class GoldenTokenizationTests: XCTestCase {
    static let modelURL = URL(fileURLWithPath: NSString(
        string: "~/.cache/emend/models/SmolLM2-135M-Instruct.Q4_1.gguf").expandingTildeInPath)

    /// The SmolLM2 GGUF file, or XCTSkip when it is absent.
    static func openModel() throws -> GGUFFile {
        guard FileManager.default.fileExists(atPath: modelURL.path) else {
            throw XCTSkip("model file \(modelURL.path) is absent")
        }
        return try GGUFFile(url: modelURL)
    }

    /// All 131 golden strings: ids, token strings, decode, decode(skipSpecial) and
    /// encode(parseSpecial: false) equal the golden file; vocabulary size and special ids equal its header.
    func testGoldenTokenization_AllEntries() throws {
        let golden = try GoldenTokenization.load()
        let tok = try BPETokenizer(gguf: try Self.openModel())
        XCTAssertEqual(tok.preTokenizer, .smollm)
        XCTAssertEqual(tok.vocabularySize, golden.tokenizer.vocab_size)
        XCTAssertEqual(tok.mergeCount, golden.tokenizer.n_merges)
        XCTAssertEqual(tok.specialTokenIds, .init(bos: golden.tokenizer.bos_token_id, eos: golden.tokenizer.eos_token_id,
                                                  pad: golden.tokenizer.pad_token_id, unk: golden.tokenizer.unk_token_id))
        for (text, id) in golden.tokenizer.special_tokens {
            XCTAssertEqual(tok.tokenId(text), id)
            XCTAssertEqual(tok.tokenTypes[id], .control)
        }
        checkGoldenTokenization(tok, golden)
    }

    /// The GGUF chat template renders the golden conversation exactly, and the rendering encodes to
    /// the golden ids.
    func testGoldenChatTemplate_Rendered() throws {
        let golden = try GoldenTokenization.load()
        let file = try Self.openModel()
        let template = try XCTUnwrap(try ChatTemplate.fromGGUF(file.metadata))
        XCTAssertEqual(template, ChatTemplate.smolLM2)
        let chat = golden.chat_template
        let rendered = template.render(chat.messages.map { ChatMessage(role: $0.role, content: $0.content) },
                                       addGenerationPrompt: chat.add_generation_prompt)
        XCTAssertEqual(rendered, chat.rendered)
        XCTAssertEqual(try BPETokenizer(gguf: file).encode(rendered), chat.ids)
    }

    /// Every document of the Wikipedia-summaries corpus decodes back to itself (byte-level BPE is
    /// lossless for text without bytes missing from the vocabulary); prints the encoding time.
    func testGoldenTokenizer_CorpusRoundTrip() throws {
        let corpusURL = URL(fileURLWithPath: NSString(
            string: "~/.cache/emend/data/wikipedia-summaries-en.json").expandingTildeInPath)
        guard FileManager.default.fileExists(atPath: corpusURL.path) else { throw XCTSkip("corpus absent") }
        let tok = try BPETokenizer(gguf: try Self.openModel())
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: corpusURL))
        let texts = ((json as? [String: Any]) ?? [:]).values.compactMap { ($0 as? [String: Any])?["extract"] as? String }
        XCTAssertGreaterThan(texts.count, 1000)
        let start = Date()
        let encoded = texts.map { tok.encode($0) }
        let seconds = Date().timeIntervalSince(start)
        var mismatches = 0
        for (text, ids) in zip(texts, encoded) where tok.decode(ids) != text { mismatches += 1 }
        XCTAssertEqual(mismatches, 0)
        // Whole documents as single words: the heap merge loop equals the rescanning one.
        for text in texts.prefix(100) {
            let word = Array(text.utf8.prefix(2000))
            XCTAssertEqual(tok.mergedByHeap(word), tok.mergedByScan(word))
        }
        print("corpus: \(texts.count) documents, \(texts.reduce(0) { $0 + $1.utf8.count }) bytes, "
              + "\(encoded.reduce(0) { $0 + $1.count }) tokens, encoded in \(String(format: "%.2f", seconds)) s")
    }
}
