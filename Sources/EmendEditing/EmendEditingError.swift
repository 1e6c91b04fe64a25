// Errors thrown by EmendEditing: one sentence each (file, record, field; expected vs got) plus a hint.

public enum EmendEditingError: Error, CustomStringConvertible, Sendable {
    case unreadableFile(file: String, reason: String)
    case malformedRecord(file: String, record: Int, field: String, expected: String, got: String)
    case subjectNotInPrompt(file: String, record: Int, subject: String, prompt: String)
    case emptyTarget(file: String, record: Int)
    case invalidSettings(field: String, expected: String, got: String)
    case layerOutOfRange(layer: Int, layerCount: Int)
    case notEditable(reason: String)
    case nonFiniteUpdate(layer: Int, what: String)
    case statisticsMismatch(file: String, reason: String)
    /// Bytes that are not JSON (or not JSONL), with the first position where the grammar breaks.
    case malformedJSON(file: String, line: Int, column: Int, expected: String)
    /// A JSON file (preset, editor description) that does not decode as `expected`; `reason` names the line and
    /// column or the field.
    case invalidJSONFile(file: String, expected: String, reason: String)
    /// A requests file with no request in it.
    case noRequests(file: String)
    /// Requests that give one subject and relation two different new targets (or repeat one), under
    /// `--on-duplicate refuse`.
    case conflictingRequests(file: String, examples: [String])

    public var description: String {
        switch self {
        case let .unreadableFile(file, reason): return "\(file): cannot be read (\(reason))"
        case let .malformedRecord(file, record, field, expected, got):
            return "\(file): record \(record): field '\(field)' is \(got), expected \(expected)"
        case let .subjectNotInPrompt(file, record, subject, prompt):
            return "\(file): record \(record): subject '\(subject)' does not occur in prompt '\(prompt)'"
        case let .emptyTarget(file, record): return "\(file): record \(record): the new target is empty"
        case let .invalidSettings(field, expected, got): return "setting '\(field)' is \(got), expected \(expected)"
        case let .layerOutOfRange(layer, n): return "layer \(layer) is out of range: the model has layers 0...\(n - 1)"
        case let .notEditable(reason): return "the model cannot be edited: \(reason)"
        case let .nonFiniteUpdate(layer, what):
            return "layer \(layer): \(what) contains NaN or infinity; no weight was changed (hint: raise λp or lower the learning rate)"
        case let .statisticsMismatch(file, reason): return "\(file): cached statistics do not fit (\(reason))"
        case let .malformedJSON(file, line, column, expected):
            return "\(file): line \(line), column \(column): malformed JSON, expected \(expected)"
        case let .invalidJSONFile(file, expected, reason):
            return "\(file): not \(expected): \(reason)"
        case let .noRequests(file):
            return "\(file): no edit requests in the file (expected a JSON array of requests, one JSON object, or JSONL); nothing was edited"
        case let .conflictingRequests(file, examples):
            return "\(file): \(examples.count) request(s) re-edit a subject and relation given earlier in the file with another target, e.g. \(examples.prefix(3).joined(separator: "; ")); hint: choose with --on-duplicate replace (the later one wins) | keep-both | skip (the earlier one wins)"
        }
    }
}
