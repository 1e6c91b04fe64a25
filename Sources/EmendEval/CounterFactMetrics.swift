// CounterFact edit metrics, as coded in the MEMIT harness (`experiments/py/eval_utils_counterfact.py`,
// `experiments/summarize.py`; see shared/spec/locate-then-edit.md §6.1).
//
// Per prompt, both objects are scored by teacher forcing and compared by their mean per-token NLL:
//   rewrite prompt      → ES: NLL(new) < NLL(true)
//   paraphrase prompts  → PS: the same, averaged over the record's paraphrases
//   neighbourhood       → NS: NLL(true) < NLL(new), "true" being the neighbourhood's own answer
//                         (`neighborhoodTarget`, the flat form's `locality_ground_truth`), else `targetTrue`
// Comparisons are strict, so a tie counts as a failure on both sides (as `>`/`<` in summarize.py).
// Aggregates are means over records ×100; S is the harmonic mean of ES, PS and NS.
// Variants: `*_diff` = mean of P(new) − P(true) with P = exp(−mean NLL) (NS: P(true) − P(new), ROME's sign,
// positive is good), ×100; `*_acc` = every token of the expected object is the argmax (new for ES/PS, the
// neighbourhood answer for NS), ×100.
// "P(new) > P(true)" (the wording of efficacy) is `ES_prob`: exp is monotone, so with P = exp(−mean NLL)
// it is the same test as ES, and equals it record for record; it is kept as a field so the two phrasings
// can be checked against each other.

import EmendEditing
import Foundation

// MARK: - Types

/// One prompt's comparison of the new object against the true one.
public struct CounterFactPairOutcome: Sendable, Equatable, Codable {
    /// Mean per-token NLL of the new object.
    public var nllNew: Double
    /// Mean per-token NLL of the true object (for the neighbourhood: its own answer).
    public var nllTrue: Double
    /// Every token of the new object is the argmax.
    public var newAllCorrect: Bool
    /// Every token of the true object is the argmax.
    public var trueAllCorrect: Bool

    public init(nllNew: Double, nllTrue: Double, newAllCorrect: Bool, trueAllCorrect: Bool) {
        self.nllNew = nllNew; self.nllTrue = nllTrue; self.newAllCorrect = newAllCorrect; self.trueAllCorrect = trueAllCorrect
    }

    /// NLL(new) < NLL(true), strictly.
    public var newWins: Bool { nllNew < nllTrue }
    /// NLL(true) < NLL(new), strictly.
    public var trueWins: Bool { nllTrue < nllNew }
    /// P(new) − P(true), P = exp(−mean NLL).
    public var probabilityGap: Double { exp(-nllNew) - exp(-nllTrue) }
}

/// The outcomes of one CounterFact record.
public struct CounterFactRecordScore: Sendable, Equatable, Codable {
    public var caseID: Int?
    public var rewrite: CounterFactPairOutcome
    public var paraphrases: [CounterFactPairOutcome]
    public var neighborhood: [CounterFactPairOutcome]

    public init(caseID: Int?, rewrite: CounterFactPairOutcome, paraphrases: [CounterFactPairOutcome],
                neighborhood: [CounterFactPairOutcome]) {
        self.caseID = caseID; self.rewrite = rewrite; self.paraphrases = paraphrases; self.neighborhood = neighborhood
    }
}

/// Aggregate CounterFact scores, all ×100 (percentages; `*_diff` in percentage points of probability).
public struct CounterFactScores: Sendable, Equatable, Codable {
    public var records: Int
    public var ES: Double, PS: Double, NS: Double, S: Double
    public var ES_diff: Double, PS_diff: Double, NS_diff: Double
    public var ES_acc: Double, PS_acc: Double, NS_acc: Double, S_acc: Double
    /// Efficacy as "P(new) > P(true)", P = exp(−mean NLL): identical to ES (see the file header).
    public var ES_prob: Double
    /// Records with at least one paraphrase / neighbourhood prompt (the PS / NS denominators).
    public var paraphraseRecords: Int, neighborhoodRecords: Int
}

// MARK: - Scoring

public enum CounterFactMetrics {
    /// The queries of one record, each with targets [new, true]: rewrite, paraphrases, then neighbourhood.
    public static func queries(for r: EditRequest, file: String = "(requests)", record: Int = 0) throws -> [TextQuery] {
        guard let truth = r.targetTrue else {
            throw EmendEvalError.missingField(file: file, record: record, field: "targetTrue", metric: "CounterFact ES/PS")
        }
        let neighborTruth = r.neighborhoodTarget ?? truth
        return [TextQuery(prompt: r.filledPrompt, targets: [r.targetNew, truth])]
            + r.paraphrasePrompts.map { TextQuery(prompt: $0, targets: [r.targetNew, truth]) }
            + r.neighborhoodPrompts.map { TextQuery(prompt: $0, targets: [r.targetNew, neighborTruth]) }
    }

