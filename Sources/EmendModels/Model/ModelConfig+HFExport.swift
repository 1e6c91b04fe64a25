// The inverse of HFConfig.swift: a Hugging Face `config.json` written from a `ModelConfig`, so an exported
// folder loads in Emend (and in transformers) with the same hyper-parameters.
//
// Only what the reader reads is written, with HF's names. A config the format cannot express (say, a
// Llama-family config with LayerNorm) is refused by `huggingFaceConfigJSON()`, which re-reads its own output
// and names the first field that would not survive the trip.

import Foundation

extension ModelConfig {
    /// A Hugging Face `config.json` for this config (pretty-printed, keys in a fixed order): its family's fields
    /// between the common ones. Throws `configNotRepresentable` when reading it back would not give this config.
    public func huggingFaceConfigJSON(file: String = "config.json") throws -> String {
        let family = try ModelFamily.of(architecture, file: file)
        let hfClass = family.architectures.first { $0.name == architecture }?.hfClass ?? architecture
        var fields: [(String, String)] = [
            ("architectures", "[\"\(hfClass)\"]"), ("model_type", "\"\(architecture)\""), ("vocab_size", "\(vocabSize)"),
        ]
        fields += family.hfConfigFields(self)
        fields += [("tie_word_embeddings", "\(tiedEmbeddings)"), ("torch_dtype", "\"float32\"")]
        let json = "{\n" + fields.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}\n"

        // Re-read it: every field must come back as it went out.
        let back = try ModelConfig(huggingFaceConfigData: Data(json.utf8), file: file)
        if back != self {
            let mine = Mirror(reflecting: self).children, theirs = Mirror(reflecting: back).children
            for (a, b) in zip(mine, theirs) where "\(a.value)" != "\(b.value)" {
                throw EmendModelsError.configNotRepresentable(file: file, field: a.label ?? "?", value: "\(a.value)",
                                                              wouldRead: "\(b.value)")
            }
        }
        return json
    }

    /// The shortest decimal that reads back (through Double, as JSON readers do) as exactly `x`.
    static func jsonNumber(_ x: Float) -> String {
        let short = "\(x)"
        if let d = Double(short), Float(d) == x { return short }
        return "\(Double(x))"
    }
}
