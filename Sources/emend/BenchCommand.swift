// `emend bench sequential`: the ENCORE paper's lifelong protocol (resumable), and `emend bench report`: its HTML report.

import ArgumentParser
import EmendCore
import EmendEditing
import EmendEval
import EmendModels
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench",
        abstract: "Benchmarks of editing methods: the lifelong sequential protocol, its report, and runs compared.",
        discussion: """
        Examples:
          emend bench sequential --method encore --edits 2000 --batch 100 \\
            --downstream-every 500 --out runs/encore-2000
          emend bench report runs/encore-2000
          emend bench compare runs/encore-2000 runs/memit-2000 --out compare.html
          emend bench export runs/encore-2000 --out edited.gguf
        """,
        subcommands: [BenchSequentialCommand.self, BenchReportCommand.self, BenchCompareCommand.self, BenchExportCommand.self])
}

struct BenchSequentialCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sequential",
        abstract: "Edit thousands of facts in sequential batches, measuring the model along the way (resumable).",
        discussion: """
        Writes RUN_DIR/results.json (every batch: time, search steps, norms; every checkpoint: scores) and \
        RUN_DIR/report.html after each batch. Killed and restarted with the same command, it continues from the last \
        finished batch and gives the same numbers as an uninterrupted run.

        Examples:
          emend bench sequential --method encore --edits 300 --batch 100 \\
            --downstream-every 100 --out runs/encore-300
          emend bench sequential --method memit --edits 2000 --batch 100 \\
            --records counterfact-edit.json --out runs/memit-2000 --stop-after 1
        """)

    @OptionGroup var modelOption: ModelOption
    @Option(help: "The editing method.") var method: EditMethod = .encore
    @Option(help: "A built-in preset name or a preset .json file (default: the model's preset for the method).") var preset: String?
    @Option(help: "Number of edits (the first records of the file, in order).") var edits = 10_000
    @Option(help: "Edits per batch.") var batch = 100
    @Option(name: .customLong("downstream-every"), help: "Edits between checkpoints (a multiple of --batch; 0: only before and after).")
    var downstreamEvery = 1_000
    @Option(name: .customLong("eval-ratio"), help: "Share of the edited records scored with the CounterFact metrics (ENCORE: 0.2).")
    var evalRatio = 0.2
    @Option(name: .customLong("eval-seed"), help: "Seed of the evaluation sample.") var evalSeed: UInt64 = 42
    @Flag(name: .customLong("unique-subjects"), help: "Skip records whose subject was already taken (as ENCORE's edit orders).")
    var uniqueSubjects = false
    @Option(help: "Requests: JSON or JSONL (CounterFact flat or MEMIT form; default: counterfact-edit.json in ../shared/data).")
    var records: String?
    @Option(help: "Statistics corpus (default: the Wikipedia summaries fetched by setup).") var corpus: String?
    @Option(name: .customLong("downstream-items"), help: "Test items per downstream task at each checkpoint (0: no downstream probes).")
    var downstreamItems = 100
    @Option(name: .customLong("downstream-tasks"), help: "Comma-separated downstream tasks.") var downstreamTasks = "sst2,mrpc,cola,rte,nli,mmlu"
    @Option(name: .customLong("downstream-shots"), help: "Few-shot examples per downstream prompt (0...10).") var downstreamShots = 0
    @Option(name: .customLong("downstream-data"), help: "The data folder holding glue_subsets/ (default: ../shared/data beside the repository).")
    var downstreamData: String?
    @Option(help: "The run directory (created, or resumed when it holds a run).") var out: String
    @Option(name: .customLong("stop-after"), help: "Stop after this many more batches (the run can be resumed later).")
    var stopAfter: Int?
    @Option(name: .customLong("tokens-per-pass"), help: "Rows per forward pass of the edit-metric scorer.") var tokensPerPass = 2048

    func validate() throws {
        guard edits > 0, batch > 0 else { throw ValidationError("--edits and --batch must be positive") }
        guard downstreamEvery >= 0, downstreamEvery % batch == 0 else {
            throw ValidationError("--downstream-every must be a non-negative multiple of --batch (\(batch)), got \(downstreamEvery)")
        }
        guard (0...1).contains(evalRatio) else { throw ValidationError("--eval-ratio must be within 0…1, got \(evalRatio)") }
        if let s = stopAfter, s < 0 { throw ValidationError("--stop-after must be ≥ 0") }
        if records == nil, EvalCommand.defaultDataFile(.counterfact) == nil {
            throw ValidationError("--records is required: no default file at \(EvalCommand.defaultDataPath(.counterfact).path)")
        }
    }

    func run() throws {
        guard let recordsURL = records.map({ URL(fileURLWithPath: $0) }) ?? EvalCommand.defaultDataFile(.counterfact) else {
            throw ValidationError("--records is required")
        }
        let file = recordsURL.standardizedFileURL.path
        let planned = try SequentialPlan.select(try EditRequest.load(from: recordsURL), edits: edits, uniqueSubjects: uniqueSubjects, file: file)
        let loaded = try LoadedModel.load(modelOption.model)
        let p = try EditPreset.named(preset ?? EditingSession.defaultPresetName(method: method.rawValue, model: loaded.model))
        note("preset \(p.name): layers \(p.layers), rule \(p.rule.name)")
        let statsBar = ProgressBar("statistics")
        let editor = try EditingSession.makeEditor(loaded, preset: p, corpus: corpus.map { URL(fileURLWithPath: $0) }) { _, d, t in statsBar.update(d, t) }
        let probe = try downstreamProbe()
        let settings = SequentialSettings(
            method: method.rawValue, preset: p, model: modelOption.model, modelFingerprint: try loaded.source.fingerprint(),
            recordsFile: file, recordsFingerprint: try SequentialPlan.fingerprint(planned), edits: edits, batchSize: batch,
            downstreamEvery: downstreamEvery, evalRatio: evalRatio, evalSeed: evalSeed, uniqueSubjects: uniqueSubjects,
            downstream: probe?.description ?? "none")
        let dir = URL(fileURLWithPath: out)
        var runner = try SequentialRunner(directory: dir, settings: settings, base: loaded, editor: editor, requests: planned, probe: probe)
        runner.tokensPerPass = tokensPerPass
        let startBatches = runner.results.batches.count
        if startBatches > 0 { note("resuming \(out) after batch \(startBatches) of \(settings.batchCount)") }
        let bar = ProgressBar("sequential", initial: startBatches)
        var phase = "", done = startBatches
        try runner.run(maxBatches: stopAfter) { event in
            switch event {
            case let .started(d, total): bar.update(d, total)
            case let .phase(text): phase = text; bar.update(done, settings.batchCount, detail: text)
            case let .evaluating(what, d, t): bar.update(done, settings.batchCount, detail: "\(phase) · \(what) \(d)/\(t)")
            case let .batchFinished(b, total):
                done = b.batch
                bar.update(b.batch, total, detail: String(format: "%.2f s/edit, %.1f steps/fact", b.secondsPerEdit, b.meanSearchSteps))
                let norms = p.layers.map { String(format: "%d:%.4f", $0, b.relativeNorms[$0] ?? 0) }.joined(separator: " ")
                say(String(format: "batch %d/%d (%d edits): search %.1fs, update %.1fs, %.2fs/edit, %.1f steps/fact, ‖W‖/‖W0‖ %@",
                             b.batch, total, b.edits, b.searchSeconds, b.updateSeconds, b.secondsPerEdit, b.meanSearchSteps, norms))
            case let .checkpointFinished(c):
                var line = "checkpoint at \(c.edits) edits:"
                if let e = c.editMetrics { line += String(format: " ES %.1f PS %.1f NS %.1f S %.1f (%d records)", e.ES, e.PS, e.NS, e.S, e.records) }
                if let f1 = c.downstreamAverage?["f1"] { line += String(format: ", mean downstream F1 %.3f", f1) }
                say(line)
            }
        }
        let r = runner.results
        say(r.complete ? "complete: \(out)/results.json, \(out)/report.html"
                         : "stopped after batch \(r.batches.count) of \(settings.batchCount); run the same command to continue")
    }

    /// The checkpoint probe: the downstream suite (SST-2, MRPC, CoLA, RTE, NLI, MMLU). Each task reports the
    /// label-likelihood scores as `f1`/`accuracy`/`mcc` (the curves the report draws: a 135M model rarely answers
    /// in the harness's format when generating) and the greedy-generation scores as `*_generate`.
    func downstreamProbe() throws -> CheckpointProbe? {
        guard downstreamItems > 0 else { return nil }
        let root = downstreamData.map { URL(fileURLWithPath: $0) } ?? EvalCommand.sharedRoot.appendingPathComponent("data")
        let suite = try DownstreamSuite(dataRoot: root, tasks: downstreamTasks.split(separator: ",").map(String.init),
                                        itemsPerTask: downstreamItems, shots: downstreamShots)
        let text = "\(suite.tasks.map(\.rawValue).joined(separator: ", ")) × \(downstreamItems), \(downstreamShots)-shot; f1 = label likelihood"
        return CheckpointProbe(description: text) { model, progress in
            var out: CheckpointScores = [:]
            for s in try suite.evaluate(model, progress: progress) {
                let suffix = s.mode == "loglik" ? "" : "_\(s.mode)"
                out[s.task, default: [:]].merge(["f1" + suffix: s.f1, "accuracy" + suffix: s.accuracy, "mcc" + suffix: s.mcc,
                                                 "invalid" + suffix: Double(s.invalid), "items": Double(s.items)]) { $1 }
            }
            return out
        }
    }
}

