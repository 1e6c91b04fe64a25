// The Llama family: Llama, Mistral, Qwen2 and SmolLM2 (`LlamaForCausalLM`, `MistralForCausalLM`,
// `Qwen2ForCausalLM`). RMSNorm, RoPE (rotate_half), grouped-query attention, SwiGLU MLP, optional q/k/v biases
// (Qwen2), tied or separate output head. Sequential block:
//   x1 = x + o_proj(attn(rope(q_proj(rms(x))), rope(k_proj(rms(x))), v_proj(rms(x))))
//   out = x1 + down_proj(silu(gate_proj(rms(x1))) · up_proj(rms(x1)))
// GGUF files of the `llama` and `mistral` architectures store Q/K rows permuted for llama.cpp's interleaved RoPE
// (`rowOrder` undoes it at load, export redoes it; below). Qwen2 GGUFs are not permuted (NeoX RoPE).
//
// Shape legend: V vocab, D width, F FFN width, L layers, H heads, Hkv key/value heads, Dh head dim.

import EmendCore
import Foundation

extension ModelFamily {
    public static let llama = ModelFamily(
        name: "llama",
        architectures: [
            Architecture(name: "llama", hfClass: "LlamaForCausalLM", hfModelTypes: ["llama", "smollm", "smollm2"]),
            Architecture(name: "mistral", hfClass: "MistralForCausalLM", hfModelTypes: ["mistral"]),
            Architecture(name: "qwen2", hfClass: "Qwen2ForCausalLM", hfModelTypes: ["qwen2"]),
        ],
        ggufNames: TensorNames([
            .tokenEmbedding: "token_embd.weight", .outputNorm: "output_norm.weight", .output: "output.weight",
            .attnNorm: "blk.{l}.attn_norm.weight",
            .attnQ: "blk.{l}.attn_q.weight", .attnK: "blk.{l}.attn_k.weight", .attnV: "blk.{l}.attn_v.weight",
            .attnQBias: "blk.{l}.attn_q.bias", .attnKBias: "blk.{l}.attn_k.bias", .attnVBias: "blk.{l}.attn_v.bias",
            .attnOutput: "blk.{l}.attn_output.weight",
            .ffnNorm: "blk.{l}.ffn_norm.weight",
            .ffnGate: "blk.{l}.ffn_gate.weight", .ffnUp: "blk.{l}.ffn_up.weight", .ffnDown: "blk.{l}.ffn_down.weight",
        ]),
        hfNames: TensorNames([
            .tokenEmbedding: "model.embed_tokens.weight", .outputNorm: "model.norm.weight", .output: "lm_head.weight",
            .attnNorm: "model.layers.{l}.input_layernorm.weight",
            .attnQ: "model.layers.{l}.self_attn.q_proj.weight", .attnK: "model.layers.{l}.self_attn.k_proj.weight",
            .attnV: "model.layers.{l}.self_attn.v_proj.weight",
            .attnQBias: "model.layers.{l}.self_attn.q_proj.bias", .attnKBias: "model.layers.{l}.self_attn.k_proj.bias",
            .attnVBias: "model.layers.{l}.self_attn.v_proj.bias",
            .attnOutput: "model.layers.{l}.self_attn.o_proj.weight",
            .ffnNorm: "model.layers.{l}.post_attention_layernorm.weight",
            .ffnGate: "model.layers.{l}.mlp.gate_proj.weight", .ffnUp: "model.layers.{l}.mlp.up_proj.weight",
            .ffnDown: "model.layers.{l}.mlp.down_proj.weight",
        ]),
        // llama.cpp's RoPE frequency table; transformers' saved inverse frequencies.
        leftovers: [.prefix("rope_freqs"), .suffix("rotary_emb.inv_freq")],
        rowOrder: llamaRopeOrder,
        ggufConfig: { k in
            let heads = try k.int("attention.head_count"), d = try k.int("embedding_length")
            return .llamaStyle(architecture: k.architecture, vocabSize: k.vocabSize, hiddenSize: d,
                               intermediateSize: try k.int("feed_forward_length"), layerCount: try k.int("block_count"),
                               headCount: heads, kvHeadCount: k.optionalInt("attention.head_count_kv") ?? heads,
                               headDim: k.optionalInt("attention.key_length") ?? k.optionalInt("rope.dimension_count") ?? d / max(heads, 1),
                               maxPositions: k.optionalInt("context_length") ?? 2048,
                               normEps: k.optionalFloat("attention.layer_norm_rms_epsilon") ?? 1e-5,
                               ropeBase: k.optionalFloat("rope.freq_base") ?? 10_000, tiedEmbeddings: !k.hasTensor("output.weight"),
                               attentionBias: k.hasTensor("blk.0.attn_q.bias"))
        },
        hfConfig: { data, arch, file in
            let hf = try decodeHFConfig(LlamaHFConfig.self, data, file: file)
            if let act = hf.hiddenAct, act != "silu" {
                throw EmendModelsError.invalidConfig(file: file, field: "hidden_act", expected: "silu", got: act)
            }
            let heads = try requireHF(hf.numAttentionHeads, "num_attention_heads", file: file)
            let d = try requireHF(hf.hiddenSize, "hidden_size", file: file)
            var c = ModelConfig.llamaStyle(
                architecture: arch, vocabSize: try requireHF(hf.vocabSize, "vocab_size", file: file), hiddenSize: d,
                intermediateSize: try requireHF(hf.intermediateSize, "intermediate_size", file: file),
                layerCount: try requireHF(hf.numHiddenLayers, "num_hidden_layers", file: file), headCount: heads,
                kvHeadCount: hf.numKeyValueHeads ?? heads, headDim: hf.headDim ?? d / max(heads, 1),
                maxPositions: hf.maxPositionEmbeddings ?? 2048, normEps: Float(hf.rmsNormEps ?? 1e-6),
                ropeBase: Float(hf.ropeTheta ?? 10_000), tiedEmbeddings: hf.tieWordEmbeddings ?? false,
                attentionBias: hf.attentionBias ?? (arch == "qwen2"))
            c.mlpBias = hf.mlpBias ?? false
            return c
        },
        hfConfigFields: { c in [
            ("hidden_size", "\(c.hiddenSize)"), ("intermediate_size", "\(c.intermediateSize)"),
            ("num_hidden_layers", "\(c.layerCount)"), ("num_attention_heads", "\(c.headCount)"),
            ("num_key_value_heads", "\(c.kvHeadCount)"), ("head_dim", "\(c.headDim)"),
            ("max_position_embeddings", "\(c.maxPositions)"), ("rms_norm_eps", ModelConfig.jsonNumber(c.normEps)),
            ("rope_theta", ModelConfig.jsonNumber(c.ropeBase)), ("hidden_act", "\"silu\""),
            ("attention_bias", "\(c.attentionBias)"), ("mlp_bias", "\(c.mlpBias)"),
        ] })
}

