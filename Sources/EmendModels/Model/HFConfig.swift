// Hugging Face `config.json`: `model_type` picks the family (Families/), whose own `Decodable` reads the rest.

import Foundation

/// The one field every `config.json` is read for first.
struct HFModelType: Decodable {
    var modelType: String?
    enum CodingKeys: String, CodingKey { case modelType = "model_type" }
}

extension ModelConfig {
    /// Reads a Hugging Face `config.json`.
    public init(huggingFaceConfig url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EmendModelsError.fileUnreadable(file: url.path, reason: fileErrorReason(error))
        }
        try self.init(huggingFaceConfigData: data, file: url.path)
    }

    /// Parses the bytes of a Hugging Face `config.json`; `file` names it in errors.
    public init(huggingFaceConfigData data: Data, file: String) throws {
        let type = try decodeHFConfig(HFModelType.self, data, file: file).modelType ?? ""
        guard let (family, architecture) = ModelFamily.forModelType(type) else {
            throw EmendModelsError.unsupportedArchitecture(file: file, architecture: type.isEmpty ? "(no model_type)" : type,
                                                           supported: ModelFamily.supportedNames)
        }
        self = try family.hfConfig(data, architecture.name, file)
        try validate(source: file)
    }
}

/// Decodes a family's `config.json` struct, or `malformedJSON` naming the file, the line and the field.
func decodeHFConfig<T: Decodable>(_ type: T.Type, _ data: Data, file: String) throws -> T {
    do { return try JSONDecoder().decode(T.self, from: data) } catch {
        throw EmendModelsError.malformedJSON(file: file, reason: jsonDecodingReason(error, data: data))
    }
}

/// A required `config.json` value, or `metadataKeyMissing` naming the key.
func requireHF<T>(_ v: T?, _ key: String, file: String) throws -> T {
    guard let v else { throw EmendModelsError.metadataKeyMissing(file: file, key: key) }
    return v
}

/// The GELU a `config.json` `activation_function` names (GPT-2, GPT-J), or `invalidConfig`.
func hfGELU(_ name: String?, file: String) throws -> Activation {
    switch name ?? "gelu_new" {
    case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": return .geluTanh
    case "gelu": return .geluErf
    case let other:
        throw EmendModelsError.invalidConfig(file: file, field: "activation_function",
                                             expected: "gelu_new, gelu_pytorch_tanh or gelu", got: other)
    }
}

/// The `activation_function` value that reads back as `activation` (a JSON string).
func hfGELUName(_ activation: Activation) -> String { activation == .geluErf ? "\"gelu\"" : "\"gelu_new\"" }
