// The weights of a decoder in PyTorch layout (linear weight [out, in]), and the one role → field table
// (`TensorRole.field`) that loading, export, the edit store and the summaries read. Weight matrices are
// `WeightMatrix`es: stored blocks mapped from the model file (Q4_K, Q8_0, BF16, …) or Float32 (an edited matrix, a
// type without kernels); norms, biases and learned positions are Float32 tensors.
//
// Shape legend: V vocab, D width, F FFN width, H heads, Hkv kv heads, Dh head dim, P max positions.

import EmendCore

// MARK: - Types

/// One transformer block's weights. Optional fields exist only for some block styles.
public struct BlockWeights: Sendable {
    public var attnNorm: Tensor          // [D]
    public var attnNormBias: Tensor?     // [D]            (LayerNorm)
    public var attnQ: WeightMatrix          // [H·Dh, D]      (HF row order)
    public var attnK: WeightMatrix          // [Hkv·Dh, D]
    public var attnV: WeightMatrix          // [Hkv·Dh, D]
    public var attnQBias: Tensor?        // [H·Dh]
    public var attnKBias: Tensor?        // [Hkv·Dh]
    public var attnVBias: Tensor?        // [Hkv·Dh]
    public var attnOutput: WeightMatrix     // [D, H·Dh]
    public var attnOutputBias: Tensor?   // [D]
    public var ffnNorm: Tensor?          // [D]            (sequential blocks; a parallel block's MLP reads attnNorm's output)
    public var ffnNormBias: Tensor?      // [D]
    public var ffnGate: WeightMatrix?       // [F, D]         (gated MLP only)
    public var ffnGateBias: Tensor?      // [F]
    public var ffnUp: WeightMatrix          // [F, D]
    public var ffnUpBias: Tensor?        // [F]
    /// The MLP down-projection: the matrix the locate-then-edit editors change. Its input is the "key".
    public var ffnDown: WeightMatrix        // [D, F]
    public var ffnDownBias: Tensor?      // [D]
    public var attnQNorm: Tensor? = nil      // [Dh]   (QK-norm, shared by every query head)
    public var attnKNorm: Tensor? = nil      // [Dh]
    public var attnPostNorm: Tensor? = nil   // [D]    (post-norms: on the attention output before the residual)
    public var ffnPostNorm: Tensor? = nil    // [D]    (on the MLP output before the residual)
}

/// All weights of a decoder.
public struct ModelWeights: Sendable {
    public var tokenEmbedding: WeightMatrix // [V, D]
    public var positionEmbedding: Tensor?  // [P, D]   (learned positions only)
    public var outputNorm: Tensor          // [D]
    public var outputNormBias: Tensor?     // [D]
    /// The output head; nil when tied to `tokenEmbedding`.
    public var output: WeightMatrix?        // [V, D]
    public var blocks: [BlockWeights]
    /// The output head's bias (GPT-J).
    public var outputBias: Tensor? = nil   // [V]

    /// The matrix that maps the final hidden state to logits ([V, D]).
    public var outputHead: WeightMatrix { output ?? tokenEmbedding }
}

// MARK: - The role → field table

/// A weight as the role → field table hands it out: a matrix (linear layers, embeddings, the head) or a Float32
/// tensor (norms, biases, learned positions).
public enum Weight: Sendable {
    case matrix(WeightMatrix)
    case tensor(Tensor)

    /// The weight in Float32 (a stored matrix is dequantised whole: for export and summaries, not for products).
    public var dense: Tensor {
        switch self {
        case .matrix(let m): return m.dequantized()
        case .tensor(let t): return t
        }
    }

    public var shape: [Int] {
        switch self {
        case .matrix(let m): return m.shape
        case .tensor(let t): return t.shape
        }
    }
}

/// Where a role's weight lives: a field of `ModelWeights` or of every `BlockWeights`, a matrix or a tensor,
/// required or optional.
enum WeightField {
    case model(WritableKeyPath<ModelWeights, Tensor>)
    case modelOptional(WritableKeyPath<ModelWeights, Tensor?>)
    case modelMatrix(WritableKeyPath<ModelWeights, WeightMatrix>)
    case modelMatrixOptional(WritableKeyPath<ModelWeights, WeightMatrix?>)
    case block(WritableKeyPath<BlockWeights, Tensor>)
    case blockOptional(WritableKeyPath<BlockWeights, Tensor?>)
    case blockMatrix(WritableKeyPath<BlockWeights, WeightMatrix>)
    case blockMatrixOptional(WritableKeyPath<BlockWeights, WeightMatrix?>)
}

