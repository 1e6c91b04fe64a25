// The Gemma-3 family, text models (`Gemma3ForCausalLM`, `model_type` "gemma3_text"; GGUF `gemma3`). A Llama block
// with four changes, all config flags the decoder reads:
//   h = √D · embed(tokens)                                        (scaleEmbeddings; the tied head reads embed unscaled)
//   q, k = rms_head(q_proj(n1(x))), rms_head(k_proj(n1(x)))       (qkNorm: RMSNorm over each head, weights [Dh])
//   x1  = x  + n2(o_proj(attn(rope_l(q), rope_l(k), v)))           (postNorms: a norm on each branch's output)
//   out = x1 + n4(down(gelu_tanh(gate(n3(x1))) · up(n3(x1))))      (GeGLU)
// Attention on 5 of every 6 layers looks back through a sliding window of W positions (512) with RoPE base 10,000;
// layers 5, 11, 17, … attend globally with RoPE base 1,000,000. The logits' scale is 1/√query_pre_attn_scalar.
// Norm weights: transformers multiplies by (1 + w) and stores w; llama.cpp's converter stores 1 + w, which is what
// Emend holds (`sanitize` adds 1 to a safetensors norm, `restore` takes it away). Q/K rows are in rotate_half order
// in both formats (llama.cpp runs Gemma with NeoX RoPE), so nothing else is converted.
// What the locate-then-edit editors change is the down-projection; its output u reaches the residual stream through
// n4, so the editors aim at u, not at the block output (TargetSearch, LocateThenEditor).
//
// Shape legend: V vocab, D width, F FFN width, L layers, H heads, Hkv key/value heads, Dh head dim.

import EmendCore
import Foundation

