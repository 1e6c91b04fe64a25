// Running one `emend eval` dataset end to end: where its default data lives under shared/data, how its file is
// read (every record checked), which records are taken, and which metric runs. The CLI only parses options.

import EmendEditing
import EmendModels
import Foundation

/// The knobs of the non-edit datasets.
public struct EvalOptions: Sendable {
    /// Downstream: test items per task, shots (0–10), seed (0 = the harness's first items).
    public var itemsPerTask = 100, shots = 0
    public var seed: UInt64 = 0
    /// Perplexity: window and stride in tokens, and an optional cap on the tokens read.
    public var window = 1024, stride = 512
    public var maxTokens: Int? = nil
    /// Free generation (chat, mquake): new tokens per answer. Entropy: top-k (0 = greedy) and total length.
    public var maxNewTokens = 24
    public var topK = 5
    public var generationLength = 100
    public var tokensPerPass = 2048
    /// Health: the unedited model, and the corpus text for the residual share (WikiText lines).
    public var original: LoadedModel? = nil
    public var corpus: URL? = nil
    public init() {}
}

public enum EvalRuns {
    /// The default data file (or folder, for the downstream tasks) of a dataset under `dataRoot` (shared/data).
    public static func defaultPath(_ d: EvalDataset, dataRoot: URL) -> URL {
        let p: String
        switch d {
        case .counterfact, .entropy, .health, .continuation: p = "counterfact_easyedit/counterfact-edit.json"
        case .zsre, .facts: p = "zsre/zsre_mend_eval_portability_gpt4.json"
        case .knowedit: p = "knowedit/ZsRE-test-all.json"
        case .sst2, .mrpc, .cola, .rte, .nli, .mmlu, .downstream: p = "."
        case .wikitext: p = "wikitext2_raw/wiki.test.raw"
        case .mquake: p = "mquake/MQuAKE-CF-AKEW-354.json"
        case .chat: p = "counterfact_easyedit/counterfact_qna.json"
        }
        return p == "." ? dataRoot : dataRoot.appendingPathComponent(p)
    }

    /// Edit records: the ROME CounterFact form through `CounterFactData` (every record checked, bad ones listed),
    /// the flat and zsRE forms through `EditRequest.load`.
    public static func editRecords(_ url: URL) throws -> [EditRequest] {
        let values = try RecordFile.objects(try RecordFile.data(url), file: url.path)
        if (values.first as? [String: Any])?["requested_rewrite"] is [String: Any] {
            return try CounterFactData.loadROME(url).map(\.request)
        }
        return try EditRequest.load(from: url)
    }

    /// The records `range` of `all` (all of them when nil), or `.recordsOutOfRange`.
    static func select<T>(_ all: [T], _ range: ClosedRange<Int>?, file: String) throws -> (items: [T], first: Int) {
        let r = range ?? 0...max(0, all.count - 1)
        guard !all.isEmpty, r.upperBound < all.count else {
            throw EmendEvalError.recordsOutOfRange(file: file, range: r, count: all.count)
        }
        return (Array(all[r]), r.lowerBound)
    }