    /// Scores every record's prompts in one scorer call (so the scorer can batch across records).
    public static func scoreRecords(_ requests: [EditRequest], scorer: some TargetScoring, file: String = "(requests)",
                                    progress: ((Int, Int) -> Void)? = nil) throws -> [CounterFactRecordScore] {
        var all: [TextQuery] = []
        for (i, r) in requests.enumerated() { all += try queries(for: r, file: file, record: i) }
        let scores = try scorer.score(all, progress: progress)
        guard scores.count == all.count, scores.allSatisfy({ $0.count == 2 }) else {
            throw EmendEvalError.scorerMismatch(expected: "\(all.count) queries × 2 targets",
                                                got: "\(scores.count) queries, target counts \(Set(scores.map(\.count)).sorted())")
        }
        func outcome(_ s: [TargetScore]) -> CounterFactPairOutcome {
            CounterFactPairOutcome(nllNew: s[0].meanNLL, nllTrue: s[1].meanNLL,
                                   newAllCorrect: s[0].allCorrect, trueAllCorrect: s[1].allCorrect)
        }
        var at = 0
        return requests.map { r in
            let rewrite = outcome(scores[at])
            let p = (at + 1)..<(at + 1 + r.paraphrasePrompts.count)
            let n = p.upperBound..<(p.upperBound + r.neighborhoodPrompts.count)
            at = n.upperBound
            return CounterFactRecordScore(caseID: r.caseID, rewrite: rewrite, paraphrases: scores[p].map(outcome),
                                          neighborhood: scores[n].map(outcome))
        }
    }

    /// Scores and aggregates.
    public static func evaluate(_ requests: [EditRequest], scorer: some TargetScoring, file: String = "(requests)",
                                progress: ((Int, Int) -> Void)? = nil) throws -> CounterFactScores {
        aggregate(try scoreRecords(requests, scorer: scorer, file: file, progress: progress))
    }

    // MARK: - Aggregation

    /// Means over records ×100 (PS/NS over the records that have such prompts); S and S_acc harmonic means.
    public static func aggregate(_ records: [CounterFactRecordScore]) -> CounterFactScores {
        func rate(_ b: Bool) -> Double { b ? 1 : 0 }
        /// Mean over records of the per-record mean of f over the outcomes; records without outcomes skipped.
        func perRecord(_ pick: (CounterFactRecordScore) -> [CounterFactPairOutcome],
                       _ f: (CounterFactPairOutcome) -> Double) -> (mean: Double, records: Int) {
            let means = records.map(pick).filter { !$0.isEmpty }.map { o in o.map(f).reduce(0, +) / Double(o.count) }
            return (percentMean(means), means.count)
        }
        let es = percentMean(records.map { rate($0.rewrite.newWins) })
        let ps = perRecord(\.paraphrases) { rate($0.newWins) }
        let ns = perRecord(\.neighborhood) { rate($0.trueWins) }
        let esAcc = percentMean(records.map { rate($0.rewrite.newAllCorrect) })
        let psAcc = perRecord(\.paraphrases) { rate($0.newAllCorrect) }.mean
        let nsAcc = perRecord(\.neighborhood) { rate($0.trueAllCorrect) }.mean
        return CounterFactScores(
            records: records.count,
            ES: es, PS: ps.mean, NS: ns.mean, S: harmonicMean([es, ps.mean, ns.mean]),
            ES_diff: percentMean(records.map { $0.rewrite.probabilityGap }),
            PS_diff: perRecord(\.paraphrases) { $0.probabilityGap }.mean,
            NS_diff: perRecord(\.neighborhood) { -$0.probabilityGap }.mean,
            ES_acc: esAcc, PS_acc: psAcc, NS_acc: nsAcc, S_acc: harmonicMean([esAcc, psAcc, nsAcc]),
            ES_prob: percentMean(records.map { rate(exp(-$0.rewrite.nllNew) > exp(-$0.rewrite.nllTrue)) }),
            paraphraseRecords: ps.records, neighborhoodRecords: ns.records)
    }
}

// MARK: - Helpers

/// 100 × the mean; 0 for no values.
func percentMean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : 100 * xs.reduce(0, +) / Double(xs.count) }

/// n / Σ 1/xᵢ; 0 when any value is 0 or negative (the limit, and scipy's `hmean` convention for zeros).
public func harmonicMean(_ xs: [Double]) -> Double {
    guard !xs.isEmpty, xs.allSatisfy({ $0 > 0 }) else { return 0 }
    return Double(xs.count) / xs.reduce(0) { $0 + 1 / $1 }
}
