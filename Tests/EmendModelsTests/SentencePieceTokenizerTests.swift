// SentencePiece BPE on a hand-made vocabulary whose ids are worked out by hand from sentencepiece's rule
// (bpe_model.cc: merge the adjacent pair whose concatenation is the highest-scoring piece, leftmost on ties),
// and the catalogue of malformed tokenizers, each expected to throw the error that names its field.

import Foundation
import XCTest
@testable import EmendModels

/// A tiny SentencePiece vocabulary: 0 <unk>, 1 <s>, 2 </s>, 3...258 the byte tokens <0x00>...<0xFF>
/// (id = byte + 3), then the pieces below (id 259 on), with their scores.
enum TinySentencePiece {
    static let pieces: [(String, Float, TokenType)] = [
        ("▁", -1, .normal),        // 259
        ("a", -1, .normal),        // 260
        ("b", -1, .normal),        // 261
        ("c", -1, .normal),        // 262
        ("d", -1, .normal),        // 263
        ("ab", -1, .normal),       // 264  ties with "bc"
        ("bc", -1, .normal),       // 265
        ("▁a", -2, .normal),       // 266
        ("cd", -0.5, .normal),     // 267  beats "ab" and "bc"
        ("abc", -3, .unused),      // 268  split back into what made it
        ("@@", 0, .userDefined),   // 269
        ("▁é", -4, .normal),       // 270  "é" is no piece on its own
        ("▁▁", -1e9, .normal),     // 271  runs of spaces merge last
    ]
    static var tokens: [String] { ["<unk>", "<s>", "</s>"] + (0..<256).map { String(format: "<0x%02X>", $0) } + pieces.map(\.0) }
    static var scores: [Float] { [0, 0, 0] + [Float](repeating: 0, count: 256) + pieces.map(\.1) }
    static var types: [TokenType] {
        [.unknown, .control, .control] + [TokenType](repeating: .byte, count: 256) + pieces.map(\.2)
    }
    static func byte(_ b: UInt8) -> Int { Int(b) + 3 }

    static func tokenizer(tokens: [String] = tokens, scores: [Float] = scores, types: [TokenType] = types,
                          prefix: Bool = true) throws -> SentencePieceTokenizer {
        try SentencePieceTokenizer(tokens: tokens, scores: scores, tokenTypes: types,
                                   specialTokenIds: SpecialTokenIds(bos: 1, eos: 2, unk: 0), addSpacePrefix: prefix)
    }

    static func metadata() -> [String: GGUFValue] {
        [
            "tokenizer.ggml.model": .string("llama"),
            "tokenizer.ggml.tokens": .array(tokens.map { .string($0) }),
            "tokenizer.ggml.scores": .array(scores.map { .float32($0) }),
            "tokenizer.ggml.token_type": .array(types.map { .int32(Int32($0.rawValue)) }),
            "tokenizer.ggml.bos_token_id": .uint32(1),
            "tokenizer.ggml.eos_token_id": .uint32(2),
            "tokenizer.ggml.unknown_token_id": .uint32(0),
            "tokenizer.ggml.add_bos_token": .bool(true),
            "tokenizer.ggml.add_space_prefix": .bool(true),
        ]
    }
}

final class SentencePieceTokenizerTests: XCTestCase {
    /// Merge order by score, leftmost on ties; unused pieces split back; dummy prefix; runs of spaces.
    func testEncode_MergeOrder() throws {
        let tok = try TinySentencePiece.tokenizer()
        // "▁abc": ab and bc tie (-1), the leftmost wins; "abc" (unused) is made from ab + c and split back.
        XCTAssertEqual(tok.encode("abc", parseSpecial: false), [259, 264, 262])
        // "▁bcd": cd (-0.5) beats bc (-1) although bc is further left.
        XCTAssertEqual(tok.encode("bcd", parseSpecial: false), [259, 261, 267])
        // "▁▁▁a": ▁a (-2) first, then the leftmost ▁▁ (-1e9).
        XCTAssertEqual(tok.encode("  a", parseSpecial: false), [271, 266])
        // Without the dummy prefix (also: a continuation of earlier text).
        let bare = try TinySentencePiece.tokenizer(prefix: false)
        XCTAssertEqual(bare.encode("abc", parseSpecial: false), [264, 262])
        XCTAssertEqual(tok.encode("abc", parseSpecial: false, continuing: true), [264, 262])
        XCTAssertEqual(tok.encode("", parseSpecial: false), [])
    }