    /// Runs `dataset` on a loaded model. `data` is the file (or, for downstream tasks, the data root holding
    /// `glue_subsets/`); `records` an inclusive range of records (edit, mquake, chat, continuation, entropy datasets).
    public static func run(_ dataset: EvalDataset, model: LoadedModel, modelName: String, data: URL,
                           records: ClosedRange<Int>? = nil, options: EvalOptions = EvalOptions(),
                           progress: ((String, Int, Int) -> Void)? = nil) throws -> EvalReport {
        let file = data.path
        let t0 = Date()
        var report: EvalReport
        switch dataset {
        case .counterfact, .zsre:
            let (reqs, first) = try select(try editRecords(data), records, file: file)
            return try EvalReport.run(model, modelName: modelName, dataset: dataset, requests: reqs, dataFile: file,
                                      firstRecord: first, tokensPerPass: options.tokensPerPass) { progress?("queries", $0, $1) }
        case .knowedit:
            let all = try KnowEditZsREData.load(data)
            let (recs, first) = try select(all, records, file: file)
            let reqs = try recs.enumerated().map { try $1.editRequest(caseID: first + $0, file: file) }
            return try EvalReport.run(model, modelName: modelName, dataset: dataset, requests: reqs, dataFile: file,
                                      firstRecord: first, tokensPerPass: options.tokensPerPass) { progress?("queries", $0, $1) }
        case .facts:
            let (reqs, first) = try select(try editRecords(data), records, file: file)
            report = EvalReport(model: modelName, dataset: dataset, dataFile: file, firstRecord: first,
                                lastRecord: first + reqs.count - 1, seconds: 0)
            report.facts = model.model.factAccuracy(reqs.map { TokenizedFact(EditingFact($0), tokenizer: model.tokenizer) })
        case .sst2, .mrpc, .cola, .rte, .nli, .mmlu, .downstream:
            let suite = try DownstreamSuite(dataRoot: data, tasks: dataset.downstreamTasks.map(\.rawValue),
                                            itemsPerTask: options.itemsPerTask, shots: options.shots, seed: options.seed)
            report = EvalReport(model: modelName, dataset: dataset, dataFile: file, firstRecord: 0,
                                lastRecord: options.itemsPerTask - 1, seconds: 0)
            report.downstream = try suite.evaluate(model, progress: progress)
        case .wikitext:
            let ids = try Perplexity.tokens(of: data, tokenizer: model.tokenizer, maxTokens: options.maxTokens)
            report = EvalReport(model: modelName, dataset: dataset, dataFile: file, firstRecord: 0, lastRecord: ids.count - 1, seconds: 0)
            report.perplexity = try Perplexity.evaluate(model.model, ids: ids, window: options.window, stride: options.stride,
                                                        file: file) { progress?("windows", $0, $1) }
        case .mquake:
            let (cases, first) = try select(try MQuAKEData.load(data), records, file: file)
            report = EvalReport(model: modelName, dataset: dataset, dataFile: file, firstRecord: first,
                                lastRecord: first + cases.count - 1, seconds: 0)
            report.answers = QuestionAnswering.multiHop(model, cases: cases, maxTokens: options.maxNewTokens) { progress?("questions", $0, $1) }
        case .chat:
            let (qs, first) = try select(try CounterFactData.loadQnA(data), records, file: file)
            // The old (true) object, from counterfact-edit.json beside the QnA file when it has the case.
            let truth = trueTargets(besides: data)
            let items = qs.map { q in
                AnswerCheckItem(question: q.question, expected: [q.answer], old: truth[q.caseIndex].map { [$0] } ?? [])
            }
            report = EvalReport(model: modelName, dataset: dataset, dataFile: file, firstRecord: first,
                                lastRecord: first + qs.count - 1, seconds: 0)
            report.answers = QuestionAnswering.chatCheck(model, items: items, maxTokens: options.maxNewTokens) { progress?("questions", $0, $1) }
        case .continuation:
            let (reqs, first) = try select(try editRecords(data), records, file: file)
            report = EvalReport(model: modelName, dataset: dataset, dataFile: file, firstRecord: first,
                                lastRecord: first + reqs.count - 1, seconds: 0)
            report.answers = QuestionAnswering.continuationCheck(model, items: QuestionAnswering.continuationItems(reqs),
                                                                 maxTokens: options.maxNewTokens) { progress?("prompts", $0, $1) }
        case .health:
            guard let original = options.original else {
                throw EmendEvalError.invalidSetting(field: "original", expected: "the unedited model (--original)", got: "none")
            }
            let (reqs, first) = try select(try editRecords(data), records, file: file)
            let corpusFile = options.corpus ?? data.deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("wikitext2_raw/wiki.test.raw")
            let corpus = try HealthReport.corpus(corpusFile, tokenizer: original.tokenizer)
            report = EvalReport(model: modelName, dataset: dataset, dataFile: file, firstRecord: first,
                                lastRecord: first + reqs.count - 1, seconds: 0)
            report.health = try HealthReport.measure(edited: model, original: original, corpus: corpus, requests: reqs,
                                                     tokensPerPass: options.tokensPerPass)
        case .entropy:
            let (reqs, first) = try select(try editRecords(data), records, file: file)
            // The record's generation prompts; the flat form has none, so its prompt and paraphrases stand in.
            let prompts = reqs.flatMap { r in r.generationPrompts.isEmpty ? [r.filledPrompt] + r.paraphrasePrompts : r.generationPrompts }
            let texts = GenerationEntropy.generate(model, prompts: prompts, maxLength: options.generationLength, topK: options.topK,
                                                   seed: options.seed) { progress?("texts", $0, $1) }
            report = EvalReport(model: modelName, dataset: dataset, dataFile: file, firstRecord: first,
                                lastRecord: first + reqs.count - 1, seconds: 0)
            report.generationEntropy = GenerationEntropy.score(texts)
            report.generatedTexts = texts.count
        }
        report.seconds = Date().timeIntervalSince(t0)
        let n = report.lastRecord - report.firstRecord + 1
        report.recordsPerSecond = report.seconds > 0 ? Double(n) / report.seconds : 0
        return report
    }

    /// case_id → ground truth of `counterfact-edit.json` in the same folder as `qna` (empty when absent).
    static func trueTargets(besides qna: URL) -> [Int: String] {
        let url = qna.deletingLastPathComponent().appendingPathComponent("counterfact-edit.json")
        guard let reqs = try? EditRequest.load(from: url) else { return [:] }
        var out: [Int: String] = [:]
        for r in reqs { if let id = r.caseID, let t = r.targetTrue { out[id] = t } }
        return out
    }
}
