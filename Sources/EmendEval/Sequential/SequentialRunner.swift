// The lifelong sequential protocol (ENCORE paper; shared/spec/locate-then-edit.md §5.5), resumable.
//
// Loop, starting from whatever the run directory already holds:
//   checkpoint due and not yet measured? → edit metrics + downstream probe on the current model → commit
//   all batches done?                    → mark complete → commit → stop
//   otherwise                            → apply the next batch → write the state checkpoint → commit
// "Commit" is an atomic rewrite of results.json (then report.html). A process killed at any instant restarts at the
// last committed batch: the weights and per-layer state come back from the checkpoint file bit for bit, every
// choice is seeded, and nothing else carries over between batches, so the numbers equal an uninterrupted run's.

import EmendCore
import EmendEditing
import EmendModels
import Foundation

/// What a run reports while it works (for a progress bar).
public enum SequentialEvent {
    /// The run (re)starts after `batchesDone` of `batchCount` batches.
    case started(batchesDone: Int, batchCount: Int)
    /// A long step begins, e.g. "batch 3/100" or "checkpoint at 1000 edits: edit metrics".
    case phase(String)
    /// Progress inside an evaluation: (what, done, total).
    case evaluating(String, Int, Int)
    case batchFinished(SequentialBatchRecord, batchCount: Int)
    case checkpointFinished(SequentialCheckpointRecord)
}

/// Runs (or resumes) one sequential run in a directory.
public struct SequentialRunner {
    public let directory: URL
    public var settings: SequentialSettings { results.settings }
    public private(set) var results: SequentialResults
    /// The editor, holding the edited model and the per-layer state.
    public private(set) var editor: LocateThenEditor
    /// The unedited model (tokenizer, chat template, and the weights W0 the norms are relative to).
    public let base: LoadedModel
    /// The planned edit sequence: [edits]
    public let requests: [EditRequest]
    public let probe: CheckpointProbe?
    /// Rows per forward pass of the edit-metric scorer.
    public var tokensPerPass = 2048
    /// Also write report.html after every commit.
    public var writesReport = true
    /// W0 per edited layer: [D, F]
    let original: [Int: Tensor]

    /// Opens `directory`: starts a new run when it has no results.json, else resumes that run (which must have been
    /// made with the same settings).
    /// - editor: a fresh editor for `base` (no batches applied); on resume its weights and state are replaced by the
    ///   checkpoint's.
    /// - requests: the planned edit sequence (`SequentialPlan.select`), `settings.edits` long.
    public init(directory: URL, settings: SequentialSettings, base: LoadedModel, editor: LocateThenEditor,
                requests: [EditRequest], probe: CheckpointProbe?) throws {
        try settings.validate()
        let file = settings.recordsFile
        guard requests.count == settings.edits else {
            throw EmendEvalError.invalidRun(file: file, field: "requests", expected: "\(settings.edits) (--edits)", got: "\(requests.count)")
        }
        guard settings.downstream == (probe?.description ?? "none") else {
            throw EmendEvalError.invalidRun(file: file, field: "downstream", expected: "'\(settings.downstream)'", got: "'\(probe?.description ?? "none")'")
        }
        guard editor.preset == settings.preset else {
            throw EmendEvalError.invalidRun(file: file, field: "preset", expected: settings.preset.name, got: "the editor's \(editor.preset.name)")
        }
        guard editor.states.values.allSatisfy({ $0.editCount == 0 }) else {
            throw EmendEvalError.invalidRun(file: file, field: "editor", expected: "a fresh editor (no batches applied)", got: "one with edits")
        }
        try editor.validate(requests, file: file)                  // every request editable before anything runs
        let sample = SequentialPlan.evaluationSample(count: settings.edits, ratio: settings.evalRatio, seed: settings.evalSeed)
        for i in sample where requests[i].targetTrue == nil {
            throw EmendEvalError.missingField(file: file, record: i, field: "targetTrue", metric: "the CounterFact edit metrics (--eval-ratio > 0)")
        }
        let layers = settings.preset.layers
        self.directory = directory
        self.base = base
        self.requests = requests
        self.probe = probe
        self.original = Dictionary(uniqueKeysWithValues: layers.map { ($0, base.model.weights.blocks[$0].ffnDown.dequantized()) })

        if let existing = try SequentialResults.read(from: directory) {
            let resultsPath = directory.appendingPathComponent(SequentialResults.fileName).path
            if let field = Self.firstDifference(existing.settings, settings) {
                throw EmendEvalError.invalidRun(file: resultsPath, field: "settings.\(field.name)", expected: field.new, got: field.old)
            }
            guard existing.evaluationSample == sample else {
                throw EmendEvalError.invalidRun(file: resultsPath, field: "evaluationSample", expected: "the sample drawn from the settings", got: "a different one")
            }
            let done = existing.batches.count
            var restored = editor
            if done > 0 {
                let cp = try SequentialCheckpoint.read(from: directory, batches: done, layers: layers, config: base.model.config)
                restored = try LocateThenEditor(model: cp.applied(to: editor.model), tokenizer: editor.tokenizer, preset: editor.preset, statistics: editor.statistics,
                                                contexts: editor.prompts.contexts, states: cp.states)
            }
            self.editor = restored
            self.results = existing
            self.results.sessions.append(done)
        } else {
            self.editor = editor
            let norms = original.mapValues { Double($0.norm()) }
            self.results = SequentialResults(settings: settings, originalNorms: norms, evaluationSample: sample)
            self.results.sessions = [0]
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try commit()
        }
    }

