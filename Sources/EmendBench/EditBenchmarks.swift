// Editing speed against the official PyTorch code measured on a machine like ours
// (shared/anchors/reference-cpu.md): the same model, the Llama-3-8B presets with the loss at the last layer,
// statistics from 2,000 corpus texts, the first 100 CounterFact records in one batch, float32, 2 threads.

import COpenBLAS
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
    let peaks = runSearchShapeBenchmarks()
    var table = BenchTable("Editing speed: \(edits) CounterFact records in one batch, official Llama-3-8B settings on SmolLM2-135M",
                           columns: ["method", "s/edit", "search s/edit", "rest s/edit", "steps/fact", "search GFLOP/s",
                                     "official s/edit", "speed-up", "vs baseline"])
    let data = TestPaths.shared.appendingPathComponent("data/counterfact_easyedit/counterfact-edit.json")
    guard TestPaths.exists(TestPaths.defaultModel), TestPaths.exists(data) else {
        print("\n(edit benchmarks skipped: the default model or shared/data is missing)")
        return
    }
    // An earlier build (make bench BASELINE=COMMIT) runs first, as a child process on the same records.
    let baseline = runBaselineEditBenchmark()
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
            let gflops = (r.searchMatmulFLOPs ?? 0) / r.searchSeconds * 1e-9
            var versus = "–"
            if let b = baseline?.rows[method] {
                table.add(["\(method)@\(baseline!.label)", String(format: "%.2f", b.total), String(format: "%.2f", b.search),
                           String(format: "%.2f", b.total - b.search), String(format: "%.1f", b.steps), "–",
                           String(format: "%.1f", a.total), String(format: "%.1f×", a.total / b.total), "1.0×"])
                versus = String(format: "%.2f× (search %.2f×)", b.total / total, b.search / (r.searchSeconds / n))
            }
            table.add([method, String(format: "%.2f", total), String(format: "%.2f", r.searchSeconds / n),
                       String(format: "%.2f", r.updateSeconds / n), String(format: "%.1f", r.meanSteps), String(format: "%.0f", gflops),
                       String(format: "%.1f", a.total), String(format: "%.1f×", a.total / total), versus])
        }
        table.note("official: the ENCORE repository's code, PyTorch 2.13 CPU, 2 threads, on a machine of this kind (anchors/reference-cpu.md).")
        table.note("steps/fact: gradient steps of the target search; the official counts forward passes (one more per fact).")
        table.note("C0 statistics are computed once per model and layer set and cached; their one-time cost is not in s/edit.")
        table.note("search GFLOP/s: the search's weight-matrix products (2 FLOPs per multiply-add) over its whole time, at precision "
                   + "\(TargetSearchSettings.defaultPrecision.rawValue); peaks at its shapes in this run: " + peaks + ".")
        if let b = baseline { table.note("\(b.label) rows: that commit's build, run as a child process just before, same records.") }
    } catch {
        print("\n(edit benchmarks failed: \(error))")
    }
    table.print()
    if MatmulProfile.enabled { printMatmulProfile(of: "the edit runs above") }
}

// MARK: - The search's products at its own shapes

/// Raw OpenBLAS `sgemm`, `matmul` (oneDNN Float32 where available) and `WeightMatrix` in bfloat16 at the search's
/// three product shapes; returns a one-line summary of the best GFLOP/s of each, for the edit table's note.
private func runSearchShapeBenchmarks() -> String {
    var table = BenchTable("The target search's matrix products (R rows through SmolLM2-135M's matrices, best of 5 interleaved runs)",
                           columns: ["R×N×K", "sgemm GFLOP/s", "oneDNN f32 GFLOP/s", "bf16 GFLOP/s", "bf16/sgemm"])
    var rng = SeededGenerator(seed: 3)
    var best = (sgemm: 0.0, f32: 0.0, bf16: 0.0)
    // x·Wᵀ through the FFN up projection and down projection; the output head over the labelled rows.
    for (m, n, k) in [(3500, 1536, 576), (3500, 576, 1536), (700, 49152, 576)] {
        let x = Tensor.randomNormal([m, k], using: &rng)
        let w = Tensor.randomNormal([n, k], using: &rng)
        let bf16 = WeightMatrix(w, precision: .bfloat16)
        var c = [Float](repeating: 0, count: m * n)
        let times = x.scalars.withUnsafeBufferPointer { px in w.scalars.withUnsafeBufferPointer { pw in c.withUnsafeMutableBufferPointer { pc in
            let xp = px.baseAddress, wp = pw.baseAddress, cp = pc.baseAddress
            return interleavedBestTimes(repetitions: 5, [
                { cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1, xp, Int32(k), wp, Int32(k), 0, cp, Int32(n)) },
                { blackHole(matmul(x, w, transposeB: true)) },
                { blackHole(bf16.forward(x)) },
            ])
        } } }
        let flops = 2 * Double(m) * Double(n) * Double(k)
        let g = times.map { flops / $0 * 1e-9 }
        best = (max(best.sgemm, g[0]), max(best.f32, g[1]), max(best.bf16, g[2]))
        table.add(["\(m)×\(n)×\(k)", fmt(g[0]), fmt(g[1]), bf16.precision == .bfloat16 ? fmt(g[2]) : "n/a", fmt(g[2] / g[0], 2)])
    }
    table.note("oneDNN \(MatmulBackend.usesOneDNN ? "loaded" : "not loaded (EMEND_MATMUL=openblas or no libdnnl)"); native bfloat16: "
               + "\(ComputePrecision.hasNativeBFloat16 ? "yes" : "no (bf16 runs as Float32)").")
    table.print()
    return String(format: "sgemm %.0f, oneDNN f32 %.0f, bf16 %.0f GFLOP/s", best.sgemm, best.f32, best.bf16)
}

