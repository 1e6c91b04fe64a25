import XCTest
import EmendCore
import EmendEditing
import EmendModels
@testable import EmendEval

/// zsRE teacher-forced token accuracy on hand-made cases and against its per-token definition.
final class ZsREMetricsTests: XCTestCase {
    static let r1 = EditRequest(caseID: 0, prompt: "Who made {}?", subject: "X", targetNew: "Ann Lee",
                                paraphrasePrompts: ["X was made by"], neighborhoodPrompts: ["nq question: q1"],
                                neighborhoodTarget: "yes")
    static let r2 = EditRequest(caseID: 1, prompt: "Where is {}?", subject: "Y", targetNew: "Oslo",
                                paraphrasePrompts: ["Y lies in"], neighborhoodPrompts: ["nq question: q2"],
                                neighborhoodTarget: "no")

    /// Mean over tokens, then over records, ×100; the neighbourhood prompt gets MEMIT's "?" and is scored on loc_ans.
    func testAggregate_TokenAccuracyMultiToken() throws {
        typealias F = FakeScorer
        let scorer = FakeScorer(table: [
            F.key("Who made X?", "Ann Lee"): F.score(nll: 1, correct: [true, false, true]),
            F.key("X was made by", "Ann Lee"): F.score(nll: 1, correct: [false, false, true]),
            F.key("nq question: q1?", "yes"): F.score(nll: 1, correct: [true]),
            F.key("Where is Y?", "Oslo"): F.score(nll: 1, correct: [true]),
            F.key("Y lies in", "Oslo"): F.score(nll: 1, correct: [true]),
            F.key("nq question: q2?", "no"): F.score(nll: 1, correct: [false, true, true, true]),
        ])
        let s = try ZsREMetrics.evaluate([Self.r1, Self.r2], scorer: scorer)
        XCTAssertEqual(s.efficacy, 100 * (2.0 / 3 + 1) / 2, accuracy: 1e-9)
        XCTAssertEqual(s.generalization, 100 * (1.0 / 3 + 1) / 2, accuracy: 1e-9)
        XCTAssertEqual(s.specificity, 100 * (1 + 3.0 / 4) / 2, accuracy: 1e-9)
        XCTAssertEqual(s.efficacy_exact, 50, accuracy: 1e-9)
        XCTAssertEqual(s.specificity_exact, 50, accuracy: 1e-9)
    }

    /// On a tiny model, the one-pass token accuracy equals MEMIT's loop: feed prompt + target[..<i] alone and
    /// check the last position's argmax is target[i].
    func testScoreRecords_EqualsPerTokenPromptLoop() throws {
        let c = ModelConfig.llamaStyle(vocabSize: 7, hiddenSize: 8, intermediateSize: 12, layerCount: 2,
                                       headCount: 2, kvHeadCount: 1, maxPositions: 64)
        let m = TransformerModel(config: c, weights: .random(c, seed: 3, std: 0.8))
        // A toy encoder: each character is a token, id = scalar value mod 7.
        let encode: @Sendable (String) -> [Int] = { $0.unicodeScalars.map { Int($0.value) % 7 } }
        let scorer = TargetScorer(model: m, tokensPerPass: 9, encode: encode)
        let records = try ZsREMetrics.scoreRecords([Self.r1, Self.r2], scorer: scorer)
        func loop(_ prompt: String, _ target: String) -> [Bool] {
            let p = encode(prompt), t = encode(" " + target)
            return t.indices.map { i in m.lastLogits([p + t[..<i]]).argmaxLast()[0] == t[i] }
        }
        XCTAssertEqual(records[0].efficacy, loop("Who made X?", "Ann Lee"))
        XCTAssertEqual(records[0].generalization, loop("X was made by", "Ann Lee"))
        XCTAssertEqual(records[0].specificity, loop("nq question: q1?", "yes"))
        XCTAssertEqual(records[1].efficacy, loop("Where is Y?", "Oslo"))
        XCTAssertEqual(records[1].specificity, loop("nq question: q2?", "no"))
    }

    /// The MEND-form reader: subject templated into `src`, `answers[0]` as the new target (MEMIT), `rephrase`,
    /// `loc`/`loc_ans`; checked on an inline record and on the shared file when present.
    func testLoad_MendZsREForm() throws {
        let json = #"[{"subject": "Ramalinaceae", "src": "Which family does Ramalinaceae belong to?", "pred": "Ramalinales", "rephrase": "What family are Ramalinaceae?", "alt": "Lamiinae", "answers": ["Lecanorales"], "loc": "nq question: types of skiing", "loc_ans": "Downhill", "cond": "x"}]"#
        let r = try EditRequest.parse(Data(json.utf8), file: "inline")[0]
        XCTAssertEqual(r.prompt, "Which family does {} belong to?")
        XCTAssertEqual(r.targetNew, "Lecanorales")
        XCTAssertEqual(r.paraphrasePrompts, ["What family are Ramalinaceae?"])
        XCTAssertEqual(r.neighborhoodPrompts, ["nq question: types of skiing"])
        XCTAssertEqual(r.neighborhoodTarget, "Downhill")
        XCTAssertEqual(r.caseID, 0, "records without case_id are numbered by position")
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("shared/data/zsre/zsre_mend_eval_portability_gpt4.json")
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("no \(url.path)") }
        let all = try EditRequest.load(from: url)
        XCTAssertEqual(all.count, 1037)
        XCTAssertTrue(all.allSatisfy { $0.neighborhoodTarget != nil && $0.paraphrasePrompts.count == 1 })
    }
}