/// Prints a line to standard output unbuffered, so a log file keeps it in order with the progress lines.
private func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

struct BenchReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report",
        abstract: "Regenerate RUN_DIR/report.html from RUN_DIR/results.json.",
        discussion: """
        Example:
          emend bench report runs/encore-2000
        """)

    @Argument(help: "The run directory of `emend bench sequential`.") var runDir: String

    func run() throws {
        let dir = URL(fileURLWithPath: runDir)
        guard let results = try SequentialResults.read(from: dir) else {
            throw ValidationError("\(runDir) has no \(SequentialResults.fileName)")
        }
        try SequentialReport.write(results, to: dir)
        print("wrote \(dir.appendingPathComponent(SequentialReport.fileName).path)")
    }
}

struct BenchCompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compare",
        abstract: "Put several sequential runs on shared charts (compare.html): ES, NS, S, downstream F1, norms, time per edit.",
        discussion: """
        Example:
          emend bench compare runs/encore-2000 runs/memit-2000 \\
            runs/alphaedit-2000 --out compare.html
        """)

    @Argument(help: "Run directories of `emend bench sequential` (finished or not).") var runDirs: [String]
    @Option(help: "The page to write.") var out = "compare.html"

    func validate() throws {
        guard runDirs.count >= 2 else { throw ValidationError("give at least two run directories") }
    }

    func run() throws {
        let pairs = try runDirs.map { d -> (directory: URL, results: SequentialResults) in
            let dir = URL(fileURLWithPath: d)
            guard let r = try SequentialResults.read(from: dir) else { throw ValidationError("\(d) has no \(SequentialResults.fileName)") }
            return (dir, r)
        }
        let runs = SequentialComparison.runs(pairs)
        try SequentialComparison.write(runs, to: URL(fileURLWithPath: out))
        for r in runs {
            let last = r.results.checkpoints.last
            print(String(format: "%@: %d/%d edits; last checkpoint %d: S %@, mean F1 %@, largest ‖W‖/‖W0‖ %@", r.label,
                         r.results.batches.last?.edits ?? 0, r.results.settings.edits, last?.edits ?? 0,
                         last?.editMetrics.map { String(format: "%.1f", $0.S) } ?? "–",
                         last?.downstreamAverage?["f1"].map { String(format: "%.3f", $0) } ?? "–",
                         r.results.batches.last.map { String(format: "%.4f", $0.relativeNorms.values.max() ?? 1) } ?? "1"))
        }
        print("wrote \(out)")
    }
}

