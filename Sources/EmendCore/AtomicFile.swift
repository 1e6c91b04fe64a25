// Writing a file so that readers see the old bytes or the new bytes, never a mix: write a temporary file in the
// same folder, flush it to disk, rename it over the destination (rename is atomic on POSIX file systems), then
// flush the folder so the rename itself survives a power cut.

import Foundation

/// Writes `data` to `url` atomically (temp file + fsync + rename + fsync of the folder); the destination is untouched
/// on failure, and a failed flush (a full disk can surface only there) is an error, not a silent success.
public func writeAtomically(_ data: Data, to url: URL) throws {
    let dir = url.deletingLastPathComponent()
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
    func failure(_ what: String, _ path: String) -> CocoaError {
        CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path,
                                                 NSLocalizedDescriptionKey: "\(what) \(path): \(String(cString: strerror(errno)))"])
    }
    do {
        try data.write(to: tmp)
        let fd = open(tmp.path, O_RDONLY)
        guard fd >= 0 else { throw failure("cannot reopen", tmp.path) }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced else { throw failure("cannot flush", tmp.path) }
        guard rename(tmp.path, url.path) == 0 else { throw failure("cannot rename to", url.path) }
    } catch {
        try? FileManager.default.removeItem(at: tmp)
        throw error
    }
    // The new name is in place; flushing the folder makes it durable (best effort: some file systems refuse it).
    let dfd = open(dir.path, O_RDONLY)
    if dfd >= 0 { _ = fsync(dfd); close(dfd) }
}
