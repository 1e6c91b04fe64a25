// safetensors reader: one file (`SafeTensorsFile`) or a folder of shards (`SafeTensorsFolder`).
//
// Layout: u64 little-endian N, then N bytes of JSON
//   {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, …}
// then the data buffer; offsets are relative to its start, `end` exclusive. Tensors are row-major.
// Every tensor is validated when the file opens: known dtype, offsets inside the buffer, byte length
// equal to dtype size × element count, and no two tensors overlapping.

import EmendCore
import Foundation

// MARK: - Types

/// A safetensors element type.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16", f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    public var itemSize: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .f8e4m3, .f8e5m2, .i8, .u8, .bool: return 1
        }
    }

    /// Whether the elements are integers (or booleans).
    public var isInteger: Bool { ![.f64, .f32, .f16, .bf16, .f8e4m3, .f8e5m2].contains(self) }
}

/// Where one tensor lives in a safetensors file.
public struct SafeTensorsInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    /// Row-major shape, outermost first.
    public let shape: [Int]
    /// Byte range within the data buffer (which starts after the header).
    public let dataOffsets: Range<Int>
    public var elementCount: Int { shape.reduce(1, *) }
}

/// Largest JSON header accepted (the reference implementation's cap).
public let safeTensorsMaxHeaderBytes = 100_000_000

// MARK: - File

/// One safetensors file, validated and memory-mapped.
public final class SafeTensorsFile: @unchecked Sendable {
    public let url: URL
    /// Tensor names in data order.
    public let names: [String]
    /// The `__metadata__` string map (empty if absent).
    public let metadata: [String: String]
    private let infos: [String: SafeTensorsInfo]
    let mapped: MappedFile
    private let dataStart: Int

