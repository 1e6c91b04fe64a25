// A hyper-network editor at work (spec §4.2, §4.4, §4.8, §4.12): cache (u, δ) of the edit tuples, map them through
// the editor network, and combine the per-token shifts of each edited down-projection:
//
//   MEND:    S = −η_l Σ_j ũ_j δ̃_jᵀ                                   [F, Dm]
//   MALMEN:  d_j = −η_l ⟨u_j, ũ_j⟩ δ̃_j,   S* = (UᵀU + λ_l I)⁻¹ UᵀD   (LeastSquaresShift)
//
// and W_down [Dm, F] += Sᵀ on a copy of the model (the unedited weights stay the master copy, spec §4.11 quirk 3).
// The network runs over the cached tokens in chunks, so memory is bounded by the chunk, not by the facts.

import EmendCore
import EmendModels
import Foundation

/// Cached rows of one edited layer: keys [n, F] and value gradients [n, Dm], in mini-batch pieces.
public struct TokenCache: Sendable {
    public var keys: [Tensor] = []
    public var valueGradients: [Tensor] = []
    public var rowCount: Int { keys.reduce(0) { $0 + $1.dim(0) } }

    public init() {}

    /// All rows in chunks of at most `size`: (keys, value gradients) pairs.
    public func chunks(of size: Int) -> [(keys: Tensor, values: Tensor)] {
        guard !keys.isEmpty else { return [] }
        let k = concatenate(keys, axis: 0), v = concatenate(valueGradients, axis: 0)
        return stride(from: 0, to: k.dim(0), by: size).map { s in
            let r = s..<min(s + size, k.dim(0))
            return (k.rows(r), v.rows(r))
        }
    }
}

/// The shift of one edited layer and what the trainer's backward pass needs.
public struct LayerShift: Sendable {
    /// S [F, Dm].
    public var shift: Tensor
    /// MALMEN's solve (nil for MEND).
    public var solve: LeastSquaresShift?
}

/// A MEND or MALMEN editor: settings, network parameters and frozen-or-running input statistics.
public struct HyperNetworkEditor: Sendable {
    public var settings: HyperNetworkSettings
    public var parameters: EditorParameters
    public var normalizer: RunningNormalizer
    /// The model the editor belongs to.
    public var modelShape: EditedModelShape
    /// F and Dm of the edited matrices.
    public var keyWidth: Int { modelShape.intermediateSize }
    public var valueWidth: Int { modelShape.hiddenSize }

    /// A fresh, identity-initialised editor for `model`.
    public init(settings: HyperNetworkSettings, model: TransformerModel, fingerprint: String? = nil) throws {
        try settings.validate()
        let c = model.config
        for l in settings.layers where l < 0 || l >= c.layerCount { throw EmendEditingError.layerOutOfRange(layer: l, layerCount: c.layerCount) }
        self.settings = settings
        self.modelShape = EditedModelShape(architecture: c.architecture, layerCount: c.layerCount, hiddenSize: c.hiddenSize,
                                           intermediateSize: c.intermediateSize, vocabSize: c.vocabSize, fingerprint: fingerprint)
        let size = c.intermediateSize + c.hiddenSize
        parameters = .identity(size: size, rank: settings.rank, blocks: settings.blocks, modules: settings.layers.count,
                               eta: settings.initialEta, seed: settings.seed)
        normalizer = RunningNormalizer(size: size)
    }

    public init(settings: HyperNetworkSettings, parameters: EditorParameters, normalizer: RunningNormalizer, modelShape: EditedModelShape) {
        self.settings = settings; self.parameters = parameters; self.normalizer = normalizer; self.modelShape = modelShape
    }

    /// Refuses a model the editor was not built for (before any weight changes).
    public func checkCompatible(with model: TransformerModel, fingerprint: String? = nil) throws {
        let c = model.config
        let got = "\(c.architecture), \(c.layerCount) layers, D \(c.hiddenSize), F \(c.intermediateSize), V \(c.vocabSize)"
        let want = "\(modelShape.architecture), \(modelShape.layerCount) layers, D \(modelShape.hiddenSize), F \(modelShape.intermediateSize), V \(modelShape.vocabSize)"
        if got != want { throw EmendEditingError.notEditable(reason: "the editor was trained for a model with \(want), this one has \(got)") }
        if let a = modelShape.fingerprint, let b = fingerprint, a != b {
            throw EmendEditingError.notEditable(reason: "the editor was trained on model files with fingerprint \(a), these have \(b)")
        }
    }

    // MARK: - Step 1: caching (u, δ)

    /// The rows of a traced mini-batch that are cached: answer-predicting positions (MALMEN) or all (MEND).
    func cachedRows(_ trace: LayerTrace, rowCount: Int) -> [Int] {
        settings.method == .malmen ? trace.labelledRows : Array(0..<rowCount)
    }

