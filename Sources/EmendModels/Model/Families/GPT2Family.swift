// The GPT-2 family (`GPT2LMHeadModel`): LayerNorm, learned positions, GELU MLP, biases everywhere, output head
// tied to the token embedding unless the config says otherwise. Sequential block:
//   x1 = x + c_proj(attn(split_qkv(c_attn(ln_1(x)))))
//   out = x1 + mlp.c_proj(gelu(c_fc(ln_2(x1))))
// Hugging Face stores the linear weights as Conv1D, [in, out] (`sanitize` and `restore` transpose them), and both
// formats fuse q|k|v into one projection (the name table lists it as one stored tensor of three roles).
//
// Shape legend: V vocab, D width, F FFN width, L layers, H heads, P max positions.

import EmendCore
import Foundation

extension ModelFamily {
    public static let gpt2 = ModelFamily(
        name: "gpt2",
        architectures: [Architecture(name: "gpt2", hfClass: "GPT2LMHeadModel", hfModelTypes: ["gpt2"])],
        ggufNames: TensorNames([
            .tokenEmbedding: "token_embd.weight", .positionEmbedding: "position_embd.weight",
            .outputNorm: "output_norm.weight", .outputNormBias: "output_norm.bias", .output: "output.weight",
            .attnNorm: "blk.{l}.attn_norm.weight", .attnNormBias: "blk.{l}.attn_norm.bias",
            .attnOutput: "blk.{l}.attn_output.weight", .attnOutputBias: "blk.{l}.attn_output.bias",
            .ffnNorm: "blk.{l}.ffn_norm.weight", .ffnNormBias: "blk.{l}.ffn_norm.bias",
            .ffnUp: "blk.{l}.ffn_up.weight", .ffnUpBias: "blk.{l}.ffn_up.bias",
            .ffnDown: "blk.{l}.ffn_down.weight", .ffnDownBias: "blk.{l}.ffn_down.bias",
        ], fused: [
            "blk.{l}.attn_qkv.weight": [.attnQ, .attnK, .attnV], "blk.{l}.attn_qkv.bias": [.attnQBias, .attnKBias, .attnVBias],
        ]),
        hfNames: TensorNames([
            .tokenEmbedding: "transformer.wte.weight", .positionEmbedding: "transformer.wpe.weight",
            .outputNorm: "transformer.ln_f.weight", .outputNormBias: "transformer.ln_f.bias", .output: "lm_head.weight",
            .attnNorm: "transformer.h.{l}.ln_1.weight", .attnNormBias: "transformer.h.{l}.ln_1.bias",
            .attnOutput: "transformer.h.{l}.attn.c_proj.weight", .attnOutputBias: "transformer.h.{l}.attn.c_proj.bias",
            .ffnNorm: "transformer.h.{l}.ln_2.weight", .ffnNormBias: "transformer.h.{l}.ln_2.bias",
            .ffnUp: "transformer.h.{l}.mlp.c_fc.weight", .ffnUpBias: "transformer.h.{l}.mlp.c_fc.bias",
            .ffnDown: "transformer.h.{l}.mlp.c_proj.weight", .ffnDownBias: "transformer.h.{l}.mlp.c_proj.bias",
        ], fused: [
            "transformer.h.{l}.attn.c_attn.weight": [.attnQ, .attnK, .attnV],
            "transformer.h.{l}.attn.c_attn.bias": [.attnQBias, .attnKBias, .attnVBias],
        ]),
        hfOptionalPrefix: "transformer.",
        // The causal-mask buffers of older checkpoints.
        leftovers: [.suffix(".attn.bias"), .suffix(".attn.masked_bias")],
        matricesKeepLayout: [.gguf], sanitize: conv1DTransposed, restore: conv1DTransposed,
        ggufConfig: { k in
            var c = ModelConfig.gpt2Style(vocabSize: k.vocabSize, hiddenSize: try k.int("embedding_length"),
                                          layerCount: try k.int("block_count"), headCount: try k.int("attention.head_count"),
                                          intermediateSize: k.optionalInt("feed_forward_length"),
                                          maxPositions: k.optionalInt("context_length") ?? 1024,
                                          normEps: k.optionalFloat("attention.layer_norm_epsilon") ?? 1e-5)
            c.tiedEmbeddings = !k.hasTensor("output.weight")
            return c
        },
        hfConfig: { data, _, file in
            let hf = try decodeHFConfig(GPT2HFConfig.self, data, file: file)
            let act = try hfGELU(hf.activationFunction, file: file)
            let d = try requireHF(hf.nEmbd, "n_embd", file: file)
            var c = ModelConfig.gpt2Style(vocabSize: try requireHF(hf.vocabSize, "vocab_size", file: file), hiddenSize: d,
                                          layerCount: try requireHF(hf.nLayer, "n_layer", file: file),
                                          headCount: try requireHF(hf.nHead, "n_head", file: file),
                                          intermediateSize: hf.nInner ?? 4 * d, maxPositions: hf.nPositions ?? 1024,
                                          normEps: Float(hf.layerNormEpsilon ?? 1e-5), activation: act)
            // GPT2LMHeadModel ties lm_head to wte unless the config says otherwise.
            c.tiedEmbeddings = hf.tieWordEmbeddings ?? true
            return c
        },
        hfConfigFields: { c in [
            ("n_embd", "\(c.hiddenSize)"), ("n_layer", "\(c.layerCount)"), ("n_head", "\(c.headCount)"),
            ("n_inner", "\(c.intermediateSize)"), ("n_positions", "\(c.maxPositions)"), ("n_ctx", "\(c.maxPositions)"),
            ("layer_norm_epsilon", ModelConfig.jsonNumber(c.normEps)),
            ("activation_function", hfGELUName(c.activation)),
        ] })
}

