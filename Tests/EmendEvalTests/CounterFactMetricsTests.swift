import XCTest
import EmendEditing
@testable import EmendEval

/// A scorer with known answers: (prompt, target) → score; unknown pairs fail the test.
struct FakeScorer: TargetScoring {
    var table: [String: TargetScore]
    /// Mean NLL `nll` spread over `correct.count` tokens.
    static func score(nll: Double, correct: [Bool] = [false]) -> TargetScore {
        TargetScore(tokenLogProbs: Array(repeating: Float(-nll), count: correct.count), tokenCorrect: correct)
    }
    static func key(_ prompt: String, _ target: String) -> String { prompt + "|" + target }

    func score(_ queries: [TextQuery], progress: ((Int, Int) -> Void)?) throws -> [[TargetScore]] {
        try queries.map { q in
            try q.targets.map { t in
                guard let s = table[Self.key(q.prompt, t)] else { throw EmendEvalError.scorerMismatch(expected: "a known pair", got: "\(q.prompt)|\(t)") }
                return s
            }
        }
    }
}

/// CounterFact ES/PS/NS/S and variants on hand-made records whose answers are worked out here.
final class CounterFactMetricsTests: XCTestCase {
    // Record A: rewrite wins; paraphrases win, lose; neighbourhood wins, ties, loses.
    // Record B: rewrite ties; its one paraphrase wins; its one neighbour wins.
    static let a = EditRequest(caseID: 0, prompt: "{} speaks", subject: "A", targetNew: "English", targetTrue: "French",
                               paraphrasePrompts: ["pA1", "pA2"], neighborhoodPrompts: ["nA1", "nA2", "nA3"],
                               neighborhoodTarget: "French")
    static let b = EditRequest(caseID: 1, prompt: "{} is in", subject: "B", targetNew: "Rome", targetTrue: "Paris",
                               paraphrasePrompts: ["pB1"], neighborhoodPrompts: ["nB1"], neighborhoodTarget: "Lyon")

    static var scorer: FakeScorer {
        typealias F = FakeScorer
        let s: [(String, String, Double, [Bool])] = [
            ("A speaks", "English", 1.0, [true, true]), ("A speaks", "French", 2.0, [false]),
            ("pA1", "English", 1.0, [true]), ("pA1", "French", 3.0, [true]),
            ("pA2", "English", 2.0, [false, true]), ("pA2", "French", 1.0, [true]),
            ("nA1", "English", 1.0, [false]), ("nA1", "French", 0.5, [true]),
            ("nA2", "English", 1.0, [false]), ("nA2", "French", 1.0, [true, false]),
            ("nA3", "English", 1.0, [true]), ("nA3", "French", 2.0, [false]),
            ("B is in", "Rome", 0.7, [false]), ("B is in", "Paris", 0.7, [true]),
            ("pB1", "Rome", 0.1, [true]), ("pB1", "Paris", 0.2, [false]),
            // The neighbour of B is scored against its own answer, Lyon, not B's true object.
            ("nB1", "Rome", 4.0, [false]), ("nB1", "Lyon", 3.0, [true]),
        ]
        return FakeScorer(table: Dictionary(uniqueKeysWithValues: s.map { (F.key($0.0, $0.1), F.score(nll: $0.2, correct: $0.3)) }))
    }

