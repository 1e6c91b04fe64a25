// A fixed set of threads for CPU-bound work (generation), so that minutes of matrix products never block Swift
// concurrency's cooperative threads (which run the HTTP server). Jobs run in the order they were submitted. The
// threads never end, so a pool lives as long as the process (one per server).

import Foundation

final class WorkerPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private(set) var waiting = 0

    init(threads: Int, name: String) {
        for i in 0..<max(1, threads) {
            let t = Thread { self.loop() }
            t.name = "\(name)-\(i)"
            t.stackSize = 8 << 20
            t.start()
        }
    }

    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Runs `work` on a pool thread and returns its result.
    func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { c in submit { c.resume(returning: work()) } }
    }

    private func loop() {
        while true {
            condition.lock()
            while head == jobs.count { condition.wait() }
            let job = jobs[head]
            head += 1
            if head > 1024 && head * 2 > jobs.count { jobs.removeFirst(head); head = 0 }
            condition.unlock()
            job()
        }
    }
}
