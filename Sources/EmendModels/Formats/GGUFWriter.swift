// GGUF writer: a new version-3 file from metadata and tensor payloads, written atomically
// (temporary file in the destination folder, fsync, rename).
//
// `write(from:replacing:…)` is the editing path: it copies every metadata key (in order, with its
// type) and every untouched tensor's bytes verbatim from the memory map, and encodes only the
// replaced tensors, each as any type `GGMLType.quantize` can encode (F32, F16, BF16, legacy and K-quants). `write(metadata:streaming:…)` is the path for files larger than memory
// (`emend init-model`): every tensor's byte count follows from its dims and type, so the header (with the
// offsets) is written first and each tensor's bytes are then produced and written piece by piece.

import EmendCore
import Foundation

// MARK: - Types

public enum GGUFWriter {
    /// One tensor to write from scratch: name, ggml dims (ne0 first), type and its encoded bytes.
    public struct TensorData: Sendable {
        public var name: String
        public var dims: [Int]
        public var type: GGMLType
        public var bytes: [UInt8]
        public init(name: String, dims: [Int], type: GGMLType, bytes: [UInt8]) {
            self.name = name; self.dims = dims; self.type = type; self.bytes = bytes
        }
    }

    /// One tensor whose bytes are made while the file is written, so that a file larger than memory can be
    /// written tensor by tensor: `produce` is called once, in file order, and must hand its sink exactly
    /// (elements / blockSize) · bytesPerBlock bytes, in as many pieces as it likes.
    public struct StreamedTensor {
        public var name: String
        public var dims: [Int]
        public var type: GGMLType
        public var produce: (_ sink: ([UInt8]) throws -> Void) throws -> Void
        public init(name: String, dims: [Int], type: GGMLType, produce: @escaping (_ sink: ([UInt8]) throws -> Void) throws -> Void) {
            self.name = name; self.dims = dims; self.type = type; self.produce = produce
        }
        /// The bytes `produce` must write.
        public var byteCount: Int { type.byteCount(elements: dims.reduce(1, *)) }
    }

    /// Bytes to write: owned, borrowed from a live memory map, or produced in pieces during the write.
    enum Payload {
        case owned([UInt8])
        case borrowed(UnsafeRawBufferPointer)
        case streamed(count: Int, produce: (_ sink: ([UInt8]) throws -> Void) throws -> Void)
        var count: Int {
            switch self {
            case let .owned(a): return a.count
            case let .borrowed(b): return b.count
            case let .streamed(n, _): return n
            }
        }
    }

    struct Entry {
        let name: String
        let dims: [Int]
        let type: GGMLType
        let payload: Payload
    }

    // MARK: - Public API

    /// Writes a copy of `source` in which the tensors named in `replacing` hold new Float32 values,
    /// encoded as `type` (any type with a quantizer: `GGMLType.quantizable`); every other tensor's bytes are copied
    /// unchanged. Metadata keeps its order and types; `metadataOverrides` replaces values of existing keys in
    /// place and appends new keys in sorted order.
    /// - Parameter replacing: tensor name → values with shape `info.shape` (row-major).
    public static func write(from source: GGUFFile, replacing: [String: Tensor] = [:], as type: GGMLType = .f32,
                             metadataOverrides: [String: GGUFValue] = [:], to url: URL) throws {
        guard type.isQuantizable else {
            throw EmendModelsError.unsupportedOutputType(file: url.path, type: type.description,
                                                         allowed: GGMLType.quantizable.map(\.description))
        }
        try write(from: source, replacing: replacing, types: replacing.mapValues { _ in type },
                  metadataOverrides: metadataOverrides, to: url)
    }

