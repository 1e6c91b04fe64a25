// A read-only memory map of a whole file, and an atomic writer (temp file, fsync, rename).
//
// Model files are 100 MB to many GB: mapping them lets tensors be read in place, and lets untouched
// tensors be copied to a new file without ever being loaded.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A file mapped read-only into memory for the lifetime of this object.
public final class MappedFile: @unchecked Sendable {
    /// The file's path, as given.
    public let path: String
    /// The mapped bytes (empty for an empty file). Valid while this object lives.
    public let bytes: UnsafeRawBufferPointer
    private let mapping: UnsafeMutableRawPointer?

    /// Maps `url` read-only; throws `fileUnreadable` naming the failing system call.
    public init(url: URL) throws {
        path = url.path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw EmendModelsError.fileUnreadable(file: path, reason: "open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw EmendModelsError.fileUnreadable(file: path, reason: "fstat: \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw EmendModelsError.fileUnreadable(file: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        if size == 0 {
            mapping = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw EmendModelsError.fileUnreadable(file: path, reason: "mmap: \(String(cString: strerror(errno)))")
        }
        mapping = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    deinit {
        if let m = mapping { munmap(m, bytes.count) }
    }
}

/// Writes a file under a temporary name in the destination's folder, fsyncs it, then renames it over
/// the destination, so a crash never leaves a half-written file at `url`.
final class AtomicFileWriter {
    let destination: String
    let temporary: String
    private var fd: Int32
    private var finished = false

    init(url: URL) throws {
        destination = url.path
        let dir = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        temporary = (dir.isEmpty ? "." : dir) + "/.\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else {
            throw EmendModelsError.writeFailed(file: destination, reason: "cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
    }

    deinit { if !finished { abandon() } }

    /// Appends `count` bytes from `pointer`, retrying short writes and EINTR.
    func write(_ pointer: UnsafeRawPointer?, count: Int) throws {
        guard count > 0, let base = pointer else { return }
        var done = 0
        while done < count {
            let n = Foundation.write(fd, base + done, min(count - done, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw EmendModelsError.writeFailed(file: destination, reason: "write: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0.baseAddress, count: $0.count) } }
    func write(_ buffer: UnsafeRawBufferPointer) throws { try write(buffer.baseAddress, count: buffer.count) }

    /// Appends `count` zero bytes.
    func writeZeros(_ count: Int) throws {
        if count <= 0 { return }
        try write([UInt8](repeating: 0, count: count))
    }

    /// fsyncs, closes and renames the temporary file over the destination.
    func commit() throws {
        guard fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            abandon()
            throw EmendModelsError.writeFailed(file: destination, reason: "fsync: \(reason)")
        }
        close(fd)
        fd = -1
        guard rename(temporary, destination) == 0 else {
            let reason = String(cString: strerror(errno))
            abandon()
            throw EmendModelsError.writeFailed(file: destination, reason: "rename: \(reason)")
        }
        finished = true
        // Persist the rename itself (best effort: some file systems refuse fsync on directories).
        let dir = (destination as NSString).deletingLastPathComponent
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// Closes and removes the temporary file.
    func abandon() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporary)
        finished = true
    }
}
