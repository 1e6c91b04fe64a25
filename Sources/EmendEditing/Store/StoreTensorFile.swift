// The edit store's tensor files: safetensors holding Float32 weights and Float64 state, written atomically
// (temporary file in the same folder, fsync, rename, fsync of the folder) and read back bit for bit.
//
// Layout (the safetensors format): u64 little-endian header length, JSON header {name: {dtype, shape,
// data_offsets}}, padded with spaces to 8 bytes, then the data. Tensors appear in the order given.

import EmendCore
import EmendModels
import Foundation

/// One tensor of a store file: a weight [out, in] in Float32, or a state matrix in Float64.
public enum StoreTensor: Sendable, Equatable {
    case f32(Tensor)
    case f64(Matrix64)

    var dtype: String { switch self { case .f32: return "F32"; case .f64: return "F64" } }
    var shape: [Int] { switch self { case .f32(let t): return t.shape; case .f64(let m): return [m.rows, m.cols] } }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case .f32(let t): return try t.scalars.withUnsafeBytes(body)
        case .f64(let m): return try m.scalars.withUnsafeBytes(body)
        }
    }

    /// SHA-256 of the tensor's little-endian bytes.
    var checksum: String { withBytes { Checksum.hex($0) } }
}

public enum StoreTensorFile {
    /// Writes `tensors` to `url` atomically; `faults` is called with `point` half-way through the data.
    /// - Returns: the SHA-256 of the file written and its size.
    @discardableResult
    public static func write(_ tensors: [(name: String, tensor: StoreTensor)], metadata: [String: String] = [:], to url: URL,
                             faults: StoreFaults = .none, point: StoreFaultPoint = .tensorWrite) throws -> (sha256: String, bytes: Int) {
        try SafeTensorsWriter.checkNames(tensors.map(\.name), file: url.path)
        let header = SafeTensorsWriter.encodeHeader(tensors.map { ($0.name, $0.tensor.dtype, $0.tensor.shape, $0.tensor.withBytes { $0.count }) },
                                                    metadata: metadata)

        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        var fd = open(tmp.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw EditStoreError.writeFailed(file: tmp.path, reason: String(cString: strerror(errno))) }
        var hasher = Checksum()
        var written = 0
        func put(_ buf: UnsafeRawBufferPointer) throws {
            guard buf.count > 0 else { return }
            hasher.update(buf)
            var done = 0
            while done < buf.count {
                let n = Foundation.write(fd, buf.baseAddress! + done, min(buf.count - done, 1 << 30))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw EditStoreError.writeFailed(file: url.path, reason: String(cString: strerror(errno)))
                }
                done += n
            }
            written += buf.count
        }
        do {
            try header.withUnsafeBytes { try put($0) }
            let half = max(1, tensors.count / 2)
            for (i, (_, t)) in tensors.enumerated() {
                if i == half || (tensors.count == 1 && i == 0) { try faults.hook(point) }
                try t.withBytes { try put($0) }
            }
            guard fsync(fd) == 0 else { throw EditStoreError.writeFailed(file: url.path, reason: "fsync: \(String(cString: strerror(errno)))") }
            close(fd)
            fd = -1
            guard rename(tmp.path, url.path) == 0 else {
                throw EditStoreError.writeFailed(file: url.path, reason: "rename: \(String(cString: strerror(errno)))")
            }
        } catch {
            if fd >= 0 { close(fd) }
            unlink(tmp.path)
            throw error
        }
        let dfd = open(dir.path, O_RDONLY)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
        return (hasher.finalizeHex(), written)
    }

    /// Reads every tensor of a store file, checking the whole file's SHA-256 first when `sha256` is given.
    public static func read(_ url: URL, sha256: String?) throws -> [String: StoreTensor] {
        if let want = sha256 {
            let got = try Checksum.hex(fileAt: url)
            guard got == want else { throw EditStoreError.checksumMismatch(file: url.path, expected: want, got: got) }
        }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(url: url) } catch {
            throw EditStoreError.corruptTensorFile(file: url.path, problem: "not a readable safetensors file (\(error))")
        }
        var out: [String: StoreTensor] = [:]
        for name in file.names {
            guard let info = file.info(name) else { continue }
            let raw = try file.rawBytes(name)
            switch info.dtype {
            case .f32:
                var s = [Float](repeating: 0, count: info.elementCount)
                s.withUnsafeMutableBytes { $0.copyMemory(from: raw) }
                out[name] = .f32(Tensor(shape: info.shape, scalars: s))
            case .f64:
                guard info.shape.count == 2 else {
                    throw EditStoreError.corruptTensorFile(file: url.path, problem: "tensor '\(name)': expected a 2-D F64 matrix, got shape \(info.shape)")
                }
                var s = [Double](repeating: 0, count: info.elementCount)
                s.withUnsafeMutableBytes { $0.copyMemory(from: raw) }
                out[name] = .f64(try Matrix64(rows: info.shape[0], cols: info.shape[1], scalars: s))
            default:
                throw EditStoreError.corruptTensorFile(file: url.path, problem: "tensor '\(name)': expected dtype F32 or F64, got \(info.dtype.rawValue)")
            }
        }
        return out
    }
}
