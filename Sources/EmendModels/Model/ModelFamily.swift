// Model families as data (STYLE rule 13): for each tensor role, its name in GGUF files and in Hugging Face
// checkpoints, as templates with `{l}` for the block index. Loading asks for roles; the file answers or fails.

/// What a weight is for, independent of file format.
public enum TensorRole: String, CaseIterable, Sendable {
    // model-level
    case tokenEmbedding, positionEmbedding, outputNorm, outputNormBias, output
    // per block
    case attnNorm, attnNormBias
    case attnQ, attnK, attnV, attnQBias, attnKBias, attnVBias
    case attnQKV, attnQKVBias          // GPT-2's fused projection, split at load
    case attnOutput, attnOutputBias
    case ffnNorm, ffnNormBias
    case ffnGate, ffnUp, ffnDown, ffnGateBias, ffnUpBias, ffnDownBias

    public var isPerBlock: Bool {
        switch self {
        case .tokenEmbedding, .positionEmbedding, .outputNorm, .outputNormBias, .output: return false
        default: return true
        }
    }
}

/// A family's tensor-name vocabulary and its storage conventions.
public struct ModelFamily: Sendable {
    public var name: String
    /// GGUF names by role (llama.cpp's `blk.{l}.attn_q.weight` style).
    public var ggufNames: [TensorRole: String]
    /// Hugging Face names by role.
    public var hfNames: [TensorRole: String]
    /// HF stores this family's linear weights as Conv1D, [in, out]; transposed to [out, in] at load.
    public var hfConv1D: Bool

    public static let supportedNames = ["llama", "mistral", "qwen2", "gpt2"]

    public static func named(_ name: String) -> ModelFamily? {
        switch name {
        case "llama", "mistral", "qwen2": return .llama
        case "gpt2": return .gpt2
        default: return nil
        }
    }

    public static let llama = ModelFamily(
        name: "llama",
        ggufNames: [
            .tokenEmbedding: "token_embd.weight", .outputNorm: "output_norm.weight", .output: "output.weight",
            .attnNorm: "blk.{l}.attn_norm.weight",
            .attnQ: "blk.{l}.attn_q.weight", .attnK: "blk.{l}.attn_k.weight", .attnV: "blk.{l}.attn_v.weight",
            .attnQBias: "blk.{l}.attn_q.bias", .attnKBias: "blk.{l}.attn_k.bias", .attnVBias: "blk.{l}.attn_v.bias",
            .attnOutput: "blk.{l}.attn_output.weight",
            .ffnNorm: "blk.{l}.ffn_norm.weight",
            .ffnGate: "blk.{l}.ffn_gate.weight", .ffnUp: "blk.{l}.ffn_up.weight", .ffnDown: "blk.{l}.ffn_down.weight",
        ],
        hfNames: [
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
        ],
        hfConv1D: false)

    public static let gpt2 = ModelFamily(
        name: "gpt2",
        ggufNames: [
            .tokenEmbedding: "token_embd.weight", .positionEmbedding: "position_embd.weight",
            .outputNorm: "output_norm.weight", .outputNormBias: "output_norm.bias", .output: "output.weight",
            .attnNorm: "blk.{l}.attn_norm.weight", .attnNormBias: "blk.{l}.attn_norm.bias",
            .attnQKV: "blk.{l}.attn_qkv.weight", .attnQKVBias: "blk.{l}.attn_qkv.bias",
            .attnOutput: "blk.{l}.attn_output.weight", .attnOutputBias: "blk.{l}.attn_output.bias",
            .ffnNorm: "blk.{l}.ffn_norm.weight", .ffnNormBias: "blk.{l}.ffn_norm.bias",
            .ffnUp: "blk.{l}.ffn_up.weight", .ffnUpBias: "blk.{l}.ffn_up.bias",
            .ffnDown: "blk.{l}.ffn_down.weight", .ffnDownBias: "blk.{l}.ffn_down.bias",
        ],
        hfNames: [
            .tokenEmbedding: "transformer.wte.weight", .positionEmbedding: "transformer.wpe.weight",
            .outputNorm: "transformer.ln_f.weight", .outputNormBias: "transformer.ln_f.bias", .output: "lm_head.weight",
            .attnNorm: "transformer.h.{l}.ln_1.weight", .attnNormBias: "transformer.h.{l}.ln_1.bias",
            .attnQKV: "transformer.h.{l}.attn.c_attn.weight", .attnQKVBias: "transformer.h.{l}.attn.c_attn.bias",
            .attnOutput: "transformer.h.{l}.attn.c_proj.weight", .attnOutputBias: "transformer.h.{l}.attn.c_proj.bias",
            .ffnNorm: "transformer.h.{l}.ln_2.weight", .ffnNormBias: "transformer.h.{l}.ln_2.bias",
            .ffnUp: "transformer.h.{l}.mlp.c_fc.weight", .ffnUpBias: "transformer.h.{l}.mlp.c_fc.bias",
            .ffnDown: "transformer.h.{l}.mlp.c_proj.weight", .ffnDownBias: "transformer.h.{l}.mlp.c_proj.bias",
        ],
        hfConv1D: true)

    /// The concrete name of `role` in block `layer` (ignored for model-level roles).
    public static func resolve(_ template: String, layer: Int) -> String {
        template.replacingOccurrences(of: "{l}", with: String(layer))
    }
}
