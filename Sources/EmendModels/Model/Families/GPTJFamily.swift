// The GPT-J family (`GPTJForCausalLM`, GGUF `gptj`): one LayerNorm feeds attention and MLP in parallel, RoPE on the
// first `rotary_dim` dims of each head in interleaved pairs (GPT-J's `rotate_every_two`: pairs 2i, 2i+1, angles
// p·10000^(−2i/rotary_dim)), no attention biases, a GELU (gelu_new) MLP with biases, an untied output head with a
// bias. Parallel block:
//   a = ln_1(x)
//   out = x + out_proj(attn(rope(q_proj(a)), rope(k_proj(a)), v_proj(a))) + fc_out(gelu(fc_in(a)))
// The locate-then-edit editors edit fc_out (`ffnDown`); its key is gelu(fc_in(a)). Both formats store Q/K rows
// in the same (interleaved) order and linear weights as [out, in], so nothing is sanitized.
//
// Shape legend: V vocab, D width, F FFN width (n_inner, default 4D), L layers, H heads, Dh head dim (D/H),
// Dr rotary dims.

import EmendCore
import Foundation

extension ModelFamily {
    public static let gptj = ModelFamily(
        name: "gptj",
        architectures: [Architecture(name: "gptj", hfClass: "GPTJForCausalLM", hfModelTypes: ["gptj"])],
        ggufNames: TensorNames([
            .tokenEmbedding: "token_embd.weight",
            .outputNorm: "output_norm.weight", .outputNormBias: "output_norm.bias",
            .output: "output.weight", .outputBias: "output.bias",
            .attnNorm: "blk.{l}.attn_norm.weight", .attnNormBias: "blk.{l}.attn_norm.bias",
            .attnQ: "blk.{l}.attn_q.weight", .attnK: "blk.{l}.attn_k.weight", .attnV: "blk.{l}.attn_v.weight",
            .attnOutput: "blk.{l}.attn_output.weight",
            .ffnUp: "blk.{l}.ffn_up.weight", .ffnUpBias: "blk.{l}.ffn_up.bias",
            .ffnDown: "blk.{l}.ffn_down.weight", .ffnDownBias: "blk.{l}.ffn_down.bias",
        ]),
        hfNames: TensorNames([
            .tokenEmbedding: "transformer.wte.weight",
            .outputNorm: "transformer.ln_f.weight", .outputNormBias: "transformer.ln_f.bias",
            .output: "lm_head.weight", .outputBias: "lm_head.bias",
            .attnNorm: "transformer.h.{l}.ln_1.weight", .attnNormBias: "transformer.h.{l}.ln_1.bias",
            .attnQ: "transformer.h.{l}.attn.q_proj.weight", .attnK: "transformer.h.{l}.attn.k_proj.weight",
            .attnV: "transformer.h.{l}.attn.v_proj.weight", .attnOutput: "transformer.h.{l}.attn.out_proj.weight",
            .ffnUp: "transformer.h.{l}.mlp.fc_in.weight", .ffnUpBias: "transformer.h.{l}.mlp.fc_in.bias",
            .ffnDown: "transformer.h.{l}.mlp.fc_out.weight", .ffnDownBias: "transformer.h.{l}.mlp.fc_out.bias",
        ]),
        // The causal-mask buffers that EleutherAI's original checkpoint carries.
        leftovers: [.suffix(".attn.bias"), .suffix(".attn.masked_bias")],
        ggufConfig: { k in
            let d = try k.int("embedding_length")
            var c = ModelConfig.gptjStyle(vocabSize: k.vocabSize, hiddenSize: d, layerCount: try k.int("block_count"),
                                          headCount: try k.int("attention.head_count"),
                                          rotaryDim: try k.int("rope.dimension_count"),
                                          intermediateSize: k.optionalInt("feed_forward_length") ?? 4 * d,
                                          maxPositions: k.optionalInt("context_length") ?? 2048,
                                          normEps: k.optionalFloat("attention.layer_norm_epsilon") ?? 1e-5)
            c.tiedEmbeddings = !k.hasTensor("output.weight")
            c.outputBias = k.hasTensor("output.bias")
            return c
        },
        hfConfig: { data, _, file in
            let hf = try decodeHFConfig(GPTJHFConfig.self, data, file: file)
            let d = try requireHF(hf.nEmbd, "n_embd", file: file)
            return .gptjStyle(vocabSize: try requireHF(hf.vocabSize, "vocab_size", file: file), hiddenSize: d,
                              layerCount: try requireHF(hf.nLayer, "n_layer", file: file),
                              headCount: try requireHF(hf.nHead, "n_head", file: file),
                              rotaryDim: hf.rotaryDim ?? 64,   // GPTJConfig's default
                              intermediateSize: hf.nInner ?? 4 * d, maxPositions: hf.nPositions ?? 2048,
                              normEps: Float(hf.layerNormEpsilon ?? 1e-5),
                              activation: try hfGELU(hf.activationFunction, file: file),
                              tiedEmbeddings: hf.tieWordEmbeddings ?? false)
        },
        hfConfigFields: { c in [
            ("n_embd", "\(c.hiddenSize)"), ("n_layer", "\(c.layerCount)"), ("n_head", "\(c.headCount)"),
            ("rotary_dim", "\(c.rotaryDim ?? c.headDim)"), ("n_inner", "\(c.intermediateSize)"),
            ("n_positions", "\(c.maxPositions)"), ("layer_norm_epsilon", ModelConfig.jsonNumber(c.normEps)),
            ("activation_function", hfGELUName(c.activation)),
        ] })
}

/// The `config.json` fields of GPT-J, HF names in `CodingKeys`.
struct GPTJHFConfig: Decodable {
    var vocabSize: Int?, nEmbd: Int?, nLayer: Int?, nHead: Int?, rotaryDim: Int?, nInner: Int?, nPositions: Int?
    var layerNormEpsilon: Double?, activationFunction: String?, tieWordEmbeddings: Bool?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", nEmbd = "n_embd", nLayer = "n_layer", nHead = "n_head", rotaryDim = "rotary_dim"
        case nInner = "n_inner", nPositions = "n_positions", layerNormEpsilon = "layer_norm_epsilon"
        case activationFunction = "activation_function", tieWordEmbeddings = "tie_word_embeddings"
    }
}

extension ModelConfig {
    /// GPT-J defaults (GPT-J-6B: V 50400, D 4096, L 28, H 16, Dr 64, F 16384, P 2048).
    public static func gptjStyle(vocabSize: Int, hiddenSize: Int, layerCount: Int, headCount: Int, rotaryDim: Int,
                                 intermediateSize: Int? = nil, maxPositions: Int = 2048, normEps: Float = 1e-5,
                                 activation: Activation = .geluTanh, tiedEmbeddings: Bool = false) -> ModelConfig {
        var c = ModelConfig(architecture: "gptj", vocabSize: vocabSize, hiddenSize: hiddenSize,
                            intermediateSize: intermediateSize ?? 4 * hiddenSize, layerCount: layerCount, headCount: headCount,
                            kvHeadCount: headCount, headDim: hiddenSize / max(headCount, 1), maxPositions: maxPositions,
                            normEps: normEps, norm: .layer, positions: .rope, ropeBase: 10_000, activation: activation,
                            gatedMLP: false, tiedEmbeddings: tiedEmbeddings, attentionBias: false, attentionOutputBias: false,
                            mlpBias: true, normBias: true)
        c.block = .parallel
        c.ropeConvention = .interleaved
        c.rotaryDim = rotaryDim
        c.outputBias = true
        return c
    }
}
