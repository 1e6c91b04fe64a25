// Golden tokenization of a SentencePiece BPE model (Mistral-7B-v0.1, byte fallback, dummy space prefix): every
// entry of shared/golden/spm-mistral-tokenization.json holds the ids, pieces and decoded text of the
// sentencepiece library itself (0.2.3). Emend must give those ids from the vocabulary-only GGUF and from
// tokenizer.json alike, including the entries the golden file flags where Hugging Face's tokenizers library
// disagrees with sentencepiece (runs of leading spaces, a literal "<s>" in the text).

import Foundation
import XCTest
import EmendTestSupport
@testable import EmendModels

/// The fields of spm-mistral-tokenization.json the tests read.
struct SentencePieceGolden: Decodable {
    struct Entry: Decodable {
        var text: String
        var ids: [Int]
        var pieces: [String]
        var decoded: String
        var hf_tokenizers_agrees: Bool
    }
    var vocab_size: Int
    var bos_id: Int
    var eos_id: Int
    var unk_id: Int
    var entries: [Entry]

    static var file: URL { TestPaths.shared.appendingPathComponent("golden/spm-mistral-tokenization.json") }
    static var folder: URL { TestPaths.shared.appendingPathComponent("data/tokenizers/mistral-7b-v0.1") }
    static var gguf: URL { folder.appendingPathComponent("vocab-only.gguf") }
    static var tokenizerJSON: URL { folder.appendingPathComponent("tokenizer.json") }

    static func load() throws -> SentencePieceGolden {
        guard TestPaths.exists(file), TestPaths.exists(gguf), TestPaths.exists(tokenizerJSON) else {
            throw XCTSkip("the Mistral tokenizer fixtures (\(file.path), \(folder.path)) are absent")
        }
        return try JSONDecoder().decode(SentencePieceGolden.self, from: Data(contentsOf: file))
    }

    /// The Mistral tokenizer read from the vocabulary-only GGUF (read once per test process).
    nonisolated(unsafe) static var cachedGGUF: SentencePieceTokenizer?
    static func ggufTokenizer() throws -> SentencePieceTokenizer {
        if let t = cachedGGUF { return t }
        _ = try load()
        let t = try SentencePieceTokenizer(gguf: try GGUFFile(url: gguf))
        cachedGGUF = t
        return t
    }

    /// The Mistral tokenizer read from tokenizer.json alone.
    static func jsonTokenizer() throws -> SentencePieceTokenizer {
        _ = try load()
        return try SentencePieceTokenizer(huggingFaceJSON: try Data(contentsOf: tokenizerJSON), source: tokenizerJSON.path)
    }
}

/// Compares a tokenizer with every golden entry: ids, pieces and the decoded text, failing with the first
/// differing ids of each entry.
func checkSentencePieceGolden(_ tok: SentencePieceTokenizer, _ golden: SentencePieceGolden, _ label: String,
                              file: StaticString = #filePath, line: UInt = #line) {
    var failures = 0
    for (k, e) in golden.entries.enumerated() {
        let ids = tok.encode(e.text, parseSpecial: false)
        if ids != e.ids {
            failures += 1
            let at = zip(ids, e.ids).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(ids.count, e.ids.count)
            XCTFail("\(label) entry \(k) \(e.text.debugDescription): ids differ from sentencepiece's at \(at): "
                    + "got \(ids.prefix(at + 3)), want \(e.ids.prefix(at + 3)) (HF agrees: \(e.hf_tokenizers_agrees))",
                    file: file, line: line)
            if failures > 5 { return }
            continue
        }
        XCTAssertEqual(ids.map { tok.tokenString($0) ?? "?" }, e.pieces, "\(label) entry \(k) pieces", file: file, line: line)
        XCTAssertEqual(tok.decode(e.ids), e.decoded, "\(label) entry \(k) decode", file: file, line: line)
    }
}

final class SentencePieceGoldenTests: XCTestCase {
    /// The GGUF (scores, token types, add_space_prefix) gives sentencepiece's ids, pieces and decoded text for
    /// every golden entry; the golden set encodes quickly thanks to the per-word cache.
    func testGolden_GGUFGivesSentencePieceIds() throws {
        let golden = try SentencePieceGolden.load()
        let tok = try SentencePieceGolden.ggufTokenizer()
        XCTAssertEqual(tok.vocabularySize, golden.vocab_size)
        XCTAssertEqual(tok.specialTokenIds, SpecialTokenIds(bos: golden.bos_id, eos: golden.eos_id, unk: golden.unk_id))
        XCTAssertTrue(tok.addSpacePrefix)
        XCTAssertTrue(tok.addsBOS, "tokenizer.ggml.add_bos_token is true in the fixture")
        XCTAssertTrue(tok.splitsWords, "no Mistral piece has ▁ after another character")
        XCTAssertTrue(golden.entries.contains { !$0.hf_tokenizers_agrees }, "the golden file flags HF's disagreements")
        checkSentencePieceGolden(tok, golden, "GGUF")

        // Speed: the whole golden set, cold then warm (per-word cache); printed, not asserted.
        let fresh = try SentencePieceTokenizer(gguf: try GGUFFile(url: SentencePieceGolden.gguf))
        let texts = golden.entries.map(\.text)
        var t0 = Date()
        var n = texts.reduce(0) { $0 + fresh.encode($1, parseSpecial: false).count }
        let cold = Date().timeIntervalSince(t0)
        t0 = Date()
        for _ in 0..<10 { n += texts.reduce(0) { $0 + fresh.encode($1, parseSpecial: false).count } }
        print("SentencePiece golden set (\(texts.count) texts): cold \(String(format: "%.1f", cold * 1000)) ms, "
              + "warm \(String(format: "%.2f", Date().timeIntervalSince(t0) * 100)) ms per pass (\(n) tokens)")
    }

