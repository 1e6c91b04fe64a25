// Where generation runs: a fixed set of threads for the CPU-bound work, so that matrix products never block Swift
// concurrency's cooperative threads (which run the HTTP server). A thread that becomes free takes the oldest waiting
// request and, when it is greedy, up to `maxBatch - 1` other greedy requests waiting on the same model version, and
// generates them together: one forward pass per step for all (on a CPU, a step costs about the same for a few rows
// as for one, since each step reads every weight). A request never shares a batch across versions. The threads
// never end: a scheduler lives as long as the process (one per server).

import EmendModels
import Foundation

final class GenerationScheduler: @unchecked Sendable {
    struct Item {
        var job: GenerationJob
        var model: ServedModel
        var onText: @Sendable (String) -> Bool
        var done: @Sendable (GenerationResult) -> Void
    }

    private let condition = NSCondition()
    private var pending: [Item] = []
    let maxBatch: Int

    init(threads: Int, maxBatch: Int) {
        self.maxBatch = max(1, maxBatch)
        for i in 0..<max(1, threads) {
            let t = Thread { self.loop() }
            t.name = "emend-generate-\(i)"
            t.stackSize = 8 << 20
            t.start()
        }
    }

    /// Queues a request; `onText` gets its pieces on a generation thread, `done` its result.
    func submit(_ job: GenerationJob, on model: ServedModel, onText: @escaping @Sendable (String) -> Bool,
                done: @escaping @Sendable (GenerationResult) -> Void) {
        condition.lock()
        pending.append(Item(job: job, model: model, onText: onText, done: done))
        condition.signal()
        condition.unlock()
    }

    /// Generates `job` on `model` and returns the result (no streaming).
    func run(_ job: GenerationJob, on model: ServedModel) async -> GenerationResult {
        await withCheckedContinuation { c in submit(job, on: model, onText: { _ in true }, done: { c.resume(returning: $0) }) }
    }

    private func loop() {
        while true {
            condition.lock()
            while pending.isEmpty { condition.wait() }
            let first = pending.removeFirst()
            var batch = [first]
            if first.job.options.temperature == 0 {
                var i = 0
                while i < pending.count && batch.count < maxBatch {
                    if pending[i].model.serial == first.model.serial && pending[i].job.options.temperature == 0 {
                        batch.append(pending.remove(at: i))
                    } else {
                        i += 1
                    }
                }
            }
            condition.unlock()
            let results = Generation.runBatch(batch.map { ($0.job, $0.onText) }, on: first.model.loaded)
            for (item, result) in zip(batch, results) { item.done(result) }
        }
    }
}