extension ModelFamily {
    public static let gemma3 = ModelFamily(
        name: "gemma3",
        architectures: [Architecture(name: "gemma3", hfClass: "Gemma3ForCausalLM", hfModelTypes: ["gemma3_text"])],
        ggufNames: TensorNames([
            .tokenEmbedding: "token_embd.weight", .outputNorm: "output_norm.weight", .output: "output.weight",
            .attnNorm: "blk.{l}.attn_norm.weight",
            .attnQ: "blk.{l}.attn_q.weight", .attnK: "blk.{l}.attn_k.weight", .attnV: "blk.{l}.attn_v.weight",
            .attnQNorm: "blk.{l}.attn_q_norm.weight", .attnKNorm: "blk.{l}.attn_k_norm.weight",
            .attnOutput: "blk.{l}.attn_output.weight", .attnPostNorm: "blk.{l}.post_attention_norm.weight",
            .ffnNorm: "blk.{l}.ffn_norm.weight",
            .ffnGate: "blk.{l}.ffn_gate.weight", .ffnUp: "blk.{l}.ffn_up.weight", .ffnDown: "blk.{l}.ffn_down.weight",
            .ffnPostNorm: "blk.{l}.post_ffw_norm.weight",
        ]),
        hfNames: TensorNames([
            .tokenEmbedding: "model.embed_tokens.weight", .outputNorm: "model.norm.weight", .output: "lm_head.weight",
            .attnNorm: "model.layers.{l}.input_layernorm.weight",
            .attnQ: "model.layers.{l}.self_attn.q_proj.weight", .attnK: "model.layers.{l}.self_attn.k_proj.weight",
            .attnV: "model.layers.{l}.self_attn.v_proj.weight",
            .attnQNorm: "model.layers.{l}.self_attn.q_norm.weight", .attnKNorm: "model.layers.{l}.self_attn.k_norm.weight",
            .attnOutput: "model.layers.{l}.self_attn.o_proj.weight",
            // Gemma's `post_attention_layernorm` is the norm on the attention output (Llama's of that name is the
            // MLP's input norm, here `pre_feedforward_layernorm`).
            .attnPostNorm: "model.layers.{l}.post_attention_layernorm.weight",
            .ffnNorm: "model.layers.{l}.pre_feedforward_layernorm.weight",
            .ffnGate: "model.layers.{l}.mlp.gate_proj.weight", .ffnUp: "model.layers.{l}.mlp.up_proj.weight",
            .ffnDown: "model.layers.{l}.mlp.down_proj.weight",
            .ffnPostNorm: "model.layers.{l}.post_feedforward_layernorm.weight",
        ]),
        leftovers: [.prefix("rope_freqs"), .suffix("rotary_emb.inv_freq"), .suffix("rotary_emb_local.inv_freq")],
        sanitize: { t, stored, format, _ in gemmaNormShift(t, stored, format, by: 1) },
        restore: { t, stored, format, _ in gemmaNormShift(t, stored, format, by: -1) },
        ggufConfig: { k in
            if let type = k.file.metadata["gemma3.rope.scaling.type"]?.string, type != "none" {
                throw EmendModelsError.invalidConfig(file: k.path, field: "gemma3.rope.scaling.type", expected: "none (RoPE scaling is not supported)", got: type)
            }
            let heads = try k.int("attention.head_count")
            return .gemma3Style(vocabSize: k.vocabSize, hiddenSize: try k.int("embedding_length"),
                                intermediateSize: try k.int("feed_forward_length"), layerCount: try k.int("block_count"),
                                headCount: heads, kvHeadCount: k.optionalInt("attention.head_count_kv") ?? heads,
                                headDim: try k.int("attention.key_length"),
                                maxPositions: k.optionalInt("context_length") ?? 32_768,
                                normEps: k.optionalFloat("attention.layer_norm_rms_epsilon") ?? 1e-6,
                                ropeBase: k.optionalFloat("rope.freq_base") ?? 1_000_000,
                                slidingWindow: k.optionalInt("attention.sliding_window") ?? 512,
                                tiedEmbeddings: !k.hasTensor("output.weight"))
        },
        hfConfig: { data, _, file in
            let hf = try decodeHFConfig(Gemma3HFConfig.self, data, file: file)
            for (field, act) in [("hidden_activation", hf.hiddenActivation), ("hidden_act", hf.hiddenAct)] {
                if let act, act != "gelu_pytorch_tanh" {
                    throw EmendModelsError.invalidConfig(file: file, field: field, expected: "gelu_pytorch_tanh", got: act)
                }
            }
            for (field, cap) in [("final_logit_softcapping", hf.finalLogitSoftcapping), ("attn_logit_softcapping", hf.attnLogitSoftcapping)] {
                if let cap { throw EmendModelsError.invalidConfig(file: file, field: field, expected: "null (soft-capping is not supported)", got: "\(cap)") }
            }
            if hf.ropeScaling != nil {
                throw EmendModelsError.invalidConfig(file: file, field: "rope_scaling", expected: "null (RoPE scaling is not supported)", got: "an object")
            }
            let layers = try requireHF(hf.numHiddenLayers, "num_hidden_layers", file: file)
            var every = hf.slidingWindowPattern ?? 6
            if let types = hf.layerTypes {
                // Emend holds the pattern as "every n-th layer is global"; a list of another shape is refused.
                let global = types.indices.filter { types[$0] == "full_attention" }
                every = (global.first ?? layers - 1) + 1
                let expected = (0..<layers).map { ($0 + 1) % every == 0 ? "full_attention" : "sliding_attention" }
                guard types == expected else {
                    throw EmendModelsError.invalidConfig(file: file, field: "layer_types", expected: "\(layers) entries, every \(every)-th \"full_attention\", the rest \"sliding_attention\"", got: types.joined(separator: ","))
                }
            }
            let heads = try requireHF(hf.numAttentionHeads, "num_attention_heads", file: file)
            var c = ModelConfig.gemma3Style(
                vocabSize: try requireHF(hf.vocabSize, "vocab_size", file: file),
                hiddenSize: try requireHF(hf.hiddenSize, "hidden_size", file: file),
                intermediateSize: try requireHF(hf.intermediateSize, "intermediate_size", file: file), layerCount: layers,
                headCount: heads, kvHeadCount: hf.numKeyValueHeads ?? heads, headDim: hf.headDim ?? 256,
                maxPositions: hf.maxPositionEmbeddings ?? 32_768, normEps: Float(hf.rmsNormEps ?? 1e-6),
                ropeBase: Float(hf.ropeTheta ?? 1_000_000), slidingWindow: hf.slidingWindow ?? 512,
                tiedEmbeddings: hf.tieWordEmbeddings ?? true)
            c.globalLayerEvery = every
            c.slidingRopeBase = Float(hf.ropeLocalBaseFreq ?? 10_000)
            c.queryPreAttentionScalar = hf.queryPreAttnScalar.map(Float.init)
            return c
        },
        hfConfigFields: { c in [
            ("hidden_size", "\(c.hiddenSize)"), ("intermediate_size", "\(c.intermediateSize)"),
            ("num_hidden_layers", "\(c.layerCount)"), ("num_attention_heads", "\(c.headCount)"),
            ("num_key_value_heads", "\(c.kvHeadCount)"), ("head_dim", "\(c.headDim)"),
            ("max_position_embeddings", "\(c.maxPositions)"), ("rms_norm_eps", ModelConfig.jsonNumber(c.normEps)),
            ("rope_theta", ModelConfig.jsonNumber(c.ropeBase)),
            ("rope_local_base_freq", ModelConfig.jsonNumber(c.slidingRopeBase ?? c.ropeBase)),
            ("sliding_window", "\(c.slidingWindow ?? c.maxPositions)"),
            ("layer_types", "[" + (0..<c.layerCount).map { c.isSliding($0) ? "\"sliding_attention\"" : "\"full_attention\"" }
                .joined(separator: ", ") + "]"),
            ("query_pre_attn_scalar", ModelConfig.jsonNumber(c.queryPreAttentionScalar ?? Float(c.headDim))),
            ("hidden_activation", "\"gelu_pytorch_tanh\""), ("rope_scaling", "null"),
            ("final_logit_softcapping", "null"), ("attn_logit_softcapping", "null"),
        ] })
}

