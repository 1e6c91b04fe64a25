import XCTest
import EmendCore
import EmendEditing
import EmendModels
import EmendTestSupport
@testable import EmendEval

/// The report's JSON field names, and the scorer on the real default model.
final class EvalReportTests: XCTestCase {
    /// `--json` carries the scores under the names the papers use (ES, PS, NS, S, ES_diff, ES_acc …).
    func testJSON_NamedScoreFields() throws {
        let s = CounterFactScores(records: 1, ES: 1, PS: 2, NS: 3, S: 4, ES_diff: 5, PS_diff: 6, NS_diff: 7,
                                  ES_acc: 8, PS_acc: 9, NS_acc: 10, S_acc: 11, ES_prob: 1, paraphraseRecords: 1,
                                  neighborhoodRecords: 1)
        let r = EvalReport(model: "m", dataset: .counterfact, dataFile: "f", firstRecord: 0, lastRecord: 0, seconds: 2,
                           counterfact: s)
        let obj = try JSONSerialization.jsonObject(with: Data(try r.json().utf8)) as? [String: Any]
        let cf = obj?["counterfact"] as? [String: Any]
        for (k, v) in ["ES": 1.0, "PS": 2, "NS": 3, "S": 4, "ES_diff": 5, "NS_diff": 7, "ES_acc": 8, "S_acc": 11] {
            XCTAssertEqual(cf?[k] as? Double, v, k)
        }
        XCTAssertEqual(obj?["recordsPerSecond"] as? Double, 0.5)
        XCTAssertEqual(try JSONDecoder().decode(EvalReport.self, from: Data(try r.json().utf8)), r)
    }

    /// On SmolLM2 (skipped when not installed): CounterFact queries scored in one batch equal each
    /// prompt+target run alone through `model.logits` with full logits (log-softmax in Float64).
    func testScore_SmolLM2MatchesFullLogits() throws {
        guard TestPaths.exists(TestPaths.defaultModel) else { throw XCTSkip("no \(TestPaths.defaultModel.path)") }
        let loaded = try LoadedModel.load(TestPaths.defaultModel.path)
        let scorer = TargetScorer(loaded)
        let r = EditRequest(prompt: "The mother tongue of {} is", subject: "Danielle Darrieux", targetNew: "English",
                            targetTrue: "French", paraphrasePrompts: ["Where Danielle Darrieux is from, people speak the language of"],
                            neighborhoodPrompts: ["Michel Rocard is a native speaker of"], neighborhoodTarget: "French")
        let queries = try CounterFactMetrics.queries(for: r).map(scorer.tokenQuery)
        let got = try scorer.score(tokens: queries)
        let v = loaded.model.config.vocabSize
        var maxDiff = 0.0
        for (q, scores) in zip(queries, got) {
            for (t, s) in zip(q.targets, scores) {
                let logits = loaded.model.logits([q.prompt + t])[0]
                for (j, tok) in t.enumerated() {
                    let row = (0..<v).map { Double(logits.scalars[(q.prompt.count - 1 + j) * v + $0]) }
                    let top = row.max() ?? 0
                    let lp = row[tok] - top - log(row.reduce(0) { $0 + exp($1 - top) })
                    maxDiff = max(maxDiff, abs(lp - Double(s.tokenLogProbs[j])))
                    XCTAssertEqual(s.tokenCorrect[j], row.firstIndex(of: top) == tok)
                }
            }
        }
        // 30 Float32 layers, batched vs alone: 1e-3 absolute on log-probs of magnitude ~1–20.
        XCTAssertLessThan(maxDiff, 1e-3, "max |Δ log p| \(maxDiff)")
    }
}
