// The hyper-parameters of a decoder-only transformer, read from GGUF metadata or a Hugging Face
// `config.json`. One config drives both supported block styles:
//   Llama-style: RMSNorm, RoPE, grouped-query attention, gated (SwiGLU) MLP, optional q/k/v biases (Qwen2).
//   GPT-2-style: LayerNorm, learned positions, GELU MLP, biases everywhere.
//
// Shape legend: D width, F FFN width, V vocab, L layers, H heads, Hkv key/value heads, Dh head dim.

import EmendCore
import Foundation

public enum NormKind: String, Codable, Sendable { case rms, layer }
public enum PositionKind: String, Codable, Sendable { case rope, learned }
public enum Activation: String, Codable, Sendable { case silu, geluTanh, geluErf }

/// Everything the decoder needs to know about a model's shape and numerics.
public struct ModelConfig: Codable, Sendable, Equatable {
    /// The family that names the tensors and picks the block style ("llama", "gpt2", "qwen2", "mistral").
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
        if !(normEps > 0) { try fail("norm epsilon", "a positive number", normEps) }
    }
}

// MARK: - Block styles as data

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
