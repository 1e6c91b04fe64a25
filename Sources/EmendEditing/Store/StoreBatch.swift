// What a batch hands to the edit store: editor-agnostic. Any editor (locate-then-edit, hyper-network) commits
// the requests it applied, the new values of the matrices it changed, the keys it added to a layer's sequential
// state (if it has one), and what it measured. The store journals it and keeps the tensors exact.
//
// Shape legend: D width, F FFN width, n requests in the batch.

import EmendCore
import EmendModels
import Foundation

/// One applied request with what the editor found for it.
public struct StoredRequest: Sendable, Equatable {
    public var request: EditRequest
    /// Optimisation steps spent on this request (target search), if the editor searches.
    public var searchSteps: Int?
    /// Loss values of this request (e.g. the final search loss), in the editor's own units.
    public var losses: [Float]

    public init(request: EditRequest, searchSteps: Int? = nil, losses: [Float] = []) {
        self.request = request; self.searchSteps = searchSteps; self.losses = losses
    }
}

/// One batch, ready to commit.
public struct StoreBatch: Sendable {
    /// The method's name ("encore", "memit", "mend", …).
    public var method: String
    /// The hyper-parameters, as JSON (e.g. the preset).
    public var hyperParameters: String
    public var requests: [StoredRequest]
    /// The new value of every weight this batch changed, by store name (`EditStore.weightName`): [out, in]
    public var weights: [String: Tensor]
    /// Per layer, the keys K [F, n] this batch added to the layer's state (Kp Kpᵀ += K Kᵀ); empty for
    /// editors without sequential state.
    public var stateKeys: [Int: Matrix64]
    /// Per-batch metrics (norms, timings, …).
    public var metrics: [String: Double]
    /// Marks earlier requests with the same subject and relation as superseded by this batch (`--on-duplicate replace`).
    public var supersedes: Bool

    public init(method: String, hyperParameters: String, requests: [StoredRequest], weights: [String: Tensor],
                stateKeys: [Int: Matrix64] = [:], metrics: [String: Double] = [:], supersedes: Bool = false) {
        self.method = method; self.hyperParameters = hyperParameters; self.requests = requests; self.weights = weights
        self.stateKeys = stateKeys; self.metrics = metrics; self.supersedes = supersedes
    }
}

/// The edited part of a model at one version: every weight changed since the base model, and the sequential state.
public struct StoreSnapshot: Sendable, Equatable {
    public var version: Int
    /// Current values of the weights edited so far, by store name: [out, in]
    public var weights: [String: Tensor]
    /// Per layer: Kp Kpᵀ [F, F] and the number of keys in it.
    public var states: [Int: LayerEditState]

    public init(version: Int, weights: [String: Tensor] = [:], states: [Int: LayerEditState] = [:]) {
        self.version = version; self.weights = weights; self.states = states
    }

    /// SHA-256 over the weights (sorted by name: name, shape, Float32 bytes).
    public var weightsChecksum: String {
        var h = Checksum()
        for name in weights.keys.sorted() {
            let t = weights[name]!
            h.update(Data("\(name)|\(t.shape)|".utf8))
            t.scalars.withUnsafeBytes { h.update($0) }
        }
        return h.finalizeHex()
    }

    /// SHA-256 over the state (by layer: layer, key count, Float64 bytes of Kp Kpᵀ).
    public var stateChecksum: String {
        var h = Checksum()
        for l in states.keys.sorted() {
            let s = states[l]!, g = s.previousKeysGram        // formed once from a factored state
            h.update(Data("\(l)|\(s.editCount)|\(g.rows)x\(g.cols)|".utf8))
            g.scalars.withUnsafeBytes { h.update($0) }
        }
        return h.finalizeHex()
    }

    /// This snapshot advanced by one batch: its weights replace, its keys are added to the state.
    public func applying(_ batch: StoreBatch) throws -> StoreSnapshot {
        var next = self
        next.version += 1
        for (name, w) in batch.weights { next.weights[name] = w }
        for l in batch.stateKeys.keys.sorted() {
            let k = batch.stateKeys[l]!
            var s = next.states[l] ?? LayerEditState(width: k.rows)
            try s.add(keys: k)
            next.states[l] = s
        }
        return next
    }
}

// MARK: - Request identity

extension EditRequest {
    /// Identifies the fact (prompt, subject, old and new target): a request with the same key is already applied.
    public var storeKey: String {
        Checksum.hex(Data([prompt, subject, targetNew, targetTrue ?? ""].joined(separator: "\u{1F}").utf8))
    }

    /// The subject and relation (the prompt template) this request edits; two requests with the same one re-edit
    /// the same fact. Case and surrounding spaces of the subject are ignored.
    public var relationKey: String {
        subject.trimmingCharacters(in: .whitespaces).lowercased() + "\u{1F}" + prompt.trimmingCharacters(in: .whitespaces)
    }
}
