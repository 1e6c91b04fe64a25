import Foundation
import XCTest
@testable import EmendCore

/// `parallelRangesSpinning` (the worker pool of emend_pool.c) against the independent truth of a count per index:
/// every index of 0..<count is visited exactly once, whatever thread ran it, when the pool is woken from sleep, when
/// it is called from inside one of its own ranges (it falls back) and when two threads call it at once (one falls
/// back).
final class ParallelTests: XCTestCase {
    /// Runs `parallelRangesSpinning(count, grain:)` and returns how often each index was visited.
    private static func visits(_ count: Int, grain: Int, nested: Bool = false) -> [Int] {
        var seen = [Int](repeating: 0, count: count)
        seen.withUnsafeMutableBufferPointer { p in
            let base = SendablePointer(p.baseAddress!)
            parallelRangesSpinning(count, grain: grain) { r in
                if nested {
                    // A call from inside a range: the pool is taken, so this runs the Dispatch way (or inline).
                    parallelRangesSpinning(r.count, grain: 1) { inner in
                        for i in inner { base.base[r.lowerBound + i] += 1 }
                    }
                } else {
                    for i in r { base.base[i] += 1 }
                }
            }
        }
        return seen
    }

    func testSpinning_EveryIndexOnce() {
        for (count, grain) in [(0, 1), (1, 1), (2, 1), (3, 1), (7, 2), (1000, 1), (1000, 400), (100_000, 1000)] {
            XCTAssertEqual(Self.visits(count, grain: grain), [Int](repeating: 1, count: count), "count \(count) grain \(grain)")
        }
    }

    func testSpinning_NestedCallFallsBack() {
        XCTAssertEqual(Self.visits(10_000, grain: 1, nested: true), [Int](repeating: 1, count: 10_000))
    }

    /// Many short jobs in a row (the workers stay awake), then jobs spaced beyond the spin window (the workers sleep
    /// and are woken by the next job).
    func testSpinning_BackToBackAndAfterSleep() {
        var bad = 0
        for _ in 0..<20_000 where Self.visits(64, grain: 1) != [Int](repeating: 1, count: 64) { bad += 1 }
        for _ in 0..<20 {
            usleep(2_000)
            if Self.visits(64, grain: 1) != [Int](repeating: 1, count: 64) { bad += 1 }
        }
        XCTAssertEqual(bad, 0)
    }

    /// Two threads call at once: one holds the pool, the other runs its ranges through Dispatch.
    func testSpinning_ConcurrentCallers() {
        let failures = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        failures.initialize(repeating: 0, count: 2)
        defer { failures.deallocate() }
        let f = SendablePointer(failures)
        DispatchQueue.concurrentPerform(iterations: 2) { t in
            for _ in 0..<2_000 where Self.visits(256, grain: 1) != [Int](repeating: 1, count: 256) { f.base[t] += 1 }
        }
        XCTAssertEqual(failures[0] + failures[1], 0)
    }
}
