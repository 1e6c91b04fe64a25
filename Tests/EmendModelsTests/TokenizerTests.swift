// Byte-level BPE on a hand-made vocabulary whose ids are worked out by hand: merge order by rank,
// added tokens, bytes missing from the vocabulary, UTF-8 replacement on decode, errors.

import Foundation
import XCTest
import EmendCore
@testable import EmendModels

/// A tiny byte-level vocabulary: ids 0...255 are the single bytes (id == byte value), then
/// 256 "Ġt", 257 "he", 258 "Ġthe", 259 "aa", 260 "bc", 261 "ab", 262 "<a>" (control),
/// 263 "<a><b>" (control), 264 "@@" (user-defined), 265 "!!", 266 "abc".
enum TinyVocabulary {
    static let extra: [(String, BPETokenizer.TokenType)] = [
        ("Ġt", .normal), ("he", .normal), ("Ġthe", .normal), ("aa", .normal), ("bc", .normal), ("ab", .normal),
        ("<a>", .control), ("<a><b>", .control), ("@@", .userDefined), ("!!", .normal), ("abc", .normal),
    ]
    /// Rank order: Ġ t, h e, Ġt he, a a, b c, a b, ! !
    static let merges: [(String, String)] = [
        ("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("a", "a"), ("b", "c"), ("a", "b"), ("!", "!"),
    ]
    static var tokens: [String] { (0..<256).map { String(ByteLevel.scalarForByte[$0]) } + extra.map(\.0) }
    static var types: [BPETokenizer.TokenType] { Array(repeating: .normal, count: 256) + extra.map(\.1) }

    static func tokenizer(_ pre: PreTokenizer = .gpt2, tokens: [String] = tokens,
                          ignoreMerges: Bool = false) throws -> BPETokenizer {
        try BPETokenizer(tokens: tokens, tokenTypes: types, merges: merges, preTokenizer: pre,
                         specialTokenIds: .init(bos: 262, eos: 263, pad: nil, unk: nil), ignoreMerges: ignoreMerges)
    }
}

final class TokenizerTests: XCTestCase {
    /// GPT-2's byte table: printable Latin-1 maps to itself, the other 68 bytes to U+0100... in
    /// byte order, so 0x0A -> U+010A "Ċ", 0x20 -> U+0120 "Ġ", 0x7F -> U+0121, 0xAD -> U+0143.
    func testByteLevel_TableMatchesGPT2() {
        let table = ByteLevel.scalarForByte
        XCTAssertEqual(Set(table).count, 256)
        XCTAssertEqual(table[0x00].value, 0x100)
        XCTAssertEqual(table[0x0A], "Ċ")
        XCTAssertEqual(table[0x20], "Ġ")
        XCTAssertEqual(table[0x21], "!")
        XCTAssertEqual(table[0x7F].value, 0x121)
        XCTAssertEqual(table[0xA0].value, 0x142)
        XCTAssertEqual(table[0xAD].value, 0x143)
        XCTAssertEqual(table[0xE9], "é")
        for b in 0..<256 { XCTAssertEqual(ByteLevel.byte(for: table[b]), UInt8(b)) }
        XCTAssertNil(ByteLevel.byte(for: "€"))
        XCTAssertEqual(ByteLevel.decode(ByteLevel.encode(Array("naïve €".utf8))), Array("naïve €".utf8))
    }

    /// Merges apply lowest rank first, leftmost on ties (ids worked out by hand from the ranks).
    func testEncode_MergesByRank() throws {
        let tok = try TinyVocabulary.tokenizer()
        XCTAssertEqual(tok.encode(" the"), [258])          // Ġ+t (0), h+e (1), Ġt+he (2)
        XCTAssertEqual(tok.encode("the"), [116, 257])      // no rule for t+h or t+he
        XCTAssertEqual(tok.encode("aaaaa"), [259, 259, 97]) // a+a left to right
        XCTAssertEqual(tok.encode("abc"), [97, 260])       // b+c (4) beats a+b (5); no rule a+bc
        XCTAssertEqual(tok.encode("ab"), [261])
        XCTAssertEqual(tok.encode(""), [])
        XCTAssertEqual(tok.encode("abc the abc"), [97, 260, 258, 32, 97, 260])  // cached words agree
        XCTAssertEqual(try TinyVocabulary.tokenizer(ignoreMerges: true).encode("abc"), [266])
    }

