// A tokenizer written as tokenizer.json + tokenizer_config.json (BPETokenizer+HuggingFaceExport.swift) reads back
// as the same tokenizer: the independent truth is the Hugging Face reader, which the golden tokenization tests
// check against transformers.

import XCTest
@testable import EmendModels

final class HuggingFaceTokenizerExportTests: XCTestCase {
    /// For every pre-tokenizer: tokens, types, merges in rank order, special ids, ignore_merges and encodings survive.
    func testExport_RoundTripsThroughTheHuggingFaceReader() throws {
        for pre in ["gpt2", "llama-bpe", "smollm", "qwen2"] {
            let tok = try BPETokenizer(ggufMetadata: GGUFTokenizerTests.metadata(pre: pre))
            let back = try BPETokenizer(huggingFaceJSON: try tok.huggingFaceJSON(), configJSON: try tok.huggingFaceConfigJSON())
            XCTAssertEqual(back.tokens, tok.tokens, pre)
            XCTAssertEqual(back.tokenTypes.map { $0 == .control }, tok.tokenTypes.map { $0 == .control }, pre)
            XCTAssertEqual(back.preTokenizer, tok.preTokenizer, pre)
            XCTAssertEqual(back.ignoreMerges, tok.ignoreMerges, pre)
            XCTAssertEqual(back.specialTokenIds, tok.specialTokenIds, pre)
            XCTAssertEqual(back.mergesByRank.map { "\($0.0) \($0.1)" }, tok.mergesByRank.map { "\($0.0) \($0.1)" }, pre)
            XCTAssertEqual(back.mergesByRank.map { "\($0.0) \($0.1)" }, TinyVocabulary.merges.map { "\($0.0) \($0.1)" }, pre)
            for text in [" the abc<a><b>", "abc 12 the", "<a>x<b>"] {
                XCTAssertEqual(back.encode(text, parseSpecial: true), tok.encode(text, parseSpecial: true), "\(pre): \(text)")
            }
        }
    }

    /// The default model's GGUF tokenizer, written out and read back, still encodes and decodes all 131 golden
    /// strings as transformers does (the golden file), and keeps the chat template.
    func testExport_DefaultTokenizerKeepsTheGoldenTokenization() throws {
        let golden = try GoldenTokenization.load()
        let file = try GoldenTokenizationTests.openModel()
        let tok = try BPETokenizer(gguf: file)
        let template = try XCTUnwrap(file.metadata["tokenizer.chat_template"]?.string)
        let config = try tok.huggingFaceConfigJSON(chatTemplate: template)
        let back = try BPETokenizer(huggingFaceJSON: try tok.huggingFaceJSON(), configJSON: config)
        XCTAssertEqual(back.specialTokenIds, tok.specialTokenIds)
        checkGoldenTokenization(back, golden)
        let stored = try XCTUnwrap(JSONSerialization.jsonObject(with: config) as? [String: Any])
        XCTAssertEqual(stored["chat_template"] as? String, template)
    }
}
