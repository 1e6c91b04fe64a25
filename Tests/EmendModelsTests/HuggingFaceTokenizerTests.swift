// Reading `tokenizer.json`: the test writes small files itself from the hand-made vocabulary of
// TokenizerTests (ids worked out by hand there), in every supported pre_tokenizer form.

import Foundation
import XCTest
@testable import EmendModels

final class HuggingFaceTokenizerTests: XCTestCase {
    static var byteLevel: [String: Any] { ["type": "ByteLevel", "add_prefix_space": false, "use_regex": true] }
    static var byteLevelNoRegex: [String: Any] { ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false] }
    static func split(_ regex: String) -> [String: Any] {
        ["type": "Split", "pattern": ["Regex": regex], "behavior": "Isolated", "invert": false]
    }
    static func sequence(_ steps: [[String: Any]]) -> [String: Any] { ["type": "Sequence", "pretokenizers": steps] }

    /// A tokenizer.json for TinyVocabulary: added tokens listed separately, merges half as "a b"
    /// strings and half as ["a", "b"] pairs.
    static func tokenizerJSON(preTokenizer: Any? = nil, normalizer: Any = NSNull(),
                              model: [String: Any] = [:], dropId: Int? = nil) throws -> Data {
        var vocab: [String: Int] = [:]
        var added: [[String: Any]] = []
        for (id, (text, type)) in zip(TinyVocabulary.tokens, TinyVocabulary.types).enumerated() where id != dropId {
            if type == .normal { vocab[text] = id } else {
                added.append(["id": id, "content": text, "special": type == .control, "normalized": false])
            }
        }
        let merges: [Any] = TinyVocabulary.merges.enumerated().map { k, m in k % 2 == 0 ? "\(m.0) \(m.1)" as Any : [m.0, m.1] as Any }
        var m: [String: Any] = ["type": "BPE", "vocab": vocab, "merges": merges, "unk_token": NSNull(),
                                "byte_fallback": false]
        for (k, v) in model { m[k] = v }
        let root: [String: Any] = ["version": "1.0", "added_tokens": added, "normalizer": normalizer,
                                   "pre_tokenizer": preTokenizer ?? byteLevel, "model": m, "decoder": ["type": "ByteLevel"]]
        return try JSONSerialization.data(withJSONObject: root)
    }

    /// The same ids as the directly built tokenizer (TokenizerTests' hand-worked ids), and special
    /// ids taken from tokenizer_config.json.
    func testLoad_MatchesDirectConstruction() throws {
        let config = try JSONSerialization.data(withJSONObject: [
            "bos_token": "<a>", "eos_token": ["content": "<a><b>"], "pad_token": NSNull()])
        let tok = try BPETokenizer(huggingFaceJSON: try Self.tokenizerJSON(), configJSON: config)
        XCTAssertEqual(tok.tokens, TinyVocabulary.tokens)
        XCTAssertEqual(tok.tokenTypes, TinyVocabulary.types)
        XCTAssertEqual(tok.preTokenizer, .gpt2)
        XCTAssertEqual(tok.specialTokenIds, .init(bos: 262, eos: 263))
        XCTAssertEqual(tok.encode(" the"), [258])
        XCTAssertEqual(tok.encode("abc<a><b>x@@"), [97, 260, 263, 120, 264])
        XCTAssertEqual(tok.encode("<a>", parseSpecial: false), [60, 97, 62])
        XCTAssertEqual(tok.decode([263, 264], skipSpecial: true), "@@")
        let ignoring = try BPETokenizer(huggingFaceJSON: try Self.tokenizerJSON(model: ["ignore_merges": true]))
        XCTAssertEqual(ignoring.encode("abc"), [266])
    }

    /// Each supported pre_tokenizer form maps to its pre-tokenizer; others are refused by name.
    func testPreTokenizer_Inference() throws {
        let forms: [(Any, PreTokenizer)] = [
            (Self.byteLevel, .gpt2),
            (Self.sequence([Self.split(PreTokenizer.gpt2Regex), Self.byteLevelNoRegex]), .gpt2),
            (Self.sequence([["type": "Digits", "individual_digits": true], Self.byteLevel]), .smollm),
            (Self.sequence([Self.split(PreTokenizer.llama3Regex), Self.byteLevelNoRegex]), .llamaBPE),
            (Self.sequence([Self.split(PreTokenizer.qwen2Regex), Self.byteLevelNoRegex]), .qwen2),
        ]
        for (json, expected) in forms {
            XCTAssertEqual(try BPETokenizer.preTokenizer(huggingFace: json, source: "t"), expected)
        }
        // Llama 3 cuts digits in threes: "12345" -> "123", "45".
        let llama = try BPETokenizer(huggingFaceJSON: Self.tokenizerJSON(preTokenizer: forms[3].0))
        XCTAssertEqual(llama.encode("12345"), [49, 50, 51, 52, 53])
        XCTAssertEqual(llama.preTokenizer.split("12345"), ["123", "45"])

        let refused: [(Any, String)] = [
            (Self.sequence([Self.split(#"\s+"#), Self.byteLevelNoRegex]), #"Split regex \s+"#),
            (["type": "Whitespace"], "[Whitespace]"),
            (["type": "ByteLevel", "add_prefix_space": true, "use_regex": true], "[ByteLevel]"),
            (NSNull(), "null"),
        ]
        for (json, found) in refused {
            XCTAssertThrowsError(try BPETokenizer.preTokenizer(huggingFace: json, source: "t")) {
                XCTAssertEqual($0 as? TokenizerError, .unsupportedPreTokenizer(source: "t", found: found))
            }
        }
    }

    /// NFC normalizer composes "e" + U+0301 into "é" (bytes C3 A9) before splitting; without it the
    /// combining mark (category Mn) is a word of its own.
    func testNormalizer_NFC() throws {
        let nfc = try BPETokenizer(huggingFaceJSON: Self.tokenizerJSON(normalizer: ["type": "NFC"]))
        XCTAssertEqual(nfc.encode("e\u{301}"), [0xC3, 0xA9])
        let plain = try BPETokenizer(huggingFaceJSON: Self.tokenizerJSON())
        XCTAssertEqual(plain.encode("e\u{301}"), [0x65, 0xCC, 0x81])
        XCTAssertThrowsError(try BPETokenizer(huggingFaceJSON: Self.tokenizerJSON(normalizer: ["type": "Lowercase"]))) {
            XCTAssertEqual($0 as? TokenizerError, .unsupportedNormalizer(source: "tokenizer.json", found: "Lowercase"))
        }
    }

    /// Malformed files throw the error naming the field.
    func testLoad_Errors() throws {
        let src = "tokenizer.json"
        XCTAssertThrowsError(try BPETokenizer(huggingFaceJSON: Data("{not json".utf8))) {
            guard case .invalidJSON? = $0 as? TokenizerError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try BPETokenizer(huggingFaceJSON: Data("{}".utf8))) {
            XCTAssertEqual($0 as? TokenizerError, .missingField(source: src, field: "model"))
        }
        XCTAssertThrowsError(try BPETokenizer(huggingFaceJSON: Self.tokenizerJSON(model: ["type": "WordPiece"]))) {
            XCTAssertEqual($0 as? TokenizerError,
                           .unsupportedModel(source: src, field: "model.type", expected: "BPE", got: "WordPiece"))
        }
        XCTAssertThrowsError(try BPETokenizer(huggingFaceJSON: Self.tokenizerJSON(dropId: 100))) {
            XCTAssertEqual($0 as? TokenizerError, .vocabularyNotContiguous(source: src, missingId: 100, vocabularySize: 267))
        }
        XCTAssertThrowsError(try BPETokenizer(huggingFaceJSON: Self.tokenizerJSON(model: ["merges": ["Ġt"]]))) {
            XCTAssertEqual($0 as? TokenizerError, .malformedMerge(source: src, index: 0, merge: "Ġt"))
        }
        XCTAssertThrowsError(try BPETokenizer(huggingFaceJSON: Self.tokenizerJSON(model: ["merges": [["a"]]]))) {
            guard case .malformedMerge(_, 0, _)? = $0 as? TokenizerError else { return XCTFail("\($0)") }
        }
    }
}
