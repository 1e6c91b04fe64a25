// Byte-level builders for hand-made GGUF and safetensors files, written from the format
// specifications (not through Emend's writers), so tests can check the readers and writers against them.

import EmendCore
import Foundation
import XCTest
@testable import EmendModels

/// Appends little-endian fields to a byte buffer.
struct ByteBuilder {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func f32(_ v: Float) { u32(v.bitPattern) }
    mutating func str(_ s: String) { u64(UInt64(s.utf8.count)); bytes += Array(s.utf8) }
    mutating func raw(_ b: [UInt8]) { bytes += b }
    mutating func pad(to alignment: Int) { while bytes.count % alignment != 0 { bytes.append(0) } }
}

/// A tensor info as it will be written: ggml dims, raw type id, offset and its data bytes.
struct RawTensor {
    var name: String
    var dims: [UInt64]
    var type: UInt32
    var data: [UInt8]
    var offset: UInt64? = nil  // nil: laid out in order, each aligned
}

/// A GGUF file assembled field by field. Each metadata entry is a key, a value-type id and a closure
/// that writes the value, so tests can make any (including invalid) encoding.
struct GGUFBuilder {
    var magic = Array("GGUF".utf8)
    var version: UInt32 = 3
    var kv: [(key: String, type: UInt32, write: (inout ByteBuilder) -> Void)] = []
    var tensors: [RawTensor] = []
    var alignment = 32
    var tensorCountOverride: UInt64? = nil
    var kvCountOverride: UInt64? = nil

    mutating func add(_ key: String, u32 v: UInt32) { kv.append((key, 4, { $0.u32(v) })) }
    mutating func add(_ key: String, string v: String) { kv.append((key, 8, { $0.str(v) })) }

    /// The file's bytes and the absolute offset where the data section starts.
    func build() -> (bytes: [UInt8], dataStart: Int) {
        var b = ByteBuilder()
        b.raw(magic)
        b.u32(version)
        b.u64(tensorCountOverride ?? UInt64(tensors.count))
        b.u64(kvCountOverride ?? UInt64(kv.count))
        for e in kv { b.str(e.key); b.u32(e.type); e.write(&b) }
        var next: UInt64 = 0
        var offsets: [UInt64] = []
        for t in tensors {
            let off = t.offset ?? next
            offsets.append(off)
            if t.offset == nil { next = (off + UInt64(t.data.count) + UInt64(alignment) - 1) / UInt64(alignment) * UInt64(alignment) }
            b.str(t.name)
            b.u32(UInt32(t.dims.count))
            for d in t.dims { b.u64(d) }
            b.u32(t.type)
            b.u64(off)
        }
        b.pad(to: alignment)
        let start = b.bytes.count
        for (t, off) in zip(tensors, offsets) where t.offset == nil {
            while UInt64(b.bytes.count - start) < off { b.u8(0) }
            b.raw(t.data)
        }
        b.pad(to: alignment)
        return (b.bytes, start)
    }
}

/// A fresh temporary folder, removed when the test ends.
func makeTemporaryFolder(_ test: XCTestCase) -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("emend-formats-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// Writes `bytes` to `name` in `folder` and returns the URL.
@discardableResult
func writeBytes(_ bytes: [UInt8], _ name: String, in folder: URL) -> URL {
    let url = folder.appendingPathComponent(name)
    _ = FileManager.default.createFile(atPath: url.path, contents: Data(bytes))
    return url
}

/// f16 bits for a few exactly representable values used by the block tests.
enum HalfBits {
    static let one: UInt16 = 0x3C00, two: UInt16 = 0x4000, half: UInt16 = 0x3800, quarter: UInt16 = 0x3400
    static let minusOne: UInt16 = 0xBC00, eighth: UInt16 = 0x3000
}

/// The default model, if it has been fetched.
var defaultModelURL: URL? {
    let home = ProcessInfo.processInfo.environment["EMEND_HOME"].map { URL(fileURLWithPath: $0) }
        ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/emend")
    let url = home.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
    return FileManager.default.fileExists(atPath: url.path) ? url : nil
}

/// The golden-data folder (shared/golden in the repository or its parent worktree root).
func goldenFolder(_ name: String) -> URL? {
    var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    for _ in 0..<5 {
        for base in [dir.appendingPathComponent("shared/golden/\(name)"), dir.deletingLastPathComponent().appendingPathComponent("shared/golden/\(name)")]
        where FileManager.default.fileExists(atPath: base.path) { return base }
        dir = dir.deletingLastPathComponent()
    }
    return nil
}
