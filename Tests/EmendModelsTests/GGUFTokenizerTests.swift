// Reading a tokenizer from GGUF metadata built by hand (the TinyVocabulary of TokenizerTests, whose
// ids are worked out there), and the catalogue of malformed metadata.

import XCTest
@testable import EmendModels

final class GGUFTokenizerTests: XCTestCase {
    static func metadata(pre: String = "gpt2") -> [String: GGUFValue] {
        [
            "tokenizer.ggml.model": .string("gpt2"),
            "tokenizer.ggml.pre": .string(pre),
            "tokenizer.ggml.tokens": .array(TinyVocabulary.tokens.map { .string($0) }),
            "tokenizer.ggml.token_type": .array(TinyVocabulary.types.map { .int32(Int32($0.rawValue)) }),
            "tokenizer.ggml.merges": .array(TinyVocabulary.merges.map { .string("\($0.0) \($0.1)") }),
            "tokenizer.ggml.bos_token_id": .uint32(262),
            "tokenizer.ggml.eos_token_id": .uint32(263),
            "tokenizer.chat_template": .string("{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>'}}"),
        ]
    }

    /// Same tokens, types, ids and special ids as the directly built tokenizer.
    func testLoad_MatchesDirectConstruction() throws {
        let tok = try BPETokenizer(ggufMetadata: Self.metadata())
        XCTAssertEqual(tok.tokens, TinyVocabulary.tokens)
        XCTAssertEqual(tok.tokenTypes, TinyVocabulary.types)
        XCTAssertEqual(tok.specialTokenIds, .init(bos: 262, eos: 263))
        XCTAssertEqual(tok.mergeCount, TinyVocabulary.merges.count)
        XCTAssertEqual(tok.encode(" the abc<a><b>"), [258, 32, 97, 260, 263])
        XCTAssertFalse(tok.ignoreMerges)
        // llama.cpp turns on ignore_merges for the Llama 3 pre-tokenizer: "abc" is in the vocabulary.
        let llama = try BPETokenizer(ggufMetadata: Self.metadata(pre: "llama-bpe"))
        XCTAssertTrue(llama.ignoreMerges)
        XCTAssertEqual(llama.encode("abc"), [266])
        XCTAssertEqual(try ChatTemplate.fromGGUF(Self.metadata()), ChatTemplate())
        XCTAssertNil(try ChatTemplate.fromGGUF([:]))
    }

    /// Each malformed metadata throws the error that names its key.
    func testLoad_Errors() {
        let src = "GGUF"
        var cases: [(String, [String: GGUFValue], TokenizerError)] = []
        var m = Self.metadata(); m["tokenizer.ggml.model"] = .string("llama")
        cases.append(("spm model", m, .unsupportedModel(source: src, field: "tokenizer.ggml.model", expected: "gpt2", got: "llama")))
        m = Self.metadata(); m["tokenizer.ggml.pre"] = nil
        cases.append(("no pre", m, .missingField(source: src, field: "tokenizer.ggml.pre")))
        m = Self.metadata(pre: "jais")
        cases.append(("unknown pre", m, .unknownPreTokenizer(name: "jais", supported: PreTokenizer.allCases.map(\.rawValue)
                                                            + PreTokenizer.ggufAliases.keys.sorted())))
        m = Self.metadata(); m["tokenizer.ggml.tokens"] = .uint32(3)
        cases.append(("tokens not array", m, .invalidField(source: src, field: "tokenizer.ggml.tokens",
                                                           expected: "an array of strings", got: "uint32")))
        m = Self.metadata(); m["tokenizer.ggml.token_type"] = .array([.int32(1)])
        cases.append(("short types", m, .countMismatch(source: src, field: "tokenizer.ggml.token_type", expected: 267, got: 1)))
        m = Self.metadata(); m["tokenizer.ggml.token_type"] = .array(TinyVocabulary.types.map { _ in .int32(9) })
        cases.append(("bad type code", m, .invalidField(source: src, field: "tokenizer.ggml.token_type[0]",
                                                        expected: "a code 1...6", got: "9")))
        m = Self.metadata(); m["tokenizer.ggml.merges"] = .array([.string("Ġt")])
        cases.append(("bad merge", m, .malformedMerge(source: src + " tokenizer.ggml.merges", index: 0, merge: "Ġt")))
        m = Self.metadata(); m["tokenizer.ggml.eos_token_id"] = .string("2")
        cases.append(("eos string", m, .invalidField(source: src, field: "tokenizer.ggml.eos_token_id",
                                                     expected: "an integer", got: "string")))
        m = Self.metadata(); m["tokenizer.ggml.bos_token_id"] = .uint32(5000)
        cases.append(("bos range", m, .specialTokenOutOfRange(source: src, name: "bos", id: 5000, vocabularySize: 267)))
        for (name, metadata, expected) in cases {
            XCTAssertThrowsError(try BPETokenizer(ggufMetadata: metadata), name) {
                XCTAssertEqual($0 as? TokenizerError, expected, name)
            }
        }
        var bad = Self.metadata(); bad["tokenizer.chat_template"] = .string("[INST]")
        XCTAssertThrowsError(try ChatTemplate.fromGGUF(bad))
    }
}
