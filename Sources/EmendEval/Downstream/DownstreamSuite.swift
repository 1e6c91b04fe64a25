// The downstream probe suite (glue_eval harness, shared/spec/landscape.md §4.4 b): per task, the first 10 items
// of the file are the few-shot pool and the next `itemsPerTask` the tests (seed 0; another seed draws the tests
// from the rest of the file with a seeded shuffle). Each test is scored two ways:
//   generate  greedy continuation of `generationLength` tokens, parsed for a label word (invalid = −1, wrong)
//   loglik    the label word with the lowest mean per-token NLL after the prompt (" " + word, teacher forced);
//             the harness's `f1_new`
// and each way gives accuracy, weighted F1 and MCC (`ClassificationMetrics`). k-shot prompts prepend the first
// k pool items as worked examples while the prompt, the shots and the generated tokens fit the model's context.

import EmendCore
import EmendModels
import Foundation

/// One task's scores under one prediction mode.
public struct DownstreamScore: Codable, Sendable, Equatable {
    public var task: String
    public var items: Int
    public var accuracy: Double
    /// Weighted F1 (scikit-learn's `average='weighted'`).
    public var f1: Double
    public var mcc: Double
    /// "generate" (greedy generation, parsed) or "loglik" (label-word log-likelihood).
    public var mode: String
    /// Items whose generation named no label word (always 0 for "loglik").
    public var invalid: Int

    public init(task: String, items: Int, accuracy: Double, f1: Double, mcc: Double, mode: String, invalid: Int = 0) {
        self.task = task; self.items = items; self.accuracy = accuracy; self.f1 = f1; self.mcc = mcc
        self.mode = mode; self.invalid = invalid
    }

    /// Scores of predictions against labels.
    public static func from(task: String, mode: String, labels: [Int], predictions: [Int]) -> DownstreamScore {
        DownstreamScore(task: task, items: labels.count,
                        accuracy: ClassificationMetrics.accuracy(labels: labels, predictions: predictions),
                        f1: ClassificationMetrics.weightedF1(labels: labels, predictions: predictions),
                        mcc: ClassificationMetrics.mcc(labels: labels, predictions: predictions),
                        mode: mode, invalid: predictions.filter { $0 < 0 }.count)
    }
}

/// The per-item outcome of one probe (kept for inspection and tests).
public struct DownstreamPrediction: Sendable, Equatable, Codable {
    public var label: Int
    public var generated: String
    public var generatedPrediction: Int
    /// [labelWords] mean per-token NLL of each label word.
    public var labelNLL: [Double]
    public var loglikPrediction: Int
}

/// Six (or fewer) downstream probes with their test items, ready to score any model.
public struct DownstreamSuite: Sendable {
    /// The size of the few-shot pool at the head of each file.
    public static let shotPool = 10

    public let tasks: [DownstreamTask]
    public let shots: Int
    /// Per task: the shot pool and the test items.
    public let pools: [DownstreamTask: [DownstreamItem]]
    public let tests: [DownstreamTask: [DownstreamItem]]
    /// Generations per forward batch.
    public var batchSize = 16

    /// Loads and checks the data of `tasks` under `dataRoot` (shared/data: reads `glue_subsets/`).
    public init(dataRoot: URL, tasks: [String] = ["sst2", "mrpc", "cola", "rte", "nli", "mmlu"], itemsPerTask: Int = 100,
                shots: Int = 0, seed: UInt64 = 0) throws {
        var parsed: [DownstreamTask] = []
        for t in tasks {
            guard let task = DownstreamTask(rawValue: t) else {
                throw EmendEvalError.invalidSetting(field: "tasks", expected: DownstreamTask.allCases.map(\.rawValue).joined(separator: ", "),
                                                    got: "'\(t)'")
            }
            parsed.append(task)
        }
        var data: [DownstreamTask: [DownstreamItem]] = [:]
        for t in parsed { data[t] = try DownstreamData.load(t, dataRoot: dataRoot) }
        try self.init(items: data, tasks: parsed, itemsPerTask: itemsPerTask, shots: shots, seed: seed)
    }