    /// Byte fallback: a character in no piece becomes its UTF-8 byte tokens; one that occurs only inside a piece
    /// still merges into it; with no byte tokens in the vocabulary, the unknown token.
    func testEncode_ByteFallback() throws {
        let tok = try TinySentencePiece.tokenizer()
        XCTAssertEqual(tok.encode("é", parseSpecial: false), [270])
        XCTAssertEqual(tok.encode("xé", parseSpecial: false),
                       [259, TinySentencePiece.byte(0x78), TinySentencePiece.byte(0xC3), TinySentencePiece.byte(0xA9)])
        let noBytes = try TinySentencePiece.tokenizer(types: [.unknown, .control, .control]
                                                      + [TokenType](repeating: .control, count: 256)
                                                      + TinySentencePiece.pieces.map(\.2))
        XCTAssertEqual(noBytes.encode("ax", parseSpecial: false), [266, 0])
    }

    /// User-defined tokens always match whole; control tokens only with parseSpecial.
    func testEncode_AddedTokens() throws {
        let tok = try TinySentencePiece.tokenizer()
        XCTAssertEqual(tok.encode("a@@b", parseSpecial: false), [266, 269, 261])
        XCTAssertEqual(tok.encode("<s>a", parseSpecial: true), [259, 1, 260])
        XCTAssertEqual(tok.encode("<s>a", parseSpecial: false),
                       [259, TinySentencePiece.byte(0x3C), TinySentencePiece.byte(0x73), TinySentencePiece.byte(0x3E), 260])
    }

    /// When a piece has "▁" after another character, the text is not cut into words, and merges cross spaces.
    func testEncode_PieceAcrossASpace() throws {
        let extra: [(String, Float)] = [("▁b", -0.1), ("a▁b", -0.05)]
        let tokens = TinySentencePiece.tokens + extra.map(\.0)
        let tok = try TinySentencePiece.tokenizer(tokens: tokens, scores: TinySentencePiece.scores + extra.map(\.1),
                                                  types: TinySentencePiece.types + [.normal, .normal])
        XCTAssertFalse(tok.splitsWords)
        // "▁a▁b": ▁b (-0.1), then a + ▁b = a▁b (-0.05); ▁a (-2) never gets its turn.
        XCTAssertEqual(tok.encode("a b", parseSpecial: false), [259, 273])
        XCTAssertTrue(try TinySentencePiece.tokenizer().splitsWords)
    }

    /// Decoding: ▁ to space, the dummy prefix's space dropped for a whole sequence (kept for a continuation),
    /// byte tokens as UTF-8, the unknown token as " ⁇ ", control tokens literal unless skipped.
    func testDecode() throws {
        let tok = try TinySentencePiece.tokenizer()
        XCTAssertEqual(tok.decode([259, 264, 262]), "abc")
        XCTAssertEqual(tok.decode([266, 269, 261]), "a@@b")
        XCTAssertEqual(tok.decode([266], skipSpecial: false, continuing: true), " a")
        XCTAssertEqual(tok.decode([1, 266], skipSpecial: true), "a")
        XCTAssertEqual(tok.decode([1, 266], skipSpecial: false), "<s> a")
        XCTAssertEqual(tok.decode([TinySentencePiece.byte(0xC3), TinySentencePiece.byte(0xA9)]), "é")
        XCTAssertEqual(tok.decode([TinySentencePiece.byte(0xC3)]), "\u{FFFD}")
        XCTAssertEqual(tok.decode([0]), " \u{2047} ")
        XCTAssertEqual(tok.decode([9999, -1]), "\u{FFFD}\u{FFFD}")
        XCTAssertEqual(tok.decode([271, 266]), "  a")
    }

    /// GGUF metadata gives the same tokenizer as the parts; the loader picks SentencePiece for "llama".
    func testGGUF_MatchesDirectConstruction() throws {
        let tok = try SentencePieceTokenizer(ggufMetadata: TinySentencePiece.metadata())
        XCTAssertEqual(tok.tokens, TinySentencePiece.tokens)
        XCTAssertEqual(tok.tokenTypes, TinySentencePiece.types)
        XCTAssertEqual(tok.specialTokenIds, SpecialTokenIds(bos: 1, eos: 2, unk: 0))
        XCTAssertTrue(tok.addsBOS)
        XCTAssertEqual(tok.encode("abc", parseSpecial: false), [259, 264, 262])
        let any = try TokenizerLoader.tokenizer(ggufMetadata: TinySentencePiece.metadata())
        XCTAssertTrue(any is SentencePieceTokenizer)
        XCTAssertEqual(any.promptIDs("bcd"), [1, 259, 261, 267])
        var m = TinySentencePiece.metadata()
        m["tokenizer.ggml.add_bos_token"] = nil
        m["tokenizer.ggml.add_space_prefix"] = .bool(false)
        let defaults = try SentencePieceTokenizer(ggufMetadata: m)
        XCTAssertTrue(defaults.addsBOS, "llama.cpp's default for SentencePiece")
        XCTAssertFalse(defaults.addSpacePrefix)
    }

