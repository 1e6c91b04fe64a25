// SHA-256 checksums, through swift-crypto (BoringSSL's implementation on Linux, CryptoKit's on Apple systems), as
// lowercase hex: of the named models `emend pull` fetches, and of the edit store's base model, tensor files and
// in-memory state.

import Crypto
import Foundation

/// Incremental SHA-256 producing a hex digest.
public struct Checksum {
    private var hasher = Crypto.SHA256()

    public init() {}

    /// Feeds bytes.
    public mutating func update(_ buffer: UnsafeRawBufferPointer) { hasher.update(bufferPointer: buffer) }

    /// Feeds bytes.
    public mutating func update(_ data: Data) { hasher.update(data: data) }

    /// The digest, as 64 lowercase hex characters.
    public func finalizeHex() -> String { hasher.finalize().map { String(format: "%02x", $0) }.joined() }

    public static func hex(_ data: Data) -> String { var s = Checksum(); s.update(data); return s.finalizeHex() }

    public static func hex(_ buffer: UnsafeRawBufferPointer) -> String { var s = Checksum(); s.update(buffer); return s.finalizeHex() }

    /// The digest of a file's bytes, read in 4 MiB chunks.
    public static func hex(fileAt url: URL) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw EmendModelsError.fileUnreadable(file: url.path, reason: "cannot open")
        }
        defer { try? handle.close() }
        var s = Checksum()
        while true {
            let chunk = try handle.read(upToCount: 4 << 20) ?? Data()
            if chunk.isEmpty { break }
            s.update(chunk)
        }
        return s.finalizeHex()
    }
}
