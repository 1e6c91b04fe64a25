// The inverse of HFConfig.swift: a Hugging Face `config.json` written from a `ModelConfig`, so an exported
// folder loads in Emend (and in transformers) with the same hyper-parameters.
//
// Only what the reader reads is written, with HF's names. A config the format cannot express (say, a
// Llama-family config with LayerNorm) is refused by `huggingFaceConfigJSON()`, which re-reads its own output
// and names the first field that would not survive the trip.

import Foundation

extension ModelConfig {
    /// The `model_type` and `architectures` entry of each supported family.
    static let hfModelTypes: [String: (modelType: String, architecture: String)] = [
        "llama": ("llama", "LlamaForCausalLM"), "mistral": ("mistral", "MistralForCausalLM"),
        "qwen2": ("qwen2", "Qwen2ForCausalLM"), "gpt2": ("gpt2", "GPT2LMHeadModel"),
    ]

    /// A Hugging Face `config.json` for this config (pretty-printed, keys in a fixed order).
    /// Throws `configNotRepresentable` when reading it back would not give this config.
    public func huggingFaceConfigJSON(file: String = "config.json") throws -> String {
        guard let type = Self.hfModelTypes[architecture] else {
            throw EmendModelsError.unsupportedArchitecture(file: file, architecture: architecture,
                                                           supported: ModelFamily.supportedNames)
        }
        var fields: [(String, String)] = [
            ("architectures", "[\"\(type.architecture)\"]"), ("model_type", "\"\(type.modelType)\""),
            ("vocab_size", "\(vocabSize)"),
        ]
        if architecture == "gpt2" {
            let act = activation == .geluErf ? "gelu" : "gelu_new"
            fields += [
                ("n_embd", "\(hiddenSize)"), ("n_layer", "\(layerCount)"), ("n_head", "\(headCount)"),
                ("n_inner", "\(intermediateSize)"), ("n_positions", "\(maxPositions)"), ("n_ctx", "\(maxPositions)"),
                ("layer_norm_epsilon", Self.jsonNumber(normEps)), ("activation_function", "\"\(act)\""),
            ]
        } else {
            fields += [
                ("hidden_size", "\(hiddenSize)"), ("intermediate_size", "\(intermediateSize)"),
                ("num_hidden_layers", "\(layerCount)"), ("num_attention_heads", "\(headCount)"),
                ("num_key_value_heads", "\(kvHeadCount)"), ("head_dim", "\(headDim)"),
                ("max_position_embeddings", "\(maxPositions)"), ("rms_norm_eps", Self.jsonNumber(normEps)),
                ("rope_theta", Self.jsonNumber(ropeBase)), ("hidden_act", "\"silu\""),
                ("attention_bias", "\(attentionBias)"), ("mlp_bias", "\(mlpBias)"),
            ]
        }
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