extension TensorRole {
    /// The field that holds this role: the one table (loading, export, the edit store and the summaries read it).
    var field: WeightField {
        switch self {
        case .tokenEmbedding: return .modelMatrix(\.tokenEmbedding)
        case .positionEmbedding: return .modelOptional(\.positionEmbedding)
        case .outputNorm: return .model(\.outputNorm)
        case .outputNormBias: return .modelOptional(\.outputNormBias)
        case .output: return .modelMatrixOptional(\.output)
        case .outputBias: return .modelOptional(\.outputBias)
        case .attnNorm: return .block(\.attnNorm)
        case .attnNormBias: return .blockOptional(\.attnNormBias)
        case .attnQ: return .blockMatrix(\.attnQ)
        case .attnK: return .blockMatrix(\.attnK)
        case .attnV: return .blockMatrix(\.attnV)
        case .attnQBias: return .blockOptional(\.attnQBias)
        case .attnKBias: return .blockOptional(\.attnKBias)
        case .attnVBias: return .blockOptional(\.attnVBias)
        case .attnOutput: return .blockMatrix(\.attnOutput)
        case .attnOutputBias: return .blockOptional(\.attnOutputBias)
        case .ffnNorm: return .blockOptional(\.ffnNorm)
        case .ffnNormBias: return .blockOptional(\.ffnNormBias)
        case .ffnGate: return .blockMatrixOptional(\.ffnGate)
        case .ffnGateBias: return .blockOptional(\.ffnGateBias)
        case .ffnUp: return .blockMatrix(\.ffnUp)
        case .ffnUpBias: return .blockOptional(\.ffnUpBias)
        case .ffnDown: return .blockMatrix(\.ffnDown)
        case .ffnDownBias: return .blockOptional(\.ffnDownBias)
        case .attnQNorm: return .blockOptional(\.attnQNorm)
        case .attnKNorm: return .blockOptional(\.attnKNorm)
        case .attnPostNorm: return .blockOptional(\.attnPostNorm)
        case .ffnPostNorm: return .blockOptional(\.ffnPostNorm)
        }
    }

    /// True for the roles held as `WeightMatrix` (linear layers, embeddings, the head).
    public var isMatrix: Bool {
        switch field {
        case .modelMatrix, .modelMatrixOptional, .blockMatrix, .blockMatrixOptional: return true
        case .model, .modelOptional, .block, .blockOptional: return false
        }
    }
}

extension ModelWeights {
    /// The weight of `role` in block `layer` (ignored for model-level roles), in Emend's layout ([out, in], HF Q/K
    /// row order); nil where the model has none.
    public func weight(for role: TensorRole, layer l: Int) -> Weight? {
        let inRange = blocks.indices.contains(l)
        switch role.field {
        case .model(let k): return .tensor(self[keyPath: k])
        case .modelOptional(let k): return self[keyPath: k].map(Weight.tensor)
        case .modelMatrix(let k): return .matrix(self[keyPath: k])
        case .modelMatrixOptional(let k): return self[keyPath: k].map(Weight.matrix)
        case .block(let k): return inRange ? .tensor(blocks[l][keyPath: k]) : nil
        case .blockOptional(let k): return inRange ? blocks[l][keyPath: k].map(Weight.tensor) : nil
        case .blockMatrix(let k): return inRange ? .matrix(blocks[l][keyPath: k]) : nil
        case .blockMatrixOptional(let k): return inRange ? blocks[l][keyPath: k].map(Weight.matrix) : nil
        }
    }

    /// Bytes the weight matrices occupy in memory as held (stored blocks or Float32; a tied head counted once).
    public var matrixBytes: Int {
        TensorRole.allCases.filter(\.isMatrix).reduce(0) { sum, role in
            sum + (0..<(role.isPerBlock ? blocks.count : 1)).reduce(0) { $0 + (matrix(for: role, layer: $1)?.weightBytes ?? 0) }
        }
    }

    /// The weight of `role` in Float32 (a stored matrix dequantised whole; see `weight(for:layer:)`).
    public func tensor(for role: TensorRole, layer l: Int) -> Tensor? { weight(for: role, layer: l)?.dense }