    /// Runs until every batch and checkpoint is done, or until `maxBatches` more batches have been applied.
    public mutating func run(maxBatches: Int? = nil, progress: @escaping (SequentialEvent) -> Void = { _ in }) throws {
        progress(.started(batchesDone: results.batches.count, batchCount: settings.batchCount))
        var ran = 0
        while true {
            let done = results.batches.count
            if settings.isCheckpoint(afterBatches: done), !results.checkpoints.contains(where: { $0.batches == done }) {
                let c = try measure(afterBatches: done, progress: progress)
                results.checkpoints.append(c)
                try commit()
                progress(.checkpointFinished(c))
            }
            if done == settings.batchCount {
                if !results.complete { results.complete = true; try commit() }
                return
            }
            if let m = maxBatches, ran >= m { return }
            let b = try applyBatch(done, progress: progress)
            ran += 1
            progress(.batchFinished(b, batchCount: settings.batchCount))
        }
    }

    // MARK: - One batch

    /// Applies batch `index` (0-based), writes the state checkpoint, commits, then drops the older checkpoint.
    mutating func applyBatch(_ index: Int, progress: @escaping (SequentialEvent) -> Void) throws -> SequentialBatchRecord {
        let range = settings.batchRange(index)
        progress(.phase("batch \(index + 1)/\(settings.batchCount): editing \(range.count) facts"))
        let r = try editor.apply(Array(requests[range]), file: settings.recordsFile)
        let layers = settings.preset.layers
        var relative: [Int: Double] = [:], distance: [Int: Double] = [:]
        for l in layers {
            let w = editor.model.weights.blocks[l].ffnDown.dequantized(), w0 = original[l]!
            let n0 = Double(w0.norm())
            relative[l] = Double(w.norm()) / n0
            distance[l] = Double((w - w0).norm()) / n0
        }
        let losses = r.finalLosses.map(Double.init)
        var record = SequentialBatchRecord(
            batch: index + 1, edits: range.upperBound, requests: r.requestCount, searchSeconds: r.searchSeconds,
            updateSeconds: r.updateSeconds, saveSeconds: 0,
            secondsPerEdit: (r.searchSeconds + r.updateSeconds) / Double(max(1, r.requestCount)),
            searchSteps: r.searchSteps, meanSearchSteps: r.meanSteps,
            meanFinalLoss: losses.isEmpty ? 0 : losses.reduce(0, +) / Double(losses.count),
            updateNorms: r.updateNorms, weightNorms: r.weightNorms, relativeNorms: relative, relativeDistances: distance)
        let t0 = Date()
        let weights = Dictionary(uniqueKeysWithValues: layers.map { ($0, editor.model.weights.blocks[$0].ffnDown.dequantized()) })
        try SequentialCheckpoint(batches: index + 1, weights: weights, states: editor.states).write(to: directory)
        record.saveSeconds = Date().timeIntervalSince(t0)
        results.batches.append(record)
        try commit()
        SequentialCheckpoint.prune(in: directory, keep: index + 1)
        return record
    }

    // MARK: - Checkpoints

    /// Edit metrics on the evaluation sample's records edited so far (the whole sample at 0 edits) and the probe.
    func measure(afterBatches batches: Int, progress: @escaping (SequentialEvent) -> Void) throws -> SequentialCheckpointRecord {
        let edits = settings.editsAfter(batches: batches)
        var current = base
        current.model = editor.model
        var record = SequentialCheckpointRecord(edits: edits, batches: batches, editMetrics: nil, editMetricsSeconds: 0,
                                                downstream: nil, downstreamAverage: nil, downstreamSeconds: 0)
        let picked = edits == 0 ? results.evaluationSample : results.evaluationSample.filter { $0 < edits }
        if !picked.isEmpty {
            progress(.phase("checkpoint at \(edits) edits: CounterFact metrics on \(picked.count) records"))
            let t0 = Date()
            let scorer = TargetScorer(current, tokensPerPass: tokensPerPass)
            record.editMetrics = try CounterFactMetrics.evaluate(picked.map { requests[$0] }, scorer: scorer, file: settings.recordsFile) {
                progress(.evaluating("edit metrics", $0, $1))
            }
            record.editMetricsSeconds = Date().timeIntervalSince(t0)
        }
        if let probe {
            progress(.phase("checkpoint at \(edits) edits: downstream (\(probe.description))"))
            let t0 = Date()
            let scores = try probe.evaluate(current) { progress(.evaluating($0, $1, $2)) }
            record.downstream = scores
            record.downstreamAverage = CheckpointProbe.average(scores)
            record.downstreamSeconds = Date().timeIntervalSince(t0)
        }
        return record
    }

    // MARK: - Helpers

    /// Writes results.json atomically (then report.html).
    func commit() throws {
        try results.write(to: directory)
        if writesReport { try SequentialReport.write(results, to: directory) }
    }

    /// The first top-level settings field whose JSON differs: (name, stored value, requested value).
    static func firstDifference(_ stored: SequentialSettings, _ requested: SequentialSettings) -> (name: String, old: String, new: String)? {
        guard stored != requested else { return nil }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        func fields(_ s: SequentialSettings) -> [String: String] {
            guard let data = try? enc.encode(s), let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
            return obj.mapValues { v in
                (try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys, .fragmentsAllowed])).map { String(decoding: $0, as: UTF8.self) } ?? "\(v)"
            }
        }
        let a = fields(stored), b = fields(requested)
        for k in Set(a.keys).union(b.keys).sorted() where a[k] != b[k] {
            func short(_ s: String?) -> String { guard let s else { return "missing" }; return s.count > 120 ? String(s.prefix(117)) + "…" : s }
            return (k, short(a[k]), short(b[k]))
        }
        return ("(settings)", "different", "equal")
    }
}
