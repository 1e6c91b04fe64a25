// ggml tensor types as EmendCore's stored weight types: the types `WeightMatrix` computes with in place.

import EmendCore

extension GGMLType {
    /// The `WeightStorage` of this type, or nil when weight matrices of this type must be dequantised to Float32
    /// (integers, F64, Q8_1, Q8_K, the i-quants, Q2_K, Q3_K, …).
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
        case .q4_K: return .q4_K
        case .q5_K: return .q5_K
        case .q6_K: return .q6_K
        default: return nil
        }
    }
}