struct BenchExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export",
        abstract: "Write the model of a sequential run after its last finished batch (.gguf or a safetensors folder).",
        discussion: """
        Examples:
          emend bench export runs/encore-2000 --out encore-2000.gguf
          emend bench export runs/encore-2000 --out encore-2000-hf/
        """)

    @Argument(help: "The run directory of `emend bench sequential`.") var runDir: String
    @Option(help: "The run's model (default: the name the run recorded).") var model: String?
    @Option(help: "A .gguf file (GGUF model) or a folder (safetensors).") var out: String
    @OptionGroup var exportType: ExportTypeOption

    func validate() throws { try exportType.check(format: ExportFormat(forPath: out)) }

    func run() throws {
        let output = try OutputTarget(out, dtype: exportType.exportType)
        let dir = URL(fileURLWithPath: runDir)
        guard let results = try SequentialResults.read(from: dir) else { throw ValidationError("\(runDir) has no \(SequentialResults.fileName)") }
        let loaded = try LoadedModel.load(model ?? results.settings.model)
        try output.check(for: loaded)
        guard let (edited, batches) = try SequentialCheckpoint.editedModel(of: results, in: dir, base: loaded.model,
                                                                          fingerprint: try loaded.source.fingerprint()) else {
            throw ValidationError("\(runDir) has no finished batch yet")
        }
        let report = try output.write(edited, tokenizer: loaded.tokenizer)
        print("wrote \(out): \(results.settings.method) after \(batches) batches (\(results.batches.last?.edits ?? 0) edits; \(report.typeSummary))")
        for n in report.notes { print("note: \(n)") }
    }
}
