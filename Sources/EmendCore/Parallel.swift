// Splitting large elementwise work across cores. Small work runs inline: thread start-up costs
// more than it saves below ~32k elements.

import CEmendKernels
import Dispatch
import Foundation

/// A pointer that may cross into a concurrent closure. Callers guarantee disjoint writes.
public struct SendablePointer<T>: @unchecked Sendable {
    public let base: UnsafeMutablePointer<T>
    public init(_ base: UnsafeMutablePointer<T>) { self.base = base }
}

/// A read-only pointer that may cross into a concurrent closure.
public struct SendableConstPointer<T>: @unchecked Sendable {
    public let base: UnsafePointer<T>
    public init(_ base: UnsafePointer<T>) { self.base = base }
}

/// The number of worker threads Emend uses: `$EMEND_THREADS` when it is a positive integer, else the active
/// processor count (at least 1). `emend` passes the same number to OpenBLAS at start-up.
public let emendThreadCount: Int = {
    if let s = ProcessInfo.processInfo.environment["EMEND_THREADS"], let n = Int(s), n > 0 { return n }
    return max(1, ProcessInfo.processInfo.activeProcessorCount)
}()

/// Calls `body(range)` on disjoint ranges covering `0..<count`, in parallel when `count` is large.
/// - Parameter grain: the smallest amount of work worth a thread.
@inline(__always)
public func parallelRanges(_ count: Int, grain: Int = 32_768, _ body: @Sendable (Range<Int>) -> Void) {
    let chunks = min(emendThreadCount, count / max(grain, 1))
    if chunks <= 1 {
        if count > 0 { body(0..<count) }
        return
    }
    let size = (count + chunks - 1) / chunks
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let lo = c * size
        let hi = min(count, lo + size)
        if lo < hi { body(lo..<hi) }
    }
}

/// `parallelRanges` for short work called many times a second (the one-row products of generation): the ranges go to
/// Emend's own spinning workers (emend_pool.c), which take a range within about a microsecond of being handed it,
/// where a Dispatch worker needs tens. The same split into `min(threads, count / grain)` equal ranges; falls back to
/// `parallelRanges` when the pool is busy (a call from inside a range, or from a second thread).
public func parallelRangesSpinning(_ count: Int, grain: Int, _ body: @Sendable (Range<Int>) -> Void) {
    let chunks = min(emendThreadCount, count / max(grain, 1))
    if chunks <= 1 {
        if count > 0 { body(0..<count) }
        return
    }
    let ran = withoutActuallyEscaping(body) { escapable -> Bool in
        var f = escapable
        return withUnsafeMutablePointer(to: &f) { emend_pool_run(Int64(count), Int32(chunks), runPoolRange, $0) != 0 }
    }
    if !ran { parallelRanges(count, grain: grain, body) }
}

/// The pool's call into a Swift closure: `ctx` points at the `(Range<Int>) -> Void` to run.
private let runPoolRange: @convention(c) (UnsafeMutableRawPointer?, Int64, Int64) -> Void = { ctx, lo, hi in
    ctx!.assumingMemoryBound(to: (@Sendable (Range<Int>) -> Void).self).pointee(Int(lo)..<Int(hi))
}
