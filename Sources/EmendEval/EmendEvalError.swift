// Errors thrown by EmendEval: one sentence each (file, record, field; expected vs got) plus a hint.

public enum EmendEvalError: Error, CustomStringConvertible, Sendable {
    /// A query cannot be scored (empty prompt or target, or a token id outside the vocabulary).
    case invalidQuery(query: Int, field: String, expected: String, got: String)
    /// A record lacks a field the metric needs.
    case missingField(file: String, record: Int, field: String, metric: String)
    /// A scorer returned a different number of results than it was asked for.
    case scorerMismatch(expected: String, got: String)
    /// A record range outside the data.
    case recordsOutOfRange(file: String, range: ClosedRange<Int>, count: Int)
    /// A data file that cannot be read or parsed as a whole.
    case unreadableData(file: String, reason: String)
    /// Records that fail validation: every bad record with its index (the first few are spelled out).
    case badRecords(file: String, problems: [RecordProblem], total: Int)
    /// A setting outside its allowed values.
    case invalidSetting(field: String, expected: String, got: String)
    /// A sequential run's settings, results file or checkpoint is not what this run expects.
    case invalidRun(file: String, field: String, expected: String, got: String)

    public var description: String {
        switch self {
        case let .invalidQuery(query, field, expected, got):
            return "scoring query \(query): \(field) is \(got), expected \(expected)"
        case let .missingField(file, record, field, metric):
            return "\(file): record \(record): field '\(field)' is missing, expected it for \(metric) "
                + "(hint: CounterFact needs 'ground_truth' / 'target_true')"
        case let .scorerMismatch(expected, got):
            return "the scorer returned \(got), expected \(expected)"
        case let .recordsOutOfRange(file, range, count):
            return "\(file): records \(range.lowerBound)..\(range.upperBound) are out of range, expected within 0..\(count - 1)"
        case let .unreadableData(file, reason):
            return "\(file): cannot be read (\(reason))"
        case let .badRecords(file, problems, total):
            let shown = problems.prefix(5).map { "record \($0.record): field '\($0.field)' is \($0.got), expected \($0.expected)" }
            let bad = Set(problems.map(\.record)).count
            return "\(file): \(bad) of \(total) records are malformed: " + shown.joined(separator: "; ")
                + (problems.count > shown.count ? "; … (\(problems.count - shown.count) more problems)" : "")
                + " (records listed by index; nothing was evaluated)"
        case let .invalidSetting(field, expected, got):
            return "setting '\(field)' is \(got), expected \(expected)"
        case let .invalidRun(file, field, expected, got):
            return "\(file): \(field) is \(got), expected \(expected) "
                + "(hint: a run directory resumes only the run that made it; use a new --out for different settings)"
        }
    }
}

/// One failed check on one record of a data file.
public struct RecordProblem: Sendable, Equatable, Codable {
    /// The record's index in the file (0-based, in file order).
    public var record: Int
    /// The field, as a JSON path ("requested_rewrite.target_new.str") or a CSV column.
    public var field: String
    public var expected: String
    public var got: String

    public init(record: Int, field: String, expected: String, got: String) {
        self.record = record; self.field = field; self.expected = expected; self.got = got
    }
}
