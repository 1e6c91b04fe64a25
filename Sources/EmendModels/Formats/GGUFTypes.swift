// GGUF's value and tensor vocabularies: metadata values (GGUFValue), ggml tensor types (GGMLType) with
// their block layouts, and tensor infos. Type ids follow the GGUF specification and ggml.h.

// MARK: - Metadata values

/// One GGUF metadata value. Case order (and `typeID`) follows the GGUF value-type ids 0…12.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32), float32(Float)
    case bool(Bool), string(String), array([GGUFValue]), uint64(UInt64), int64(Int64), float64(Double)

    /// The GGUF value-type id (0 uint8 … 12 float64).
    public var typeID: UInt32 {
        switch self {
        case .uint8: return 0
        case .int8: return 1
        case .uint16: return 2
        case .int16: return 3
        case .uint32: return 4
        case .int32: return 5
        case .float32: return 6
        case .bool: return 7
        case .string: return 8
        case .array: return 9
        case .uint64: return 10
        case .int64: return 11
        case .float64: return 12
        }
    }

    /// The GGUF name of a value-type id ("uint32", "array", …).
    public static func typeName(_ id: UInt32) -> String {
        let names = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array",
                     "uint64", "int64", "float64"]
        return id < names.count ? names[Int(id)] : "type \(id)"
    }

    /// The GGUF name of this value's type.
    public var typeName: String { GGUFValue.typeName(typeID) }

    /// A short human-readable rendering for error messages ("uint32 3", "string \"x\"", "array of 5").
    public var summary: String {
        switch self {
        case let .uint8(v): return "uint8 \(v)"
        case let .int8(v): return "int8 \(v)"
        case let .uint16(v): return "uint16 \(v)"
        case let .int16(v): return "int16 \(v)"
        case let .uint32(v): return "uint32 \(v)"
        case let .int32(v): return "int32 \(v)"
        case let .float32(v): return "float32 \(v)"
        case let .bool(v): return "bool \(v)"
        case let .string(v): return "string \"\(v.prefix(40))\""
        case let .array(v): return "array of \(v.count)"
        case let .uint64(v): return "uint64 \(v)"
        case let .int64(v): return "int64 \(v)"
        case let .float64(v): return "float64 \(v)"
        }
    }

    /// The string, if this is a string.
    public var string: String? { if case let .string(s) = self { return s }; return nil }

    /// Any integer type as `Int`, if it is one and fits.
    public var int: Int? {
        switch self {
        case let .uint8(v): return Int(v)
        case let .int8(v): return Int(v)
        case let .uint16(v): return Int(v)
        case let .int16(v): return Int(v)
        case let .uint32(v): return Int(v)
        case let .int32(v): return Int(v)
        case let .uint64(v): return Int(exactly: v)
        case let .int64(v): return Int(v)
        default: return nil
        }
    }

    /// Any numeric type (integer or float) as `Double`.
    public var double: Double? {
        switch self {
        case let .float32(v): return Double(v)
        case let .float64(v): return v
        case let .uint64(v): return Double(v)
        default: return int.map(Double.init)
        }
    }

    /// The Bool, if this is a bool.
    public var bool: Bool? { if case let .bool(b) = self { return b }; return nil }
    /// The elements, if this is an array.
    public var array: [GGUFValue]? { if case let .array(a) = self { return a }; return nil }

    /// The elements as strings, if this is an array of strings.
    public var stringArray: [String]? {
        guard let a = array else { return nil }
        var out: [String] = []
        out.reserveCapacity(a.count)
        for v in a { guard let s = v.string else { return nil }; out.append(s) }
        return out
    }

    /// The elements as `Int`, if this is an array of integers.
    public var intArray: [Int]? {
        guard let a = array else { return nil }
        var out: [Int] = []
        out.reserveCapacity(a.count)
        for v in a { guard let i = v.int else { return nil }; out.append(i) }
        return out
    }

    /// The elements as `Double`, if this is an array of numbers.
    public var doubleArray: [Double]? {
        guard let a = array else { return nil }
        var out: [Double] = []
        out.reserveCapacity(a.count)
        for v in a { guard let d = v.double else { return nil }; out.append(d) }
        return out
    }
}

