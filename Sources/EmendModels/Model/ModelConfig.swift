// The hyper-parameters of a decoder-only transformer, read from GGUF metadata or a Hugging Face
// `config.json` by its family (Families/). One config drives every block the families make:
//   Llama-style: RMSNorm, RoPE, grouped-query attention, gated (SwiGLU) MLP, optional q/k/v biases (Qwen2).
//   GPT-2-style: LayerNorm, learned positions, GELU MLP, biases everywhere.
//   GPT-J-style: one LayerNorm feeding attention and MLP in parallel, RoPE on the first `rotaryDim` dims of each
//                head in interleaved pairs, GELU MLP with biases, untied output head with a bias.
//   Gemma-3-style: the Llama block plus QK-norm, a norm after attention and after the MLP ("sandwich"), GeGLU,
//                embeddings scaled by √D, and sliding-window attention with its own RoPE base on 5 of 6 layers.
// Each family's file has its factory (`llamaStyle`, `gpt2Style`, `gptjStyle`).
//
// Shape legend: D width, F FFN width, V vocab, L layers, H heads, Hkv key/value heads, Dh head dim.

import EmendCore
import Foundation

public enum NormKind: String, Codable, Sendable { case rms, layer }
public enum PositionKind: String, Codable, Sendable { case rope, learned }
public enum Activation: String, Codable, Sendable { case silu, geluTanh, geluErf }

/// How a block combines its attention and its MLP.
public enum BlockKind: String, Codable, Sendable {
    /// x1 = x + attn(norm1(x)); out = x1 + mlp(norm2(x1))   (Llama, GPT-2)
    case sequential
    /// out = x + attn(norm1(x)) + mlp(norm1(x)): one norm feeds both, no `ffnNorm`   (GPT-J)
    case parallel
}

/// Everything the decoder needs to know about a model's shape and numerics.
public struct ModelConfig: Codable, Sendable, Equatable {
    /// The architecture, which names the family (`ModelFamily.named`): "llama", "mistral", "qwen2", "gpt2", "gptj".
    public var architecture: String
    public var vocabSize: Int            // V
    public var hiddenSize: Int           // D
    public var intermediateSize: Int     // F
    public var layerCount: Int           // L
    public var headCount: Int            // H
    public var kvHeadCount: Int          // Hkv
    public var headDim: Int              // Dh
    public var maxPositions: Int
    public var normEps: Float
    public var norm: NormKind
    public var positions: PositionKind
    public var ropeBase: Float
    public var activation: Activation
    /// Gated MLP: down(act(gate(x)) · up(x)); otherwise down(act(up(x))).
    public var gatedMLP: Bool
    /// The output head reuses the token embedding.
    public var tiedEmbeddings: Bool
    public var attentionBias: Bool
    public var attentionOutputBias: Bool
    public var mlpBias: Bool
    public var normBias: Bool
    public var block: BlockKind = .sequential
    /// The RoPE pairing of the Q/K rows as Emend holds them (after the family's `sanitize`).
    public var ropeConvention: RoPEConvention = .halfSplit
    /// Dr, the leading dims of each head that RoPE rotates (GPT-J's `rotary_dim`); nil rotates the whole head.
    public var rotaryDim: Int? = nil
    /// The output head has a bias [V] (GPT-J's `lm_head.bias`).
    public var outputBias: Bool = false
    /// RMSNorm over each query and key head (weights [Dh]) before RoPE (Gemma-3's `q_norm`, `k_norm`).
    public var qkNorm: Bool = false
    /// A norm on the attention's output and one on the MLP's output before each joins the residual stream
    /// (Gemma's `post_attention_layernorm`, `post_feedforward_layernorm`): x1 = x + n(attn), out = x1 + n′(mlp).
    public var postNorms: Bool = false
    /// The token embeddings are multiplied by √D before the first block (Gemma); the tied head reads them unscaled.
    public var scaleEmbeddings: Bool = false
    /// W, the sliding window of the local attention layers (Gemma-3: 512); nil: every layer attends globally.
    public var slidingWindow: Int? = nil
    /// With a sliding window, every `globalLayerEvery`-th layer (layers k·n − 1) attends globally (Gemma-3: 6).
    public var globalLayerEvery: Int = 1
    /// The RoPE base of the sliding-window layers (Gemma-3: 10,000); `ropeBase` is the global layers'.
    public var slidingRopeBase: Float? = nil
    /// The attention logits are scaled by 1/√s (Gemma's `query_pre_attn_scalar`); nil: s = Dh.
    public var queryPreAttentionScalar: Float? = nil

    /// Attention logits scale 1/√Dh (1/√s with Gemma's `query_pre_attn_scalar` s).
    public var attentionScale: Float { 1 / (queryPreAttentionScalar ?? Float(headDim)).squareRoot() }
    /// Whether layer `l` attends through the sliding window.
    public func isSliding(_ l: Int) -> Bool { slidingWindow != nil && (l + 1) % max(globalLayerEvery, 1) != 0 }
    /// The attention window of layer `l` (nil: global).
    public func window(_ l: Int) -> Int? { isSliding(l) ? slidingWindow : nil }
    /// The RoPE base of layer `l`.
    public func ropeBase(_ l: Int) -> Float { isSliding(l) ? (slidingRopeBase ?? ropeBase) : ropeBase }
    /// Query heads served by each key/value head.
    public var groupSize: Int { headCount / kvHeadCount }

    /// Checks the config is internally consistent; names the field and the accepted values.
    public func validate(source: String) throws {
        func fail(_ field: String, _ expected: String, _ got: Any) throws -> Never {
            throw EmendModelsError.invalidConfig(file: source, field: field, expected: expected, got: "\(got)")
        }
        for (name, v) in [("vocab size", vocabSize), ("hidden size", hiddenSize), ("intermediate size", intermediateSize),
                          ("layer count", layerCount), ("head count", headCount), ("kv head count", kvHeadCount),
                          ("head dim", headDim)] where v <= 0 {
            try fail(name, "a positive integer", v)
        }
        if headCount % kvHeadCount != 0 { try fail("kv head count", "a divisor of the head count \(headCount)", kvHeadCount) }
        if positions == .rope && headDim % 2 != 0 { try fail("head dim", "an even number for RoPE", headDim) }
        if positions == .rope, let dr = rotaryDim, !(dr > 0 && dr <= headDim && dr % 2 == 0) {
            try fail("rotary dim", "an even number from 2 to the head dim \(headDim)", dr)
        }
        if !(normEps > 0) { try fail("norm epsilon", "a positive number", normEps) }
        if let w = slidingWindow, w <= 0 { try fail("sliding window", "a positive number of positions", w) }
        if globalLayerEvery <= 0 { try fail("sliding window pattern", "a positive layer period", globalLayerEvery) }
        if let s = queryPreAttentionScalar, !(s > 0) { try fail("query_pre_attn_scalar", "a positive number", s) }
        if let b = slidingRopeBase, !(b > 0) { try fail("sliding RoPE base", "a positive number", b) }
        if !(ropeBase > 0) && positions == .rope { try fail("RoPE base", "a positive number", ropeBase) }
    }
}
