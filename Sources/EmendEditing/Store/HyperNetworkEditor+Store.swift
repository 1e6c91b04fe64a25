// The hyper-network editors (MEND, MALMEN) and the fine-tuning baseline going through the edit store: one batch
// edited on the store's current model and packaged as a `StoreBatch` (the new ffn_down of each edited layer; these
// editors keep no sequential state, so no state keys).

import EmendCore
import EmendModels
import Foundation

/// Packs the new down-projections of `layers` of `edited` as a store batch.
private func storeBatch(method: String, hyperParameters: String, requests: [EditRequest], edited: TransformerModel,
                        layers: [Int], metrics: [String: Double], supersedes: Bool) -> StoreBatch {
    var weights: [String: Tensor] = [:]
    for l in layers { weights[EditStore.weightName(layer: l, role: .ffnDown)] = edited.weights.blocks[l].ffnDown.dequantized() }
    return StoreBatch(method: method, hyperParameters: hyperParameters, requests: requests.map { StoredRequest(request: $0) },
                      weights: weights, metrics: metrics, supersedes: supersedes)
}

extension HyperNetworkEditor {
    /// Edits `requests` on `model` (the store's current version) all at once and returns the edited model with
    /// the batch the store journals for it.
    /// - editorChecksum: identifies the trained editor in the journal (e.g. the SHA-256 of its tensor file).
    public func editForStore(_ model: TransformerModel, requests: [EditRequest], tokenizer: any Tokenizer,
                             editorChecksum: String, supersedes: Bool = false) throws -> (model: TransformerModel, batch: StoreBatch) {
        let facts = requests.map { TokenizedFact(EditingFact($0), tokenizer: tokenizer) }
        let t0 = Date()
        let (edited, shifts) = try edit(model, edits: facts.map(\.edit))
        var metrics: [String: Double] = ["edit_seconds": Date().timeIntervalSince(t0)]
        for (l, s) in shifts { metrics["update_norm.\(l)"] = Double(s.shift.norm()) }
        let hyper = StoreJournal.json(["settings": StoreJournal.json(settings), "editor_sha256": editorChecksum])
        return (edited, storeBatch(method: settings.method.rawValue, hyperParameters: hyper, requests: requests, edited: edited,
                                   layers: settings.layers, metrics: metrics, supersedes: supersedes))
    }
}

extension FineTuneEditor {
    /// The fine-tuning baseline on `model` (the store's current version), packaged as a store batch.
    public static func editForStore(_ model: TransformerModel, requests: [EditRequest], tokenizer: any Tokenizer,
                                    settings: FineTuneSettings, supersedes: Bool = false) throws -> (model: TransformerModel, batch: StoreBatch) {
        let facts = requests.map { TokenizedFact(EditingFact($0), tokenizer: tokenizer) }
        let t0 = Date()
        let (edited, report) = try edit(model, edits: facts.map(\.edit), settings: settings)
        let metrics: [String: Double] = ["edit_seconds": Date().timeIntervalSince(t0), "steps": Double(report.losses.count),
                                         "final_loss": report.losses.last ?? 0]
        return (edited, storeBatch(method: "ft", hyperParameters: StoreJournal.json(settings), requests: requests, edited: edited,
                                   layers: settings.layers, metrics: metrics, supersedes: supersedes))
    }
}
