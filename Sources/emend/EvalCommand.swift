// `emend eval`: score a model on CounterFact or zsRE edit records (ES/PS/NS/S; zsRE token accuracy).

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
        abstract: "Score a model on CounterFact (ES, PS, NS, S) or zsRE (token accuracy) edit records.")

    @OptionGroup var modelOption: ModelOption
    @Option(help: "The benchmark: counterfact or zsre.") var dataset: EvalDataset
    @Option(help: "Records file (default: the copy in ../shared/data beside the repository, when present).") var data: String?
    @Option(help: "Inclusive record range, e.g. 0..199 (default: all records).") var records: RecordRange?
    @Option(name: .customLong("tokens-per-pass"), help: "Rows per forward pass.") var tokensPerPass = 2048
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        guard tokensPerPass > 0 else { throw ValidationError("--tokens-per-pass must be positive") }
        if data == nil, Self.defaultDataFile(dataset) == nil {
            throw ValidationError("--data is required: no default \(dataset.rawValue) file at \(Self.defaultDataPath(dataset).path)")
        }
    }

    /// `$EMEND_SHARED`, or `../shared` beside the repository this binary was built from.
    static var sharedRoot: URL {
        if let s = ProcessInfo.processInfo.environment["EMEND_SHARED"], !s.isEmpty { return URL(fileURLWithPath: s) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared")
    }

    static func defaultDataPath(_ d: EvalDataset) -> URL {
        switch d {
        case .counterfact: return sharedRoot.appendingPathComponent("data/counterfact_easyedit/counterfact-edit.json")
        case .zsre: return sharedRoot.appendingPathComponent("data/zsre/zsre_mend_eval_portability_gpt4.json")
        }
    }

    static func defaultDataFile(_ d: EvalDataset) -> URL? {
        let u = defaultDataPath(d)
        return FileManager.default.fileExists(atPath: u.path) ? u : nil
    }

    func run() throws {
        guard let url = data.map({ URL(fileURLWithPath: $0) }) ?? Self.defaultDataFile(dataset) else {
            throw ValidationError("--data is required")
        }
        let all = try EditRequest.load(from: url)
        let range = records?.range ?? 0...max(0, all.count - 1)
        guard !all.isEmpty, range.upperBound < all.count else {
            throw EmendEvalError.recordsOutOfRange(file: url.path, range: range, count: all.count)
        }
        let loaded = try LoadedModel.load(modelOption.model)
        let bar = ProgressBar("eval")
        let report = try EvalReport.run(loaded, modelName: modelOption.model, dataset: dataset, requests: Array(all[range]),
                                        dataFile: url.path, firstRecord: range.lowerBound, tokensPerPass: tokensPerPass) {
            bar.update($0, $1, detail: "queries")
        }
        print(json ? try report.json() : report.table())
    }
}