    /// Added tokens: leftmost-longest; control tokens only with parseSpecial; user-defined always.
    func testEncode_AddedTokens() throws {
        let tok = try TinyVocabulary.tokenizer()
        XCTAssertEqual(tok.encode("<a><b><a>"), [263, 262])
        XCTAssertEqual(tok.encode("<a><b><a>", parseSpecial: false), [60, 97, 62, 60, 98, 62, 60, 97, 62])
        XCTAssertEqual(tok.encode("x@@y"), [120, 264, 121])
        XCTAssertEqual(tok.encode("x@@y", parseSpecial: false), [120, 264, 121])
        XCTAssertEqual(tok.encode("<a"), [60, 97])
        XCTAssertEqual(tok.bosTokenId, 262)
        XCTAssertEqual(tok.eosTokenId, 263)
        XCTAssertNil(tok.padTokenId)
        XCTAssertEqual(tok.vocabularySize, 267)
        XCTAssertEqual(tok.tokenString(258), "Ġthe")
        XCTAssertNil(tok.tokenString(267))
        XCTAssertEqual(tok.tokenId("Ġthe"), 258)
    }

    /// A byte with no token (SmolLM2 lacks 0x04, 0xF1, ...) blocks merges and is dropped, as in llama.cpp.
    func testEncode_MissingByteDropped() throws {
        var tokens = TinyVocabulary.tokens
        tokens[4] = "<unused4>"
        let tok = try TinyVocabulary.tokenizer(tokens: tokens)
        XCTAssertEqual(tok.encode("!!"), [265])
        XCTAssertEqual(tok.encode("!\u{4}!"), [33, 33])
        XCTAssertEqual(tok.encode("a\u{4}"), [97])
    }

    /// Decoding: bytes are joined, then invalid UTF-8 becomes U+FFFD per maximal invalid subpart;
    /// expected strings from Python's `bytes.decode("utf-8", "replace")`.
    func testDecode_ByteFallbackReplacement() throws {
        let tok = try TinyVocabulary.tokenizer()
        let cases: [([Int], String)] = [
            ([0xE2, 0x82, 0x61], "\u{FFFD}a"),
            ([0xFF, 0xFE], "\u{FFFD}\u{FFFD}"),
            ([0xF0, 0x9F, 0x98], "\u{FFFD}"),
            ([0xC3, 0xA9], "é"),
            ([0x61, 0xC3], "a\u{FFFD}"),
            ([0xED, 0xA0, 0x80, 0x78], "\u{FFFD}\u{FFFD}\u{FFFD}x"),
            ([0xE2, 0x28, 0xA1], "\u{FFFD}(\u{FFFD}"),
        ]
        for (ids, expected) in cases { XCTAssertEqual(tok.decode(ids), expected, "\(ids)") }
        XCTAssertEqual(tok.decode([258, 263, 264]), " the<a><b>@@")
        XCTAssertEqual(tok.decode([258, 263, 264], skipSpecial: true), " the@@")
        XCTAssertEqual(tok.decode([-1, 9999]), "\u{FFFD}\u{FFFD}")
        XCTAssertEqual(tok.bytes(of: 258), Array(" the".utf8))
    }

    /// decode(encode(s)) == s for seeded random strings mixing scripts, digits, spaces and emoji,
    /// under every pre-tokenizer (byte-level BPE is lossless when every byte has a token).
    func testEncodeDecode_RoundTrip() throws {
        let alphabet = Array("ab the  \n\t\r!?'sS12٣½éд東😀\u{301}\u{A0}<a>@".unicodeScalars)
        var rng = SeededGenerator(seed: 7)
        for pre in PreTokenizer.allCases {
            let tok = try TinyVocabulary.tokenizer(pre)
            for _ in 0..<200 {
                var s = String.UnicodeScalarView()
                for _ in 0..<Int(rng.next() % 24) { s.append(alphabet[Int(rng.next() % UInt64(alphabet.count))]) }
                let text = String(s)
                XCTAssertEqual(tok.decode(tok.encode(text)), text, "\(pre) \(text.debugDescription)")
                XCTAssertEqual(pre.split(text).joined(), text, "\(pre) \(text.debugDescription)")
            }
        }
    }

