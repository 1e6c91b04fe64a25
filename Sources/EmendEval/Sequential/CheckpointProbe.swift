// The seam between the sequential protocol and whatever measures general ability at a checkpoint.
//
// The protocol only needs, per task, a few named numbers; it averages each metric over the tasks that report it
// (the ENCORE paper plots the average weighted F1 over its six tasks). `emend bench sequential` plugs the downstream
// suite in (`BenchSequentialCommand.downstreamProbe()`); tests use small deterministic probes.

import EmendModels

/// Task → metric → value, e.g. `["sst2": ["f1": 0.71, "accuracy": 0.70, "mcc": 0.41]]`. Metrics are fractions
/// or any scale the probe likes; the report plots `"f1"` per task and its mean over tasks.
public typealias CheckpointScores = [String: [String: Double]]

/// Measures a model at a checkpoint of a sequential run. It must not change the model, and must give the same
/// numbers for the same weights (a resumed run is compared with an uninterrupted one).
public struct CheckpointProbe {
    /// What it measures, stored in the run's settings (a resumed run must use the same probe).
    public var description: String
    /// Scores a model; `progress` reports (task, done, total).
    public var evaluate: (_ model: LoadedModel, _ progress: ((String, Int, Int) -> Void)?) throws -> CheckpointScores

    public init(description: String,
                evaluate: @escaping (_ model: LoadedModel, _ progress: ((String, Int, Int) -> Void)?) throws -> CheckpointScores) {
        self.description = description
        self.evaluate = evaluate
    }

    /// Per metric, the mean over the tasks that report it (summed in task-name order, so it is reproducible:
    /// a dictionary's iteration order changes from process to process).
    public static func average(_ scores: CheckpointScores) -> [String: Double] {
        var sums: [String: (total: Double, count: Int)] = [:]
        for task in scores.keys.sorted() {
            for (m, v) in scores[task] ?? [:] { sums[m, default: (0, 0)].total += v; sums[m, default: (0, 0)].count += 1 }
        }
        return sums.mapValues { $0.total / Double($0.count) }
    }
}
