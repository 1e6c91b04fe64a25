// GGUF reader: header, metadata, tensor infos and the memory-mapped data section.
//
// Goals, in order: never crash or over-read on a corrupt file; say exactly what is wrong; be fast.
// Like ggml's own reader it knows nothing about models, checks every count against the bytes left,
// caps string and array lengths, and gives versions 0, 1, future and big-endian files their own error.
//
// Layout (GGUF v2/v3, little-endian):
//   "GGUF" u32 version, u64 n_tensors, u64 n_kv,
//   n_kv × (string key, u32 value_type, value),
//   n_tensors × (string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset),
//   padding to `general.alignment` (default 32), then the data section; offsets are relative to it.
// A string is u64 length + UTF-8 bytes; an array is u32 element type + u64 count + elements.

import EmendCore
import Foundation

// MARK: - Limits

/// Caps that keep a corrupt length from turning into a huge allocation.
public enum GGUFLimits {
    /// Longest string accepted (keys, names, values): 256 MiB.
    public static let maxStringLength: UInt64 = 1 << 28
    /// Most elements accepted in one metadata array.
    public static let maxArrayCount: UInt64 = 1 << 28
    /// Deepest nesting of arrays inside arrays.
    public static let maxNesting = 8
    /// Most dimensions a tensor may have (ggml's GGML_MAX_DIMS).
    public static let maxDims: UInt32 = 4
    /// The newest version this reader understands.
    public static let newestVersion: UInt32 = 3
    /// The alignment used when `general.alignment` is absent.
    public static let defaultAlignment = 32
}

// MARK: - File

/// A GGUF file, parsed and validated; tensor data stays memory-mapped until asked for.
public final class GGUFFile: @unchecked Sendable {
    /// The file's location.
    public let url: URL
    /// The GGUF version (2 or 3).
    public let version: Int
    /// All metadata values by key.
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// The data-section alignment (`general.alignment`, default 32).
    public let alignment: Int
    /// Absolute byte offset of the data section in the file.
    public let dataOffset: Int
    /// Element type ids of top-level array values, so a writer can reproduce empty arrays exactly.
    let arrayElementTypes: [String: UInt32]

    let mapped: MappedFile
    private let tensorIndex: [String: Int]

