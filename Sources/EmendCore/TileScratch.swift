// Scratch memory for the tiled products, kept between calls.
//
// A tiled product needs megabytes of scratch per call (a decoded tile of W: 3.5 MB for the default model's MLP, up to
// 29 MB for Llama-3-8B's), hundreds of times per forward pass. Fresh allocations of that size come from mmap or from
// heap pages the allocator has just trimmed, so every call page-faults its scratch in, zero-filled by the kernel; the
// Float32 path has no such cost (oneDNN keeps its own scratchpad). Buffers here are handed out and taken back, up to
// `retainedBytes` kept in all. Measured inside the default model's prefill (`EmendBench models`,
// EMEND_PROFILE_MATMUL=1): the 640-row stored products ran at 0.90–0.91× the Float32 ones with per-call allocations,
// 0.96–1.04× with these.

import Foundation

enum TileScratch {
    /// Bytes of returned buffers kept for later calls (the smallest go first): a few tiles of the largest models.
    static let retainedBytes = 96 << 20

    private static let lock = NSLock()
    nonisolated(unsafe) private static var free: [(pointer: UnsafeMutableRawPointer, bytes: Int)] = []

    /// Runs `body` on an uninitialised buffer of at least `count` floats (64-byte aligned), reused from an earlier
    /// call when one large enough is free.
    static func withFloats<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        lock.lock()
        var taken: (pointer: UnsafeMutableRawPointer, bytes: Int)?
        if let i = free.indices.filter({ free[$0].bytes >= bytes }).min(by: { free[$0].bytes < free[$1].bytes }) {
            taken = free.remove(at: i)
        }
        lock.unlock()
        let buffer = taken ?? (UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64), bytes)
        defer { giveBack(buffer) }
        return try body(buffer.pointer.bindMemory(to: Float.self, capacity: buffer.bytes / MemoryLayout<Float>.stride))
    }

    private static func giveBack(_ buffer: (pointer: UnsafeMutableRawPointer, bytes: Int)) {
        lock.lock()
        free.append(buffer)
        free.sort { $0.bytes > $1.bytes }
        var kept = 0, released: [UnsafeMutableRawPointer] = []
        free.removeAll { b in
            if kept + b.bytes > retainedBytes { released.append(b.pointer); return true }
            kept += b.bytes
            return false
        }
        lock.unlock()
        for p in released { p.deallocate() }
    }
}
