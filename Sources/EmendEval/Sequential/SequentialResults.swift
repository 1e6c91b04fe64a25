// results.json of a sequential run: the settings, one record per finished batch and one per checkpoint.
// Rewritten atomically after every batch (and every checkpoint), so a reader — or a restarted run — always sees a
// consistent file. Everything but the wall-clock fields is a function of the settings alone, which is what makes
// "killed and restarted" equal "uninterrupted" (`numbersEqual`).

import EmendCore
import EmendModels
import Foundation

/// What one batch did and where the edited matrices stand after it.
public struct SequentialBatchRecord: Codable, Sendable, Equatable {
    /// 1-based batch number.
    public var batch: Int
    /// Edits applied so far, this batch included.
    public var edits: Int
    /// Requests in this batch.
    public var requests: Int
    /// Target search (wall clock).
    public var searchSeconds: Double
    /// Keys, residuals, solves and weight updates (wall clock).
    public var updateSeconds: Double
    /// Writing the run's checkpoint (not part of the method's cost).
    public var saveSeconds: Double
    /// (search + update) / requests: the papers' "s/edit".
    public var secondsPerEdit: Double
    /// Gradient steps of the target search, per request.
    public var searchSteps: [Int]
    public var meanSearchSteps: Double
    /// Mean of the requests' final search losses.
    public var meanFinalLoss: Double
    /// ‖ΔW‖_F of this batch, per edited layer.
    public var updateNorms: [Int: Double]
    /// ‖W‖_F after the batch, per edited layer.
    public var weightNorms: [Int: Double]
    /// ‖W‖_F / ‖W0‖_F per edited layer (W0: the unedited matrix) — the ENCORE paper's norm-growth curve.
    public var relativeNorms: [Int: Double]
    /// ‖W − W0‖_F / ‖W0‖_F per edited layer: how far the matrix has moved in all.
    public var relativeDistances: [Int: Double]
}

/// The measurements at one checkpoint.
public struct SequentialCheckpointRecord: Codable, Sendable, Equatable {
    /// Edits applied when measured (0: the unedited model).
    public var edits: Int
    /// Batches applied when measured.
    public var batches: Int
    /// CounterFact ES/PS/NS/S (×100) on the evaluation sample's records edited so far (at 0 edits: the whole
    /// sample, on the unedited model); nil when the sample is empty.
    public var editMetrics: CounterFactScores?
    public var editMetricsSeconds: Double
    /// The probe's scores per task; nil without a probe.
    public var downstream: CheckpointScores?
    /// Per metric, the mean over tasks.
    public var downstreamAverage: [String: Double]?
    public var downstreamSeconds: Double
}

/// The whole run so far.
public struct SequentialResults: Codable, Sendable, Equatable {
    public static let currentFormat = "emend.sequential.v1"

    public var format: String = SequentialResults.currentFormat
    public var settings: SequentialSettings
    /// ‖W0‖_F per edited layer.
    public var originalNorms: [Int: Double]
    /// Positions in the edit sequence whose records make up the evaluation sample, ascending.
    public var evaluationSample: [Int]
    public var batches: [SequentialBatchRecord] = []
    public var checkpoints: [SequentialCheckpointRecord] = []
    /// Batch counts at which a process (re)started this run: [0] for an uninterrupted run.
    public var sessions: [Int] = []
    /// Every batch and every checkpoint is done.
    public var complete: Bool = false

    public init(settings: SequentialSettings, originalNorms: [Int: Double], evaluationSample: [Int]) {
        self.settings = settings; self.originalNorms = originalNorms; self.evaluationSample = evaluationSample
    }

    /// Equal except for wall-clock times and session starts: what a resumed run must reproduce bit for bit.
    public func numbersEqual(_ other: SequentialResults) -> Bool {
        func untimed(_ r: SequentialResults) -> SequentialResults {
            var r = r
            r.sessions = []
            r.batches = r.batches.map { var b = $0; b.searchSeconds = 0; b.updateSeconds = 0; b.saveSeconds = 0; b.secondsPerEdit = 0; return b }
            r.checkpoints = r.checkpoints.map { var c = $0; c.editMetricsSeconds = 0; c.downstreamSeconds = 0; return c }
            return r
        }
        return untimed(self) == untimed(other)
    }

    // MARK: - File

    public static let fileName = "results.json"

    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }

    /// Writes `results.json` into `directory` atomically.
    public func write(to directory: URL) throws {
        try writeAtomically(try Self.encoder.encode(self), to: directory.appendingPathComponent(Self.fileName))
    }

    /// Reads `results.json` from a run directory; nil when there is none. Throws for a file that is not one.
    public static func read(from directory: URL) throws -> SequentialResults? {
        let url = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EmendEvalError.invalidRun(file: url.path, field: "(file)", expected: "a readable file", got: fileErrorReason(error))
        }
        let r: SequentialResults
        do { r = try decoder.decode(SequentialResults.self, from: data) } catch let DecodingError.keyNotFound(key, ctx) {
            throw EmendEvalError.invalidRun(file: url.path, field: (ctx.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."),
                                            expected: "a value", got: "missing")
        } catch let DecodingError.typeMismatch(type, ctx) {
            throw EmendEvalError.invalidRun(file: url.path, field: ctx.codingPath.map(\.stringValue).joined(separator: "."),
                                            expected: "\(type)", got: ctx.debugDescription)
        } catch {
            throw EmendEvalError.invalidRun(file: url.path, field: "(file)", expected: "an \(currentFormat) results file", got: "\(error)")
        }
        guard r.format == currentFormat else {
            throw EmendEvalError.invalidRun(file: url.path, field: "format", expected: currentFormat, got: r.format)
        }
        for (i, b) in r.batches.enumerated() where b.batch != i + 1 {
            throw EmendEvalError.invalidRun(file: url.path, field: "batches[\(i)].batch", expected: "\(i + 1)", got: "\(b.batch)")
        }
        return r
    }
}