    public init(url: URL) throws {
        self.url = url
        let file = url.path
        mapped = try MappedFile(url: url)
        let bytes = mapped.bytes
        guard bytes.count >= 8 else { throw EmendModelsError.safetensorsHeaderTooLarge(file: file, length: 8, fileSize: bytes.count) }
        let n = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard n <= UInt64(bytes.count - 8), n <= UInt64(safeTensorsMaxHeaderBytes) else {
            throw EmendModelsError.safetensorsHeaderTooLarge(file: file, length: n, fileSize: bytes.count)
        }
        dataStart = 8 + Int(n)
        let dataSize = bytes.count - dataStart
        let json = Data(UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart]))
        let root: [String: Any]
        do {
            guard let r = try JSONSerialization.jsonObject(with: json) as? [String: Any] else {
                throw EmendModelsError.safetensorsMalformedJSON(file: file, reason: "the top level is not an object")
            }
            root = r
        } catch let e as EmendModelsError {
            throw e
        } catch {
            throw EmendModelsError.safetensorsMalformedJSON(file: file, reason: jsonDecodingReason(error, data: json))
        }

        var meta: [String: String] = [:]
        var found: [String: SafeTensorsInfo] = [:]
        for (name, entry) in root {
            if name == "__metadata__" {
                guard let m = entry as? [String: Any] else {
                    throw EmendModelsError.safetensorsMalformedJSON(file: file, reason: "__metadata__ is not an object")
                }
                for (k, v) in m {
                    guard let s = v as? String else {
                        throw EmendModelsError.safetensorsMalformedJSON(file: file, reason: "__metadata__ value for '\(k)' is not a string")
                    }
                    meta[k] = s
                }
                continue
            }
            found[name] = try SafeTensorsFile.parseEntry(name: name, entry: entry, file: file, dataSize: dataSize)
        }
        let ordered = found.values.sorted { ($0.dataOffsets.lowerBound, $0.name) < ($1.dataOffsets.lowerBound, $1.name) }
        for (a, b) in zip(ordered, ordered.dropFirst()) where !a.dataOffsets.isEmpty && a.dataOffsets.upperBound > b.dataOffsets.lowerBound {
            throw EmendModelsError.safetensorsOverlap(file: file, first: a.name, second: b.name)
        }
        names = ordered.map(\.name)
        infos = found
        metadata = meta
    }

    private static func parseEntry(name: String, entry: Any, file: String, dataSize: Int) throws -> SafeTensorsInfo {
        func malformed(_ why: String) -> EmendModelsError { .safetensorsMalformedJSON(file: file, reason: "tensor '\(name)': \(why)") }
        guard let e = entry as? [String: Any] else { throw malformed("entry is not an object") }
        guard let ds = e["dtype"] as? String else { throw malformed("missing string field 'dtype'") }
        guard let dtype = SafeTensorsDType(rawValue: ds) else {
            throw EmendModelsError.safetensorsUnknownDType(file: file, tensor: name, dtype: ds)
        }
        guard let shapeAny = e["shape"] as? [Any] else { throw malformed("missing array field 'shape'") }
        guard let offAny = e["data_offsets"] as? [Any], offAny.count == 2 else { throw malformed("'data_offsets' is not [begin, end]") }
        let shape = try shapeAny.map { v -> Int in
            guard let i = jsonInt(v), i >= 0 else { throw malformed("shape \(shapeAny) holds a value that is not a non-negative integer") }
            return i
        }
        guard let begin = jsonInt(offAny[0]), let end = jsonInt(offAny[1]) else { throw malformed("'data_offsets' are not integers") }
        guard begin >= 0, begin <= end, end <= dataSize else {
            throw EmendModelsError.safetensorsOffsetsOutOfRange(file: file, tensor: name, begin: begin, end: end, dataSize: dataSize)
        }
        var count = 1
        for d in shape {
            let (p, o) = count.multipliedReportingOverflow(by: d)
            guard !o else { throw EmendModelsError.safetensorsSizeMismatch(file: file, tensor: name, dtype: ds, shape: shape, expected: Int.max, got: end - begin) }
            count = p
        }
        let (expected, o) = count.multipliedReportingOverflow(by: dtype.itemSize)
        guard !o, expected == end - begin else {
            throw EmendModelsError.safetensorsSizeMismatch(file: file, tensor: name, dtype: ds, shape: shape,
                                                           expected: o ? Int.max : expected, got: end - begin)
        }
        return SafeTensorsInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    // MARK: - Access

    public func info(_ name: String) -> SafeTensorsInfo? { infos[name] }

    /// The tensor's bytes in place in the memory map; valid only while this object lives.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        guard let i = infos[name] else { throw EmendModelsError.tensorNotFound(file: url.path, tensor: name) }
        guard let base = mapped.bytes.baseAddress, !i.dataOffsets.isEmpty else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + dataStart + i.dataOffsets.lowerBound, count: i.dataOffsets.count)
    }

    /// The tensor converted to Float32 (integers and booleans by value), shape `info.shape`.
    public func tensor(_ name: String) throws -> Tensor {
        guard let i = infos[name] else { throw EmendModelsError.tensorNotFound(file: url.path, tensor: name) }
        let raw = try rawBytes(name)
        return Tensor(shape: i.shape, scalars: safeTensorsToFloats(raw, dtype: i.dtype, count: i.elementCount))
    }

    /// The elements of an integer or boolean tensor, flattened row-major.
    public func integers(_ name: String) throws -> [Int] {
        guard let i = infos[name] else { throw EmendModelsError.tensorNotFound(file: url.path, tensor: name) }
        guard i.dtype.isInteger else {
            throw EmendModelsError.tensorWrongDType(file: url.path, tensor: name, expected: "an integer dtype", got: i.dtype.rawValue)
        }
        let raw = try rawBytes(name)
        return (0..<i.elementCount).map { k -> Int in
            switch i.dtype {
            case .i64: return Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * k, as: Int64.self)))
            case .u64: return Int(truncatingIfNeeded: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self)))
            case .i32: return Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self)))
            case .u32: return Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self)))
            case .i16: return Int(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * k, as: Int16.self)))
            case .u16: return Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self)))
            case .i8: return Int(raw.load(fromByteOffset: k, as: Int8.self))
            default: return Int(raw[k])
            }
        }
    }
}

