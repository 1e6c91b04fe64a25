// EmendModels benchmarks on the default model (SmolLM2-135M-Instruct, Q4_1 GGUF, dequantised to Float32):
// load, prompt processing, generation, and one target-search step (forward with saves + backward through
// blocks 9…29). Random token ids, seeded. Skipped with a line when the model is not installed.
//
// Shape legend: N prompts, T tokens, R rows (N·T), D width 576, V vocab 49152.

import EmendCore
import EmendModels
import Foundation

func runModelBenchmarks() {
    let url = EmendPaths.defaultModel
    guard FileManager.default.fileExists(atPath: url.path) else {
        print("\n== EmendModels ==\n  skipped: \(url.path) not found (run make setup)")
        return
    }
    var table = BenchTable("EmendModels on SmolLM2-135M-Instruct (Float32 weights; best of N runs)",
                           columns: ["operation", "shape", "time ms", "tokens/s"])
    var model: TransformerModel?
    let tLoad = bestTime(warmup: 0, repetitions: 2) { model = try? TransformerModel.load(.gguf(url)) }
    guard let m = model else { print("  failed to load \(url.path)"); return }
    table.add(["load GGUF (parse + dequantise + checks)", "Q4_1 → F32", fmt(tLoad * 1e3), ""])

    var rng = SeededGenerator(seed: 3)
    func prompts(_ n: Int, _ t: Int) -> [[Int]] {
        (0..<n).map { _ in (0..<t).map { _ in Int(rng.next() % UInt64(m.config.vocabSize)) } }
    }

    // Prompt processing: fill the KV caches and take each prompt's last-position logits.
    let batch32 = prompts(32, 20)
    let tPrompt = bestTime(repetitions: 3) { blackHole(prefill(m, batch32)) }
    table.add(["prompt processing (prefill + last logits)", "32 × 20", fmt(tPrompt * 1e3), fmt(640 / tPrompt, 0)])
    let tLong = bestTime(repetitions: 2) { blackHole(prefill(m, prompts(1, 512))) }
    table.add(["prompt processing, one long prompt", "1 × 512", fmt(tLong * 1e3), fmt(512 / tLong, 0)])

    // Generation: greedy, KV cache; the 20-token prefill is included in the time.
    let one = prompts(1, 20), eight = prompts(8, 20)
    let tGen1 = bestTime(repetitions: 2) { blackHole(m.generate(one, maxTokens: 64)) }
    table.add(["generate greedy (incl. 20-token prefill)", "1 seq × 64 new", fmt(tGen1 * 1e3), fmt(64 / tGen1, 1)])
    let tGen8 = bestTime(repetitions: 2) { blackHole(m.generate(eight, maxTokens: 64)) }
    table.add(["generate greedy (incl. 20-token prefill)", "8 seqs × 64 new", fmt(tGen8 * 1e3), fmt(512 / tGen8, 1)])

    // Target search: 7 prompts × 12 tokens, start at block 9 from cached block-8 outputs, loss on the last
    // 3 positions of each prompt.
    let search = prompts(7, 12)
    let batch = RowBatch(search)
    var hooks = ForwardHooks(captureBlockOutputs: [8])
    var none: [KVCache]? = nil
    _ = m.run(m.embed(batch), layers: 0..<9, batch: batch, caches: &none, hooks: &hooks)
    let h8 = hooks.blockOutputs[8] ?? Tensor.zeros([batch.rowCount, m.config.hiddenSize])
    let targetRows = search.indices.flatMap { i in (9..<12).map { batch.row(i, $0) } }
    var forwardOnly = 0.0, backwardOnly = 0.0
    let tStep = bestTime(repetitions: 5) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let (h, saves) = forwardWithSaves(m, h8, batch: batch)
        let t1 = DispatchTime.now().uptimeNanoseconds
        blackHole(backward(m, h, saves: saves, batch: batch, targetRows: targetRows, ids: batch.tokens))
        let t2 = DispatchTime.now().uptimeNanoseconds
        forwardOnly = Double(t1 - t0) * 1e-9; backwardOnly = Double(t2 - t1) * 1e-9
    }
    table.add(["target-search step: forward (save) + backward, blocks 9…29", "7 × 12", fmt(tStep * 1e3), ""])
    table.add(["  of which forward with saves", "", fmt(forwardOnly * 1e3), ""])
    table.add(["  of which head + backward", "", fmt(backwardOnly * 1e3), ""])
    table.note("tokens/s: prompt tokens per second (prefill) or new tokens per second (generate).")
    table.note("The \"of which\" rows are from the last timed run, not the best one.")
    table.print()
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
private func forwardWithSaves(_ m: TransformerModel, _ h8: Tensor, batch: RowBatch) -> (Tensor, [BlockSaved]) {
    var h = h8, saves: [BlockSaved] = [], hooks = ForwardHooks(), none: [KVCache]? = nil
    for l in 9..<m.config.layerCount {
        let (o, s) = m.blockForward(l, h, batch: batch, caches: &none, hooks: &hooks, save: true)
        if let s { saves.append(s) }
        h = o
    }
    return (h, saves)
}

/// Mean NLL of the next token at `targetRows`, back through the head and blocks L-1…9: dL/dh8 [R, D].
private func backward(_ m: TransformerModel, _ h: Tensor, saves: [BlockSaved], batch: RowBatch,
                      targetRows: [Int], ids: [Int]) -> Tensor {
    let rowsH = h.gatherRows(targetRows)
    var dl = m.outputLogits(m.finalNorm(rowsH)).softmax()
    let v = m.config.vocabSize
    for (i, r) in targetRows.enumerated() {
        let target = ids[min(r + 1, ids.count - 1)]
        dl.scalars[i * v + target] -= 1
    }
    dl *= 1 / Float(targetRows.count)
    var g = Tensor.zeros(h.shape)
    g.scatterAddRows(targetRows, m.outputBackward(dLogits: dl, x: rowsH))
    for (i, l) in (9..<m.config.layerCount).enumerated().reversed() {
        g = m.blockBackward(l, dOut: g, saved: saves[i], batch: batch)
    }
    return g
}