    /// The matrix of a matrix role (nil for the other roles and where the model has none).
    public func matrix(for role: TensorRole, layer l: Int) -> WeightMatrix? {
        if case .matrix(let m)? = weight(for: role, layer: l) { return m }
        return nil
    }

    /// Puts `w` in the field of `role` in block `layer` (a tensor given to a matrix field becomes a Float32
    /// matrix); false (nothing changed) where the model has no such weight (an absent optional field, a block out of
    /// range) or `w` is a matrix for a tensor field. Shapes are the caller's to check.
    @discardableResult
    public mutating func setWeight(_ w: Weight, for role: TensorRole, layer l: Int) -> Bool {
        guard weight(for: role, layer: l) != nil else { return false }
        return place(w, role, l)
    }

    /// `setWeight(.tensor(t), …)`.
    @discardableResult
    public mutating func setTensor(_ t: Tensor, for role: TensorRole, layer l: Int) -> Bool {
        setWeight(.tensor(t), for: role, layer: l)
    }

    /// Writes `w` into `role`'s field unconditionally (block `l` must exist); false when a matrix meets a tensor field.
    private mutating func place(_ w: Weight, _ role: TensorRole, _ l: Int) -> Bool {
        var m: WeightMatrix {
            switch w {
            case .matrix(let x): return x
            case .tensor(let t): return WeightMatrix(t)
            }
        }
        switch (role.field, w) {
        case (.model(let k), .tensor(let t)): self[keyPath: k] = t
        case (.modelOptional(let k), .tensor(let t)): self[keyPath: k] = t
        case (.block(let k), .tensor(let t)): blocks[l][keyPath: k] = t
        case (.blockOptional(let k), .tensor(let t)): blocks[l][keyPath: k] = t
        case (.modelMatrix(let k), _): self[keyPath: k] = m
        case (.modelMatrixOptional(let k), _): self[keyPath: k] = m
        case (.blockMatrix(let k), _): blocks[l][keyPath: k] = m
        case (.blockMatrixOptional(let k), _): blocks[l][keyPath: k] = m
        case (.model, .matrix), (.modelOptional, .matrix), (.block, .matrix), (.blockOptional, .matrix): return false
        }
        return true
    }

    /// Weights built role by role: `weight(role, layer)` gives each (nil for an absent optional field).
    /// - Throws: what `weight` throws, or `missing(role, layer)` for a required field it leaves nil.
    init(layerCount: Int, weight: (TensorRole, Int) throws -> Weight?, missing: (TensorRole, Int) -> Error) throws {
        let empty = Tensor.zeros([0]), emptyMatrix = WeightMatrix(Tensor.zeros([0, 0]))
        let block = BlockWeights(attnNorm: empty, attnNormBias: nil, attnQ: emptyMatrix, attnK: emptyMatrix, attnV: emptyMatrix,
                                 attnQBias: nil, attnKBias: nil, attnVBias: nil, attnOutput: emptyMatrix, attnOutputBias: nil,
                                 ffnNorm: nil, ffnNormBias: nil, ffnGate: nil, ffnGateBias: nil, ffnUp: emptyMatrix, ffnUpBias: nil,
                                 ffnDown: emptyMatrix, ffnDownBias: nil)
        var w = ModelWeights(tokenEmbedding: emptyMatrix, positionEmbedding: nil, outputNorm: empty, outputNormBias: nil,
                             output: nil, blocks: Array(repeating: block, count: layerCount))
        for role in TensorRole.allCases {
            for l in 0..<(role.isPerBlock ? layerCount : 1) {
                guard let x = try weight(role, l) else {
                    switch role.field {
                    case .model, .modelMatrix, .block, .blockMatrix: throw missing(role, l)
                    default: continue
                    }
                }
                guard w.place(x, role, l) else { throw missing(role, l) }
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
        let weights = try? ModelWeights(layerCount: c.layerCount, weight: { role, l in drawn["\(role)/\(l)"].map(Weight.tensor) },
                                        missing: { role, _ in EmendModelsError.tensorNotFound(file: "random weights", tensor: role.rawValue) })
        // Every required role has a shape for every config, so the builder cannot fail; an empty model if it did.
        return weights ?? ModelWeights(tokenEmbedding: WeightMatrix(.zeros([0, 0])), positionEmbedding: nil, outputNorm: .zeros([0]),
                                       outputNormBias: nil, output: nil, blocks: [])
    }
}
