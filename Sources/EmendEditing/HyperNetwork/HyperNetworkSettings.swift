// The settings of a hyper-network editor (MEND or MALMEN) and its trainer, stored as JSON next to the weights.
// Defaults are the official MALMEN configuration (spec §4.9); presets per model live in Presets/*-malmen.json.

import Foundation

/// How per-token shifts are combined (spec §4.1).
public enum HyperNetworkMethod: String, Codable, Sendable, CaseIterable {
    /// Summed rank-1 shifts, every non-padding position cached (MALMEN paper's MEND baseline, spec §4.12).
    case mend
    /// Value differences of answer-predicting positions, combined by a ridge least-squares solve per layer.
    case malmen
}

public struct HyperNetworkSettings: Codable, Sendable, Equatable {
    public var method: HyperNetworkMethod
    /// The blocks whose MLP down-projections are edited.
    public var layers: [Int]
    /// R, the inner dimension of each block's A [S, R] and B [R, S].
    public var rank: Int = 1920
    /// Residual blocks in the network.
    public var blocks: Int = 2
    /// Initial η_l.
    public var initialEta: Float = 1e-6
    /// Adam learning rate of every editor parameter (η and log λ included).
    public var metaLearningRate: Double = 1e-5
    /// Weight of the locality KL in the meta-loss.
    public var localityWeight: Double = 1
    /// Global gradient-norm clip.
    public var maxGradNorm: Double = 1
    /// Facts edited at once per training step.
    public var factsPerStep: Int = 512
    /// Facts per language-model mini-batch.
    public var lmBatchSize: Int = 32
    /// Cached tokens per hyper-network chunk.
    public var chunkTokens: Int = 1024
    /// Validate (and checkpoint) every this many steps.
    public var validationInterval: Int = 50
    /// Facts held out for validation.
    public var validationFacts: Int = 512
    /// Stop when the validation loss has not improved for this many validations.
    public var patience: Int = 5
    public var seed: UInt64 = 0

    public init(method: HyperNetworkMethod, layers: [Int]) {
        self.method = method
        self.layers = layers
    }

    /// Checks the values make sense; names the field that does not.
    public func validate() throws {
        func fail(_ f: String, _ e: String, _ g: Any) throws -> Never {
            throw EmendEditingError.invalidSettings(field: f, expected: e, got: "\(g)")
        }
        if layers.isEmpty || Set(layers).count != layers.count { try fail("layers", "distinct block indices", layers) }
        for (name, v) in [("rank", rank), ("blocks", blocks), ("factsPerStep", factsPerStep), ("lmBatchSize", lmBatchSize),
                          ("chunkTokens", chunkTokens), ("validationInterval", validationInterval), ("patience", patience)] where v <= 0 {
            try fail(name, "a positive integer", v)
        }
        if !(initialEta.isFinite) { try fail("initialEta", "a finite number", initialEta) }
        if !(metaLearningRate > 0) { try fail("metaLearningRate", "a positive number", metaLearningRate) }
        if !(maxGradNorm > 0) { try fail("maxGradNorm", "a positive number", maxGradNorm) }
        if !(localityWeight >= 0) { try fail("localityWeight", "a non-negative number", localityWeight) }
    }
}

/// What a trained editor was trained for: a checkpoint is refused on a model with other dimensions.
public struct EditedModelShape: Codable, Sendable, Equatable {
    public var architecture: String
    public var layerCount: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var vocabSize: Int
    /// The fingerprint of the model's files, when known.
    public var fingerprint: String?
}
