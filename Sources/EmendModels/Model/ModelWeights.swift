// The weights of a decoder, as named Float32 tensors in PyTorch layout (linear weight [out, in]), and the one
// role → field table (`TensorRole.field`) that loading, export, the edit store and the summaries read.
//
// Shape legend: V vocab, D width, F FFN width, H heads, Hkv kv heads, Dh head dim, P max positions.

import EmendCore

// MARK: - Types

/// One transformer block's weights. Optional fields exist only for some block styles.
public struct BlockWeights: Sendable {
    public var attnNorm: Tensor          // [D]
    public var attnNormBias: Tensor?     // [D]            (LayerNorm)
    public var attnQ: Tensor             // [H·Dh, D]      (HF row order)
    public var attnK: Tensor             // [Hkv·Dh, D]
    public var attnV: Tensor             // [Hkv·Dh, D]
    public var attnQBias: Tensor?        // [H·Dh]
    public var attnKBias: Tensor?        // [Hkv·Dh]
    public var attnVBias: Tensor?        // [Hkv·Dh]
    public var attnOutput: Tensor        // [D, H·Dh]
    public var attnOutputBias: Tensor?   // [D]
    public var ffnNorm: Tensor?          // [D]            (sequential blocks; a parallel block's MLP reads attnNorm's output)
    public var ffnNormBias: Tensor?      // [D]
    public var ffnGate: Tensor?          // [F, D]         (gated MLP only)
    public var ffnGateBias: Tensor?      // [F]
    public var ffnUp: Tensor             // [F, D]
    public var ffnUpBias: Tensor?        // [F]
    /// The MLP down-projection: the matrix the locate-then-edit editors change. Its input is the "key".
    public var ffnDown: Tensor           // [D, F]
    public var ffnDownBias: Tensor?      // [D]
    public var attnQNorm: Tensor? = nil      // [Dh]   (QK-norm, shared by every query head)
    public var attnKNorm: Tensor? = nil      // [Dh]
    public var attnPostNorm: Tensor? = nil   // [D]    (post-norms: on the attention output before the residual)
    public var ffnPostNorm: Tensor? = nil    // [D]    (on the MLP output before the residual)
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
    /// The output head's bias (GPT-J).
    public var outputBias: Tensor? = nil   // [V]

    /// The matrix that maps the final hidden state to logits ([V, D]).
    public var outputHead: Tensor { output ?? tokenEmbedding }
}

// MARK: - The role → field table

/// Where a role's tensor lives: a field of `ModelWeights` or of every `BlockWeights`, required or optional.
enum WeightField {
    case model(WritableKeyPath<ModelWeights, Tensor>)
    case modelOptional(WritableKeyPath<ModelWeights, Tensor?>)
    case block(WritableKeyPath<BlockWeights, Tensor>)
    case blockOptional(WritableKeyPath<BlockWeights, Tensor?>)
}

extension TensorRole {
    /// The field that holds this role: the one table (loading, export, the edit store and the summaries read it).
    var field: WeightField {
        switch self {
        case .tokenEmbedding: return .model(\.tokenEmbedding)
        case .positionEmbedding: return .modelOptional(\.positionEmbedding)
        case .outputNorm: return .model(\.outputNorm)
        case .outputNormBias: return .modelOptional(\.outputNormBias)
        case .output: return .modelOptional(\.output)
        case .outputBias: return .modelOptional(\.outputBias)
        case .attnNorm: return .block(\.attnNorm)
        case .attnNormBias: return .blockOptional(\.attnNormBias)
        case .attnQ: return .block(\.attnQ)
        case .attnK: return .block(\.attnK)
        case .attnV: return .block(\.attnV)
        case .attnQBias: return .blockOptional(\.attnQBias)
        case .attnKBias: return .blockOptional(\.attnKBias)
        case .attnVBias: return .blockOptional(\.attnVBias)
        case .attnOutput: return .block(\.attnOutput)
        case .attnOutputBias: return .blockOptional(\.attnOutputBias)
        case .ffnNorm: return .blockOptional(\.ffnNorm)
        case .ffnNormBias: return .blockOptional(\.ffnNormBias)
        case .ffnGate: return .blockOptional(\.ffnGate)
        case .ffnGateBias: return .blockOptional(\.ffnGateBias)
        case .ffnUp: return .block(\.ffnUp)
        case .ffnUpBias: return .blockOptional(\.ffnUpBias)
        case .ffnDown: return .block(\.ffnDown)
        case .ffnDownBias: return .blockOptional(\.ffnDownBias)
        case .attnQNorm: return .blockOptional(\.attnQNorm)
        case .attnKNorm: return .blockOptional(\.attnKNorm)
        case .attnPostNorm: return .blockOptional(\.attnPostNorm)
        case .ffnPostNorm: return .blockOptional(\.ffnPostNorm)
        }
    }
}

