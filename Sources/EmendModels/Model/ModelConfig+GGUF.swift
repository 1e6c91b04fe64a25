// Model hyper-parameters from GGUF metadata (`{arch}.block_count`, …).

import EmendCore
import Foundation

// MARK: - From GGUF metadata

extension ModelConfig {
    /// Reads `{arch}.block_count`, `{arch}.embedding_length`, … from GGUF metadata.
    public init(gguf: GGUFFile) throws {
        let file = gguf.url.path
        guard let arch = gguf.metadata["general.architecture"]?.string else {
            throw EmendModelsError.metadataKeyMissing(file: file, key: "general.architecture")
        }
        func int(_ key: String) throws -> Int {
            guard let v = gguf.metadata["\(arch).\(key)"]?.int else {
                throw EmendModelsError.metadataKeyMissing(file: file, key: "\(arch).\(key)")
            }
            return v
        }
        func optInt(_ key: String) -> Int? { gguf.metadata["\(arch).\(key)"]?.int }
        func optFloat(_ key: String) -> Float? { gguf.metadata["\(arch).\(key)"]?.double.map(Float.init) }
        let vocab = optInt("vocab_size") ?? gguf.metadata["tokenizer.ggml.tokens"]?.array?.count
            ?? gguf.tensorInfo("token_embd.weight")?.shape.first ?? 0
        let hasOutput = gguf.tensorInfo("output.weight") != nil
        switch arch {
        case "llama", "mistral", "qwen2":
            let heads = try int("attention.head_count")
            let d = try int("embedding_length")
            self = .llamaStyle(architecture: arch, vocabSize: vocab, hiddenSize: d,
                               intermediateSize: try int("feed_forward_length"), layerCount: try int("block_count"),
                               headCount: heads, kvHeadCount: optInt("attention.head_count_kv") ?? heads,
                               headDim: optInt("attention.key_length") ?? optInt("rope.dimension_count") ?? d / max(heads, 1),
                               maxPositions: optInt("context_length") ?? 2048,
                               normEps: optFloat("attention.layer_norm_rms_epsilon") ?? 1e-5,
                               ropeBase: optFloat("rope.freq_base") ?? 10_000, tiedEmbeddings: !hasOutput,
                               attentionBias: gguf.tensorInfo("blk.0.attn_q.bias") != nil)
        case "gpt2":
            self = .gpt2Style(vocabSize: vocab, hiddenSize: try int("embedding_length"), layerCount: try int("block_count"),
                              headCount: try int("attention.head_count"),
                              intermediateSize: optInt("feed_forward_length"),
                              maxPositions: optInt("context_length") ?? 1024,
                              normEps: optFloat("attention.layer_norm_epsilon") ?? 1e-5)
            tiedEmbeddings = !hasOutput
        default:
            throw EmendModelsError.unsupportedArchitecture(file: file, architecture: arch,
                                                           supported: ModelFamily.supportedNames)
        }
        try validate(source: file)
    }
}