    /// Caches keys and value gradients of the edit sequences, mini-batch by mini-batch; updates the input statistics
    /// when `updateStatistics` (training).
    public mutating func cache(_ model: TransformerModel, edits: [LabelledSequence], updateStatistics: Bool) -> [Int: TokenCache] {
        var caches: [Int: TokenCache] = [:]
        for s in stride(from: 0, to: edits.count, by: settings.lmBatchSize) {
            let mb = Array(edits[s..<min(s + settings.lmBatchSize, edits.count)])
            let t = model.traceLayers(mb, layers: settings.layers, loss: .crossEntropy)
            let rows = cachedRows(t, rowCount: mb.reduce(0) { $0 + $1.ids.count })
            // The loss is a mean over the mini-batch's answer tokens, so δ carries 1/(tokens in the mini-batch). A
            // short last mini-batch (or a single fact) would give δ many times the scale the editor was trained on;
            // count it as a full mini-batch whose missing facts contribute nothing (factor facts/lmBatchSize; 1 for
            // every full mini-batch, so training on full mini-batches is the official recipe unchanged).
            let scale = Float(mb.count) / Float(settings.lmBatchSize)
            for l in settings.layers {
                guard let k = t.keys[l], let g = t.valueGradients[l] else { continue }
                let keys = k.gatherRows(rows), grads = scale == 1 ? g.gatherRows(rows) : g.gatherRows(rows) * scale
                caches[l, default: TokenCache()].keys.append(keys)
                caches[l, default: TokenCache()].valueGradients.append(grads)
                if updateStatistics { normalizer.update(concatenate([keys, grads], axis: 1)) }
            }
        }
        return caches
    }

    // MARK: - Step 2: the network and the shifts

    /// The module index of an edited layer.
    func module(_ layer: Int) -> Int { settings.layers.firstIndex(of: layer) ?? 0 }

    /// (ũ [c, F], δ̃ [c, Dm]) of a chunk; fills `trace` for back-propagation.
    func pseudo(_ m: Int, keys: Tensor, values: Tensor, trace: inout EditorTrace?) -> (Tensor, Tensor) {
        let h0 = normalizer.apply(concatenate([keys, values], axis: 1))
        let h = EditorNetwork.forward(parameters, module: m, h0, trace: &trace)
        return (h.sliced(axis: 1, 0..<keyWidth), h.sliced(axis: 1, keyWidth..<(keyWidth + valueWidth)))
    }

    /// MALMEN's coefficients c_j = −η ⟨u_j, ũ_j⟩: [c].
    static func coefficients(eta: Float, keys: Tensor, pseudoKeys: Tensor) -> Tensor {
        (keys * pseudoKeys).sum(axis: 1) * (-eta)
    }

    /// The shift of every edited layer from its caches.
    public func shifts(_ caches: [Int: TokenCache]) throws -> [Int: LayerShift] {
        var out: [Int: LayerShift] = [:]
        for l in settings.layers {
            let m = module(l), eta = parameters.eta.scalars[m]
            let chunks = caches[l]?.chunks(of: settings.chunkTokens) ?? []
            var none: EditorTrace? = nil
            switch settings.method {
            case .mend:
                var s = Tensor.zeros([keyWidth, valueWidth])
                for (k, v) in chunks {
                    let (pu, pd) = pseudo(m, keys: k, values: v, trace: &none)
                    s += matmul(pu, pd, transposeA: true) * (-eta)
                }
                out[l] = LayerShift(shift: s, solve: nil)
            case .malmen:
                var dRows: [Tensor] = []
                for (k, v) in chunks {
                    let (pu, pd) = pseudo(m, keys: k, values: v, trace: &none)
                    let c = Self.coefficients(eta: eta, keys: k, pseudoKeys: pu)
                    dRows.append(pd * c.reshaped([c.count, 1]))
                }
                guard !dRows.isEmpty else { out[l] = LayerShift(shift: Tensor.zeros([keyWidth, valueWidth]), solve: nil); continue }
                let u = try Matrix64(concatenate(caches[l]!.keys, axis: 0))
                let d = try Matrix64(concatenate(dRows, axis: 0))
                let lambda = Double(Foundation.exp(parameters.logLambda.scalars[m]))
                let solve = try LeastSquaresShift(keys: u, values: d, lambda: lambda)
                out[l] = LayerShift(shift: Tensor(solve.shift), solve: solve)
            }
            if let s = out[l], !s.shift.scalars.allSatisfy({ $0.isFinite }) { throw EmendEditingError.nonFiniteUpdate(layer: l, what: "the editor's shift") }
        }
        return out
    }

    /// A copy of `model` with every shift added (W_down += Sᵀ).
    public static func applying(_ shifts: [Int: LayerShift], to model: TransformerModel) -> TransformerModel {
        var edited = model
        for (l, s) in shifts { edited.weights.blocks[l].ffnDown += s.shift.transposed() }
        return edited
    }

    /// Edits `model` with facts (prompt + answer sequences): cache, shifts, apply. Statistics stay frozen.
    public func edit(_ model: TransformerModel, edits: [LabelledSequence]) throws -> (model: TransformerModel, shifts: [Int: LayerShift]) {
        try checkCompatible(with: model)
        var frozen = self
        let caches = frozen.cache(model, edits: edits, updateStatistics: false)
        let s = try shifts(caches)
        return (Self.applying(s, to: model), s)
    }
}
