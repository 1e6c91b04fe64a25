// ggml tensor types as EmendCore's stored weight types, and model-file tensors as stored weight matrices.

import EmendCore

extension GGMLType {
    /// The `WeightStorage` of this type, or nil when weight matrices of this type must be dequantised to Float32
    /// (integers, F64, Q8_1, Q8_K, the i-quants, …).
    public var weightStorage: WeightStorage? {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .q4_0: return .q4_0
        case .q4_1: return .q4_1
        case .q5_0: return .q5_0
        case .q5_1: return .q5_1
        case .q8_0: return .q8_0
        case .q2_K: return .q2_K
        case .q3_K: return .q3_K
        case .q4_K: return .q4_K
        case .q5_K: return .q5_K
        case .q6_K: return .q6_K
        default: return nil
        }
    }
}

extension GGUFFile {
    /// Tensor `name` as a weight matrix [dims[1], dims[0]] kept in its stored type, viewing the memory map (no copy;
    /// the view keeps this file mapped). Nil where it cannot be: not 2-D, or a type without `WeightStorage`.
    public func storedMatrix(_ name: String) throws -> WeightMatrix? {
        guard let info = tensorInfo(name) else { throw EmendModelsError.tensorNotFound(file: url.path, tensor: name) }
        guard info.shape.count == 2, let storage = info.type.weightStorage else { return nil }
        let bytes = WeightBytes(viewing: rawBytes(info), owner: mapped)
        return try WeightMatrix(storage: storage, bytes: bytes, outputs: info.shape[0], inputs: info.shape[1])
    }
}

extension SafeTensorsFolder {
    /// Tensor `name` as a weight matrix kept in its stored type (F32, F16, BF16), viewing the memory map (no copy).
    /// Nil where it cannot be: not 2-D, or another dtype.
    public func storedMatrix(_ name: String) throws -> WeightMatrix? {
        guard let file = shard(for: name), let info = file.info(name) else {
            throw EmendModelsError.tensorNotFound(file: url.path, tensor: name)
        }
        let storage: WeightStorage
        switch info.dtype {
        case .f32: storage = .f32
        case .f16: storage = .f16
        case .bf16: storage = .bf16
        default: return nil
        }
        guard info.shape.count == 2 else { return nil }
        let bytes = WeightBytes(viewing: try file.rawBytes(name), owner: file.mapped)
        return try WeightMatrix(storage: storage, bytes: bytes, outputs: info.shape[0], inputs: info.shape[1])
    }
}
