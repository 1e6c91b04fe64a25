// The hyper-parameters of a decoder-only transformer, read from GGUF metadata or a Hugging Face
// `config.json` by its family (Families/). One config drives every block the families make:
//   Llama-style: RMSNorm, RoPE, grouped-query attention, gated (SwiGLU) MLP, optional q/k/v biases (Qwen2).
//   GPT-2-style: LayerNorm, learned positions, GELU MLP, biases everywhere.
//   GPT-J-style: one LayerNorm feeding attention and MLP in parallel, RoPE on the first `rotaryDim` dims of each
//                head in interleaved pairs, GELU MLP with biases, untied output head with a bias.
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

    /// Attention logits scale 1/√Dh.
    public var attentionScale: Float { 1 / Float(headDim).squareRoot() }
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
    }
}