    /// `write(from:replacing:as:…)` with a type per replaced tensor (`types[name]`, F32 where absent). Every
    /// replaced tensor is checked (name, shape, a quantizer for its type, rows its blocks tile) and encoded before
    /// the destination is opened, so an error leaves it untouched.
    public static func write(from source: GGUFFile, replacing: [String: Tensor], types: [String: GGMLType],
                             metadataOverrides: [String: GGUFValue] = [:], to url: URL) throws {
        for name in replacing.keys.sorted() {
            let t = replacing[name]!, type = types[name] ?? .f32
            guard let info = source.tensorInfo(name) else { throw EmendModelsError.tensorNotFound(file: source.url.path, tensor: name) }
            guard t.shape == info.shape else {
                throw EmendModelsError.replacementShapeMismatch(file: source.url.path, tensor: name, expected: info.shape, got: t.shape)
            }
            guard type.isQuantizable else {
                throw EmendModelsError.unsupportedOutputType(file: url.path, type: type.description,
                                                             allowed: GGMLType.quantizable.map(\.description))
            }
            let rowLength = info.dims.first ?? 1   // ggml's ne0: the innermost, contiguous dimension
            guard rowLength % type.blockSize == 0 else {
                throw EmendModelsError.quantizationRowLength(tensor: name, type: type.description, rowLength: rowLength,
                                                             blockSize: type.blockSize, count: t.count)
            }
        }
        var metadata: [(key: String, value: GGUFValue)] = source.metadataKeys.compactMap { key in
            guard let v = metadataOverrides[key] ?? source.metadata[key] else { return nil }
            return (key, v)
        }
        for key in metadataOverrides.keys.sorted() where source.metadata[key] == nil {
            metadata.append((key, metadataOverrides[key]!))
        }
        // Empty arrays keep the element type they had in the source (when the value is unchanged).
        var arrayTypes: [String: UInt32] = [:]
        for (k, et) in source.arrayElementTypes where metadataOverrides[k] == nil { arrayTypes[k] = et }
        let entries = try source.tensors.map { info -> Entry in
            if let t = replacing[info.name] {
                let type = types[info.name] ?? .f32
                let bytes = try type.quantize(t.scalars, rowLength: info.dims.first ?? 1, tensor: info.name)
                return Entry(name: info.name, dims: info.dims, type: type, payload: .owned(bytes))
            }
            return Entry(name: info.name, dims: info.dims, type: info.type, payload: .borrowed(source.rawBytes(info)))
        }
        // Keep the source alive (its map backs the borrowed payloads) until the write is done.
        try withExtendedLifetime(source) {
            try writeEntries(metadata: metadata, arrayTypes: arrayTypes, entries: entries, to: url)
        }
    }

    /// Writes a new GGUF file from metadata (in the order given) and tensors (in the order given).
    /// The alignment is `general.alignment` if present (it must be a uint32 power of two), else 32.
    public static func write(metadata: [(key: String, value: GGUFValue)], tensors: [TensorData], to url: URL) throws {
        let entries = tensors.map { Entry(name: $0.name, dims: $0.dims, type: $0.type, payload: .owned($0.bytes)) }
        try writeEntries(metadata: metadata, arrayTypes: [:], entries: entries, to: url)
    }

    /// Writes a new GGUF file from metadata and tensors whose bytes are produced one tensor at a time, in the
    /// order given (peak memory: the largest piece a `produce` holds, not the file).
    public static func write(metadata: [(key: String, value: GGUFValue)], streaming tensors: [StreamedTensor], to url: URL) throws {
        let entries = tensors.map { Entry(name: $0.name, dims: $0.dims, type: $0.type, payload: .streamed(count: $0.byteCount, produce: $0.produce)) }
        try writeEntries(metadata: metadata, arrayTypes: [:], entries: entries, to: url)
    }

    /// Float32 values encoded as F32, F16 or BF16 (round to nearest even): `GGMLType.quantize` with one-element
    /// blocks, where no row length can be refused.
    public static func encode(_ values: [Float], as type: GGMLType) -> [UInt8] {
        precondition([.f32, .f16, .bf16].contains(type), "GGUFWriter.encode: F32, F16 or BF16, not \(type)")
        return (try? type.quantize(values, rowLength: 1, tensor: "")) ?? []
    }

    // MARK: - Encoding