/// The `config.json` fields of the Llama family, HF names in `CodingKeys`.
struct LlamaHFConfig: Decodable {
    var vocabSize: Int?, hiddenSize: Int?, intermediateSize: Int?, numHiddenLayers: Int?
    var numAttentionHeads: Int?, numKeyValueHeads: Int?, headDim: Int?, maxPositionEmbeddings: Int?
    var rmsNormEps: Double?, ropeTheta: Double?
    var tieWordEmbeddings: Bool?, attentionBias: Bool?, mlpBias: Bool?
    var hiddenAct: String?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads", headDim = "head_dim"
        case maxPositionEmbeddings = "max_position_embeddings", rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta"
        case tieWordEmbeddings = "tie_word_embeddings", attentionBias = "attention_bias", mlpBias = "mlp_bias"
        case hiddenAct = "hidden_act"
    }
}

// MARK: - The Q/K row permutation

// GGUF Llama checkpoints: llama.cpp's converter permutes the rows of attn_q/attn_k within each head so that its
// interleaved RoPE (pairs 2i, 2i+1) reproduces HF's rotate_half RoPE (pairs i, i+Dh/2). GGUF row h·Dh + 2i + j
// holds HF row h·Dh + (Dh/2)·j + i. `rowOrder` undoes it, so the rest of Emend sees HF row
// order and uses `.halfSplit` RoPE for every Llama-family model.

/// Undoes llama.cpp's Q/K row permutation: rows [heads·Dh, …] in GGUF order → HF order.
public func unpermuteRopeRows(_ w: Tensor, heads: Int) -> Tensor { w.gatherRows(ropeRowOrder(rows: w.shape[0], heads: heads)) }

/// The inverse of `unpermuteRopeRows` (HF order → GGUF order).
public func permuteRopeRows(_ w: Tensor, heads: Int) -> Tensor {
    w.gatherRows(inversePermutation(ropeRowOrder(rows: w.shape[0], heads: heads)))
}

/// HF row h·Dh + (Dh/2)·j + i comes from GGUF row h·Dh + 2i + j: the order that `ModelFamily.rowOrder` applies.
func ropeRowOrder(rows: Int, heads: Int) -> [Int] {
    let dh = rows / max(heads, 1), half = dh / 2
    var order = Array(0..<rows)
    for h in 0..<heads { for i in 0..<half { for j in 0..<2 { order[h * dh + half * j + i] = h * dh + 2 * i + j } } }
    return order
}

/// llama.cpp's Q/K row permutation in `llama` and `mistral` GGUFs (weights and biases); nil for other tensors.
@Sendable private func llamaRopeOrder(_ stored: StoredTensor, _ format: WeightFormat, _ c: ModelConfig) -> [Int]? {
    guard format == .gguf, ["llama", "mistral"].contains(c.architecture), let role = stored.roles.first else { return nil }
    switch role {
    case .attnQ, .attnQBias: return ropeRowOrder(rows: c.headCount * c.headDim, heads: c.headCount)
    case .attnK, .attnKBias: return ropeRowOrder(rows: c.kvHeadCount * c.headDim, heads: c.kvHeadCount)
    default: return nil
    }
}

extension ModelConfig {
    /// Llama-family defaults (Llama, Mistral, Qwen2, SmolLM2).
    public static func llamaStyle(architecture: String = "llama", vocabSize: Int, hiddenSize: Int, intermediateSize: Int,
                                  layerCount: Int, headCount: Int, kvHeadCount: Int, headDim: Int? = nil,
                                  maxPositions: Int = 2048, normEps: Float = 1e-5, ropeBase: Float = 10_000,
                                  tiedEmbeddings: Bool = false, attentionBias: Bool = false) -> ModelConfig {
        ModelConfig(architecture: architecture, vocabSize: vocabSize, hiddenSize: hiddenSize,
                    intermediateSize: intermediateSize, layerCount: layerCount, headCount: headCount,
                    kvHeadCount: kvHeadCount, headDim: headDim ?? hiddenSize / max(headCount, 1), maxPositions: maxPositions,
                    normEps: normEps, norm: .rms, positions: .rope, ropeBase: ropeBase, activation: .silu,
                    gatedMLP: true, tiedEmbeddings: tiedEmbeddings, attentionBias: attentionBias,
                    attentionOutputBias: false, mlpBias: false, normBias: false)
    }
}
