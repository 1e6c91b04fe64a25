// EmendModels benchmarks on the default model (SmolLM2-135M-Instruct, Q4_1 GGUF), side by side: the weights as
// stored (the default: Q4_1 blocks mapped from the file) and the Float32 path (`load(dequantize: true)`). Load,
// prompt processing, generation, and one target-search step (forward with saves + backward through blocks 9…29)
// with the weights as the model holds them (the search itself freezes them at its own precision). Random token ids,
// seeded. The two paths alternate within each measurement. Skipped with a line when the model is not installed.
//
// Shape legend: N prompts, T tokens, R rows (N·T), D width 576, V vocab 49152.

import EmendCore
import EmendEditing
import EmendModels
import Foundation

func runModelBenchmarks() {
    let url = EmendPaths.defaultModel
    guard FileManager.default.fileExists(atPath: url.path) else {
        print("\n== EmendModels ==\n  skipped: \(url.path) not found (run make setup)")
        return
    }
    var table = BenchTable("EmendModels on SmolLM2-135M-Instruct: weights as stored (Q4_1) vs Float32 (best of N runs, interleaved)",
                           columns: ["operation", "shape", "stored ms", "F32 ms", "stored tok/s", "F32 tok/s", "F32 / stored"])
    var stored: TransformerModel?, dense: TransformerModel?
    let tLoad = interleavedBestTimes(repetitions: 2, [{ stored = try? TransformerModel.load(.gguf(url)) },
                                                     { dense = try? TransformerModel.load(.gguf(url), dequantize: true) }])
    guard let s = stored, let d = dense else { print("  failed to load \(url.path)"); return }
    func row(_ op: String, _ shape: String, _ t: [Double], tokens: Double? = nil) {
        table.add([op, shape, fmt(t[0] * 1e3), fmt(t[1] * 1e3), tokens.map { fmt($0 / t[0], 0) } ?? "", tokens.map { fmt($0 / t[1], 0) } ?? "",
                   String(format: "%.2f×", t[1] / t[0])])
    }
    row("load GGUF (parse + map or dequantise + checks)", "Q4_1", tLoad)

    var rng = SeededGenerator(seed: 3)
    func prompts(_ n: Int, _ t: Int) -> [[Int]] {
        (0..<n).map { _ in (0..<t).map { _ in Int(rng.next() % UInt64(s.config.vocabSize)) } }
    }
    func both(_ repetitions: Int, _ body: @escaping (TransformerModel) -> Void) -> [Double] {
        interleavedBestTimes(repetitions: repetitions, [{ body(s) }, { body(d) }])
    }

    // Prompt processing: fill the KV caches and take each prompt's last-position logits.
    let batch32 = prompts(32, 20), long = prompts(1, 512)
    // 9 repetitions: the two paths are within a few percent here, about the spread of 5 on a shared machine.
    row("prompt processing (prefill + last logits)", "32 × 20", both(9) { blackHole(prefill($0, batch32)) }, tokens: 640)
    row("prompt processing, one long prompt", "1 × 512", both(9) { blackHole(prefill($0, long)) }, tokens: 512)

    // Generation: greedy, KV cache; the 20-token prefill is included in the time.
    let one = prompts(1, 20), eight = prompts(8, 20)
    row("generate greedy (incl. 20-token prefill)", "1 seq × 64 new", both(2) { blackHole($0.generate(one, maxTokens: 64)) }, tokens: 64)
    row("generate greedy (incl. 20-token prefill)", "8 seqs × 64 new", both(2) { blackHole($0.generate(eight, maxTokens: 64)) }, tokens: 512)

    // Target search: 7 prompts × 12 tokens, start at block 9 from cached block-8 outputs, loss on the last
    // 3 positions of each prompt.
    let search = prompts(7, 12)
    let batch = RowBatch(search)
    var hooks = ForwardHooks(captureBlockOutputs: [8])
    var none: [KVCache]? = nil
    _ = s.run(s.embed(batch), layers: 0..<9, batch: batch, caches: &none, hooks: &hooks)
    let h8 = hooks.blockOutputs[8] ?? Tensor.zeros([batch.rowCount, s.config.hiddenSize])
    let targetRows = search.indices.flatMap { i in (9..<12).map { batch.row(i, $0) } }
    row("target-search step: forward (save) + backward, blocks 9…29", "7 × 12", both(5) { m in
        let (h, saves) = forwardWithSaves(m, h8, batch: batch)
        blackHole(backward(m, h, saves: saves, batch: batch, targetRows: targetRows, ids: batch.tokens))
    })
    // The same step the way the target search runs it: blocks and head frozen at its precision (small models expand
    // stored blocks to bfloat16, `TransformerModel.frozenExpansionLimit`), against the Float32 path's bfloat16 copies.
    let p = TargetSearchSettings.defaultPrecision
    let frozen = [s, d].map { m in (m, (9..<m.config.layerCount).map { m.frozenBlock($0, precision: p) }, m.frozenHead(precision: p)) }
    row("  the same, frozen at the search's precision (\(p.rawValue))", "7 × 12", interleavedBestTimes(repetitions: 5, frozen.map { f in {
        let (h, saves) = forwardWithSaves(f.0, h8, batch: batch, frozen: f.1)
        blackHole(backward(f.0, h, saves: saves, batch: batch, targetRows: targetRows, ids: batch.tokens, frozen: f.1, head: f.2))
    } }))
    let bytes = [s, d].map(\.weights.matrixBytes)
    table.note(String(format: "weight matrices in memory: stored %.1f MB, Float32 %.1f MB (%.2f×)", Double(bytes[0]) / 1e6,
                      Double(bytes[1]) / 1e6, Double(bytes[0]) / Double(bytes[1])))
    table.note("tokens/s: prompt tokens per second (prefill) or new tokens per second (generate).")
    table.print()
    if MatmulProfile.enabled { printMatmulProfile(of: "the runs above (both paths)") }
}

