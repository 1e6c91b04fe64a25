// What one lifelong sequential run is: the ENCORE paper's protocol (shared/spec/locate-then-edit.md §5.5) as data.
//
//  - `edits` requests, applied in batches of `batchSize`, each batch after the ones before (weights never restored).
//  - Checkpoints at 0 edits (the unedited model), every `downstreamEvery` edits, and after the last batch.
//    At each: the downstream probe (the paper: SST-2, MRPC, CoLA, RTE, MMLU, NLI, 100 items each), and the
//    CounterFact edit metrics (ES, PS, NS, S) on the edited records of the evaluation sample.
//  - The evaluation sample is `evalRatio` of the planned edits (ENCORE's `--evaluate_ratio 0.2`: the paper scores a
//    random 20 % of the edited records once, after all edits). Emend draws it once, seeded, and at each checkpoint
//    scores the sampled records edited so far, so the last checkpoint is the paper's number and the earlier ones
//    trace it; at 0 edits it scores the whole sample on the unedited model (the papers' "pre-edited" row).
//
// A restarted run must be this same run: `SequentialSettings` is stored in results.json and compared field by field.

import EmendCore
import EmendEditing
import Foundation

/// The settings of one sequential run (stored in results.json; a resumed run must match them exactly).
public struct SequentialSettings: Codable, Sendable, Equatable {
    /// The method's short name (encore, memit, alphaedit, emmet), for labels.
    public var method: String
    /// The full preset used (layers, search, rule, statistics, contexts).
    public var preset: EditPreset
    /// The model as named on the command line.
    public var model: String
    /// `ModelSource.fingerprint()` of the unedited model's files.
    public var modelFingerprint: String
    /// The requests file, as an absolute path.
    public var recordsFile: String
    /// FNV-1a of the planned edit sequence (every request, in order): the same file contents, the same run.
    public var recordsFingerprint: String
    /// The number of edits (requests) in the run.
    public var edits: Int
    /// Requests per batch (the last batch may be smaller).
    public var batchSize: Int
    /// Edits between checkpoints (a multiple of `batchSize`); 0: checkpoints only at 0 and at the end.
    public var downstreamEvery: Int
    /// The share of the planned edits whose CounterFact metrics are measured (0…1; 0 disables edit metrics).
    public var evalRatio: Double
    /// Seed of the evaluation sample.
    public var evalSeed: UInt64
    /// Records whose subject was already selected were skipped (ENCORE's edit orders have unique subjects).
    public var uniqueSubjects: Bool
    /// What the downstream probe is ("none" when there is none), e.g. "glue: sst2, mrpc, … × 100 items, 0-shot".
    public var downstream: String

    public init(method: String, preset: EditPreset, model: String, modelFingerprint: String, recordsFile: String,
                recordsFingerprint: String, edits: Int, batchSize: Int, downstreamEvery: Int, evalRatio: Double,
                evalSeed: UInt64 = 42, uniqueSubjects: Bool = false, downstream: String = "none") {
        self.method = method; self.preset = preset; self.model = model; self.modelFingerprint = modelFingerprint
        self.recordsFile = recordsFile; self.recordsFingerprint = recordsFingerprint; self.edits = edits
        self.batchSize = batchSize; self.downstreamEvery = downstreamEvery; self.evalRatio = evalRatio
        self.evalSeed = evalSeed; self.uniqueSubjects = uniqueSubjects; self.downstream = downstream
    }

    /// Checks the numbers; names the field that is wrong.
    public func validate() throws {
        func bad(_ field: String, _ expected: String, _ got: String) -> EmendEvalError {
            .invalidRun(file: "(settings)", field: field, expected: expected, got: got)
        }
        guard edits > 0 else { throw bad("edits", "> 0", "\(edits)") }
        guard batchSize > 0 else { throw bad("batch", "> 0", "\(batchSize)") }
        guard downstreamEvery >= 0 else { throw bad("downstream-every", "≥ 0", "\(downstreamEvery)") }
        guard downstreamEvery % batchSize == 0 else {
            throw bad("downstream-every", "a multiple of the batch size \(batchSize) (checkpoints fall between batches)", "\(downstreamEvery)")
        }
        guard evalRatio >= 0, evalRatio <= 1 else { throw bad("eval-ratio", "within 0…1", "\(evalRatio)") }
    }

    // MARK: - Derived

    /// The number of batches: ⌈edits / batchSize⌉.
    public var batchCount: Int { (edits + batchSize - 1) / batchSize }

    /// Edits applied after `batches` batches.
    public func editsAfter(batches: Int) -> Int { min(edits, batches * batchSize) }

    /// Whether a checkpoint is due after `batches` batches (0 = the unedited model).
    public func isCheckpoint(afterBatches batches: Int) -> Bool {
        if batches == 0 || batches == batchCount { return true }
        return downstreamEvery > 0 && editsAfter(batches: batches) % downstreamEvery == 0
    }

    /// The edit counts at which checkpoints are taken, ascending.
    public var checkpointEdits: [Int] { (0...batchCount).filter(isCheckpoint(afterBatches:)).map(editsAfter(batches:)) }

    /// The requests of batch `index` (0-based) within the planned sequence.
    public func batchRange(_ index: Int) -> Range<Int> { (index * batchSize)..<min(edits, (index + 1) * batchSize) }
}

// MARK: - Planning

public enum SequentialPlan {
    /// The first `edits` requests of `records` in file order; with `uniqueSubjects`, a record whose subject was
    /// already taken is skipped. Throws when the file has too few.
    public static func select(_ records: [EditRequest], edits: Int, uniqueSubjects: Bool, file: String) throws -> [EditRequest] {
        var out: [EditRequest] = [], seen = Set<String>()
        out.reserveCapacity(edits)
        for r in records where out.count < edits {
            if uniqueSubjects { guard seen.insert(r.subject).inserted else { continue } }
            out.append(r)
        }
        guard out.count == edits else {
            throw EmendEvalError.invalidRun(file: file, field: "records", expected: "at least \(edits) records\(uniqueSubjects ? " with distinct subjects" : "")",
                                            got: "\(out.count)")
        }
        return out
    }

    /// The evaluation sample: round(ratio · count) distinct indices in 0..<count (at least 1 when ratio > 0),
    /// drawn by a seeded Fisher–Yates shuffle, ascending.
    public static func evaluationSample(count: Int, ratio: Double, seed: UInt64) -> [Int] {
        guard ratio > 0, count > 0 else { return [] }
        let k = min(count, max(1, Int((ratio * Double(count)).rounded())))
        var idx = Array(0..<count)
        var rng = SeededGenerator(seed: seed)
        // Partial Fisher–Yates: the first k positions are a uniform sample without replacement.
        for i in 0..<k {
            let j = i + Int(rng.next() % UInt64(count - i))
            idx.swapAt(i, j)
        }
        return idx.prefix(k).sorted()
    }

    /// FNV-1a (64-bit) of the requests' JSON encoding with sorted keys, as 16 hex digits.
    public static func fingerprint(_ requests: [EditRequest]) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for r in requests {
            for b in try enc.encode(r) { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
            h = (h ^ 0x0A) &* 0x0000_0100_0000_01B3
        }
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
