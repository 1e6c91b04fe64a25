// `emend edit`: apply edit requests to a model in batches, then write the edited model.
//
// Everything that can be checked is checked before any edit work starts: the arguments (validate), the output
// path (OutputTarget), the requests file (read, non-empty, duplicates under --on-duplicate), the model and the
// room on disk, the prompts to show.

import ArgumentParser
import EmendCore
import EmendEditing
import EmendModels
import Foundation

enum EditMethod: String, ExpressibleByArgument, CaseIterable {
    case encore, memit, alphaedit, emmet, mend, malmen, ft
}

extension DuplicatePolicy: ExpressibleByArgument {}

struct EditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "edit",
        abstract: "Edit facts into a model's weights (locate-then-edit), batch after batch, and write the edited model.",
        discussion: """
        A requests file is JSON (an array of requests, or one request) or JSONL \
        (one request per line). Each request names a subject, a prompt about it \
        and the new target, in one of three forms:

          [
            {"prompt": "The Eiffel Tower is located in the city of",
             "subject": "Eiffel Tower",
             "target_new": "Rome", "ground_truth": "Paris"},
            {"case_id": 7,
             "requested_rewrite": {"prompt": "{} was developed by",
                                   "subject": "Ferrari F40",
                                   "target_new": {"str": "Microsoft"},
                                   "target_true": {"str": "Ferrari"}}},
            {"src": "Which country is Danielle Darrieux a citizen of?",
             "subject": "Danielle Darrieux", "alt": "England"}
          ]

        The flat form has the subject written in the prompt, the MEMIT form \
        (requested_rewrite) a {} where it goes, the zsRE form a question (src) \
        and its new answer (alt, or answers[0]).

        The result must go somewhere: --out (a .gguf file, or a folder for \
        safetensors), --store (an edit store), or --dry-run (edit in memory, \
        report, write nothing).

        Examples:
          emend edit --requests facts.json --out edited.gguf
          emend edit --method memit --requests counterfact.json --limit 100 \\
            --batch-size 50 --out edited-hf/
          emend edit --requests facts.json --dry-run --show 3 \\
            --probe "The Louvre is located in the city of"
          emend edit --store facts.store --requests facts.json
          emend edit --method malmen --editor editors/malmen \\
            --requests zsre.json --dry-run
        """)

    @Option(help: "A named model (smollm2, gemma3-270m: `emend models`), a .gguf file, or a Hugging Face folder (default: smollm2, or with --store the store's model).")
    var model: String?
    @Option(help: "The editing method.") var method: EditMethod = .encore
    @Option(help: "A built-in preset name or a preset .json file (default: the model's preset for the method).") var preset: String?
    @Option(help: "Requests: JSON or JSONL, MEMIT (requested_rewrite), flat CounterFact or zsRE form (see the sample above).") var requests: String
    @Option(name: .customLong("batch-size"), help: "Requests per batch; batches are applied sequentially.") var batchSize = 100
    @Option(help: "Use only the first N requests.") var limit: Int?
    @Option(help: "Statistics corpus: JSON, JSONL or plain text with one document per line (default: the Wikipedia summaries fetched by setup).") var corpus: String?
    @Option(help: "Write the edited model here: a .gguf file (GGUF input) or a folder (safetensors).") var out: String?
    @OptionGroup var exportType: ExportTypeOption
    @Flag(name: .customLong("dry-run"), help: "Edit in memory and report, without writing the model (instead of --out or --store).") var dryRun = false
    @Option(help: "A trained editor folder (from `emend train`), needed by --method mend|malmen.") var editor: String?
    @Option(help: "Show greedy completions of the first N requests' prompts before and after editing.") var show = 0
    @Option(help: "Another prompt to complete before and after editing (repeatable), e.g. a neighbouring fact.") var probe: [String] = []
    @Option(help: "Commit each batch to this edit store (see `emend store`); re-running resumes an interrupted run.") var store: String?
    @Option(name: .customLong("on-duplicate"), help: "A request that gives a subject and relation (same subject, same prompt) already edited, in the store or earlier in the file, another target: refuse (default), replace the earlier edit, keep both, or skip it. Exact repeats are edited once.")
    var onDuplicate: DuplicatePolicy = .refuse
    @Option(help: "Progress of the target search on standard error: auto (a bar on a terminal, lines otherwise), bar, lines, json (JSON lines) or none.")
    var progress: ProgressStyle = .auto
    @Flag(help: "No progress output (the same as --progress none).") var quiet = false

    var modelName: String { model ?? "smollm2" }
    var needsEditor: Bool { method == .mend || method == .malmen }

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        if let l = limit, l <= 0 { throw ValidationError("--limit must be positive, got \(l)") }
        guard show >= 0 else { throw ValidationError("--show must be 0 or more (the number of requests whose prompts are shown), got \(show)") }
        if let i = probe.firstIndex(where: { $0.isEmpty }) { throw ValidationError("--probe \(i + 1) is empty: give a prompt to complete") }
        if let out, out.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--out is empty: give a .gguf file (GGUF) or a folder (safetensors)")
        }
        if out == nil && store == nil && !dryRun {
            throw ValidationError("the edited model would be discarded: give --out FILE.gguf|FOLDER to write it, --store DIR to commit it to an edit store, or --dry-run to edit and report only")
        }
        if dryRun && (out != nil || store != nil) { throw ValidationError("--dry-run writes nothing: leave out --out and --store") }
        try exportType.check(format: out.map { ExportFormat(forPath: $0) })
        if needsEditor && editor == nil {
            throw ValidationError("--method \(method.rawValue) needs --editor DIR, a trained editor folder from `emend train --method \(method.rawValue)`")
        }
        if !needsEditor, editor != nil { throw ValidationError("--editor is for --method mend|malmen, not \(method.rawValue)") }
    }

    var progressStyle: ProgressStyle { quiet ? .none : progress }

    func run() throws {
        let output = try out.map { try OutputTarget($0, dtype: exportType.exportType) }
        if let store { return try runWithStore(store, output: output) }
        let reporter = SearchProgressReporter(style: progressStyle)
        var reqs = try EditRequest.load(from: URL(fileURLWithPath: requests))
        if let l = limit { reqs = Array(reqs.prefix(l)) }
        let plan = try EditRequest.plan(reqs, policy: onDuplicate, file: requests)
        if plan.repeated > 0 {
            note("\(counted(plan.repeated, "request")) \(agreeing(plan.repeated, "repeats", "repeat")) an earlier request of the file exactly: each fact is edited once")
        }
        if !plan.conflicts.isEmpty {
            note("\(counted(plan.conflicts.count, "request")) \(agreeing(plan.conflicts.count, "re-edits", "re-edit")) a subject and relation of an earlier request (--on-duplicate \(onDuplicate.rawValue)\(plan.dropped > 0 ? ", \(plan.dropped) left out" : ""))")
        }
        reqs = plan.requests
        if method == .ft || needsEditor {
            let loaded = try LoadedModel.load(modelName)
            try output?.check(for: loaded)
            if method == .ft { return try HyperNetworkEdit.runFineTune(loaded, requests: reqs, output: output) }
            guard let editor else { throw ValidationError("--method \(method.rawValue) needs --editor DIR") }
            return try HyperNetworkEdit.run(loaded, method: method.rawValue, editor: editor, requests: reqs, output: output)
        }
        let loaded = try LoadedModel.load(modelName)
        try output?.check(for: loaded)
        let p = try EditPreset.named(preset ?? EditingSession.defaultPresetName(method: method.rawValue, model: loaded.model))
        reporter.note("preset \(p.name): layers \(p.layers), rule \(p.rule.name)")
        let statistics = reporter.phase("statistics")
        var editor = try EditingSession.makeEditor(loaded, preset: p, corpus: corpus.map { URL(fileURLWithPath: $0) },
                                                   progress: { _, d, t in statistics(d, t) }, warning: note)
        try editor.validate(reqs, file: requests)
        let shown = reqs.prefix(show).map(\.filledPrompt) + probe
        for (i, s) in shown.enumerated() {
            try loaded.checkPrompt(s, what: i < min(show, reqs.count) ? "the prompt of request \(i)" : "--probe \(i - min(show, reqs.count) + 1)")
        }
        editor.searchProgress = reporter.callback
        let batches = stride(from: 0, to: reqs.count, by: batchSize).map { Array(reqs[$0..<min($0 + batchSize, reqs.count)]) }
        let original = editor.model.weights
        let before = loaded.complete(shown, maxTokens: 12)
        let t0 = Date()
        for (i, b) in batches.enumerated() {
            reporter.beginBatch(i, of: batches.count, size: b.count)
            let r = try editor.apply(b, file: requests)
            let norms = p.layers.map { String(format: "%d:%.3g", $0, r.updateNorms[$0] ?? 0) }.joined(separator: " ")
            print(String(format: "batch %d/%d: %@, %.1f steps/fact, search %.1fs, update %.1fs, %.2fs/edit, ‖ΔW‖ %@",
                         i + 1, batches.count, counted(b.count, "fact"), r.meanSteps, r.searchSeconds, r.updateSeconds,
                         (r.searchSeconds + r.updateSeconds) / Double(b.count), norms))
        }
        let rel = p.layers.map { String(format: "%d:%.4f", $0, Double(editor.model.weights.blocks[$0].ffnDown.norm() / original.blocks[$0].ffnDown.norm())) }
        print(String(format: "%@ in %.1fs; ‖W‖/‖W0‖ per layer: %@", counted(reqs.count, "fact"), Date().timeIntervalSince(t0), rel.joined(separator: " ")))
        if !shown.isEmpty {
            var edited = loaded
            edited.model = editor.model
            let after = edited.complete(shown, maxTokens: 12)
            for (i, prompt) in shown.enumerated() {
                print("\(prompt)\n  before: \(before[i].replacingOccurrences(of: "\n", with: " "))\n  after:  \(after[i].replacingOccurrences(of: "\n", with: " "))")
            }
        }
        if let output {
            print(output.summary(try output.write(editor.model, tokenizer: loaded.tokenizer)))
        } else {
            print("--dry-run: the edited model was not written")
        }
    }
}
