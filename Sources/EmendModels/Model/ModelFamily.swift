// Model families as registered values (STYLE rule 13; the shape of mlx-swift-lm's per-model files and llama.cpp's
// architecture tables). A family is one file in Families/: how it reads its config (GGUF keys and `config.json`)
// and writes `config.json` back, its tensor names in both formats, the per-tensor `sanitize` step that brings a
// stored tensor to Emend's layout (and `restore`, its inverse, for export), the stored tensors it tolerates as
// leftovers, and, through the configs it makes, its block. Every family is in `ModelFamily.registered`; loading,
// export and the edit store look a family up there and read the one role → field table (`TensorRole.field`,
// ModelWeights.swift), never a family's name.
//
// Adding a family: a file in Families/ defining `static let <name>: ModelFamily`, its entry in `registered`,
// presets (Sources/EmendEditing/Presets) and tests. New block features are config flags read by the decoder
// (TransformerModel+Forward.swift and +Backward.swift), so a family that only recombines existing flags touches
// nothing else.

import EmendCore
import Foundation

// MARK: - Roles

/// What a weight is for, independent of file format: one case per field of `ModelWeights` and `BlockWeights`.
public enum TensorRole: String, CaseIterable, Sendable {
    // model-level
    case tokenEmbedding, positionEmbedding, outputNorm, outputNormBias, output, outputBias
    // per block
    case attnNorm, attnNormBias
    case attnQ, attnK, attnV, attnQBias, attnKBias, attnVBias
    case attnOutput, attnOutputBias
    case ffnNorm, ffnNormBias
    case ffnGate, ffnUp, ffnDown, ffnGateBias, ffnUpBias, ffnDownBias
    // Gemma-3: QK-norm and the norms after attention and after the MLP
    case attnQNorm, attnKNorm, attnPostNorm, ffnPostNorm

    public var isPerBlock: Bool {
        switch self {
        case .tokenEmbedding, .positionEmbedding, .outputNorm, .outputNormBias, .output, .outputBias: return false
        default: return true
        }
    }
}

/// The two file formats a family names its tensors in.
public enum WeightFormat: String, Sendable {
    /// llama.cpp's GGUF (`blk.{l}.attn_q.weight`).
    case gguf
    /// A Hugging Face folder of safetensors (`model.layers.{l}.self_attn.q_proj.weight`).
    case huggingFace
}

// MARK: - Tensor names

/// One tensor as a file stores it: its name template (`{l}` stands for the block index) and the roles it holds,
/// in row order. Several roles mean the file fuses them by rows (GPT-2's q|k|v): the loader splits the rows by
/// the roles' shapes after `sanitize`, and export concatenates them before `restore`.
public struct StoredTensor: Sendable, Equatable {
    public var template: String
    public var roles: [TensorRole]

    /// The concrete name in block `layer` (ignored for model-level tensors).
    public func name(layer: Int) -> String { ModelFamily.resolve(template, layer: layer) }
    public var isPerBlock: Bool { roles.first?.isPerBlock ?? false }
}

/// A family's tensor names in one format.
public struct TensorNames: Sendable {
    /// Every stored tensor, one role each, then the fused ones.
    public let stored: [StoredTensor]

    /// - names: the stored name of each role held alone; fused: stored name → the roles it holds, in row order.
    public init(_ names: [TensorRole: String], fused: [String: [TensorRole]] = [:]) {
        let single = TensorRole.allCases.compactMap { r in names[r].map { StoredTensor(template: $0, roles: [r]) } }
        stored = single + fused.keys.sorted().map { StoredTensor(template: $0, roles: fused[$0] ?? []) }
    }

    /// The stored tensor that holds `role`, if the family stores it at all.
    public func holding(_ role: TensorRole) -> StoredTensor? { stored.first { $0.roles.contains(role) } }

    /// Every role that has a stored name.
    public var roles: [TensorRole] { stored.flatMap(\.roles) }
}

/// Stored names a family tolerates in a file without using them (attention-mask buffers, RoPE frequency tables).
public enum TensorPattern: Sendable, Equatable {
    case prefix(String), suffix(String)

    public func matches(_ name: String) -> Bool {
        switch self {
        case .prefix(let p): return name.hasPrefix(p)
        case .suffix(let s): return name.hasSuffix(s)
        }
    }
}

// MARK: - The family value

/// One model family: config decoding and encoding, tensor names, the per-tensor layout conversion, leftovers.
public struct ModelFamily: Sendable {
    /// One architecture a family serves: its `ModelConfig.architecture` (= GGUF `general.architecture` = the
    /// `model_type` an export writes), the Hugging Face class an export names, and the `model_type`s it reads.
    public struct Architecture: Sendable {
        public var name: String
        public var hfClass: String
        public var hfModelTypes: [String]
    }

    /// A stored tensor's conversion to Emend's layout (linear weights [out, in], Q/K rows in HF order):
    /// (tensor, what it holds, format, config) → tensor. `restore` must invert `sanitize`.
    public typealias LayoutStep = @Sendable (Tensor, StoredTensor, WeightFormat, ModelConfig) -> Tensor

