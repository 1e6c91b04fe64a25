// The result of one evaluation run (`emend eval`): which model, data and records, how long it took, and the
// scores as named fields, for `--json` (Codable) and for a plain-text table.

import EmendEditing
import EmendModels
import Foundation

/// The benchmarks `emend eval` runs.
public enum EvalDataset: String, Codable, Sendable, CaseIterable {
    /// Edit metrics (teacher forced): CounterFact ES/PS/NS/S; zsRE (MEND form) and KnowEdit ZsRE token accuracy.
    case counterfact, zsre, knowedit
    /// Edit records scored as the MALMEN paper scores its editors (ES/GS/LS answer-token accuracy, `FactAccuracy`).
    case facts
    /// Downstream probes: one task, or all six (`downstream`).
    case sst2, mrpc, cola, rte, nli, mmlu, downstream
    /// Perplexity on WikiText-2 (raw test split).
    case wikitext
    /// Free generation: MQuAKE multi-hop accuracy; the chat check on CounterFact questions; greedy continuations of
    /// the edit prompts and paraphrases (the base-model check); generation entropy.
    case mquake, chat, continuation, entropy
    /// Model health of an edited model against its original (`--original`).
    case health

    /// The downstream tasks this dataset runs (empty for the others).
    public var downstreamTasks: [DownstreamTask] {
        if self == .downstream { return DownstreamTask.allCases }
        return DownstreamTask(rawValue: rawValue).map { [$0] } ?? []
    }
}

/// One evaluation run, with its scores.
public struct EvalReport: Sendable, Equatable, Codable {
    public var model: String
    public var dataset: EvalDataset
    public var dataFile: String
    /// The records evaluated (inclusive indices into the file).
    public var firstRecord: Int, lastRecord: Int
    public var seconds: Double
    public var recordsPerSecond: Double
    /// Set for `.counterfact`.
    public var counterfact: CounterFactScores?
    /// Set for `.zsre` and `.knowedit`.
    public var zsre: ZsREScores?
    /// Set for the downstream tasks: [generate, loglik] per task.
    public var downstream: [DownstreamScore]?
    /// Set for `.wikitext`.
    public var perplexity: PerplexityResult?
    /// Set for `.mquake`, `.chat` and `.continuation`.
    public var answers: AnswerCheckScores?
    /// Set for `.entropy`: mean weighted n-gram entropy ×100, and the number of generated texts.
    public var generationEntropy: Double?
    public var generatedTexts: Int?
    /// Set for `.health`.
    public var health: HealthReport?
    /// Set for `.facts`.
    public var facts: FactAccuracy?

    public init(model: String, dataset: EvalDataset, dataFile: String, firstRecord: Int, lastRecord: Int, seconds: Double,
                counterfact: CounterFactScores? = nil, zsre: ZsREScores? = nil) {
        self.model = model; self.dataset = dataset; self.dataFile = dataFile
        self.firstRecord = firstRecord; self.lastRecord = lastRecord; self.seconds = seconds
        let n = lastRecord - firstRecord + 1
        self.recordsPerSecond = seconds > 0 ? Double(n) / seconds : 0
        self.counterfact = counterfact; self.zsre = zsre
    }