extension ModelWeights {
    /// The weight of `role` in block `layer` (ignored for model-level roles), in Emend's layout ([out, in], HF Q/K
    /// row order); nil where the model has none.
    public func tensor(for role: TensorRole, layer l: Int) -> Tensor? {
        switch role.field {
        case .model(let k): return self[keyPath: k]
        case .modelOptional(let k): return self[keyPath: k]
        case .block(let k): return blocks.indices.contains(l) ? blocks[l][keyPath: k] : nil
        case .blockOptional(let k): return blocks.indices.contains(l) ? blocks[l][keyPath: k] : nil
        }
    }

    /// Puts `t` in the field of `role` in block `layer`; false (nothing changed) where the model has no such weight
    /// (an absent optional field, a block out of range). Shapes are the caller's to check.
    @discardableResult
    public mutating func setTensor(_ t: Tensor, for role: TensorRole, layer l: Int) -> Bool {
        guard tensor(for: role, layer: l) != nil else { return false }
        switch role.field {
        case .model(let k): self[keyPath: k] = t
        case .modelOptional(let k): self[keyPath: k] = t
        case .block(let k): blocks[l][keyPath: k] = t
        case .blockOptional(let k): blocks[l][keyPath: k] = t
        }
        return true
    }

    /// Weights built role by role: `tensor(role, layer)` gives each (nil for an absent optional field).
    /// - Throws: what `tensor` throws, or `missing(role, layer)` for a required field it leaves nil.
    init(layerCount: Int, tensor: (TensorRole, Int) throws -> Tensor?, missing: (TensorRole, Int) -> Error) throws {
        let empty = Tensor.zeros([0])
        let block = BlockWeights(attnNorm: empty, attnNormBias: nil, attnQ: empty, attnK: empty, attnV: empty, attnQBias: nil,
                                 attnKBias: nil, attnVBias: nil, attnOutput: empty, attnOutputBias: nil, ffnNorm: nil,
                                 ffnNormBias: nil, ffnGate: nil, ffnGateBias: nil, ffnUp: empty, ffnUpBias: nil, ffnDown: empty,
                                 ffnDownBias: nil)
        var w = ModelWeights(tokenEmbedding: empty, positionEmbedding: nil, outputNorm: empty, outputNormBias: nil, output: nil,
                             blocks: Array(repeating: block, count: layerCount))
        for role in TensorRole.allCases {
            for l in 0..<(role.isPerBlock ? layerCount : 1) {
                let t = try tensor(role, l)
                switch role.field {
                case .model(let k): guard let t else { throw missing(role, l) }; w[keyPath: k] = t
                case .modelOptional(let k): w[keyPath: k] = t
                case .block(let k): guard let t else { throw missing(role, l) }; w.blocks[l][keyPath: k] = t
                case .blockOptional(let k): w.blocks[l][keyPath: k] = t
                }
            }
        }
        self = w
    }
}

// MARK: - Shapes from the config

