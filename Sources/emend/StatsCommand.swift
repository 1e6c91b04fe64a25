// `emend stats`: build the layer statistics (C0) cache.

import ArgumentParser
import EmendCore
import EmendEditing
import EmendModels
import Foundation

/// Parses "4-8" or "4,5,7" into layer indices.
func parseLayers(_ s: String) throws -> [Int] {
    var out: [Int] = []
    for part in s.split(separator: ",") {
        let bounds = part.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !bounds.isEmpty, bounds.allSatisfy({ $0 != nil }) else { throw ValidationError("--layers '\(s)': expected e.g. 4-8 or 4,5,7") }
        if bounds.count == 1 { out.append(bounds[0]!) } else if bounds.count == 2, bounds[0]! <= bounds[1]! { out += Array(bounds[0]!...bounds[1]!) }
        else { throw ValidationError("--layers '\(s)': expected e.g. 4-8 or 4,5,7") }
    }
    return out
}

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats",
        abstract: "Compute (and cache) the key second moment C0 of MLP down-projection inputs over a corpus.",
        discussion: """
        Examples:
          emend stats --model smollm2 --layers 4-8
          emend stats --model path/to/model.gguf --layers 2,4,6 --samples 500 \\
            --corpus texts.txt          (plain text: one document per line)
        """)

    @OptionGroup var modelOption: ModelOption
    @Option(help: "Layers, e.g. 4-8 or 3,5.") var layers: String = "4-8"
    @Option(help: "Documents to sample from the corpus.") var samples = 2_000
    @Option(name: .customLong("max-tokens"), help: "Tokens kept per document.") var maxTokens = 512
    @Option(help: "Corpus file: JSON, JSONL or plain text with one document per line (default: the Wikipedia summaries fetched by setup).") var corpus: String?

    func validate() throws {
        _ = try parseLayers(layers)
        guard samples > 0, maxTokens > 0 else { throw ValidationError("--samples and --max-tokens must be positive") }
    }

    func run() throws {
        let loaded = try LoadedModel.load(modelOption.model)
        let ls = try parseLayers(layers)
        for l in ls where l >= loaded.model.config.layerCount { throw EmendEditingError.layerOutOfRange(layer: l, layerCount: loaded.model.config.layerCount) }
        let text = try Corpus.load(corpus.map { URL(fileURLWithPath: $0) } ?? EmendPaths.defaultCorpus)
        if text.documents.count * 2 <= samples {
            note("warning: the corpus has \(counted(text.documents.count, "document")); --samples asks for \(samples), so C0 is estimated from fewer texts than intended")
        }
        let bar = ProgressBar("statistics")
        let t0 = Date()
        let result = try StatisticsCache().prepare(model: loaded.model, modelFingerprint: try loaded.source.fingerprint(),
                                                   tokenizer: loaded.tokenizer, layers: ls, corpus: text,
                                                   settings: StatisticsSettings(sampleCount: samples, maxTokens: maxTokens)) { bar.update($0, $1) }
        for l in ls.sorted() {
            let s = try result.secondMoment(l)
            var trace = 0.0
            for i in 0..<s.c0.rows { trace += s.c0[i, i] }
            print(String(format: "layer %2d: C0 [%d, %d] over %d tokens, trace %.4g", l, s.c0.rows, s.c0.cols, s.tokenCount, trace))
        }
        print(String(format: "%.1f s", Date().timeIntervalSince(t0)))
    }
}
