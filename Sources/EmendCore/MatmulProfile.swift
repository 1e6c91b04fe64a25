// Where the matrix-product time goes: with EMEND_PROFILE_MATMUL=1 every product through `matmul` and
// `WeightMatrix` is timed and counted by shape and precision (`make bench` prints the table after the edit runs).
// Off by default: then recording costs one branch per product.

import Foundation

public enum MatmulProfile {
    /// One row of the profile: products of one shape at one precision.
    public struct Entry: Sendable {
        public var rows: Int, inner: Int, outer: Int
        public var precision: String
        public var count: Int
        public var seconds: Double
        public var gflops: Double { 2 * Double(rows) * Double(inner) * Double(outer) * Double(count) / max(seconds, 1e-12) * 1e-9 }
    }

    /// True when EMEND_PROFILE_MATMUL is set to 1.
    public static let enabled = ProcessInfo.processInfo.environment["EMEND_PROFILE_MATMUL"] == "1"

    private struct Key: Hashable { var rows: Int, inner: Int, outer: Int, precision: String }
    nonisolated(unsafe) private static var table: [Key: (count: Int, seconds: Double)] = [:]
    private static let lock = NSLock()

    /// Runs `body` (one product [rows, inner] · [inner, outer]) and records its time when profiling is on.
    @inline(__always)
    static func measure<T>(rows: Int, inner: Int, outer: Int, precision: @autoclosure () -> String, _ body: () -> T) -> T {
        guard enabled else { return body() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let result = body()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        lock.lock()
        let key = Key(rows: rows, inner: inner, outer: outer, precision: precision())
        let old = table[key] ?? (0, 0)
        table[key] = (old.count + 1, old.seconds + seconds)
        lock.unlock()
        return result
    }

    /// The entries recorded so far, most time first.
    public static func entries() -> [Entry] {
        lock.lock(); defer { lock.unlock() }
        return table.map { Entry(rows: $0.key.rows, inner: $0.key.inner, outer: $0.key.outer, precision: $0.key.precision,
                                 count: $0.value.count, seconds: $0.value.seconds) }.sorted { $0.seconds > $1.seconds }
    }

    /// Forgets every entry.
    public static func reset() { lock.lock(); table = [:]; lock.unlock() }
}
