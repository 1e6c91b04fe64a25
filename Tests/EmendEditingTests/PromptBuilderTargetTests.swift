import XCTest
import EmendModels
import EmendTestSupport
@testable import EmendEditing

/// The editors' target tokens on the first 200 CounterFact records (shared/data/counterfact_easyedit). The
/// independent truth is the tokenizer's own encoding of the joined text: with the Mistral SentencePiece
/// tokenizer (shared/data/tokenizers/mistral-7b-v0.1, checked against sentencepiece's ids by
/// SentencePieceGoldenTests), the target's ids are exactly the tokens that follow the prompt's in
/// `prompt + " " + target`, never a lone "▁"; the prompts start with BOS; with SmolLM2 (byte-level BPE, no BOS)
/// the target's ids are what they always were, the encoding of " " + target.
final class PromptBuilderTargetTests: XCTestCase {
    func records(_ n: Int) throws -> [EditRequest] {
        let url = TestPaths.shared.appendingPathComponent("data/counterfact_easyedit/counterfact-edit.json")
        guard TestPaths.exists(url) else { throw XCTSkip("shared/data not found beside the repository") }
        return Array(try EditRequest.load(from: url).prefix(n))
    }

    /// Mistral: every target is the tail of the joined encoding, and no target starts with the "▁" piece.
    func testTargets_MistralFollowThePrompt() throws {
        let gguf = TestPaths.shared.appendingPathComponent("data/tokenizers/mistral-7b-v0.1/vocab-only.gguf")
        guard TestPaths.exists(gguf) else { throw XCTSkip("\(gguf.path) is absent") }
        let tok = try TokenizerLoader.tokenizer(gguf: try GGUFFile(url: gguf))
        let space = 28705   // "▁"
        XCTAssertEqual(tok.tokenString(space), "▁")
        let builder = PromptBuilder(tokenizer: tok, contexts: ["{}", "A short context. {}"])
        let rs = try records(200)
        XCTAssertEqual(rs.count, 200)
        for (k, r) in rs.enumerated() {
            let prompt = builder.plainPrompt(r)
            let head = tok.encode(prompt, parseSpecial: false)
            let whole = tok.encode(prompt + " " + r.targetNew, parseSpecial: false)
            let target = builder.targetIDs(r)
            XCTAssertTrue(whole.starts(with: head), "record \(k): the joined encoding changes the prompt's tokens")
            XCTAssertEqual(target, Array(whole[head.count...]), "record \(k) \(r.targetNew.debugDescription)")
            XCTAssertNotEqual(target.first, space, "record \(k): lone ▁ before \(r.targetNew.debugDescription)")
            XCTAssertEqual(tok.decode(target, skipSpecial: true, continuing: true), " " + r.targetNew, "record \(k)")

            let search = builder.searchPrompts(r)
            XCTAssertEqual(search.target, target)
            for (ids, lookup) in zip(search.rewrite, search.rewriteLookup) {
                XCTAssertEqual(ids.first, 1, "record \(k): BOS first")
                XCTAssertTrue(ids.indices.contains(lookup))
                XCTAssertEqual(Array(ids.suffix(target.count - 1)), Array(target.dropLast()), "record \(k)")
            }
            // The subject's last token: the prompt's encoding up to the subject ends there (BOS counted).
            let subjectEnd = tok.promptIDs(r.prompt.components(separatedBy: "{}")[0] + r.subject)
            XCTAssertEqual(search.rewriteLookup[0], subjectEnd.count - 1, "record \(k)")
        }
    }

    /// SmolLM2: the targets are unchanged (the encoding of " " + target) and no BOS is added.
    func testTargets_SmolLM2Unchanged() throws {
        guard TestPaths.exists(TestPaths.defaultModel) else { throw XCTSkip("default model not installed (run make setup)") }
        let tok = try TokenizerLoader.tokenizer(gguf: try GGUFFile(url: TestPaths.defaultModel))
        XCTAssertTrue(tok is BPETokenizer)
        XCTAssertFalse(tok.addsBOS)
        let builder = PromptBuilder(tokenizer: tok, contexts: ["{}"])
        for (k, r) in try records(200).enumerated() {
            XCTAssertEqual(builder.targetIDs(r), tok.encode(" " + r.targetNew, parseSpecial: false), "record \(k)")
            XCTAssertEqual(builder.searchPrompts(r).rewrite[0].prefix(3),
                           tok.encode(builder.plainPrompt(r), parseSpecial: false).prefix(3), "record \(k): no BOS")
        }
    }
}
