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
            guard l < m.weights.blocks.count else { throw EditStoreError.unsupportedWeight(name: name) }
            let w = weights[name]!
            var b = m.weights.blocks[l]
            func set(_ t: inout Tensor) throws {
                guard t.shape == w.shape else {
                    throw EditStoreError.inconsistent(store: name, problem: "stored weight has shape \(w.shape), the model's is \(t.shape)")
                }
                t = w
            }
            func setOptional(_ t: inout Tensor?) throws {
                guard var cur = t else { throw EditStoreError.unsupportedWeight(name: name) }
                try set(&cur)
                t = cur
            }
            switch role {
            case .attnNorm: try set(&b.attnNorm)
            case .attnQ: try set(&b.attnQ)
            case .attnK: try set(&b.attnK)
            case .attnV: try set(&b.attnV)
            case .attnOutput: try set(&b.attnOutput)
            case .ffnNorm: try set(&b.ffnNorm)
            case .ffnUp: try set(&b.ffnUp)
            case .ffnDown: try set(&b.ffnDown)
            case .ffnGate: try setOptional(&b.ffnGate)
            case .attnNormBias: try setOptional(&b.attnNormBias)
            case .attnQBias: try setOptional(&b.attnQBias)
            case .attnKBias: try setOptional(&b.attnKBias)
            case .attnVBias: try setOptional(&b.attnVBias)
            case .attnOutputBias: try setOptional(&b.attnOutputBias)
            case .ffnNormBias: try setOptional(&b.ffnNormBias)
            case .ffnGateBias: try setOptional(&b.ffnGateBias)
            case .ffnUpBias: try setOptional(&b.ffnUpBias)
            case .ffnDownBias: try setOptional(&b.ffnDownBias)
            default: throw EditStoreError.unsupportedWeight(name: name)
            }
            m.weights.blocks[l] = b
        }
        return m
    }
}

extension EditStore {
    /// Writes `version` (default: the head) of the store, applied to `base` (the loaded base model, which must be
    /// the store's), to `out` as GGUF or safetensors.
    @discardableResult
    public func export(version: Int? = nil, base: TransformerModel, to out: URL, format: ExportFormat,
                       dtype: ExportDType = .f32) throws -> ExportReport {
        let model = try snapshot(at: version).applied(to: base)
        return try model.export(to: out, format: format, dtype: dtype)
    }
}
