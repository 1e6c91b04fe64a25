// zsRE edit metrics, as coded in the MEMIT harness (`experiments/py/eval_utils_zsre.py`, `dsets/zsre.py`; see
// shared/spec/locate-then-edit.md §6.2): teacher-forced token accuracy. For each target token i, the model
// reads prompt + target[..<i] and the test is argmax == target[i]; the score of a prompt is the mean over its
// tokens. One forward pass per prompt gives every i at once (causal attention), which is what the scorer does.
//   efficacy        the rewrite prompt (`src`, subject filled in) against the new target
//   generalization  the paraphrase(s) (`rephrase`) against the new target; tokens of all paraphrases pooled
//   specificity     the NQ question (`loc`) + "?" against its ground-truth answer `loc_ans` — MEMIT's loader
//                   appends the "?"; an absolute accuracy, not "unchanged vs before the edit" as in EasyEdit
// Each is a mean over records ×100. The new target is `answers[0]` (MEMIT's reader; `EditRequest.load`).

import EmendEditing
import Foundation

// MARK: - Types

/// Token accuracies of one zsRE record (fractions in [0, 1]).
public struct ZsRERecordScore: Sendable, Equatable, Codable {
    public var caseID: Int?
    /// [T] argmax hits of the new target after the rewrite prompt.
    public var efficacy: [Bool]
    /// Argmax hits of the new target after each paraphrase, all paraphrases' tokens together.
    public var generalization: [Bool]
    /// Argmax hits of `loc_ans` after each neighbourhood prompt, tokens pooled.
    public var specificity: [Bool]

    public init(caseID: Int?, efficacy: [Bool], generalization: [Bool], specificity: [Bool]) {
        self.caseID = caseID; self.efficacy = efficacy; self.generalization = generalization; self.specificity = specificity
    }
}

/// Aggregate zsRE scores: means over records of token accuracy, ×100.
public struct ZsREScores: Sendable, Equatable, Codable {
    public var records: Int
    public var efficacy: Double, generalization: Double, specificity: Double
    /// Strict variants: every target token is the argmax, ×100.
    public var efficacy_exact: Double, generalization_exact: Double, specificity_exact: Double
    /// Records with at least one paraphrase / neighbourhood prompt (the denominators).
    public var paraphraseRecords: Int, neighborhoodRecords: Int
}

// MARK: - Scoring

public enum ZsREMetrics {
    /// The neighbourhood prompt as MEMIT builds it: the NQ question followed by "?".
    public static func specificityPrompt(_ loc: String) -> String { loc + "?" }

    /// The queries of one record, one target each: rewrite, paraphrases, then neighbourhood prompts.
    public static func queries(for r: EditRequest, file: String = "(requests)", record: Int = 0) throws -> [TextQuery] {
        var qs = [TextQuery(prompt: r.filledPrompt, targets: [r.targetNew])]
            + r.paraphrasePrompts.map { TextQuery(prompt: $0, targets: [r.targetNew]) }
        if !r.neighborhoodPrompts.isEmpty {
            guard let answer = r.neighborhoodTarget else {
                throw EmendEvalError.missingField(file: file, record: record, field: "loc_ans", metric: "zsRE specificity")
            }
            qs += r.neighborhoodPrompts.map { TextQuery(prompt: specificityPrompt($0), targets: [answer]) }
        }
        return qs
    }

    /// Scores every record's prompts in one scorer call.
    public static func scoreRecords(_ requests: [EditRequest], scorer: some TargetScoring, file: String = "(requests)",
                                    progress: ((Int, Int) -> Void)? = nil) throws -> [ZsRERecordScore] {
        var all: [TextQuery] = [], counts: [Int] = []
        for (i, r) in requests.enumerated() {
            let q = try queries(for: r, file: file, record: i)
            all += q
            counts.append(q.count)
        }
        let scores = try scorer.score(all, progress: progress)
        guard scores.count == all.count, scores.allSatisfy({ $0.count == 1 }) else {
            throw EmendEvalError.scorerMismatch(expected: "\(all.count) queries × 1 target",
                                                got: "\(scores.count) queries, target counts \(Set(scores.map(\.count)).sorted())")
        }
        var at = 0
        return requests.enumerated().map { i, r in
            let hits = scores[at..<(at + counts[i])].map { $0[0].tokenCorrect }
            at += counts[i]
            let p = r.paraphrasePrompts.count
            return ZsRERecordScore(caseID: r.caseID, efficacy: hits[hits.startIndex],
                                   generalization: hits[(hits.startIndex + 1)..<(hits.startIndex + 1 + p)].flatMap { $0 },
                                   specificity: hits[(hits.startIndex + 1 + p)...].flatMap { $0 })
        }
    }

    /// Scores and aggregates.
    public static func evaluate(_ requests: [EditRequest], scorer: some TargetScoring, file: String = "(requests)",
                                progress: ((Int, Int) -> Void)? = nil) throws -> ZsREScores {
        aggregate(try scoreRecords(requests, scorer: scorer, file: file, progress: progress))
    }

    // MARK: - Aggregation

    /// Means over records ×100 of token accuracy (and of all-tokens-correct); records without such prompts skipped.
    public static func aggregate(_ records: [ZsRERecordScore]) -> ZsREScores {
        func accuracy(_ hits: [Bool]) -> Double { Double(hits.filter { $0 }.count) / Double(hits.count) }
        func exact(_ hits: [Bool]) -> Double { hits.allSatisfy { $0 } ? 1 : 0 }
        func over(_ pick: (ZsRERecordScore) -> [Bool], _ f: ([Bool]) -> Double) -> (mean: Double, records: Int) {
            let xs = records.map(pick).filter { !$0.isEmpty }.map(f)
            return (percentMean(xs), xs.count)
        }
        let gen = over(\.generalization, accuracy), spec = over(\.specificity, accuracy)
        return ZsREScores(records: records.count,
                          efficacy: over(\.efficacy, accuracy).mean, generalization: gen.mean, specificity: spec.mean,
                          efficacy_exact: over(\.efficacy, exact).mean, generalization_exact: over(\.generalization, exact).mean,
                          specificity_exact: over(\.specificity, exact).mean,
                          paraphraseRecords: gen.records, neighborhoodRecords: spec.records)
    }
}
