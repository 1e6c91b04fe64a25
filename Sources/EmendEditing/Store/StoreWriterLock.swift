// The store's writer lock: an exclusive flock(2) on `<store>/writer.lock`, held for the writer's lifetime and
// released by the kernel when the process exits (even by SIGKILL), so a crashed writer never blocks the next.

import Foundation

final class StoreWriterLock: @unchecked Sendable {
    private let fd: Int32

    /// Takes the lock or throws `.locked` naming the holder's pid (read from the lock file).
    init(store: URL) throws {
        let path = store.appendingPathComponent("writer.lock").path
        fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw EditStoreError.writeFailed(file: path, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buf = [UInt8](repeating: 0, count: 64)
            let n = pread(fd, &buf, 64, 0)
            let holder = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "unknown"
            close(fd)
            throw EditStoreError.locked(store: store.path, holder: "pid \(holder)")
        }
        let me = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, me, me.count, 0)
    }

    deinit {
        _ = flock(fd, LOCK_UN)
        close(fd)
    }
}
