// Errors thrown by EmendModels: one sentence each (file, field or tensor, expected vs got) plus a hint.

public enum EmendModelsError: Error, CustomStringConvertible, Sendable {
    case unreadableFile(file: String, reason: String)
    case malformedJSON(file: String, reason: String)
    case missingMetadata(file: String, key: String, hint: String?)
    case invalidConfig(file: String, field: String, expected: String, got: String)
    case unsupportedArchitecture(file: String, architecture: String, supported: [String])
    case missingTensor(file: String, tensor: String)
    case unexpectedTensors(file: String, tensors: [String])
    case tensorShapeMismatch(file: String, tensor: String, expected: [Int], got: [Int])
    case modelNotFound(name: String, searched: [String])

    public var description: String {
        switch self {
        case let .unreadableFile(file, reason): return "\(file): cannot be read (\(reason))"
        case let .malformedJSON(file, reason): return "\(file): malformed JSON (\(reason))"
        case let .missingMetadata(file, key, hint):
            return "\(file): missing metadata key '\(key)'" + (hint.map { "; hint: \($0)" } ?? "")
        case let .invalidConfig(file, field, expected, got):
            return "\(file): field '\(field)' is \(got), expected \(expected)"
        case let .unsupportedArchitecture(file, arch, supported):
            return "\(file): architecture '\(arch)' is not supported (supported: \(supported.joined(separator: ", ")))"
        case let .missingTensor(file, tensor): return "\(file): missing tensor '\(tensor)'"
        case let .unexpectedTensors(file, tensors):
            return "\(file): \(tensors.count) tensors are not used by the model, e.g. '\(tensors.prefix(3).joined(separator: "', '"))'"
        case let .tensorShapeMismatch(file, tensor, expected, got):
            return "\(file): tensor '\(tensor)' has shape \(got), expected \(expected)"
        case let .modelNotFound(name, searched):
            return "model '\(name)' not found (looked in: \(searched.joined(separator: ", "))); hint: run `make setup` to fetch the default model"
        }
    }
}
