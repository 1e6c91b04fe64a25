// Hugging Face `config.json` for Llama-family (`LlamaForCausalLM`, `MistralForCausalLM`, `Qwen2ForCausalLM`)
// and GPT-2 (`GPT2LMHeadModel`) checkpoints, mapped onto `ModelConfig`.

import Foundation

/// The fields of `config.json` Emend reads; HF names in `CodingKeys`, documented defaults.
struct HFConfigFile: Decodable {
    var modelType: String?
    var architectures: [String]?
    // Llama family
    var vocabSize: Int?
    var hiddenSize: Int?
    var intermediateSize: Int?
    var numHiddenLayers: Int?
    var numAttentionHeads: Int?
    var numKeyValueHeads: Int?
    var headDim: Int?
    var maxPositionEmbeddings: Int?
    var rmsNormEps: Double?
    var ropeTheta: Double?
    var tieWordEmbeddings: Bool?
    var attentionBias: Bool?
    var mlpBias: Bool?
    var hiddenAct: String?
    // GPT-2
    var nEmbd: Int?
    var nLayer: Int?
    var nHead: Int?
    var nInner: Int?
    var nPositions: Int?
    var layerNormEpsilon: Double?
    var activationFunction: String?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", architectures
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads", headDim = "head_dim"
        case maxPositionEmbeddings = "max_position_embeddings", rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta"
        case tieWordEmbeddings = "tie_word_embeddings", attentionBias = "attention_bias", mlpBias = "mlp_bias"
        case hiddenAct = "hidden_act"
        case nEmbd = "n_embd", nLayer = "n_layer", nHead = "n_head", nInner = "n_inner", nPositions = "n_positions"
        case layerNormEpsilon = "layer_norm_epsilon", activationFunction = "activation_function"
    }
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
        let hf: HFConfigFile
        do { hf = try JSONDecoder().decode(HFConfigFile.self, from: data) } catch {
            throw EmendModelsError.malformedJSON(file: file, reason: jsonDecodingReason(error, data: data))
        }
        func need<T>(_ v: T?, _ key: String) throws -> T {
            guard let v else { throw EmendModelsError.metadataKeyMissing(file: file, key: key) }
            return v
        }
        let type = hf.modelType ?? ""
        switch type {
        case "llama", "mistral", "qwen2", "smollm", "smollm2":
            if let act = hf.hiddenAct, act != "silu" {
                throw EmendModelsError.invalidConfig(file: file, field: "hidden_act", expected: "silu", got: act)
            }
            let heads = try need(hf.numAttentionHeads, "num_attention_heads")
            let d = try need(hf.hiddenSize, "hidden_size")
            let arch = type == "qwen2" ? "qwen2" : (type == "mistral" ? "mistral" : "llama")
            self = .llamaStyle(architecture: arch, vocabSize: try need(hf.vocabSize, "vocab_size"), hiddenSize: d,
                               intermediateSize: try need(hf.intermediateSize, "intermediate_size"),
                               layerCount: try need(hf.numHiddenLayers, "num_hidden_layers"), headCount: heads,
                               kvHeadCount: hf.numKeyValueHeads ?? heads, headDim: hf.headDim ?? d / max(heads, 1),
                               maxPositions: hf.maxPositionEmbeddings ?? 2048, normEps: Float(hf.rmsNormEps ?? 1e-6),
                               ropeBase: Float(hf.ropeTheta ?? 10_000), tiedEmbeddings: hf.tieWordEmbeddings ?? false,
                               attentionBias: hf.attentionBias ?? (type == "qwen2"))
            mlpBias = hf.mlpBias ?? false
        case "gpt2":
            let act: Activation
            switch hf.activationFunction ?? "gelu_new" {
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": act = .geluTanh
            case "gelu": act = .geluErf
            case let other:
                throw EmendModelsError.invalidConfig(file: file, field: "activation_function",
                                                     expected: "gelu_new, gelu_pytorch_tanh or gelu", got: other)
            }
            let d = try need(hf.nEmbd, "n_embd")
            self = .gpt2Style(vocabSize: try need(hf.vocabSize, "vocab_size"), hiddenSize: d,
                              layerCount: try need(hf.nLayer, "n_layer"), headCount: try need(hf.nHead, "n_head"),
                              intermediateSize: hf.nInner ?? 4 * d, maxPositions: hf.nPositions ?? 1024,
                              normEps: Float(hf.layerNormEpsilon ?? 1e-5), activation: act)
            // GPT2LMHeadModel ties lm_head to wte unless the config says otherwise.
            tiedEmbeddings = hf.tieWordEmbeddings ?? true
        default:
            throw EmendModelsError.unsupportedArchitecture(file: file, architecture: type.isEmpty ? "(no model_type)" : type,
                                                           supported: ModelFamily.supportedNames)
        }
        try validate(source: file)
    }
}