/// The `config.json` fields of GPT-2, HF names in `CodingKeys`.
struct GPT2HFConfig: Decodable {
    var vocabSize: Int?, nEmbd: Int?, nLayer: Int?, nHead: Int?, nInner: Int?, nPositions: Int?
    var layerNormEpsilon: Double?, activationFunction: String?, tieWordEmbeddings: Bool?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", nEmbd = "n_embd", nLayer = "n_layer", nHead = "n_head", nInner = "n_inner"
        case nPositions = "n_positions", layerNormEpsilon = "layer_norm_epsilon"
        case activationFunction = "activation_function", tieWordEmbeddings = "tie_word_embeddings"
    }
}

/// HF GPT-2's Conv1D storage: the linear weights (fused q|k|v, attention output, MLP) are [in, out] in the file and
/// [out, in] in Emend; a transpose either way. Everything else, and every GGUF tensor, as it is.
private let conv1DTransposed: ModelFamily.LayoutStep = { t, stored, format, _ in
    let conv1D: Set<TensorRole> = [.attnQ, .attnOutput, .ffnUp, .ffnDown]
    guard format == .huggingFace, t.rank == 2, let role = stored.roles.first, conv1D.contains(role) else { return t }
    return t.transposed()
}

extension ModelConfig {
    /// GPT-2 defaults.
    public static func gpt2Style(vocabSize: Int, hiddenSize: Int, layerCount: Int, headCount: Int,
                                 intermediateSize: Int? = nil, maxPositions: Int = 1024, normEps: Float = 1e-5,
                                 activation: Activation = .geluTanh) -> ModelConfig {
        ModelConfig(architecture: "gpt2", vocabSize: vocabSize, hiddenSize: hiddenSize,
                    intermediateSize: intermediateSize ?? 4 * hiddenSize, layerCount: layerCount, headCount: headCount,
                    kvHeadCount: headCount, headDim: hiddenSize / max(headCount, 1), maxPositions: maxPositions, normEps: normEps,
                    norm: .layer, positions: .learned, ropeBase: 0, activation: activation, gatedMLP: false,
                    tiedEmbeddings: true, attentionBias: true, attentionOutputBias: true, mlpBias: true, normBias: true)
    }
}