// MARK: - A baseline build, side by side

/// Runs `$EMEND_BENCH_BASELINE edit` (an EmendBench built from an earlier commit) and reads its rows:
/// method → (s/edit, search s/edit, steps/fact). Nil when no baseline is asked for or it failed.
private func runBaselineEditBenchmark() -> (label: String, rows: [String: (total: Double, search: Double, steps: Double)])? {
    let env = ProcessInfo.processInfo.environment
    guard let path = env["EMEND_BENCH_BASELINE"], !path.isEmpty else { return nil }
    let label = env["EMEND_BENCH_BASELINE_LABEL"] ?? "baseline"
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = ["edit"]
    var childEnv = env
    childEnv["EMEND_SHARED"] = TestPaths.shared.path
    // The child must not start a baseline of its own: with the variable kept, each child spawned the next, without end.
    childEnv["EMEND_BENCH_BASELINE"] = nil
    p.environment = childEnv
    let pipe = Pipe()
    p.standardOutput = pipe
    do { try p.run() } catch {
        print("\n(baseline \(path) did not start: \(error))")
        return nil
    }
    let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    var rows: [String: (total: Double, search: Double, steps: Double)] = [:]
    for line in out.split(separator: "\n") {
        let f = line.split(separator: " ", omittingEmptySubsequences: true)
        guard f.count >= 5, ["encore", "memit", "alphaedit"].contains(String(f[0])),
              let total = Double(f[1]), let search = Double(f[2]), let steps = Double(f[4]) else { continue }
        rows[String(f[0])] = (total, search, steps)
    }
    if rows.isEmpty { print("\n(baseline \(path) printed no edit rows; exit \(p.terminationStatus))") }
    return rows.isEmpty ? nil : (label, rows)
}

// MARK: - Statistics (C0)

/// `emend stats`'s work: the MLP keys of layers 4–8 (the reference presets' layers) over Wikipedia summaries
/// truncated to 512 tokens, accumulated into C0, without the disk cache. Tokens per second against the official
/// code's 324 (2,000 documents, 209,969 tokens in 648 s, anchors/reference-cpu.md).
func runStatisticsBenchmark() {
    let documents = Int(ProcessInfo.processInfo.environment["EMEND_BENCH_STATS_DOCS"] ?? "") ?? 300
    var table = BenchTable("Layer statistics C0: \(documents) Wikipedia summaries (≤ 512 tokens), layers 4–8 of SmolLM2-135M",
                           columns: ["tokens", "seconds", "tokens/s", "GFLOP/s", "official tokens/s", "speed-up"])
    guard TestPaths.exists(TestPaths.defaultModel), TestPaths.exists(EmendPaths.defaultCorpus) else {
        print("\n(statistics benchmark skipped: the default model or corpus is missing)")
        return
    }
    do {
        let loaded = try LoadedModel.load(TestPaths.defaultModel.path)
        let texts = try Corpus.load(EmendPaths.defaultCorpus).sample(documents, seed: 1)
        let layers = [4, 5, 6, 7, 8]
        let t0 = Date()
        let moments = try LayerStatistics.compute(model: loaded.model, tokenizer: loaded.tokenizer, layers: layers, texts: texts, maxTokens: 512)
        let seconds = Date().timeIntervalSince(t0)
        let tokens = Double(moments.first?.tokenCount ?? 0)
        let c = loaded.model.config
        // Forward products of blocks 0…8 (2 FLOPs per multiply-add per weight) and one Gram update per layer (F² per token).
        let d = Double(c.hiddenSize), f = Double(c.intermediateSize), kv = Double(c.kvHeadCount * c.headDim)
        let perBlock = d * (d + 2 * kv) + d * d + 3 * d * f
        let flops = tokens * (2 * perBlock * 9 + Double(layers.count) * f * f)
        table.add(["\(Int(tokens))", fmt(seconds, 2), fmt(tokens / seconds, 0), fmt(flops / seconds * 1e-9, 0), "324",
                   fmt(tokens / seconds / 324, 1) + "×"])
        table.note("The Gram update k·kᵀ is accumulated in Float64 (dsyrk, counted as F² FLOPs per token and layer).")
    } catch {
        print("\n(statistics benchmark failed: \(error))")
    }
    table.print()
}
