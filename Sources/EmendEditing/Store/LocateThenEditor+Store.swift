// The locate-then-edit editor going through the edit store: a batch applied and packaged as a `StoreBatch`
// (the new ffn_down of each edited layer, the keys added to each layer's state, the report), and an editor
// resumed at a store version (its weights and state put back exactly).

import EmendCore
import EmendModels
import Foundation

extension LocateThenEditor {
    /// Applies one batch and returns what the store journals for it.
    /// - supersedes: the batch replaces earlier edits of the same subject and relation (`--on-duplicate replace`).
    public mutating func applyForStore(_ requests: [EditRequest], file: String = "(requests)", supersedes: Bool = false) throws -> StoreBatch {
        let report = try apply(requests, file: file)
        var weights: [String: Tensor] = [:]
        for l in preset.layers { weights[EditStore.weightName(layer: l, role: .ffnDown)] = model.weights.blocks[l].ffnDown.dequantized() }
        var metrics: [String: Double] = ["search_seconds": report.searchSeconds, "update_seconds": report.updateSeconds,
                                         "mean_search_steps": report.meanSteps]
        for (l, n) in report.updateNorms { metrics["update_norm.\(l)"] = n }
        for (l, n) in report.weightNorms { metrics["weight_norm.\(l)"] = n }
        let stored = requests.enumerated().map { i, r in
            StoredRequest(request: r, searchSteps: i < report.searchSteps.count ? report.searchSteps[i] : nil,
                          losses: i < report.finalLosses.count ? [report.finalLosses[i]] : [])
        }
        return StoreBatch(method: preset.rule.name, hyperParameters: storeHyperParameters(preset), requests: stored,
                          weights: weights, stateKeys: lastBatchKeys, metrics: metrics, supersedes: supersedes)
    }

    /// This editor (built on the base model) moved to a store snapshot: the snapshot's weights in the model and its
    /// state as the layers' Kp Kpᵀ (layers the snapshot has not touched start empty).
    public func resumed(at snapshot: StoreSnapshot) throws -> LocateThenEditor {
        var states = self.states
        for (l, s) in snapshot.states {
            guard states[l] != nil else {
                throw EditStoreError.inconsistent(store: "snapshot", problem: "state of layer \(l), which preset \(preset.name) does not edit (layers \(preset.layers))")
            }
            states[l] = s
        }
        return try LocateThenEditor(model: try snapshot.applied(to: model), tokenizer: tokenizer, preset: preset,
                                    statistics: statistics, contexts: prompts.contexts, states: states)
    }
}

/// The hyper-parameters the store journals for a preset: its JSON with sorted keys.
public func storeHyperParameters(_ preset: EditPreset) -> String { StoreJournal.json(preset) }
