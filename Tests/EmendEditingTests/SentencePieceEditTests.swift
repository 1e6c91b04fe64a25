import EmendCore
@testable import EmendEditing
import EmendModelTestSupport
import EmendModels
import EmendTestSupport
import XCTest

/// ENCORE end to end on a random-weight Llama-2-shaped model (RMSNorm, SwiGLU, grouped-query attention, no
/// biases) that carries the Mistral SentencePiece tokenizer (32,000 pieces, BOS wanted), on the first CounterFact
/// records. The independent truths: the tokenizer's own encoding of `prompt + " " + target` (the target tokens the
/// editor uses must be its tail, never a lone "▁"), and teacher-forced log-probabilities read from the model's full
/// logits before and after the edit (the edit must make the new targets more likely).
final class SentencePieceEditTests: XCTestCase {
    func testEncore_EditsCounterFactWithMistralTokenizer() throws {
        let vocabulary = TestPaths.shared.appendingPathComponent("data/tokenizers/mistral-7b-v0.1/vocab-only.gguf")
        let records = TestPaths.shared.appendingPathComponent("data/counterfact_easyedit/counterfact-edit.json")
        guard TestPaths.exists(vocabulary), TestPaths.exists(records) else { throw XCTSkip("shared fixtures absent") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-spm-edit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("tiny-llama2.gguf")
        try TinyModelFile.write(to: file, seed: 11, tokenizer: vocabulary)
        let loaded = try LoadedModel.load(file.path)
        let tok = loaded.tokenizer
        XCTAssertTrue(tok is SentencePieceTokenizer)
        XCTAssertTrue(tok.addsBOS)

        let presetURL = dir.appendingPathComponent("preset.json")
        try Data(TinyModelFile.presetJSON.utf8).write(to: presetURL)
        let preset = try EditPreset.load(presetURL)
        let corpus = (try JSONSerialization.jsonObject(with: Data(TinyModelFile.corpusJSON.utf8)) as? [[String: String]] ?? [])
            .compactMap { $0["text"] }
        let stats = try LayerStatistics.compute(model: loaded.model, tokenizer: tok, layers: preset.layers, texts: corpus,
                                                maxTokens: 48)
        let contexts = ContextTemplates.generate(model: loaded.model, tokenizer: tok, settings: preset.contexts)
        var editor = try LocateThenEditor(model: loaded.model, tokenizer: tok, preset: preset,
                                          statistics: Dictionary(uniqueKeysWithValues: stats.map { ($0.layer, $0.c0) }),
                                          contexts: contexts)
        let requests = Array(try EditRequest.load(from: records).prefix(8))

        // Target tokens: the tail of the joined encoding, after a BOS-led prompt.
        for r in requests {
            let prompt = editor.prompts.plainPrompt(r)
            let head = tok.encode(prompt, parseSpecial: false), whole = tok.encode(prompt + " " + r.targetNew, parseSpecial: false)
            XCTAssertEqual(editor.prompts.targetIDs(r), Array(whole.dropFirst(head.count)), r.targetNew)
            XCTAssertNotEqual(tok.tokenString(editor.prompts.targetIDs(r)[0]), "▁", r.targetNew)
            XCTAssertEqual(editor.prompts.searchPrompts(r).rewrite[0].first, tok.bosTokenId)
        }

        /// Mean log-probability of each request's target tokens after its BOS-led prompt, from full logits.
        func targetLogProbs(_ model: TransformerModel) -> [Double] {
            requests.map { r in
                let (p, t) = tok.promptAndTargetIDs(prompt: editor.prompts.plainPrompt(r), target: r.targetNew)
                let logits = model.logits([p + t])[0].logSoftmax()
                let v = model.config.vocabSize
                return t.enumerated().reduce(0.0) { $0 + Double(logits.scalars[(p.count - 1 + $1.offset) * v + $1.element]) }
                    / Double(t.count)
            }
        }
        let before = targetLogProbs(editor.model)
        let report = try editor.apply(requests)
        let after = targetLogProbs(editor.model)
        XCTAssertEqual(report.searchSteps.count, requests.count)
        print("ENCORE on the tiny Llama-2-shaped model, Mistral tokenizer: mean target log-prob "
              + String(format: "%.2f -> %.2f", before.reduce(0, +) / Double(before.count), after.reduce(0, +) / Double(after.count)))
        let raised = zip(before, after).filter { $1 > $0 }.count
        XCTAssertGreaterThanOrEqual(raised, requests.count - 1, "before \(before), after \(after)")
        XCTAssertGreaterThan(after.reduce(0, +), before.reduce(0, +))
    }
}
