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
        case let .invalidRun(file, field, expected, got):
            return "\(file): \(field) is \(got), expected \(expected) "
                + "(hint: a run directory resumes only the run that made it; use a new --out for different settings)"
        }
    }
}
