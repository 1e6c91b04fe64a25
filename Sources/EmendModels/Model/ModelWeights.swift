// The weights of a decoder, as named Float32 tensors in PyTorch layout (linear weight [out, in]).
//
// Shape legend: V vocab, D width, F FFN width, H heads, Hkv kv heads, Dh head dim, P max positions.

import EmendCore

/// One transformer block's weights. Optional fields exist only for some block styles.
public struct BlockWeights: Sendable {
    public var attnNorm: Tensor          // [D]
    public var attnNormBias: Tensor?     // [D]            (LayerNorm)
    public var attnQ: Tensor             // [H·Dh, D]      (HF row order: rotate_half RoPE)
    public var attnK: Tensor             // [Hkv·Dh, D]
    public var attnV: Tensor             // [Hkv·Dh, D]
    public var attnQBias: Tensor?        // [H·Dh]
    public var attnKBias: Tensor?        // [Hkv·Dh]
    public var attnVBias: Tensor?        // [Hkv·Dh]
    public var attnOutput: Tensor        // [D, H·Dh]
    public var attnOutputBias: Tensor?   // [D]
    public var ffnNorm: Tensor           // [D]
    public var ffnNormBias: Tensor?      // [D]
    public var ffnGate: Tensor?          // [F, D]         (gated MLP only)
    public var ffnGateBias: Tensor?      // [F]
    public var ffnUp: Tensor             // [F, D]
    public var ffnUpBias: Tensor?        // [F]
    /// The MLP down-projection: the matrix the locate-then-edit editors change. Its input is the "key".
    public var ffnDown: Tensor           // [D, F]
    public var ffnDownBias: Tensor?      // [D]
}

/// All weights of a decoder.
public struct ModelWeights: Sendable {
    public var tokenEmbedding: Tensor      // [V, D]
    public var positionEmbedding: Tensor?  // [P, D]   (learned positions only)
    public var outputNorm: Tensor          // [D]
    public var outputNormBias: Tensor?     // [D]
    /// The output head; nil when tied to `tokenEmbedding`.
    public var output: Tensor?             // [V, D]
    public var blocks: [BlockWeights]

    /// The matrix that maps the final hidden state to logits ([V, D]).
    public var outputHead: Tensor { output ?? tokenEmbedding }

    /// The expected shape of every role for a config (nil where the role does not apply).
    public static func expectedShape(_ role: TensorRole, _ c: ModelConfig) -> [Int]? {
        let d = c.hiddenSize, f = c.intermediateSize, q = c.headCount * c.headDim, kv = c.kvHeadCount * c.headDim
        switch role {
        case .tokenEmbedding: return [c.vocabSize, d]
        case .positionEmbedding: return c.positions == .learned ? [c.maxPositions, d] : nil
        case .outputNorm, .attnNorm, .ffnNorm: return [d]
        case .outputNormBias, .attnNormBias, .ffnNormBias: return c.normBias ? [d] : nil
        case .output: return c.tiedEmbeddings ? nil : [c.vocabSize, d]
        case .attnQ: return [q, d]
        case .attnK, .attnV: return [kv, d]
        case .attnQBias: return c.attentionBias ? [q] : nil
        case .attnKBias, .attnVBias: return c.attentionBias ? [kv] : nil
        case .attnQKV, .attnQKVBias: return nil   // split into Q, K, V at load
        case .attnOutput: return [d, q]
        case .attnOutputBias: return c.attentionOutputBias ? [d] : nil
        case .ffnGate: return c.gatedMLP ? [f, d] : nil
        case .ffnGateBias: return c.gatedMLP && c.mlpBias ? [f] : nil
        case .ffnUp: return [f, d]
        case .ffnUpBias: return c.mlpBias ? [f] : nil
        case .ffnDown: return [d, f]
        case .ffnDownBias: return c.mlpBias ? [d] : nil
        }
    }

    /// Random weights of the right shapes (seeded), for tests and for speed runs without a download.
    public static func random(_ c: ModelConfig, seed: UInt64, std: Float = 0.02) -> ModelWeights {
        var rng = SeededGenerator(seed: seed)
        func t(_ role: TensorRole) -> Tensor? {
            guard let s = expectedShape(role, c) else { return nil }
            switch role {
            case .outputNorm, .attnNorm, .ffnNorm: return Tensor.ones(s)
            default: return Tensor.randomNormal(s, std: std, using: &rng)
            }
        }
        func must(_ role: TensorRole) -> Tensor { t(role) ?? Tensor.zeros([0]) }
        let blocks = (0..<c.layerCount).map { _ in
            BlockWeights(attnNorm: must(.attnNorm), attnNormBias: t(.attnNormBias), attnQ: must(.attnQ), attnK: must(.attnK),
                         attnV: must(.attnV), attnQBias: t(.attnQBias), attnKBias: t(.attnKBias), attnVBias: t(.attnVBias),
                         attnOutput: must(.attnOutput), attnOutputBias: t(.attnOutputBias), ffnNorm: must(.ffnNorm),
                         ffnNormBias: t(.ffnNormBias), ffnGate: t(.ffnGate), ffnGateBias: t(.ffnGateBias), ffnUp: must(.ffnUp),
                         ffnUpBias: t(.ffnUpBias), ffnDown: must(.ffnDown), ffnDownBias: t(.ffnDownBias))
        }
        return ModelWeights(tokenEmbedding: must(.tokenEmbedding), positionEmbedding: t(.positionEmbedding),
                            outputNorm: must(.outputNorm), outputNormBias: t(.outputNormBias), output: t(.output),
                            blocks: blocks)
    }
}
