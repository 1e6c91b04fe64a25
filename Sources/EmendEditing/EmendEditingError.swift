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
        }
    }
}
