// safetensors writer: one file, or shards of at most `maxShardBytes` plus
// `model.safetensors.index.json`. Every file is written atomically (temp file, fsync, rename).
//
// The JSON header is written by hand so tensors appear in the order given, and padded with spaces to
// a multiple of 8 bytes so the data buffer stays aligned.

import EmendCore
import Foundation

public enum SafeTensorsWriter {
    // MARK: - Public API

    /// Writes `tensors` (in order) to one file as `dtype` (F32, F16 or BF16, rounded to nearest even).
    public static func write(_ tensors: [(name: String, tensor: Tensor)], dtype: SafeTensorsDType = .f32,
                             metadata: [String: String] = [:], to url: URL) throws {
        let type = try ggmlType(dtype, file: url.path)
        try checkNames(tensors.map(\.name), file: url.path)
        let header = encodeHeader(tensors.map { ($0.name, dtype.rawValue, $0.tensor.shape, $0.tensor.count * dtype.itemSize) },
                                  metadata: metadata)
        let out = try AtomicFileWriter(url: url)
        do {
            try out.write(header)
            for (_, t) in tensors {
                if type == .f32 {
                    try t.scalars.withUnsafeBytes { try out.write($0) }
                } else {
                    try out.write(GGUFWriter.encode(t.scalars, as: type))
                }
            }
            try out.commit()
        } catch {
            out.abandon()
            throw error
        }
    }

    /// Writes `tensors` into `folder` in shards of at most `maxShardBytes` each (a larger tensor gets a
    /// shard to itself). One shard is written as `<baseName>.safetensors`; several as
    /// `<baseName>-0000i-of-0000n.safetensors` plus `<baseName>.safetensors.index.json`.
    /// - Returns: the files written (shards, then the index if any).
    @discardableResult
    public static func writeSharded(_ tensors: [(name: String, tensor: Tensor)], dtype: SafeTensorsDType = .f32,
                                    metadata: [String: String] = [:], maxShardBytes: Int, to folder: URL,
                                    baseName: String = "model") throws -> [URL] {
        _ = try ggmlType(dtype, file: folder.path)
        try checkNames(tensors.map(\.name), file: folder.path)
        var groups: [[(name: String, tensor: Tensor)]] = [[]]
        var size = 0
        for item in tensors {
            let n = item.tensor.count * dtype.itemSize
            if !groups[groups.count - 1].isEmpty && size + n > maxShardBytes {
                groups.append([])
                size = 0
            }
            groups[groups.count - 1].append(item)
            size += n
        }
        if groups.count == 1 {
            let url = folder.appendingPathComponent("\(baseName).safetensors")
            try write(tensors, dtype: dtype, metadata: metadata, to: url)
            return [url]
        }
        var written: [URL] = []
        var weightMap: [String] = []
        for (i, g) in groups.enumerated() {
            let name = "\(baseName)-\(fiveDigits(i + 1))-of-\(fiveDigits(groups.count)).safetensors"
            let url = folder.appendingPathComponent(name)
            try write(g, dtype: dtype, metadata: metadata, to: url)
            written.append(url)
            weightMap += g.map { "\(jsonString($0.name)):\(jsonString(name))" }
        }
        let total = tensors.reduce(0) { $0 + $1.tensor.count * dtype.itemSize }
        let index = "{\"metadata\":{\"total_size\":\(total)},\"weight_map\":{\(weightMap.joined(separator: ","))}}\n"
        let indexURL = folder.appendingPathComponent("\(baseName).safetensors.index.json")
        let out = try AtomicFileWriter(url: indexURL)
        do { try out.write(Array(index.utf8)); try out.commit() } catch { out.abandon(); throw error }
        written.append(indexURL)
        return written
    }

    /// The bytes that precede a safetensors file's data: the u64 little-endian header length, then the JSON header
    /// `{"__metadata__": {...}, name: {dtype, shape, data_offsets}, ...}` with the tensors in the order given
    /// (their data laid out back to back in that order), padded with spaces so the data starts at a multiple of 8.
    /// Shared by every safetensors file Emend writes (models, edit-store files, sequential-run state).
    public static func encodeHeader(_ tensors: [(name: String, dtype: String, shape: [Int], bytes: Int)],
                                    metadata: [String: String] = [:]) -> [UInt8] {
        var entries: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        var offset = 0
        for t in tensors {
            let shape = t.shape.map(String.init).joined(separator: ",")
            entries.append("\(jsonString(t.name)):{\"dtype\":\"\(t.dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + t.bytes)]}")
            offset += t.bytes
        }
        var json = Array("{\(entries.joined(separator: ","))}".utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        return withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) } + json
    }

    /// Throws when a tensor name is reserved (`__metadata__`) or repeated.
    public static func checkNames(_ names: [String], file: String) throws {
        var seen = Set<String>()
        for n in names {
            guard n != "__metadata__" else {
                throw EmendModelsError.safetensorsMalformedJSON(file: file, reason: "'__metadata__' is reserved and cannot name a tensor")
            }
            guard seen.insert(n).inserted else { throw EmendModelsError.duplicateTensorName(file: file, tensor: n) }
        }
    }

    // MARK: - Helpers

    private static func fiveDigits(_ n: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: max(0, 5 - s.count)) + s
    }

    private static func ggmlType(_ dtype: SafeTensorsDType, file: String) throws -> GGMLType {
        switch dtype {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        default: throw EmendModelsError.unsupportedOutputType(file: file, type: dtype.rawValue, allowed: ["F32", "F16", "BF16"])
        }
    }

    /// A JSON string literal (quotes, backslashes and control characters escaped).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