    /// ES, PS, NS as means over records of per-record rates (ties fail), S their harmonic mean.
    func testAggregate_SuccessRatesAndHarmonicMean() throws {
        let s = try CounterFactMetrics.evaluate([Self.a, Self.b], scorer: Self.scorer)
        // ES: A wins, B ties (fails) → 50.  PS: A 1/2, B 1/1 → 75.  NS: A 1/3 (tie fails), B 1/1 → 200/3.
        XCTAssertEqual(s.ES, 50, accuracy: 1e-9)
        XCTAssertEqual(s.PS, 75, accuracy: 1e-9)
        XCTAssertEqual(s.NS, 200.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(s.S, 3 / (1 / 50.0 + 1 / 75.0 + 3 / 200.0), accuracy: 1e-9)
        XCTAssertEqual(s.records, 2)
        XCTAssertEqual(s.ES_prob, s.ES, "P(new) > P(true) with P = exp(−mean NLL) is the ES test")
    }

    /// *_diff: mean over records of P(new) − P(true) (NS: P(true) − P(new)), P = exp(−mean NLL), ×100.
    func testAggregate_MagnitudeVariants() throws {
        // The fake scores store NLLs as Float32 log-probs (0.1 is not exact), hence 1e-6 rather than 1e-9.
        let s = try CounterFactMetrics.evaluate([Self.a, Self.b], scorer: Self.scorer)
        let e = { (x: Double) in exp(-x) }
        XCTAssertEqual(s.ES_diff, 100 * ((e(1) - e(2)) + 0) / 2, accuracy: 1e-6)
        XCTAssertEqual(s.PS_diff, 100 * (((e(1) - e(3)) + (e(2) - e(1))) / 2 + (e(0.1) - e(0.2))) / 2, accuracy: 1e-6)
        let nsA = ((e(0.5) - e(1)) + 0 + (e(2) - e(1))) / 3
        XCTAssertEqual(s.NS_diff, 100 * (nsA + (e(3) - e(4))) / 2, accuracy: 1e-6)
    }

    /// *_acc: every token of the new object (ES/PS) or of the neighbourhood answer (NS) is the argmax.
    func testAggregate_StrictAccuracy() throws {
        let s = try CounterFactMetrics.evaluate([Self.a, Self.b], scorer: Self.scorer)
        XCTAssertEqual(s.ES_acc, 50, accuracy: 1e-9)                       // A [T,T] yes; B [F] no
        XCTAssertEqual(s.PS_acc, 100 * (0.5 + 1) / 2, accuracy: 1e-9)     // A: pA1 yes, pA2 [F,T] no; B yes
        XCTAssertEqual(s.NS_acc, 100 * (1.0 / 3 + 1) / 2, accuracy: 1e-9) // A: nA1 yes, nA2 [T,F] no, nA3 no; B yes
        XCTAssertEqual(s.S_acc, harmonicMean([s.ES_acc, s.PS_acc, s.NS_acc]), accuracy: 1e-12)
    }

    /// Harmonic mean by its definition; any zero gives zero.
    func testHarmonicMean_DefinitionAndZeros() {
        XCTAssertEqual(harmonicMean([1, 2, 4]), 3 / (1 + 0.5 + 0.25), accuracy: 1e-12)
        XCTAssertEqual(harmonicMean([100, 100, 100]), 100, accuracy: 1e-12)
        XCTAssertEqual(harmonicMean([100, 0, 100]), 0)
        XCTAssertEqual(harmonicMean([]), 0)
    }

    /// Both sides of a tie fail: ES needs new strictly better, NS true strictly better.
    func testPairOutcome_TiesFailBothWays() {
        let t = CounterFactPairOutcome(nllNew: 1.5, nllTrue: 1.5, newAllCorrect: false, trueAllCorrect: false)
        XCTAssertFalse(t.newWins)
        XCTAssertFalse(t.trueWins)
        XCTAssertEqual(t.probabilityGap, 0)
    }

    /// A record with no true object cannot be scored; the error names the record and field.
    func testQueries_MissingTrueTargetThrows() {
        let r = EditRequest(prompt: "{} x", subject: "S", targetNew: "y")
        XCTAssertThrowsError(try CounterFactMetrics.queries(for: r, file: "f.json", record: 3)) { e in
            guard case EmendEvalError.missingField(let f, let i, let field, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual([f, "\(i)", field], ["f.json", "3", "targetTrue"])
        }
    }

    /// The flat CounterFact file reads into records with prompt, paraphrase, neighbour and both objects.
    func testLoad_FlatCounterFactFile() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("shared/data/counterfact_easyedit/counterfact-edit.json")
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("no \(url.path)") }
        let rs = try EditRequest.load(from: url)
        XCTAssertEqual(rs.count, 10_000)
        XCTAssertEqual(rs[0].filledPrompt, "The mother tongue of Danielle Darrieux is")
        XCTAssertEqual([rs[0].targetNew, rs[0].targetTrue, rs[0].neighborhoodTarget], ["English", "French", "French"])
        XCTAssertEqual(rs[0].paraphrasePrompts.count, 1)
        XCTAssertEqual(rs[0].neighborhoodPrompts, ["Michel Rocard is a native speaker of"])
    }
}