    /// Each malformed GGUF tokenizer throws the error that names its key.
    func testGGUF_Errors() {
        let src = "GGUF"
        let v = TinySentencePiece.tokens.count
        var cases: [(String, [String: GGUFValue], TokenizerError)] = []
        var m = TinySentencePiece.metadata(); m["tokenizer.ggml.scores"] = .array([.float32(0)])
        cases.append(("short scores", m, .countMismatch(source: src, field: "tokenizer.ggml.scores", expected: v, got: 1)))
        m = TinySentencePiece.metadata(); m["tokenizer.ggml.scores"] = nil
        cases.append(("no scores", m, .missingField(source: src, field: "tokenizer.ggml.scores")))
        m = TinySentencePiece.metadata(); m["tokenizer.ggml.scores"] = .array(TinySentencePiece.tokens.map { .string($0) })
        cases.append(("string scores", m, .invalidField(source: src, field: "tokenizer.ggml.scores",
                                                        expected: "an array of numbers", got: "array of string")))
        var scores = TinySentencePiece.scores; scores[5] = .nan
        m = TinySentencePiece.metadata(); m["tokenizer.ggml.scores"] = .array(scores.map { .float32($0) })
        cases.append(("NaN score", m, .invalidField(source: src, field: "tokenizer.ggml.scores[5]", expected: "a number", got: "NaN")))
        var tokens = TinySentencePiece.tokens; tokens[4] = "<0x+1>"
        m = TinySentencePiece.metadata(); m["tokenizer.ggml.tokens"] = .array(tokens.map { .string($0) })
        cases.append(("signed byte token", m, .invalidField(source: src, field: "tokenizer.ggml.tokens[4]",
                                                            expected: "a byte token written <0xXX>", got: "\"<0x+1>\"")))
        tokens = TinySentencePiece.tokens; tokens[3] = "<0xZZ>"
        m = TinySentencePiece.metadata(); m["tokenizer.ggml.tokens"] = .array(tokens.map { .string($0) })
        cases.append(("bad byte token", m, .invalidField(source: src, field: "tokenizer.ggml.tokens[3]",
                                                         expected: "a byte token written <0xXX>", got: "\"<0xZZ>\"")))
        m = TinySentencePiece.metadata(); m["tokenizer.ggml.token_type"] = .array([.int32(1)])
        cases.append(("short types", m, .countMismatch(source: src, field: "tokenizer.ggml.token_type", expected: v, got: 1)))
        m = TinySentencePiece.metadata(); m["tokenizer.ggml.token_type"] = .array(TinySentencePiece.types.map { _ in .int32(7) })
        cases.append(("bad type code", m, .invalidField(source: src, field: "tokenizer.ggml.token_type[0]",
                                                        expected: "a code 1...6", got: "7")))
        m = TinySentencePiece.metadata(); m["tokenizer.ggml.add_bos_token"] = .string("yes")
        cases.append(("add_bos string", m, .invalidField(source: src, field: "tokenizer.ggml.add_bos_token",
                                                         expected: "a boolean", got: "string")))
        m = TinySentencePiece.metadata(); m["tokenizer.ggml.remove_extra_whitespaces"] = .bool(true)
        cases.append(("whitespace collapsing", m, .unsupportedModel(source: src, field: "tokenizer.ggml.remove_extra_whitespaces",
                                                                    expected: "false", got: "true")))
        m = TinySentencePiece.metadata(); m["tokenizer.ggml.bos_token_id"] = .uint32(5000)
        cases.append(("bos range", m, .specialTokenOutOfRange(source: src, name: "bos", id: 5000, vocabularySize: v)))
        m = TinySentencePiece.metadata(); m["tokenizer.ggml.model"] = .string("gpt2")
        cases.append(("byte-level model", m, .unsupportedModel(source: src, field: "tokenizer.ggml.model",
                                                               expected: "llama", got: "gpt2")))
        for (name, metadata, expected) in cases {
            XCTAssertThrowsError(try SentencePieceTokenizer(ggufMetadata: metadata), name) {
                XCTAssertEqual($0 as? TokenizerError, expected, name)
            }
        }
        m = TinySentencePiece.metadata(); m["tokenizer.ggml.model"] = .string("bert")
        XCTAssertThrowsError(try TokenizerLoader.tokenizer(ggufMetadata: m)) {
            XCTAssertEqual($0 as? TokenizerError, .unsupportedModel(source: src, field: "tokenizer.ggml.model",
                                                                    expected: "gpt2\" or \"llama", got: "bert"))
            XCTAssertEqual("\($0)", "GGUF: tokenizer.ggml.model is \"bert\", expected \"gpt2\" or \"llama\"")
        }
        XCTAssertThrowsError(try SentencePieceTokenizer(tokens: ["a"], scores: [], tokenTypes: [.normal])) {
            XCTAssertEqual($0 as? TokenizerError, .countMismatch(source: "tokenizer", field: "scores", expected: 1, got: 0))
        }
    }