    /// The heap merge loop (long words) equals the rescanning loop on seeded random words.
    func testMerge_HeapEqualsScan() throws {
        var tokens = TinyVocabulary.tokens
        tokens[4] = "<unused4>"  // a byte without a token must block merges in both loops
        let tok = try TinyVocabulary.tokenizer(tokens: tokens)
        let alphabet = Array("aabc the!!\u{4}".utf8)
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<300 {
            let word = (0..<Int(1 + rng.next() % 300)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            XCTAssertEqual(tok.mergedByHeap(word), tok.mergedByScan(word), "\(word)")
        }
    }

    /// Concurrent encoding shares the word cache safely: results equal the serial ones.
    func testEncode_ConcurrentCallsAgree() throws {
        let tok = try TinyVocabulary.tokenizer()
        let texts = (0..<64).map { "the abc \($0) aaaa<a>!! x\($0 * 7)" }
        let serial = texts.map { tok.encode($0) }
        let results = UnsafeMutableBufferPointer<[Int]>.allocate(capacity: texts.count)
        results.initialize(repeating: [])
        defer { results.deinitialize(); results.deallocate() }   // the arrays stored in it too (LeakSanitizer)
        let out = SendablePointer(results.baseAddress!)
        DispatchQueue.concurrentPerform(iterations: texts.count) { i in out.base[i] = tok.encode(texts[i]) }
        XCTAssertEqual(Array(results), serial)
        XCTAssertGreaterThan(tok.wordCache.count, 0)
    }

    /// Construction errors name the field and the offending value (one sentence each).
    func testInit_Errors() throws {
        let tokens = TinyVocabulary.tokens
        XCTAssertThrowsError(try BPETokenizer(tokens: tokens, tokenTypes: [], merges: [], preTokenizer: .gpt2)) {
            XCTAssertEqual($0 as? TokenizerError,
                           .countMismatch(source: "tokenizer", field: "token types", expected: 267, got: 0))
        }
        XCTAssertThrowsError(try BPETokenizer(tokens: tokens, tokenTypes: TinyVocabulary.types,
                                              merges: [("a", "zz")], preTokenizer: .gpt2)) {
            XCTAssertEqual($0 as? TokenizerError, .mergeTokenNotInVocabulary(source: "tokenizer", index: 0, token: "zz"))
        }
        XCTAssertThrowsError(try BPETokenizer(tokens: tokens, tokenTypes: TinyVocabulary.types,
                                              merges: [("a", "c")], preTokenizer: .gpt2)) {
            XCTAssertEqual($0 as? TokenizerError, .mergeTokenNotInVocabulary(source: "tokenizer", index: 0, token: "ac"))
        }
        XCTAssertThrowsError(try BPETokenizer(tokens: tokens, tokenTypes: TinyVocabulary.types, merges: [],
                                              preTokenizer: .gpt2, specialTokenIds: .init(eos: 300))) {
            XCTAssertEqual($0 as? TokenizerError,
                           .specialTokenOutOfRange(source: "tokenizer", name: "eos", id: 300, vocabularySize: 267))
        }
        XCTAssertThrowsError(try BPETokenizer.parseMerge("abc", index: 3, source: "m")) {
            XCTAssertEqual($0 as? TokenizerError, .malformedMerge(source: "m", index: 3, merge: "abc"))
        }
        let (l, r) = try BPETokenizer.parseMerge(" a b", index: 0, source: "m")
        XCTAssertEqual([l, r], [" a", "b"])
        XCTAssertThrowsError(try PreTokenizer(ggufName: "falcon")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("\"falcon\"") && text.contains("smollm") && text.contains("llama-bpe"), text)
        }
        XCTAssertEqual(try PreTokenizer(ggufName: "smollm"), .smollm)
        XCTAssertEqual(try PreTokenizer(ggufName: "llama-bpe"), .llamaBPE)
    }
}