    static func writeEntries(metadata: [(key: String, value: GGUFValue)], arrayTypes: [String: UInt32],
                             entries: [Entry], to url: URL) throws {
        let file = url.path
        var alignment = GGUFLimits.defaultAlignment
        var seen = Set<String>()
        for (k, v) in metadata {
            guard seen.insert(k).inserted else { throw EmendModelsError.ggufDuplicateKey(file: file, key: k) }
            if k == "general.alignment" {
                guard case let .uint32(a) = v, a != 0, a & (a - 1) == 0 else {
                    throw EmendModelsError.ggufBadAlignment(file: file, got: v.summary)
                }
                alignment = Int(a)
            }
        }
        var names = Set<String>()
        for e in entries {
            guard names.insert(e.name).inserted else { throw EmendModelsError.ggufDuplicateTensor(file: file, tensor: e.name) }
            let count = e.dims.reduce(1, *)
            let expected = count / e.type.blockSize * e.type.bytesPerBlock
            guard e.dims.count <= 4, (e.dims.first ?? 1) % e.type.blockSize == 0, e.payload.count == expected else {
                throw EmendModelsError.tensorByteCountMismatch(file: file, tensor: e.name, expected: expected, got: e.payload.count)
            }
        }

        var header = GGUFEncoder()
        header.bytes.append(contentsOf: Array("GGUF".utf8))
        header.u32(3)
        header.u64(UInt64(entries.count))
        header.u64(UInt64(metadata.count))
        for (k, v) in metadata {
            header.string(k)
            header.u32(v.typeID)
            try header.value(v, key: k, file: file, emptyArrayType: arrayTypes[k])
        }
        var offset = 0
        for e in entries {
            header.string(e.name)
            header.u32(UInt32(e.dims.count))
            for d in e.dims { header.u64(UInt64(d)) }
            header.u32(e.type.rawValue)
            header.u64(UInt64(offset))
            offset += padded(e.payload.count, alignment)
        }
        let headerPadding = padded(header.bytes.count, alignment) - header.bytes.count

        let out = try AtomicFileWriter(url: url)
        do {
            try out.write(header.bytes)
            try out.writeZeros(headerPadding)
            for e in entries {
                switch e.payload {
                case let .owned(a): try out.write(a)
                case let .borrowed(b): try out.write(b)
                case let .streamed(count, produce):
                    var written = 0
                    try produce { piece in
                        written += piece.count
                        guard written <= count else {
                            throw EmendModelsError.tensorByteCountMismatch(file: file, tensor: e.name, expected: count, got: written)
                        }
                        try out.write(piece)
                    }
                    guard written == count else {
                        throw EmendModelsError.tensorByteCountMismatch(file: file, tensor: e.name, expected: count, got: written)
                    }
                }
                try out.writeZeros(padded(e.payload.count, alignment) - e.payload.count)
            }
            try out.commit()
        } catch {
            out.abandon()
            throw error
        }
    }

    static func padded(_ n: Int, _ alignment: Int) -> Int { (n + alignment - 1) / alignment * alignment }
}

// MARK: - Helpers

/// Appends GGUF's little-endian encodings to a byte buffer.
struct GGUFEncoder {
    var bytes: [UInt8] = []

    mutating func int<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { int(v) }
    mutating func u64(_ v: UInt64) { int(v) }
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        u64(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    mutating func value(_ v: GGUFValue, key: String, file: String, emptyArrayType: UInt32?) throws {
        switch v {
        case let .uint8(x): int(x)
        case let .int8(x): int(x)
        case let .uint16(x): int(x)
        case let .int16(x): int(x)
        case let .uint32(x): int(x)
        case let .int32(x): int(x)
        case let .float32(x): int(x.bitPattern)
        case let .bool(x): bytes.append(x ? 1 : 0)
        case let .string(s): string(s)
        case let .uint64(x): int(x)
        case let .int64(x): int(x)
        case let .float64(x): int(x.bitPattern)
        case let .array(items):
            // An empty array has no element to take the type from: use the recorded one, else uint8.
            let et = items.first?.typeID ?? emptyArrayType ?? 0
            guard items.allSatisfy({ $0.typeID == et }) else { throw EmendModelsError.ggufMixedArray(file: file, key: key) }
            u32(et)
            u64(UInt64(items.count))
            for item in items { try value(item, key: key, file: file, emptyArrayType: nil) }
        }
    }
}