    /// A tokenizer.json in each supported space form reads as SentencePiece; malformed ones name their field.
    func testHuggingFace_FormsAndErrors() throws {
        let tok = try TinySentencePiece.tokenizer()
        let exported = try JSONSerialization.jsonObject(with: try tok.huggingFaceJSON()) as! [String: Any]
        func variant(_ edit: (inout [String: Any]) -> Void) throws -> Data {
            var root = exported
            edit(&root)
            return try JSONSerialization.data(withJSONObject: root)
        }
        let metaspace = try SentencePieceTokenizer(huggingFaceJSON: try variant { _ in })
        XCTAssertEqual(metaspace.encode("bcd", parseSpecial: false), [259, 261, 267])
        XCTAssertEqual(metaspace.specialTokenIds, SpecialTokenIds(bos: 1, unk: 0), "BOS from the post-processor")
        XCTAssertTrue(metaspace.addsBOS)
        // tokenizer.json has no "unused" type: "abc" is an ordinary piece once written and read back.
        XCTAssertEqual(metaspace.encode("abc", parseSpecial: false), [259, 268])
        let llama2Form = try SentencePieceTokenizer(huggingFaceJSON: try variant {
            $0["pre_tokenizer"] = NSNull()
            $0["normalizer"] = ["type": "Sequence", "normalizers": [
                ["type": "Prepend", "prepend": "▁"], ["type": "Replace", "pattern": ["String": " "], "content": "▁"]]]
        })
        XCTAssertTrue(llama2Form.addSpacePrefix)
        XCTAssertEqual(llama2Form.encode("  a", parseSpecial: false), [271, 266])
        let never = try SentencePieceTokenizer(huggingFaceJSON: try variant {
            $0["pre_tokenizer"] = ["type": "Metaspace", "replacement": "▁", "prepend_scheme": "never"]
        })
        XCTAssertFalse(never.addSpacePrefix)

        let src = "tokenizer.json"
        let cases: [(String, Data, TokenizerError)] = [
            ("byte_fallback false", try variant { var m = $0["model"] as! [String: Any]; m["byte_fallback"] = false; $0["model"] = m },
             .unsupportedModel(source: src, field: "model.byte_fallback", expected: "true", got: "false")),
            ("replacement", try variant { $0["pre_tokenizer"] = ["type": "Metaspace", "replacement": "_"] },
             .unsupportedPreTokenizer(source: src, found: "Metaspace(replacement: _)")),
            ("normalizer", try variant { $0["normalizer"] = ["type": "Lowercase"] },
             .unsupportedNormalizer(source: src, found: "[Lowercase]")),
            ("no space handling", try variant { $0["pre_tokenizer"] = NSNull() },
             .unsupportedPreTokenizer(source: src, found: "null")),
            ("merge of unknown token", try variant {
                var m = $0["model"] as! [String: Any]; m["merges"] = [["a", "zz"]]; $0["model"] = m
            }, .mergeTokenNotInVocabulary(source: src, index: 0, token: "zz")),
        ]
        for (name, data, expected) in cases {
            XCTAssertThrowsError(try SentencePieceTokenizer(huggingFaceJSON: data), name) {
                XCTAssertEqual($0 as? TokenizerError, expected, name)
            }
        }
        XCTAssertTrue(try TokenizerLoader.tokenizer(huggingFaceJSON: try variant { _ in }) is SentencePieceTokenizer)
    }
}