// MARK: - Folder

/// A folder of safetensors shards, merged: with `model.safetensors.index.json` its `weight_map`
/// decides which shard holds each tensor; without one, every `*.safetensors` file is read and a
/// name may appear only once. A URL naming a single `.safetensors` file is also accepted.
public final class SafeTensorsFolder: @unchecked Sendable {
    public let url: URL
    /// The shard files, in file-name order.
    public let shards: [SafeTensorsFile]
    /// All tensor names: shard order, then data order within a shard.
    public let names: [String]
    /// `__metadata__` of all shards merged (later shards win on conflicting keys).
    public let metadata: [String: String]
    private let owner: [String: Int]

    /// The index file name Hugging Face uses for sharded checkpoints.
    public static let indexFileName = "model.safetensors.index.json"

    public init(url: URL) throws {
        self.url = url
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw EmendModelsError.fileUnreadable(file: url.path, reason: "no such file or folder")
        }
        var owner: [String: Int] = [:]
        var shards: [SafeTensorsFile] = []
        if !isDir.boolValue {
            let f = try SafeTensorsFile(url: url)
            shards = [f]
            for n in f.names { owner[n] = 0 }
        } else {
            let indexURL = url.appendingPathComponent(SafeTensorsFolder.indexFileName)
            if fm.fileExists(atPath: indexURL.path) {
                let weightMap = try SafeTensorsFolder.readWeightMap(indexURL)
                let files = Set(weightMap.values).sorted()
                var shardIndex: [String: Int] = [:]
                for (i, f) in files.enumerated() {
                    shards.append(try SafeTensorsFile(url: url.appendingPathComponent(f)))
                    shardIndex[f] = i
                }
                for (name, f) in weightMap {
                    guard let s = shardIndex[f], shards[s].info(name) != nil else {
                        throw EmendModelsError.safetensorsShardInconsistent(file: indexURL.path, tensor: name,
                                                                            reason: "the index places it in \(f), which does not contain it")
                    }
                    owner[name] = s
                }
            } else {
                let files: [String]
                do { files = try fm.contentsOfDirectory(atPath: url.path).filter { $0.hasSuffix(".safetensors") && !$0.hasPrefix(".") }.sorted() }
                catch { throw EmendModelsError.fileUnreadable(file: url.path, reason: "cannot list the folder") }
                guard !files.isEmpty else { throw EmendModelsError.fileUnreadable(file: url.path, reason: "the folder holds no .safetensors files") }
                for (i, f) in files.enumerated() {
                    let shard = try SafeTensorsFile(url: url.appendingPathComponent(f))
                    for n in shard.names {
                        if let prev = owner[n] {
                            throw EmendModelsError.safetensorsShardInconsistent(file: url.path, tensor: n,
                                reason: "it appears in both \(files[prev]) and \(f), and there is no index to choose")
                        }
                        owner[n] = i
                    }
                    shards.append(shard)
                }
            }
        }
        self.shards = shards
        self.owner = owner
        names = shards.enumerated().flatMap { i, s in s.names.filter { owner[$0] == i } }
        metadata = shards.reduce(into: [:]) { m, s in m.merge(s.metadata) { _, new in new } }
    }

    /// The `weight_map` of an index file: tensor name → shard file name.
    static func readWeightMap(_ indexURL: URL) throws -> [String: String] {
        let file = indexURL.path
        let data: Data
        do { data = try Data(contentsOf: indexURL) } catch {
            throw EmendModelsError.fileUnreadable(file: file, reason: fileErrorReason(error))
        }
        let root: Any
        do { root = try JSONSerialization.jsonObject(with: data) } catch {
            throw EmendModelsError.safetensorsMalformedJSON(file: file, reason: jsonDecodingReason(error, data: data))
        }
        guard let obj = root as? [String: Any], let wm = obj["weight_map"] as? [String: Any] else {
            throw EmendModelsError.safetensorsMalformedJSON(file: file, reason: "no 'weight_map' object")
        }
        var out: [String: String] = [:]
        for (k, v) in wm {
            guard let s = v as? String, !s.contains("/"), !s.hasPrefix(".") else {
                throw EmendModelsError.safetensorsMalformedJSON(file: file, reason: "weight_map entry for '\(k)' is not a plain shard file name")
            }
            out[k] = s
        }
        return out
    }

    /// The shard holding `name`, or nil.
    public func shard(for name: String) -> SafeTensorsFile? { owner[name].map { shards[$0] } }
    public func info(_ name: String) -> SafeTensorsInfo? { shard(for: name)?.info(name) }

    public func tensor(_ name: String) throws -> Tensor {
        guard let s = shard(for: name) else { throw EmendModelsError.tensorNotFound(file: url.path, tensor: name) }
        return try s.tensor(name)
    }

    public func integers(_ name: String) throws -> [Int] {
        guard let s = shard(for: name) else { throw EmendModelsError.tensorNotFound(file: url.path, tensor: name) }
        return try s.integers(name)
    }
}