    /// Opens, maps and validates `url`; throws an `EmendModelsError` naming the file and the key or
    /// tensor at fault.
    public init(url: URL) throws {
        self.url = url
        mapped = try MappedFile(url: url)
        var c = GGUFCursor(bytes: mapped.bytes, file: url.path)
        let file = url.path

        // Header.
        let magic = try c.bytes(4, "the magic number")
        guard magic == Array("GGUF".utf8) else {
            let text = magic.allSatisfy { $0 >= 0x20 && $0 < 0x7F } ? "\"\(String(decoding: magic, as: UTF8.self))\""
                : magic.map { String(format: "%02x", $0) }.joined(separator: " ")
            throw EmendModelsError.ggufBadMagic(file: file, got: text)
        }
        let v = try c.u32("the version")
        if v == 0 { throw EmendModelsError.ggufVersionZero(file: file) }
        if v & 0xFFFF == 0 { throw EmendModelsError.ggufWrongEndianness(file: file, rawVersion: v) }
        if v == 1 { throw EmendModelsError.ggufVersionObsolete(file: file, version: v) }
        if v > GGUFLimits.newestVersion {
            throw EmendModelsError.ggufVersionTooNew(file: file, version: v, newestSupported: GGUFLimits.newestVersion)
        }
        version = Int(v)
        let nTensors = try c.u64("the tensor count")
        let nKV = try c.u64("the metadata key count")
        // Each key-value needs ≥ 13 bytes (8 length + 4 type + 1 value), each tensor info ≥ 24.
        let kvLimit = UInt64(c.remaining / 13), tensorLimit = UInt64(c.remaining / 24)
        guard nKV <= kvLimit else { throw EmendModelsError.ggufCountTooLarge(file: file, what: "metadata keys", count: nKV, limit: kvLimit) }
        guard nTensors <= tensorLimit else {
            throw EmendModelsError.ggufCountTooLarge(file: file, what: "tensors", count: nTensors, limit: tensorLimit)
        }

        // Metadata.
        var meta: [String: GGUFValue] = [:], keys: [String] = [], arrayTypes: [String: UInt32] = [:]
        meta.reserveCapacity(Int(nKV)); keys.reserveCapacity(Int(nKV))
        for i in 0..<Int(nKV) {
            let key = try c.string("the name of metadata key #\(i)")
            guard meta[key] == nil else { throw EmendModelsError.ggufDuplicateKey(file: file, key: key) }
            let type = try c.u32("the value type of key '\(key)'")
            let (value, elementType) = try c.value(type: type, key: key, depth: 0)
            if let et = elementType { arrayTypes[key] = et }
            meta[key] = value
            keys.append(key)
        }
        metadata = meta
        metadataKeys = keys
        arrayElementTypes = arrayTypes

        // Alignment.
        if let a = meta["general.alignment"] {
            guard case let .uint32(av) = a, av != 0, av & (av - 1) == 0 else {
                throw EmendModelsError.ggufBadAlignment(file: file, got: a.summary)
            }
            alignment = Int(av)
        } else {
            alignment = GGUFLimits.defaultAlignment
        }

        // Tensor infos.
        var infos: [GGUFTensorInfo] = [], index: [String: Int] = [:], rawOffsets: [UInt64] = []
        infos.reserveCapacity(Int(nTensors))
        for i in 0..<Int(nTensors) {
            let name = try c.string("the name of tensor #\(i)")
            guard index[name] == nil else { throw EmendModelsError.ggufDuplicateTensor(file: file, tensor: name) }
            let nd = try c.u32("the dimension count of tensor '\(name)'")
            guard nd <= GGUFLimits.maxDims else { throw EmendModelsError.ggufTooManyDims(file: file, tensor: name, nDims: nd) }
            var rawDims: [UInt64] = []
            for d in 0..<Int(nd) { rawDims.append(try c.u64("extent \(d) of tensor '\(name)'")) }
            let typeRaw = try c.u32("the type of tensor '\(name)'")
            guard let type = GGMLType(rawValue: typeRaw) else {
                throw EmendModelsError.ggufUnknownTensorType(file: file, tensor: name, type: typeRaw)
            }
            let offset = try c.u64("the offset of tensor '\(name)'")
            // Element count and byte size, with every multiplication checked.
            var dims: [Int] = [], count = 1
            for d in rawDims {
                guard d <= UInt64(Int64.max) else { throw EmendModelsError.ggufTensorSizeOverflow(file: file, tensor: name, dims: rawDims) }
                let (p, o) = count.multipliedReportingOverflow(by: Int(d))
                guard !o else { throw EmendModelsError.ggufTensorSizeOverflow(file: file, tensor: name, dims: rawDims) }
                count = p
                dims.append(Int(d))
            }
            let ne0 = dims.first ?? 1
            guard ne0 % type.blockSize == 0 else {
                throw EmendModelsError.ggufTensorNotBlockAligned(file: file, tensor: name, ne0: ne0, blockSize: type.blockSize)
            }
            let (byteCount, o) = (count / type.blockSize).multipliedReportingOverflow(by: type.bytesPerBlock)
            guard !o else { throw EmendModelsError.ggufTensorSizeOverflow(file: file, tensor: name, dims: rawDims) }
            guard offset % UInt64(alignment) == 0 else {
                throw EmendModelsError.ggufTensorMisaligned(file: file, tensor: name, offset: offset, alignment: alignment)
            }
            index[name] = infos.count
            rawOffsets.append(offset)
            // Offsets past Int.max are caught by the bounds check below; clamp so the info stays valid.
            infos.append(GGUFTensorInfo(name: name, dims: dims, type: type, offset: Int(min(offset, UInt64(Int.max))), byteCount: byteCount))
        }

        // Data section: starts at the next multiple of the alignment.
        let headerEnd = c.position
        let start = (headerEnd + alignment - 1) / alignment * alignment
        let total = mapped.bytes.count
        if !infos.isEmpty && start > total {
            throw EmendModelsError.ggufTruncated(file: file, what: "the padding before the data section",
                                                 needed: UInt64(start - headerEnd), available: UInt64(total - headerEnd))
        }
        dataOffset = start
        let dataSize = max(0, total - start)
        for (i, info) in infos.enumerated() {
            let (end, o) = rawOffsets[i].addingReportingOverflow(UInt64(info.byteCount))
            guard !o, end <= UInt64(dataSize) else {
                throw EmendModelsError.ggufTensorOutOfBounds(file: file, tensor: info.name, offset: rawOffsets[i],
                                                             byteCount: info.byteCount, dataSize: dataSize)
            }
        }
        let byStart = infos.indices.filter { infos[$0].byteCount > 0 }.sorted { infos[$0].offset < infos[$1].offset }
        for (a, b) in zip(byStart, byStart.dropFirst()) where infos[a].offset + infos[a].byteCount > infos[b].offset {
            throw EmendModelsError.ggufTensorsOverlap(file: file, first: infos[a].name, second: infos[b].name)
        }
        tensors = infos
        tensorIndex = index
    }

    // MARK: - Access

    /// The info for tensor `name`, or nil.
    public func tensorInfo(_ name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// The metadata value for `key`, or `metadataKeyMissing`.
    public func value(_ key: String) throws -> GGUFValue {
        guard let v = metadata[key] else { throw EmendModelsError.metadataKeyMissing(file: url.path, key: key) }
        return v
    }

    /// The raw (possibly quantised) bytes of tensor `name`, in place in the memory map.
    /// The buffer is valid only while this `GGUFFile` is alive.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        guard let info = tensorInfo(name) else { throw EmendModelsError.tensorNotFound(file: url.path, tensor: name) }
        return rawBytes(info)
    }