    public var name: String
    public var architectures: [Architecture]
    /// GGUF names (llama.cpp's `blk.{l}.attn_q.weight` style).
    public var ggufNames: TensorNames
    /// Hugging Face names.
    public var hfNames: TensorNames
    /// A prefix of the HF names that some checkpoints leave out (GPT-2's `transformer.`); names without it are read
    /// as if they had it (`lm_head.*` excepted).
    public var hfOptionalPrefix: String? = nil
    /// Names present in files that are not weights of the model, ignored at load; anything else left over is an error.
    public var leftovers: [TensorPattern] = []
    /// The rows' order a stored tensor needs in Emend's layout: Emend's row i is the file's row `order[i]` (nil: as
    /// stored). Applied at load before `sanitize`, to matrices kept in their stored type too (whole rows move), and
    /// inverted at export after `restore`. (Llama GGUFs: llama.cpp's Q/K permutation.)
    public var rowOrder: @Sendable (StoredTensor, WeightFormat, ModelConfig) -> [Int]? = { _, _, _ in nil }
    /// The formats whose weight matrices are in Emend's orientation up to `rowOrder`: the loader keeps those in their
    /// stored type (GGUF blocks, safetensors F32/F16/BF16) and `sanitize` never sees them. GPT-2's safetensors hold
    /// Conv1D [in, out] and are transposed by `sanitize`, so they are dequantised.
    public var matricesKeepLayout: Set<WeightFormat> = [.gguf, .huggingFace]
    /// Applied at load to each stored tensor held in Float32 (after dequantising, before the shape check and any split).
    public var sanitize: LayoutStep = { t, _, _, _ in t }
    /// Applied to each tensor at export (after any concatenation): the inverse of `sanitize`.
    public var restore: LayoutStep = { t, _, _, _ in t }
    /// The config from GGUF metadata (`{arch}.block_count`, …).
    public var ggufConfig: @Sendable (GGUFConfigKeys) throws -> ModelConfig
    /// The config from a `config.json`: (bytes, architecture name the `model_type` maps to, file for errors).
    public var hfConfig: @Sendable (Data, String, String) throws -> ModelConfig
    /// The family's own `config.json` fields for a config, as (key, JSON value) in file order (the common
    /// `architectures`, `model_type`, `vocab_size`, `tie_word_embeddings` and `torch_dtype` are added around them).
    public var hfConfigFields: @Sendable (ModelConfig) -> [(String, String)]

    /// The names of `format`.
    public func names(_ format: WeightFormat) -> TensorNames { format == .gguf ? ggufNames : hfNames }

    /// The concrete name of a template in block `layer`.
    public static func resolve(_ template: String, layer: Int) -> String {
        template.replacingOccurrences(of: "{l}", with: String(layer))
    }
}

// MARK: - The registry

extension ModelFamily {
    /// Every family Emend reads and writes. Adding one: its file in Families/ and its entry here.
    public static let registered: [ModelFamily] = [.llama, .gpt2, .gptj, .gemma3]

    /// Every architecture name, in registry order ("llama", "mistral", "qwen2", "gpt2", "gptj", "gemma3").
    public static let supportedNames: [String] = registered.flatMap { $0.architectures.map(\.name) }

    /// The family serving `architecture` (a `ModelConfig.architecture` or GGUF `general.architecture`).
    public static func named(_ architecture: String) -> ModelFamily? {
        registered.first { $0.architectures.contains { $0.name == architecture } }
    }

    /// The family and architecture a Hugging Face `model_type` reads as.
    static func forModelType(_ modelType: String) -> (family: ModelFamily, architecture: Architecture)? {
        for f in registered { if let a = f.architectures.first(where: { $0.hfModelTypes.contains(modelType) }) { return (f, a) } }
        return nil
    }

    /// The family of `architecture`, or `unsupportedArchitecture` naming `file`.
    static func of(_ architecture: String, file: String) throws -> ModelFamily {
        guard let f = named(architecture) else {
            throw EmendModelsError.unsupportedArchitecture(file: file, architecture: architecture, supported: supportedNames)
        }
        return f
    }
}

// MARK: - GGUF metadata, as the families read it

/// Typed getters over one GGUF file's `{arch}.*` keys, for a family's `ggufConfig`.
public struct GGUFConfigKeys {
    public let file: GGUFFile
    /// `general.architecture`.
    public let architecture: String

    /// `{arch}.key` as an integer, or `metadataKeyMissing` naming it.
    public func int(_ key: String) throws -> Int {
        guard let v = optionalInt(key) else { throw EmendModelsError.metadataKeyMissing(file: path, key: "\(architecture).\(key)") }
        return v
    }
    public func optionalInt(_ key: String) -> Int? { file.metadata["\(architecture).\(key)"]?.int }
    public func optionalFloat(_ key: String) -> Float? { file.metadata["\(architecture).\(key)"]?.double.map(Float.init) }
    public func hasTensor(_ name: String) -> Bool { file.tensorInfo(name) != nil }
    public var path: String { file.url.path }
    /// `{arch}.vocab_size`, else the tokenizer's token count, else the embedding's rows (0 when none says).
    public var vocabSize: Int {
        optionalInt("vocab_size") ?? file.metadata["tokenizer.ggml.tokens"]?.array?.count
            ?? file.tensorInfo("token_embd.weight")?.shape.first ?? 0
    }
}