// MARK: - Tensor types

/// A ggml tensor element type. Quantised types store `blockSize` elements in `bytesPerBlock` bytes.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22, iq4_xs = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30
    case tq1_0 = 34, tq2_0 = 35, mxfp4 = 39

    /// Elements per block (1 for plain types, 32 for legacy quants, 256 for k- and i-quants).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .iq4_nl, .mxfp4: return 32
        default: return 256
        }
    }

    /// Bytes per block (ggml's `type_size`).
    public var bytesPerBlock: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .f64, .i64: return 8
        case .i8: return 1
        case .i16: return 2
        case .i32: return 4
        case .q4_0: return 18      // d:f16, qs[16]
        case .q4_1: return 20      // d, m:f16, qs[16]
        case .q5_0: return 22      // d, qh:u32, qs[16]
        case .q5_1: return 24      // d, m, qh:u32, qs[16]
        case .q8_0: return 34      // d, qs:i8[32]
        case .q8_1: return 36      // d, s, qs:i8[32]
        case .q2_K: return 84      // scales[16], qs[64], d, dmin
        case .q3_K: return 110     // hmask[32], qs[64], scales[12], d
        case .q4_K: return 144     // d, dmin, scales[12], qs[128]
        case .q5_K: return 176     // d, dmin, scales[12], qh[32], qs[128]
        case .q6_K: return 210     // ql[128], qh[64], scales:i8[16], d
        case .q8_K: return 292     // d:f32, qs:i8[256], bsums:i16[16]
        case .iq2_xxs: return 66
        case .iq2_xs: return 74
        case .iq3_xxs: return 98
        case .iq1_s: return 50
        case .iq4_nl: return 18
        case .iq3_s: return 110
        case .iq2_s: return 82
        case .iq4_xs: return 136
        case .iq1_m: return 56
        case .tq1_0: return 54
        case .tq2_0: return 66
        case .mxfp4: return 17
        }
    }

    /// ggml's name for the type ("Q4_1", "F32", …).
    public var description: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q8_1: return "Q8_1"
        case .q2_K: return "Q2_K"
        case .q3_K: return "Q3_K"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        case .q8_K: return "Q8_K"
        case .iq2_xxs: return "IQ2_XXS"
        case .iq2_xs: return "IQ2_XS"
        case .iq3_xxs: return "IQ3_XXS"
        case .iq1_s: return "IQ1_S"
        case .iq4_nl: return "IQ4_NL"
        case .iq3_s: return "IQ3_S"
        case .iq2_s: return "IQ2_S"
        case .iq4_xs: return "IQ4_XS"
        case .i8: return "I8"
        case .i16: return "I16"
        case .i32: return "I32"
        case .i64: return "I64"
        case .f64: return "F64"
        case .iq1_m: return "IQ1_M"
        case .bf16: return "BF16"
        case .tq1_0: return "TQ1_0"
        case .tq2_0: return "TQ2_0"
        case .mxfp4: return "MXFP4"
        }
    }
}

// MARK: - Tensor infos

/// Where one tensor lives in a GGUF file and how it is laid out.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name ("blk.0.attn_q.weight").
    public let name: String
    /// Extents in ggml order: `dims[0]` (ne0) is the innermost, contiguous axis.
    public let dims: [Int]
    /// The element type.
    public let type: GGMLType
    /// Byte offset of the first block, relative to the start of the data section.
    public let offset: Int
    /// Bytes the tensor occupies: (elementCount / blockSize) · bytesPerBlock.
    public let byteCount: Int

    public init(name: String, dims: [Int], type: GGMLType, offset: Int, byteCount: Int) {
        self.name = name; self.dims = dims; self.type = type; self.offset = offset; self.byteCount = byteCount
    }

    /// Row-major shape, outermost first (`dims.reversed()`): a linear weight [ne0=in, ne1=out] is [out, in].
    public var shape: [Int] { dims.reversed() }
    /// The number of elements.
    public var elementCount: Int { dims.reduce(1, *) }
}
