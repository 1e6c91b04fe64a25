// Editing speed against the official PyTorch code measured on a machine like ours
// (shared/anchors/reference-cpu.md): the same model, the Llama-3-8B presets with the loss at the last layer,
// statistics from 2,000 corpus texts, the first 100 CounterFact records in one batch, float32, 2 threads.

import EmendCore
import EmendEditing
import EmendModels
import EmendTestSupport
import Foundation

/// The official code's seconds per edit (total, target search) and mean search steps per fact.
private let anchors: [String: (total: Double, search: Double, steps: Double)] = [
    "encore": (7.4, 6.1, 10.3),      // batches 1-2: 7.72/7.15 s, 6.48/5.81 s, 10.9/9.7 steps
    "memit": (14.28, 12.98, 22.9),
    "alphaedit": (14.7, 13.4, 24.0), // 20.9 s with other work beside it; ≈14.7 without (anchor note)
]

func runEditBenchmarks() {
    let edits = Int(ProcessInfo.processInfo.environment["EMEND_BENCH_EDITS"] ?? "") ?? 100
    var table = BenchTable("Editing speed: \(edits) CounterFact records in one batch, official Llama-3-8B settings on SmolLM2-135M",
                           columns: ["method", "s/edit", "search s/edit", "rest s/edit", "steps/fact", "official s/edit", "speed-up"])
    let data = TestPaths.shared.appendingPathComponent("data/counterfact_easyedit/counterfact-edit.json")
    guard TestPaths.exists(TestPaths.defaultModel), TestPaths.exists(data) else {
        print("\n(edit benchmarks skipped: the default model or shared/data is missing)")
        return
    }
    do {
        let loaded = try LoadedModel.load(TestPaths.defaultModel.path)
        let requests = Array(try EditRequest.load(from: data).prefix(edits))
        for method in ["encore", "memit", "alphaedit"] {
            let preset = try EditPreset.named("smollm2-135m-reference-\(method)")
            var editor = try EditingSession.makeEditor(loaded, preset: preset) { what, done, total in
                if done == total { FileHandle.standardError.write("\(what): \(total) documents\n".data(using: .utf8)!) }
            }
            let r = try editor.apply(requests)
            let n = Double(requests.count)
            let total = (r.searchSeconds + r.updateSeconds) / n
            let a = anchors[method]!
            table.add([method, String(format: "%.2f", total), String(format: "%.2f", r.searchSeconds / n),
                       String(format: "%.2f", r.updateSeconds / n), String(format: "%.1f", r.meanSteps),
                       String(format: "%.1f", a.total), String(format: "%.1f×", a.total / total)])
        }
        table.note("official: the ENCORE repository's code, PyTorch 2.13 CPU, 2 threads, on a machine of this kind (anchors/reference-cpu.md).")
        table.note("steps/fact: gradient steps of the target search; the official counts forward passes (one more per fact).")
        table.note("C0 statistics are computed once per model and layer set and cached; their one-time cost is not in s/edit.")
    } catch {
        print("\n(edit benchmarks failed: \(error))")
    }
    table.print()
}