    /// A suite over given items per task (the first `shotPool` of each are the shot pool).
    public init(items: [DownstreamTask: [DownstreamItem]], tasks: [DownstreamTask], itemsPerTask: Int = 100, shots: Int = 0,
                seed: UInt64 = 0) throws {
        guard (0...Self.shotPool).contains(shots) else {
            throw EmendEvalError.invalidSetting(field: "shots", expected: "0...\(Self.shotPool)", got: "\(shots)")
        }
        guard itemsPerTask > 0 else { throw EmendEvalError.invalidSetting(field: "itemsPerTask", expected: "> 0", got: "\(itemsPerTask)") }
        var pools: [DownstreamTask: [DownstreamItem]] = [:], tests: [DownstreamTask: [DownstreamItem]] = [:]
        for t in tasks {
            let all = items[t] ?? []
            guard all.count >= Self.shotPool + itemsPerTask else {
                throw EmendEvalError.invalidSetting(field: "itemsPerTask (\(t.rawValue))",
                                                    expected: "at most \(max(0, all.count - Self.shotPool)) (the file has \(all.count) items, \(Self.shotPool) of them the shot pool)",
                                                    got: "\(itemsPerTask)")
            }
            pools[t] = Array(all[..<Self.shotPool])
            var rest = Array(all[Self.shotPool...])
            if seed != 0 {
                var rng = SeededGenerator(seed: seed)
                rest.shuffle(using: &rng)
            }
            tests[t] = Array(rest.prefix(itemsPerTask))
        }
        self.tasks = tasks; self.shots = shots; self.pools = pools; self.tests = tests
    }

    // MARK: - Prompts

    /// The full prompt of a test item: as many of the first `shots` pool items as fit, then the question.
    public func prompt(_ task: DownstreamTask, _ item: DownstreamItem, contextLimit: Int,
                       tokenCount: (String) -> Int) -> String {
        let question = task.question(item)
        guard shots > 0, let pool = pools[task] else { return question }
        var remaining = contextLimit - tokenCount(question) - task.generationLength
        var prefix = ""
        for s in pool.prefix(shots) {
            let text = task.shot(s)
            remaining -= tokenCount(text)
            if remaining < 0 { break }
            prefix += text
        }
        return prefix + question
    }

    // MARK: - Evaluation

    /// Both modes for every task: [generate, loglik] per task, in task order. `progress(task, done, total)`.
    public func evaluate(_ model: LoadedModel, progress: ((String, Int, Int) -> Void)? = nil) throws -> [DownstreamScore] {
        var out: [DownstreamScore] = []
        for t in tasks {
            let preds = try predictions(t, model) { progress?(t.rawValue, $0, $1) }
            let labels = preds.map(\.label)
            out.append(.from(task: t.rawValue, mode: "generate", labels: labels, predictions: preds.map(\.generatedPrediction)))
            out.append(.from(task: t.rawValue, mode: "loglik", labels: labels, predictions: preds.map(\.loglikPrediction)))
        }
        return out
    }

    /// Per test item of `task`: the generation, its parse, the label words' NLLs and the likelihood choice.
    public func predictions(_ task: DownstreamTask, _ model: LoadedModel,
                            progress: ((Int, Int) -> Void)? = nil) throws -> [DownstreamPrediction] {
        let items = tests[task] ?? []
        let tokenizer = model.tokenizer
        let limit = model.model.config.maxPositions
        let prompts = items.map { item in
            prompt(task, item, contextLimit: limit) { text in tokenizer.promptIDs(text).count }
        }
        let scorer = TargetScorer(model)
        var out: [DownstreamPrediction] = []
        var start = 0
        while start < items.count {
            let end = min(items.count, start + max(1, batchSize))
            let batch = Array(prompts[start..<end])
            let generated = model.complete(batch, maxTokens: task.generationLength)
            let nll = try scorer.score(batch.map { TextQuery(prompt: $0, targets: task.labelWords) })
            for (j, i) in (start..<end).enumerated() {
                let words = nll[j].map(\.meanNLL)
                var best = 0
                for k in words.indices where words[k] < words[best] { best = k }
                out.append(DownstreamPrediction(label: items[i].label, generated: generated[j],
                                                generatedPrediction: task.parse(generated[j]), labelNLL: words,
                                                loglikPrediction: best))
            }
            start = end
            progress?(start, items.count)
        }
        return out
    }
}

extension [DownstreamScore] {
    /// The mean F1 over tasks of one mode (the papers' "average downstream F1").
    public func meanF1(mode: String = "generate") -> Double {
        let xs = filter { $0.mode == mode }.map(\.f1)
        return xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count)
    }
}