// MARK: - Helpers

/// Runs every prompt through all blocks with a fresh KV cache each: [N, V] last-position logits.
private func prefill(_ m: TransformerModel, _ prompts: [[Int]]) -> Tensor {
    let batch = RowBatch(prompts)
    var caches: [KVCache]? = prompts.map { _ in KVCache(layers: m.config.layerCount, kvWidth: m.config.kvHeadCount * m.config.headDim) }
    var hooks = ForwardHooks()
    let h = m.run(m.embed(batch), layers: 0..<m.config.layerCount, batch: batch, caches: &caches, hooks: &hooks)
    return m.outputLogits(m.finalNorm(h.gatherRows(prompts.indices.map { batch.row($0, prompts[$0].count - 1) })))
}

/// Blocks 9…L-1 with saves, from block-8 outputs: final hidden rows [R, D] and the saves.
private func forwardWithSaves(_ m: TransformerModel, _ h8: Tensor, batch: RowBatch,
                              frozen: [FrozenBlock]? = nil) -> (Tensor, [BlockSaved]) {
    var h = h8, saves: [BlockSaved] = [], hooks = ForwardHooks(), none: [KVCache]? = nil
    for l in 9..<m.config.layerCount {
        let (o, s) = m.blockForward(l, h, batch: batch, caches: &none, hooks: &hooks, save: true, frozen: frozen?[l - 9])
        if let s { saves.append(s) }
        h = o
    }
    return (h, saves)
}

/// Mean NLL of the next token at `targetRows`, back through the head and blocks L-1…9: dL/dh8 [R, D].
private func backward(_ m: TransformerModel, _ h: Tensor, saves: [BlockSaved], batch: RowBatch,
                      targetRows: [Int], ids: [Int], frozen: [FrozenBlock]? = nil, head: WeightMatrix? = nil) -> Tensor {
    let rowsH = h.gatherRows(targetRows)
    var dl = m.outputLogits(m.finalNorm(rowsH), head: head).softmax()
    let v = m.config.vocabSize
    for (i, r) in targetRows.enumerated() {
        let target = ids[min(r + 1, ids.count - 1)]
        dl.scalars[i * v + target] -= 1
    }
    dl *= 1 / Float(targetRows.count)
    var g = Tensor.zeros(h.shape)
    g.scatterAddRows(targetRows, m.outputBackward(dLogits: dl, x: rowsH, head: head))
    for (i, l) in (9..<m.config.layerCount).enumerated().reversed() {
        g = m.blockBackward(l, dOut: g, saved: saves[i], batch: batch, frozen: frozen?[i])
    }
    return g
}
