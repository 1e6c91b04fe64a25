// A named model in the cache: absent, present but not (or no longer) verified, or verified. Verified means a stamp
// beside the file, `FILE.verified`, holds "SIZE MTIME SHA256" of the file as it was when its SHA-256 was checked —
// the same line scripts/setup.sh writes — so neither `emend pull` nor setup re-hashes 250 MB on every run, and any
// change to the file (a new size or modification time) sends it back to being checked.

import EmendCore
import Foundation

extension NamedModel {
    public enum CacheState: String, Codable, Sendable {
        /// No file.
        case absent
        /// A file whose stamp is missing or does not match it: `emend pull` checks its SHA-256 again.
        case unverified
        /// A file whose SHA-256 was checked, unchanged since.
        case verified
    }

    /// The stamp beside the model file.
    public var stampURL: URL { url.deletingLastPathComponent().appendingPathComponent(file + ".verified") }

    /// The cache state, from the file and its stamp alone (no hashing).
    public var cacheState: CacheState {
        guard let now = Self.sizeAndModified(url) else { return .absent }
        guard let stamp = try? String(contentsOf: stampURL, encoding: .utf8),
              stamp.trimmingCharacters(in: .whitespacesAndNewlines) == "\(now.size) \(now.modified) \(sha256)" else {
            return .unverified
        }
        return .verified
    }

    /// Hashes the cached file; when it has the table's SHA-256, writes the stamp and returns nil, otherwise returns
    /// the SHA-256 it has (and removes any stamp).
    func verifyCached() throws -> String? {
        let got = try Checksum.hex(fileAt: url)
        guard got == sha256 else {
            try? FileManager.default.removeItem(at: stampURL)
            return got
        }
        try writeStamp()
        return nil
    }

    /// Records that the file, as it is now, has the table's SHA-256.
    func writeStamp() throws {
        guard let now = Self.sizeAndModified(url) else {
            throw EmendModelsError.fileUnreadable(file: url.path, reason: "no such file")
        }
        do { try writeAtomically(Data("\(now.size) \(now.modified) \(sha256)\n".utf8), to: stampURL) } catch {
            throw EmendModelsError.writeFailed(file: stampURL.path, reason: fileErrorReason(error))
        }
    }

    /// Size and whole-second modification time, as `stat -c '%s %Y'` prints them; nil when there is no file.
    static func sizeAndModified(_ url: URL) -> (size: Int, modified: Int)? {
        var st = stat()
        guard stat(url.path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        #if canImport(Darwin)
        return (Int(st.st_size), Int(st.st_mtimespec.tv_sec))
        #else
        return (Int(st.st_size), Int(st.st_mtim.tv_sec))
        #endif
    }
}