    /// The raw bytes of a tensor described by one of this file's infos.
    public func rawBytes(_ info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        guard info.byteCount > 0, let base = mapped.bytes.baseAddress else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + dataOffset + info.offset, count: info.byteCount)
    }

    /// Tensor `name` dequantised to Float32, shape `info.shape` (row-major, outermost first).
    public func tensor(_ name: String) throws -> Tensor {
        guard let info = tensorInfo(name) else { throw EmendModelsError.tensorNotFound(file: url.path, tensor: name) }
        guard info.type.isDequantizable else {
            throw EmendModelsError.unsupportedTensorType(file: url.path, tensor: name, type: info.type.description)
        }
        let values = try info.type.dequantize(rawBytes(info), count: info.elementCount)
        return Tensor(shape: info.shape, scalars: values)
    }
}

// MARK: - Cursor

/// A bounds-checked little-endian reader over the mapped bytes.
struct GGUFCursor {
    let bytes: UnsafeRawBufferPointer
    let file: String
    private(set) var position = 0

    init(bytes: UnsafeRawBufferPointer, file: String) { self.bytes = bytes; self.file = file }

    var remaining: Int { bytes.count - position }

    private func need(_ n: UInt64, _ what: @autoclosure () -> String) throws {
        guard n <= UInt64(remaining) else {
            throw EmendModelsError.ggufTruncated(file: file, what: what(), needed: n, available: UInt64(remaining))
        }
    }

    mutating func bytes(_ n: Int, _ what: @autoclosure () -> String) throws -> [UInt8] {
        try need(UInt64(n), what())
        defer { position += n }
        return Array(UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)]))
    }

    private mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try need(UInt64(MemoryLayout<T>.size), what())
        defer { position += MemoryLayout<T>.size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    mutating func u8(_ what: @autoclosure () -> String) throws -> UInt8 { try load(UInt8.self, what()) }
    mutating func u16(_ what: @autoclosure () -> String) throws -> UInt16 { try load(UInt16.self, what()) }
    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 { try load(UInt32.self, what()) }
    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 { try load(UInt64.self, what()) }

    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let n = try u64("the length of \(what())")
        guard n <= GGUFLimits.maxStringLength else {
            throw EmendModelsError.ggufStringTooLong(file: file, what: what(), length: n, limit: GGUFLimits.maxStringLength)
        }
        try need(n, what())
        defer { position += Int(n) }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<(position + Int(n))]), as: UTF8.self)
    }

    /// Reads one value of `type`; for an array also returns its element type id.
    mutating func value(type: UInt32, key: String, depth: Int) throws -> (GGUFValue, UInt32?) {
        let what = "the value of key '\(key)'"
        switch type {
        case 0: return (.uint8(try u8(what)), nil)
        case 1: return (.int8(Int8(bitPattern: try u8(what))), nil)
        case 2: return (.uint16(try u16(what)), nil)
        case 3: return (.int16(Int16(bitPattern: try u16(what))), nil)
        case 4: return (.uint32(try u32(what)), nil)
        case 5: return (.int32(Int32(bitPattern: try u32(what))), nil)
        case 6: return (.float32(Float(bitPattern: try u32(what))), nil)
        case 7: return (.bool(try u8(what) != 0), nil)
        case 8: return (.string(try string(what)), nil)
        case 9:
            guard depth < GGUFLimits.maxNesting else { throw EmendModelsError.ggufNestingTooDeep(file: file, key: key, depth: depth + 1) }
            let et = try u32("the array element type of key '\(key)'")
            guard et <= 12 else { throw EmendModelsError.ggufUnknownValueType(file: file, key: key, type: et) }
            let n = try u64("the array count of key '\(key)'")
            guard n <= GGUFLimits.maxArrayCount else {
                throw EmendModelsError.ggufArrayTooLong(file: file, key: key, count: n, limit: GGUFLimits.maxArrayCount)
            }
            // The smallest encoding of one element; n ≤ 2^28, so the product cannot overflow.
            let minSize: UInt64 = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8][Int(et)]
            try need(n * minSize, "\(n) array elements of key '\(key)'")
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(n))
            for _ in 0..<Int(n) { items.append(try value(type: et, key: key, depth: depth + 1).0) }
            return (.array(items), et)
        case 10: return (.uint64(try u64(what)), nil)
        case 11: return (.int64(Int64(bitPattern: try u64(what))), nil)
        case 12: return (.float64(Double(bitPattern: try u64(what))), nil)
        default: throw EmendModelsError.ggufUnknownValueType(file: file, key: key, type: type)
        }
    }
}