    /// tokenizer.json alone (merges, no scores; Metaspace pre-tokenizer) gives the same sentencepiece ids,
    /// including where Hugging Face's own tokenizer differs.
    func testGolden_TokenizerJSONGivesSentencePieceIds() throws {
        let golden = try SentencePieceGolden.load()
        let tok = try SentencePieceGolden.jsonTokenizer()
        XCTAssertEqual(tok.vocabularySize, golden.vocab_size)
        XCTAssertTrue(tok.addSpacePrefix)
        // The fixture's post-processor adds nothing and there is no tokenizer_config.json beside it.
        XCTAssertFalse(tok.addsBOS)
        XCTAssertEqual(tok.tokenTypes[13], .byte)
        checkSentencePieceGolden(tok, golden, "tokenizer.json")

        let config = try JSONSerialization.data(withJSONObject: ["bos_token": "<s>", "eos_token": "</s>",
                                                                 "unk_token": "<unk>", "add_bos_token": true])
        let configured = try SentencePieceTokenizer(huggingFaceJSON: try Data(contentsOf: SentencePieceGolden.tokenizerJSON),
                                                    configJSON: config)
        XCTAssertTrue(configured.addsBOS)
        XCTAssertEqual(configured.specialTokenIds, SpecialTokenIds(bos: 1, eos: 2, unk: 0))
        XCTAssertEqual(configured.tokenTypes[0], .unknown)
    }

    /// The tokenizer written as tokenizer.json + tokenizer_config.json (a safetensors export of a GGUF model)
    /// reads back with the same settings and gives the golden ids.
    func testHuggingFaceExport_RoundTripsGolden() throws {
        let golden = try SentencePieceGolden.load()
        let tok = try SentencePieceGolden.ggufTokenizer()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("emend-spm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try tok.writeHuggingFaceFiles(to: folder)
        let back = try XCTUnwrap(try TokenizerLoader.tokenizer(huggingFaceDirectory: folder) as? SentencePieceTokenizer)
        XCTAssertEqual(back.vocabularySize, tok.vocabularySize)
        let differing = tok.tokens.indices.filter {
            back.tokens.indices.contains($0) && (Array(back.tokens[$0].utf8) != Array(tok.tokens[$0].utf8) || back.tokenTypes[$0] != tok.tokenTypes[$0])
        }
        XCTAssertEqual(differing, [], "\(differing.prefix(5).map { "\($0): \(tok.tokens[$0].debugDescription) \(tok.tokenTypes[$0]) -> \(back.tokens[$0].debugDescription) \(back.tokenTypes[$0])" })")
        XCTAssertEqual(back.specialTokenIds, tok.specialTokenIds)
        XCTAssertEqual(back.addsBOS, tok.addsBOS)
        XCTAssertEqual(back.addSpacePrefix, tok.addSpacePrefix)
        checkSentencePieceGolden(back, golden, "exported tokenizer.json")
    }

    /// The loader picks SentencePiece for the GGUF, tokenizer.json and the folder; "smollm2" stays byte-level.
    func testLoader_PicksTheKind() throws {
        _ = try SentencePieceGolden.load()
        for path in [SentencePieceGolden.gguf.path, SentencePieceGolden.tokenizerJSON.path, SentencePieceGolden.folder.path] {
            XCTAssertTrue(try TokenizerLoader.load(path) is SentencePieceTokenizer, path)
        }
        if TestPaths.exists(TestPaths.defaultModel) {
            XCTAssertTrue(try TokenizerLoader.load("smollm2") is BPETokenizer)
        }
    }

    /// BOS and targets: promptIDs puts BOS first; a target after a prompt is "▁English", never the lone "▁" that
    /// encoding " English" on its own gives (golden: [28705, 4300]); decoding a continuation keeps its space.
    func testPromptAndTarget_NoLoneSpacePiece() throws {
        let tok: any Tokenizer = try SentencePieceGolden.ggufTokenizer()
        XCTAssertEqual(tok.encode(" English", parseSpecial: false), [28705, 4300])
        XCTAssertEqual(tok.promptIDs("Hello world"), [1, 22557, 1526])
        let split = tok.promptAndTargetIDs(prompt: "The mother tongue of Danielle Darrieux is", target: "English")
        XCTAssertEqual(split.prompt.first, 1)
        XCTAssertEqual(split.target, [4300])
        XCTAssertEqual(tok.promptAndTargetIDs(prompt: "The mother tongue of Danielle Darrieux is", target: " English").target, [4300])
        XCTAssertEqual(tok.decode([4300], skipSpecial: true, continuing: true), " English")
        XCTAssertEqual(tok.decode([1, 22557, 1526], skipSpecial: true), "Hello world")
        XCTAssertEqual(tok.decode([1, 22557, 1526], skipSpecial: false), "<s> Hello world")
        XCTAssertEqual(tok.encode("line two", parseSpecial: false, continuing: true), [1081, 989])
    }
}