extension ModelWeights {
    /// The expected shape of every role for a config (nil where the role does not apply).
    public static func expectedShape(_ role: TensorRole, _ c: ModelConfig) -> [Int]? {
        let d = c.hiddenSize, f = c.intermediateSize, q = c.headCount * c.headDim, kv = c.kvHeadCount * c.headDim
        switch role {
        case .tokenEmbedding: return [c.vocabSize, d]
        case .positionEmbedding: return c.positions == .learned ? [c.maxPositions, d] : nil
        case .outputNorm, .attnNorm: return [d]
        case .ffnNorm: return c.block == .sequential ? [d] : nil
        case .outputNormBias, .attnNormBias: return c.normBias ? [d] : nil
        case .ffnNormBias: return c.normBias && c.block == .sequential ? [d] : nil
        case .output: return c.tiedEmbeddings ? nil : [c.vocabSize, d]
        case .outputBias: return c.outputBias ? [c.vocabSize] : nil
        case .attnQ: return [q, d]
        case .attnK, .attnV: return [kv, d]
        case .attnQBias: return c.attentionBias ? [q] : nil
        case .attnKBias, .attnVBias: return c.attentionBias ? [kv] : nil
        case .attnOutput: return [d, q]
        case .attnOutputBias: return c.attentionOutputBias ? [d] : nil
        case .ffnGate: return c.gatedMLP ? [f, d] : nil
        case .ffnGateBias: return c.gatedMLP && c.mlpBias ? [f] : nil
        case .ffnUp: return [f, d]
        case .ffnUpBias: return c.mlpBias ? [f] : nil
        case .ffnDown: return [d, f]
        case .ffnDownBias: return c.mlpBias ? [d] : nil
        case .attnQNorm, .attnKNorm: return c.qkNorm ? [c.headDim] : nil
        case .attnPostNorm, .ffnPostNorm: return c.postNorms ? [d] : nil
        }
    }

    /// Random weights of the right shapes (seeded), for tests and for speed runs without a download.
    public static func random(_ c: ModelConfig, seed: UInt64, std: Float = 0.02) -> ModelWeights {
        var rng = SeededGenerator(seed: seed)
        // Drawn in this order (blocks first, each in field order, then the model-level roles), so that a seed gives
        // the same weights as it always has.
        let blockOrder: [TensorRole] = [.attnNorm, .attnNormBias, .attnQ, .attnK, .attnV, .attnQBias, .attnKBias, .attnVBias,
                                        .attnOutput, .attnOutputBias, .ffnNorm, .ffnNormBias, .ffnGate, .ffnGateBias, .ffnUp,
                                        .ffnUpBias, .ffnDown, .ffnDownBias, .attnQNorm, .attnKNorm, .attnPostNorm, .ffnPostNorm]
        let modelOrder: [TensorRole] = [.tokenEmbedding, .positionEmbedding, .outputNorm, .outputNormBias, .output, .outputBias]
        var drawn: [String: Tensor] = [:]
        for (role, l) in (0..<c.layerCount).flatMap({ l in blockOrder.map { ($0, l) } }) + modelOrder.map({ ($0, 0) }) {
            guard let s = expectedShape(role, c) else { continue }
            switch role {
            case .outputNorm, .attnNorm, .ffnNorm, .attnQNorm, .attnKNorm, .attnPostNorm, .ffnPostNorm: drawn["\(role)/\(l)"] = Tensor.ones(s)
            default: drawn["\(role)/\(l)"] = Tensor.randomNormal(s, std: std, using: &rng)
            }
        }
        let weights = try? ModelWeights(layerCount: c.layerCount, tensor: { role, l in drawn["\(role)/\(l)"] },
                                        missing: { role, _ in EmendModelsError.tensorNotFound(file: "random weights", tensor: role.rawValue) })
        // Every required role has a shape for every config, so the builder cannot fail; an empty model if it did.
        return weights ?? ModelWeights(tokenEmbedding: .zeros([0]), positionEmbedding: nil, outputNorm: .zeros([0]),
                                       outputNormBias: nil, output: nil, blocks: [])
    }
}