    /// Pretty-printed JSON with sorted keys.
    public func json() throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try enc.encode(self), as: UTF8.self)
    }

    /// A plain-text table: one row per metric family, columns for its variants.
    public func table() -> String {
        var lines = ["\(dataset.rawValue) · \(model) · records \(firstRecord)..\(lastRecord) of \(dataFile)",
                     String(format: "%.1f s, %.2f records/s", seconds, recordsPerSecond)]
        func row(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == 0 ? c.padding(toLength: 14, withPad: " ", startingAt: 0)
                                                    : String(repeating: " ", count: max(0, 10 - c.count)) + c }.joined()
        }
        func f(_ x: Double) -> String { String(format: "%.2f", x) }
        if let s = counterfact {
            // PS / NS of records that have no paraphrase / neighbourhood prompt are not 0 but undefined, and so is S.
            let hasP = s.paraphraseRecords > 0, hasN = s.neighborhoodRecords > 0
            func p(_ x: Double) -> String { hasP ? f(x) : "n/a" }
            func n(_ x: Double) -> String { hasN ? f(x) : "n/a" }
            func all(_ x: Double) -> String { hasP && hasN ? f(x) : "n/a" }
            lines += [row(["", "ES", "PS", "NS", "S"]),
                      row(["success", f(s.ES), p(s.PS), n(s.NS), all(s.S)]),
                      row(["magnitude", f(s.ES_diff), p(s.PS_diff), n(s.NS_diff), ""]),
                      row(["accuracy", f(s.ES_acc), p(s.PS_acc), n(s.NS_acc), all(s.S_acc)]),
                      "ES as P(new) > P(true): \(f(s.ES_prob)) (identical to ES by construction)",
                      "records with paraphrases: \(s.paraphraseRecords), with neighbourhood prompts: \(s.neighborhoodRecords)"]
        }
        if let d = downstream {
            lines += [row(["task", "mode", "items", "acc", "F1", "MCC", "invalid"])]
            for x in d {
                lines.append(row([x.task, x.mode, "\(x.items)", f(100 * x.accuracy), f(100 * x.f1), f(100 * x.mcc), "\(x.invalid)"]))
            }
            for mode in ["generate", "loglik"] where d.count > 2 {
                lines.append(row(["mean F1", mode, "", "", f(100 * d.meanF1(mode: mode)), "", ""]))
            }
        }
        if let p = perplexity {
            lines.append(String(format: "perplexity %.3f (mean NLL %.4f nats) over %d scored of %d tokens; window %d, stride %d",
                                p.perplexity, p.meanNLL, p.scoredTokens, p.totalTokens, p.window, p.stride))
        }
        if let a = answers {
            lines.append(String(format: "answers naming the new target: %.2f %%, the old target: %.2f %% (%d items)",
                                a.newRate, a.oldRate, a.items))
            lines += a.examples.map { "  " + $0.replacingOccurrences(of: "\n", with: " ") }
        }
        if let g = generationEntropy {
            lines.append(String(format: "generation entropy (×100): %.2f over %d texts", g, generatedTexts ?? 0))
        }
        if let h = health { lines += h.lines() }
        if let a = facts {
            lines += [row(["", "ES", "GS", "LS"]),
                      row(["answer acc", f(a.editSuccess), f(a.generalizationSuccess), f(a.localitySuccess)]),
                      "MALMEN's definitions (fractions): answer-token accuracy after the edit prompt, the first paraphrase "
                        + "and the unrelated prompt; \(a.facts) facts"]
        }
        if let z = zsre {
            lines += [row(["", "efficacy", "general.", "specific."]),
                      row(["token acc", f(z.efficacy), f(z.generalization), f(z.specificity)]),
                      row(["exact", f(z.efficacy_exact), f(z.generalization_exact), f(z.specificity_exact)])]
        }
        return lines.joined(separator: "\n")
    }
}

// MARK: - Running

extension EvalReport {
    /// Scores `requests` (records `firstRecord`… of `dataFile`) on a loaded model and times it.
    public static func run(_ loaded: LoadedModel, modelName: String, dataset: EvalDataset, requests: [EditRequest],
                           dataFile: String, firstRecord: Int, tokensPerPass: Int = 2048,
                           progress: ((Int, Int) -> Void)? = nil) throws -> EvalReport {
        let scorer = TargetScorer(loaded, tokensPerPass: tokensPerPass)
        let t0 = Date()
        var report = EvalReport(model: modelName, dataset: dataset, dataFile: dataFile, firstRecord: firstRecord,
                                lastRecord: firstRecord + requests.count - 1, seconds: 0)
        switch dataset {
        case .counterfact:
            report.counterfact = try CounterFactMetrics.evaluate(requests, scorer: scorer, file: dataFile, progress: progress)
        case .zsre, .knowedit:
            report.zsre = try ZsREMetrics.evaluate(requests, scorer: scorer, file: dataFile, progress: progress)
        default:
            throw EmendEvalError.invalidSetting(field: "dataset", expected: "counterfact, zsre or knowedit for edit records",
                                                got: dataset.rawValue)
        }
        let seconds = Date().timeIntervalSince(t0)
        report.seconds = seconds
        report.recordsPerSecond = seconds > 0 ? Double(requests.count) / seconds : 0
        return report
    }
}
