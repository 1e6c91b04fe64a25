// `emend edit --store DIR …`: the edit command going through an edit store. Re-running the same command after an
// interruption resumes it: committed requests are skipped, an interrupted batch is redone, and the result equals
// an uninterrupted run.

import ArgumentParser
import EmendCore
import EmendEditing
import EmendModels
import Foundation

extension EditCommand {
    func runWithStore(_ dir: String, output: OutputTarget?) throws {
        let reporter = SearchProgressReporter(style: progressStyle)
        var reqs = try EditRequest.load(from: URL(fileURLWithPath: requests))
        if let l = limit { reqs = Array(reqs.prefix(l)) }
        let store = try EditStore.open(at: URL(fileURLWithPath: dir), writer: true, faults: .fromEnvironment())
        // The store knows its base model: --model is needed only to point at a copy that has moved.
        let recorded = try store.info()["base_model_path"]
        let base = model ?? recorded ?? "smollm2"
        let loaded = try LoadedModel.load(base)
        try store.checkBaseModel(loaded.source.url)
        try store.checkFiles()
        try output?.check(for: loaded)
        var snapshot = try store.snapshot()
        let policy = onDuplicate
        let plan = try store.plan(reqs, policy: policy)
        if !plan.duplicates.isEmpty {
            note("\(counted(plan.duplicates.count, "request")) \(agreeing(plan.duplicates.count, "re-edits", "re-edit")) a subject and relation (--on-duplicate \(policy.rawValue))")
        }
        var parts = ["\(plan.alreadyCommitted) of \(counted(reqs.count, "request")) already committed"]
        if plan.repeatedInFile > 0 {
            parts.append("\(plan.repeatedInFile) \(agreeing(plan.repeatedInFile, "repeats", "repeat")) an earlier request of the file exactly (edited once)")
        }
        if plan.skipped > 0 { parts.append("\(plan.skipped) skipped") }
        note("store \(dir): head version \(snapshot.version); \(parts.joined(separator: ", ")); \(plan.pending.count) to edit")
        guard !plan.pending.isEmpty else { print("nothing to do: every request is already in the store (version \(snapshot.version))"); return }
        if [.mend, .malmen, .ft].contains(method) {
            return try runHyperNetworkWithStore(dir, store: store, loaded: loaded, snapshot: snapshot, pending: plan.pending,
                                                supersedes: policy == .replace, output: output)
        }
        let p = try EditPreset.named(preset ?? EditingSession.defaultPresetName(method: method.rawValue, model: loaded.model))
        reporter.note("preset \(p.name): layers \(p.layers), rule \(p.rule.name)")
        let statistics = reporter.phase("statistics")
        var editor = try EditingSession.makeEditor(loaded, preset: p, corpus: corpus.map { URL(fileURLWithPath: $0) },
                                                   progress: { _, d, t in statistics(d, t) }, warning: note)
        try editor.validate(plan.pending, file: requests)
        editor.searchProgress = reporter.callback
        if snapshot.version > 0 { editor = try editor.resumed(at: snapshot) }
        if let last = try store.batches().last, last.method != p.rule.name || last.hyperParameters != storeHyperParameters(p) {
            note("note: version \(last.version) was edited with \(last.method) and other hyper-parameters than preset \(p.name); continuing with \(p.name)")
        }
        let pending = plan.pending
        let batches = stride(from: 0, to: pending.count, by: batchSize).map { Array(pending[$0..<min($0 + batchSize, pending.count)]) }
        for (i, b) in batches.enumerated() {
            reporter.beginBatch(i, of: batches.count, size: b.count)
            let t0 = Date()
            let batch = try editor.applyForStore(b, file: requests, supersedes: policy == .replace)
            let t1 = Date()
            snapshot = try store.commit(batch, after: snapshot)
            let t2 = Date()
            print(String(format: "version %d (batch %d/%d): %@, %.1f steps/fact, edit %.2fs, commit %.3fs",
                         snapshot.version, i + 1, batches.count, counted(b.count, "fact"), batch.metrics["mean_search_steps"] ?? 0,
                         t1.timeIntervalSince(t0), t2.timeIntervalSince(t1)))
        }
        print("store \(dir) at version \(snapshot.version)")
        if let output {
            print(output.summary(try output.write(editor.model, tokenizer: loaded.tokenizer)))
        }
    }

    /// MEND, MALMEN or the fine-tuning baseline through the store: each batch is edited all at once on the store's
    /// current model (the trained editor or FT keeps no sequential state) and committed.
    func runHyperNetworkWithStore(_ dir: String, store: EditStore, loaded: LoadedModel, snapshot start: StoreSnapshot,
                                  pending: [EditRequest], supersedes: Bool, output: OutputTarget?) throws {
        var snapshot = start
        var model = try snapshot.applied(to: loaded.model)
        var hyperEditor: HyperNetworkEditor?
        var editorChecksum = ""
        if method != .ft {
            guard let editor else { throw ValidationError("--method \(method.rawValue) needs --editor DIR (from `emend train`)") }
            let e = try HyperNetworkEditor.load(from: URL(fileURLWithPath: editor))
            guard e.settings.method.rawValue == method.rawValue else {
                throw EmendEditingError.invalidSettings(field: "--editor", expected: "a \(method.rawValue) editor", got: "a \(e.settings.method.rawValue) editor in \(editor)")
            }
            try e.checkCompatible(with: loaded.model, fingerprint: try loaded.source.fingerprint())
            hyperEditor = e
            editorChecksum = try Checksum.hex(fileAt: URL(fileURLWithPath: editor).appendingPathComponent("editor.safetensors"))
        }
        let ftSettings = FineTuneSettings(layers: try HyperNetworkSettings.defaults(for: loaded.model, method: .malmen).layers)
        let batches = stride(from: 0, to: pending.count, by: batchSize).map { Array(pending[$0..<min($0 + batchSize, pending.count)]) }
        for (i, b) in batches.enumerated() {
            let t0 = Date()
            let (edited, batch) = try hyperEditor.map {
                try $0.editForStore(model, requests: b, tokenizer: loaded.tokenizer, editorChecksum: editorChecksum, supersedes: supersedes)
            } ?? FineTuneEditor.editForStore(model, requests: b, tokenizer: loaded.tokenizer, settings: ftSettings, supersedes: supersedes)
            let t1 = Date()
            snapshot = try store.commit(batch, after: snapshot)
            model = edited
            print(String(format: "version %d (batch %d/%d): %@, %@, edit %.2fs, commit %.3fs", snapshot.version, i + 1,
                         batches.count, counted(b.count, "fact"), method.rawValue, t1.timeIntervalSince(t0), Date().timeIntervalSince(t1)))
        }
        print("store \(dir) at version \(snapshot.version)")
        if let output {
            print(output.summary(try output.write(model, tokenizer: loaded.tokenizer)))
        }
    }
}
