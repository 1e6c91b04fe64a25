import XCTest
import EmendCore
import EmendModels
import EmendTestSupport
@testable import EmendEditing

/// ENCORE, MEMIT, AlphaEdit and EMMET on the real default model, on the first CounterFact records: the edited facts
/// win (P(new) > P(true) by mean-token NLL, the CounterFact efficacy definition) where the unedited model lost, and a
/// bad request changes nothing. Small statistics (120 documents × 128 tokens) keep it inside CI's budget.
final class LocateThenEditIntegrationTests: XCTestCase {
    nonisolated(unsafe) static var loaded: LoadedModel?
    nonisolated(unsafe) static var stats: [Int: Matrix64] = [:]

    func setUpModel() throws -> LoadedModel {
        guard TestPaths.exists(TestPaths.defaultModel) else { throw XCTSkip("default model not installed (run make setup)") }
        if let m = Self.loaded { return m }
        let m = try LoadedModel.load(TestPaths.defaultModel.path)
        Self.loaded = m
        return m
    }

    func requests(_ n: Int) throws -> [EditRequest] {
        let url = TestPaths.shared.appendingPathComponent("data/counterfact_easyedit/counterfact-edit.json")
        guard TestPaths.exists(url) else { throw XCTSkip("shared/data not found beside the repository") }
        return Array(try EditRequest.load(from: url).prefix(n))
    }

    func editor(_ name: String, layers: [Int]? = nil) throws -> LocateThenEditor {
        let m = try setUpModel()
        var p = try EditPreset.named(name)
        if let layers { p.layers = layers }
        p.statistics = StatisticsSettings(sampleCount: 120, maxTokens: 128)
        let missing = p.layers.filter { Self.stats[$0] == nil }
        if !missing.isEmpty {
            let corpusURL = TestPaths.shared.appendingPathComponent("data/wikipedia_vital_summaries/enwiki_vital4_summaries.jsonl")
            let corpus = TestPaths.exists(EmendPaths.defaultCorpus) ? try Corpus.load(EmendPaths.defaultCorpus) : try Corpus.load(corpusURL)
            for s in try LayerStatistics.compute(model: m.model, tokenizer: m.tokenizer, layers: missing,
                                                 texts: corpus.sample(120, seed: 1), maxTokens: 128) { Self.stats[s.layer] = s.c0 }
        }
        let contexts = ContextTemplates.generate(model: m.model, tokenizer: m.tokenizer, settings: p.contexts)
        return try LocateThenEditor(model: m.model, tokenizer: m.tokenizer, preset: p,
                                    statistics: Dictionary(uniqueKeysWithValues: p.layers.map { ($0, Self.stats[$0]!) }), contexts: contexts)
    }

    /// Mean-token NLL of " target" after `prompt` (teacher forcing, full logits; an independent path from the editor's).
    func nll(_ model: TransformerModel, _ tok: any Tokenizer, _ prompt: String, _ target: String) -> Double {
        let p = tok.encode(prompt, parseSpecial: false), t = tok.encode(" " + target, parseSpecial: false)
        let logits = model.logits([p + t])[0].logSoftmax()
        let v = model.config.vocabSize
        var total = 0.0
        for (k, id) in t.enumerated() { total -= Double(logits.scalars[(p.count - 1 + k) * v + id]) }
        return total / Double(t.count)
    }

    func efficacy(_ model: TransformerModel, _ tok: any Tokenizer, _ rs: [EditRequest]) -> Double {
        let wins = rs.filter { nll(model, tok, $0.filledPrompt, $0.targetNew) < nll(model, tok, $0.filledPrompt, $0.targetTrue!) }
        return Double(wins.count) / Double(rs.count)
    }

    /// Ten records in one batch: efficacy ≥ 0.9 for ENCORE and MEMIT (from ≤ 0.5 unedited), the neighbourhood mostly kept.
    func testEncoreAndMemit_EditTenCounterFactRecords() throws {
        let rs = try requests(10)
        for method in ["smollm2-135m-encore", "smollm2-135m-memit"] {
            var e = try editor(method)
            let tok = e.tokenizer
            let before = efficacy(e.model, tok, rs)
            let report = try e.apply(rs)
            let after = efficacy(e.model, tok, rs)
            XCTAssertLessThanOrEqual(before, 0.5, method)
            XCTAssertGreaterThanOrEqual(after, 0.9, "\(method): efficacy \(after) after editing")
            XCTAssertEqual(report.searchSteps.count, 10)
            // Locality: the true answer of each neighbourhood prompt still beats the new target in most cases.
            let kept = rs.filter { r in
                let n = r.neighborhoodPrompts[0]
                return nll(e.model, tok, n, r.neighborhoodTarget!) < nll(e.model, tok, n, r.targetNew)
            }
            XCTAssertGreaterThanOrEqual(kept.count, 6, method)
        }
    }

    /// AlphaEdit and EMMET run end to end and move most facts.
    func testAlphaEditAndEmmet_EditFiveRecords() throws {
        let rs = try requests(5)
        for method in ["smollm2-135m-alphaedit", "smollm2-135m-emmet"] {
            var e = try editor(method)
            _ = try e.apply(rs)
            XCTAssertGreaterThanOrEqual(efficacy(e.model, e.tokenizer, rs), 0.6, method)
        }
    }

    /// A bad request anywhere in the batch is refused before any weight changes.
    func testApply_BadRequestChangesNothing() throws {
        var e = try editor("smollm2-135m-encore")
        let good = try requests(2)
        let before = e.model.weights.blocks.map(\.ffnDown)
        var noSubject = good[0]; noSubject.prompt = noSubject.filledPrompt   // no "{}" left for the subject
        var emptyTarget = good[0]; emptyTarget.targetNew = "  "
        for bad in [noSubject, emptyTarget] {
            XCTAssertThrowsError(try e.apply([good[1], bad])) { error in XCTAssertTrue(error is EmendEditingError, "\(error)") }
            XCTAssertEqual(e.model.weights.blocks.map(\.ffnDown), before)
        }
        var p = try EditPreset.named("smollm2-135m-encore")
        p.layers = [4, 40]
        XCTAssertThrowsError(try p.validate(layerCount: 30)) { XCTAssertEqual("\($0)", "layer 40 is out of range: the model has layers 0...29") }
    }
}
