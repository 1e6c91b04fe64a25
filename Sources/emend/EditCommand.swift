// `emend edit`: apply edit requests to a model in batches, then write the edited model.

import ArgumentParser
import EmendCore
import EmendEditing
import EmendModels
import Foundation

enum EditMethod: String, ExpressibleByArgument, CaseIterable {
    case encore, memit, alphaedit, emmet, mend, malmen, ft
}

struct EditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "edit",
        abstract: "Edit facts into a model's weights (locate-then-edit), batch after batch, and write the edited model.")

    @OptionGroup var modelOption: ModelOption
    @Option(help: "The editing method.") var method: EditMethod = .encore
    @Option(help: "A built-in preset name or a preset .json file (default: the model's preset for the method).") var preset: String?
    @Option(help: "Requests: JSON or JSONL, MEMIT (requested_rewrite), flat CounterFact or zsRE form.") var requests: String
    @Option(name: .customLong("batch-size"), help: "Requests per batch; batches are applied sequentially.") var batchSize = 100
    @Option(help: "Use only the first N requests.") var limit: Int?
    @Option(help: "Statistics corpus (default: the Wikipedia summaries fetched by setup).") var corpus: String?
    @Option(help: "Write the edited model here: a .gguf file (GGUF input) or a folder (safetensors).") var out: String?
    @Option(help: "A trained editor folder (from `emend train`), for --method mend|malmen.") var editor: String?
    @Option(help: "Show greedy completions of the first N requests' prompts before and after editing.") var show = 0
    @Option(help: "Another prompt to complete before and after editing (repeatable), e.g. a neighbouring fact.") var probe: [String] = []
    @Option(help: "Commit each batch to this edit store (see `emend store`); re-running resumes an interrupted run.") var store: String?
    @Option(name: .customLong("on-duplicate"), help: "With --store: a request re-editing a subject and relation already edited is refused (default), replaces the earlier edit, is kept beside it, or skipped.") var onDuplicate: DuplicatePolicy = .refuse

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        if let l = limit, l <= 0 { throw ValidationError("--limit must be positive") }
    }

    func run() throws {
        if let store { return try runWithStore(store) }
        var reqs = try EditRequest.load(from: URL(fileURLWithPath: requests))
        if let l = limit { reqs = Array(reqs.prefix(l)) }
        if method == .ft { return try HyperNetworkEdit.runFineTune(model: modelOption.model, requests: reqs, out: out) }
        if method == .mend || method == .malmen {
            guard let editor else { throw ValidationError("--method \(method.rawValue) needs --editor DIR (from `emend train`)") }
            return try HyperNetworkEdit.run(model: modelOption.model, method: method.rawValue, editor: editor, requests: reqs, out: out)
        }
        let loaded = try LoadedModel.load(modelOption.model)
        let p = try EditPreset.named(preset ?? EditingSession.defaultPresetName(method: method.rawValue, model: loaded.model))
        note("preset \(p.name): layers \(p.layers), rule \(p.rule.name)")
        let bar = ProgressBar("statistics")
        var editor = try EditingSession.makeEditor(loaded, preset: p, corpus: corpus.map { URL(fileURLWithPath: $0) }) { _, d, t in bar.update(d, t) }
        try editor.validate(reqs, file: requests)
        let batches = stride(from: 0, to: reqs.count, by: batchSize).map { Array(reqs[$0..<min($0 + batchSize, reqs.count)]) }
        let original = editor.model.weights
        let shown = reqs.prefix(show).map(\.filledPrompt) + probe
        let before = loaded.complete(shown, maxTokens: 12)
        let t0 = Date()
        for (i, b) in batches.enumerated() {
            let r = try editor.apply(b, file: requests)
            let norms = p.layers.map { String(format: "%d:%.3g", $0, r.updateNorms[$0] ?? 0) }.joined(separator: " ")
            print(String(format: "batch %d/%d: %d facts, %.1f steps/fact, search %.1fs, update %.1fs, %.2fs/edit, ‖ΔW‖ %@",
                         i + 1, batches.count, b.count, r.meanSteps, r.searchSeconds, r.updateSeconds,
                         (r.searchSeconds + r.updateSeconds) / Double(b.count), norms))
        }
        let rel = p.layers.map { String(format: "%d:%.4f", $0, Double(editor.model.weights.blocks[$0].ffnDown.norm() / original.blocks[$0].ffnDown.norm())) }
        print(String(format: "%d facts in %.1fs; ‖W‖/‖W0‖ per layer: %@", reqs.count, Date().timeIntervalSince(t0), rel.joined(separator: " ")))
        if !shown.isEmpty {
            var edited = loaded
            edited.model = editor.model
            let after = edited.complete(shown, maxTokens: 12)
            for (i, prompt) in shown.enumerated() {
                print("\(prompt)\n  before: \(before[i].replacingOccurrences(of: "\n", with: " "))\n  after:  \(after[i].replacingOccurrences(of: "\n", with: " "))")
            }
        }
        if let out {
            let url = URL(fileURLWithPath: out)
            let format = ExportFormat(forPath: out)
            _ = try editor.model.export(to: url, format: format)
            print("wrote \(out)")
        }
    }
}
