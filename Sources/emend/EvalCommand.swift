// `emend eval`: score a model on edit records (CounterFact ES/PS/NS/S; zsRE / KnowEdit token accuracy), the downstream
// probes, WikiText perplexity, MQuAKE multi-hop questions, the chat check or generation entropy (see EmendEval's EvalRuns).

import ArgumentParser
import EmendEditing
import EmendEval
import EmendModels
import Foundation

extension EvalDataset: ExpressibleByArgument {}

/// An inclusive record range, written `a..b` (or `a...b`, or one index `a`).
struct RecordRange: ExpressibleByArgument {
    var range: ClosedRange<Int>

    init?(argument: String) {
        let parts = argument.replacingOccurrences(of: "...", with: "..").components(separatedBy: "..")
        let ints = parts.map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...2).contains(ints.count), let lo = ints.first ?? nil, let hi = ints.last ?? nil, lo >= 0, lo <= hi else {
            return nil
        }
        range = lo...hi
    }
}

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval",
        abstract: "Score a model on edit records, downstream probes, perplexity or free-generation checks.",
        discussion: """
        Examples:
          emend eval --model edited.gguf --dataset counterfact \\
            --data counterfact-edit.json --records 0..99
          emend eval --model smollm2 --dataset downstream --items 100 --json
          emend eval --model edited.gguf --original smollm2 --dataset health \\
            --records 0..99
        """)

    @OptionGroup var modelOption: ModelOption
    @Option(help: "The benchmark.") var dataset: EvalDataset
    @Option(help: "Health: the unedited model to compare with (name, .gguf or HF folder).") var original: String?
    @Option(help: "Records file; for downstream tasks the data folder holding glue_subsets/ (default: ../shared/data beside the repository, when present).")
    var data: String?
    @Option(help: "Inclusive record range, e.g. 0..199 (default: all records).") var records: RecordRange?
    @Option(name: .customLong("tokens-per-pass"), help: "Rows per forward pass.") var tokensPerPass = 2048
    @Option(help: "Downstream: test items per task.") var items = 100
    @Option(help: "Downstream: few-shot examples (0-10).") var shots = 0
    @Option(help: "Downstream: 0 takes the harness's first items; another seed a seeded draw. Entropy: sampling seed.") var seed: UInt64 = 0
    @Option(help: "Perplexity: window in tokens.") var window = 1024
    @Option(help: "Perplexity: stride in tokens.") var stride = 512
    @Option(name: .customLong("max-tokens"), help: "Perplexity: read at most this many tokens of the text.") var maxTokens: Int?
    @Option(name: .customLong("max-new-tokens"), help: "Chat / MQuAKE: new tokens per answer.") var maxNewTokens = 24
    @Option(name: .customLong("top-k"), help: "Entropy: top-k sampling (0 = greedy).") var topK = 5
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        guard tokensPerPass > 0 else { throw ValidationError("--tokens-per-pass must be positive") }
        guard items > 0, (0...10).contains(shots) else { throw ValidationError("--items must be positive and --shots in 0...10") }
        guard window > 1, stride > 0, stride <= window else { throw ValidationError("--window > 1 and 0 < --stride <= --window") }
        if let m = maxTokens, m < 2 { throw ValidationError("--max-tokens must be at least 2") }
        guard maxNewTokens > 0, topK >= 0 else { throw ValidationError("--max-new-tokens must be positive, --top-k >= 0") }
        if dataset == .health, original == nil { throw ValidationError("--dataset health needs --original") }
        if data == nil, Self.defaultDataFile(dataset) == nil {
            throw ValidationError("--data is required: no default \(dataset.rawValue) data at \(Self.defaultDataPath(dataset).path)")
        }
    }

    /// `$EMEND_SHARED`, or `../shared` beside the repository this binary was built from.
    static var sharedRoot: URL {
        if let s = ProcessInfo.processInfo.environment["EMEND_SHARED"], !s.isEmpty { return URL(fileURLWithPath: s) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared")
    }

    static func defaultDataPath(_ d: EvalDataset) -> URL {
        EvalRuns.defaultPath(d, dataRoot: sharedRoot.appendingPathComponent("data"))
    }

    static func defaultDataFile(_ d: EvalDataset) -> URL? {
        let u = defaultDataPath(d)
        return FileManager.default.fileExists(atPath: u.path) ? u : nil
    }

    func run() throws {
        guard let url = data.map({ URL(fileURLWithPath: $0) }) ?? Self.defaultDataFile(dataset) else {
            throw ValidationError("--data is required")
        }
        var options = EvalOptions()
        options.itemsPerTask = items; options.shots = shots; options.seed = seed
        options.window = window; options.stride = stride; options.maxTokens = maxTokens
        options.maxNewTokens = maxNewTokens; options.topK = topK; options.tokensPerPass = tokensPerPass
        if let o = original {
            options.original = try LoadedModel.load(o)
            options.corpus = Self.sharedRoot.appendingPathComponent("data/wikitext2_raw/wiki.test.raw")
        }
        let loaded = try LoadedModel.load(modelOption.model)
        let bar = ProgressBar("eval")
        let report = try EvalRuns.run(dataset, model: loaded, modelName: modelOption.model, data: url, records: records?.range,
                                      options: options) { what, done, total in bar.update(done, total, detail: what) }
        print(json ? try report.json() : report.table())
    }
}
