// A store version applied to a model, and exported: the base model's weights with the version's edited weights
// put in place, written as GGUF (a copy of the base file with only the changed tensors replaced) or as a
// Hugging Face safetensors folder.

import EmendCore
import EmendModels
import Foundation

extension StoreSnapshot {
    /// `model` (the base model) with this snapshot's weights in place; shapes are checked.
    public func applied(to model: TransformerModel) throws -> TransformerModel {
        var m = model
        for name in weights.keys.sorted() {
            let (l, role) = try EditStore.parseWeightName(name)
            guard let w = weights[name], let current = m.weights.tensor(for: role, layer: l) else {
                throw EditStoreError.unsupportedWeight(name: name)
            }
            guard current.shape == w.shape else {
                throw EditStoreError.inconsistent(store: name, problem: "stored weight has shape \(w.shape), the model's is \(current.shape)")
            }
            m.weights.setTensor(w, for: role, layer: l)
        }
        return m
    }
}

extension EditStore {
    /// Writes `version` (default: the head) of the store, applied to `base` (the loaded base model, which must be
    /// the store's), to `out` as GGUF or safetensors, the written tensors as `dtype` (default: the format's).
    @discardableResult
    public func export(version: Int? = nil, base: TransformerModel, to out: URL, format: ExportFormat,
                       dtype: ExportDType? = nil) throws -> ExportReport {
        let model = try snapshot(at: version).applied(to: base)
        return try model.export(to: out, format: format, dtype: dtype)
    }
}