/// The `config.json` fields of Gemma-3 text models, HF names in `CodingKeys`.
struct Gemma3HFConfig: Decodable {
    var vocabSize: Int?, hiddenSize: Int?, intermediateSize: Int?, numHiddenLayers: Int?
    var numAttentionHeads: Int?, numKeyValueHeads: Int?, headDim: Int?, maxPositionEmbeddings: Int?
    var rmsNormEps: Double?, ropeTheta: Double?, ropeLocalBaseFreq: Double?, slidingWindow: Int?
    var slidingWindowPattern: Int?, layerTypes: [String]?, queryPreAttnScalar: Double?
    var finalLogitSoftcapping: Double?, attnLogitSoftcapping: Double?, ropeScaling: [String: HFAnyValue]?
    var tieWordEmbeddings: Bool?, hiddenActivation: String?, hiddenAct: String?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads", headDim = "head_dim"
        case maxPositionEmbeddings = "max_position_embeddings", rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta"
        case ropeLocalBaseFreq = "rope_local_base_freq", slidingWindow = "sliding_window"
        case slidingWindowPattern = "sliding_window_pattern", layerTypes = "layer_types"
        case queryPreAttnScalar = "query_pre_attn_scalar", finalLogitSoftcapping = "final_logit_softcapping"
        case attnLogitSoftcapping = "attn_logit_softcapping", ropeScaling = "rope_scaling"
        case tieWordEmbeddings = "tie_word_embeddings", hiddenActivation = "hidden_activation", hiddenAct = "hidden_act"
    }
}

/// Any JSON value, read and ignored (the contents of an object Emend only checks for presence).
struct HFAnyValue: Decodable {
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { return }
        if (try? c.decode(Double.self)) != nil || (try? c.decode(String.self)) != nil || (try? c.decode(Bool.self)) != nil { return }
        if (try? c.decode([HFAnyValue].self)) != nil || (try? c.decode([String: HFAnyValue].self)) != nil { return }
    }
}

/// Norm weights are w in a safetensors checkpoint and 1 + w in Emend and in GGUF: `by` +1 at load, −1 at export.
private func gemmaNormShift(_ t: Tensor, _ stored: StoredTensor, _ format: WeightFormat, by shift: Float) -> Tensor {
    guard format == .huggingFace, let role = stored.roles.first else { return t }
    switch role {
    case .attnNorm, .ffnNorm, .outputNorm, .attnQNorm, .attnKNorm, .attnPostNorm, .ffnPostNorm: return t + shift
    default: return t
    }
}

extension ModelConfig {
    /// Gemma-3 defaults (Gemma-3-270M: D 640, F 2048, 18 layers, 4 heads / 1 key-value head, Dh 256, W 512).
    public static func gemma3Style(vocabSize: Int, hiddenSize: Int, intermediateSize: Int, layerCount: Int, headCount: Int,
                                   kvHeadCount: Int, headDim: Int, maxPositions: Int = 32_768, normEps: Float = 1e-6,
                                   ropeBase: Float = 1_000_000, slidingWindow: Int = 512, tiedEmbeddings: Bool = true) -> ModelConfig {
        var c = ModelConfig(architecture: "gemma3", vocabSize: vocabSize, hiddenSize: hiddenSize,
                            intermediateSize: intermediateSize, layerCount: layerCount, headCount: headCount,
                            kvHeadCount: kvHeadCount, headDim: headDim, maxPositions: maxPositions, normEps: normEps,
                            norm: .rms, positions: .rope, ropeBase: ropeBase, activation: .geluTanh, gatedMLP: true,
                            tiedEmbeddings: tiedEmbeddings, attentionBias: false, attentionOutputBias: false, mlpBias: false,
                            normBias: false)
        c.qkNorm = true
        c.postNorms = true
        c.scaleEmbeddings = true
        c.slidingWindow = slidingWindow
        c.globalLayerEvery = 6
        c.slidingRopeBase = 10_000
        return c
    }
}