// MARK: - Helpers

/// A JSON number that is an exact integer, or nil. Goes through NSNumber because bridging of JSON
/// numbers (and of booleans, which `is Bool` matches on Linux) differs across platforms.
private func jsonInt(_ v: Any) -> Int? {
    guard let n = v as? NSNumber else { return nil }
    let d = n.doubleValue
    guard d.isFinite, d == d.rounded(.towardZero) else { return nil }
    if Swift.abs(d) < 0x1p53 { return Int(d) }
    let i = n.int64Value
    return Double(i) == d ? Int(i) : nil
}

/// Float8 E4M3 (fn variant: bias 7, no infinities, 0x7F/0xFF NaN) to Float32.
@inline(__always) private func e4m3ToFloat(_ b: UInt8) -> Float {
    let sign: Float = b & 0x80 != 0 ? -1 : 1
    let e = Int((b >> 3) & 0xF), m = Float(b & 7)
    if e == 15 && (b & 7) == 7 { return .nan }
    if e == 0 { return sign * m / 8 * 0.015625 }  // subnormal: m/8 · 2^-6
    return sign * (1 + m / 8) * Float(sign: .plus, exponent: e - 7, significand: 1)
}

/// Raw safetensors elements converted to Float32.
func safeTensorsToFloats(_ raw: UnsafeRawBufferPointer, dtype: SafeTensorsDType, count: Int) -> [Float] {
    if count == 0 { return [] }
    var out = [Float](repeating: 0, count: count)
    out.withUnsafeMutableBufferPointer { o in
        switch dtype {
        case .f32: UnsafeMutableRawPointer(o.baseAddress!).copyMemory(from: raw.baseAddress!, byteCount: 4 * count)
        case .f16: for k in 0..<count { o[k] = halfBitsToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self))) }
        case .bf16: for k in 0..<count { o[k] = bfloat16BitsToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self))) }
        case .f64: for k in 0..<count { o[k] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self)))) }
        case .f8e5m2: for k in 0..<count { o[k] = halfBitsToFloat(UInt16(raw[k]) << 8) }
        case .f8e4m3: for k in 0..<count { o[k] = e4m3ToFloat(raw[k]) }
        case .i64: for k in 0..<count { o[k] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * k, as: Int64.self))) }
        case .u64: for k in 0..<count { o[k] = Float(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self))) }
        case .i32: for k in 0..<count { o[k] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self))) }
        case .u32: for k in 0..<count { o[k] = Float(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self))) }
        case .i16: for k in 0..<count { o[k] = Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * k, as: Int16.self))) }
        case .u16: for k in 0..<count { o[k] = Float(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self))) }
        case .i8: for k in 0..<count { o[k] = Float(raw.load(fromByteOffset: k, as: Int8.self)) }
        case .u8, .bool: for k in 0..<count { o[k] = Float(raw[k]) }
        }
    }
    return out
}
