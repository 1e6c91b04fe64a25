// Weight matrices in their stored type: y = x·Wᵀ and dx = g·W on W kept as GGUF blocks, against Float32 products
// (`matmul`: oneDNN, else OpenBLAS sgemm) on the dequantised matrix, in the same run.
//
// Shape: W [Out 2048, In 8192], Llama-3.2-1B's FFN down projection (D 2048, F 8192); R = 1 (a decoding step),
// 10 (a few prompts), 512 (a batch of the target search). FLOPs counted as 2·R·Out·In per product.

import EmendCore
import EmendTestSupport

func runWeightBenchmarks() {
    runFusedShapeBenchmarks()
    runTiledShapeBenchmarks()
    let (outputs, inputs) = (2048, 8192)
    var table = BenchTable("Stored weights W [\(outputs), \(inputs)]: GFLOP/s of x·Wᵀ and g·W (best of 5 interleaved runs)",
                           columns: ["type", "weight MB", "R", "x·Wᵀ", "g·W", "other kernel x·Wᵀ", "other kernel g·W",
                                     "f32 x·Wᵀ", "f32 g·W", "x·Wᵀ / f32"])
    var rng = SeededGenerator(seed: 5)
    for s: WeightStorage in [.q4_K, .q6_K, .q8_0, .bf16, .f32] {
        let bytes = randomBlockBytes(s, blocks: outputs * inputs / s.blockSize, using: &rng)
        guard let w = try? WeightMatrix(storage: s, bytes: WeightBytes(bytes), outputs: outputs, inputs: inputs) else { continue }
        let dense = WeightMatrix(w.dequantized())
        for rows in [1, 4, 10, 32, 512] {
            let x = Tensor.randomNormal([rows, inputs], using: &rng), g = Tensor.randomNormal([rows, outputs], using: &rng)
            let automatic: WeightMatrix.BlockKernel = rows <= WeightMatrix.fusedRowLimit ? .fused : .tiled
            let other: WeightMatrix.BlockKernel = automatic == .fused ? .tiled : .fused
            // The fused kernel at 512 rows re-dequantises W for every 8 rows: too slow to be worth timing.
            var bodies: [() -> Void] = [{ blackHole(w.forward(x)) }, { blackHole(w.backward(g)) },
                                        { blackHole(dense.forward(x)) }, { blackHole(dense.backward(g)) }]
            let timeOther = s != .f32 && rows <= 64
            if timeOther { bodies += [{ blackHole(w.forward(x, kernel: other)) }, { blackHole(w.backward(g, kernel: other)) }] }
            let t = interleavedBestTimes(repetitions: 5, bodies)
            let gflops = t.map { 2 * Double(rows) * Double(outputs) * Double(inputs) / $0 * 1e-9 }
            table.add([s.description, fmt(Double(w.weightBytes) / 1e6), "\(rows)", fmt(gflops[0]), fmt(gflops[1]),
                       timeOther ? fmt(gflops[4]) : "", timeOther ? fmt(gflops[5]) : "", fmt(gflops[2]), fmt(gflops[3]),
                       fmt(gflops[0] / gflops[2], 2)])
        }
    }
    table.note("kernels: fused (dequantise a block, use it at once) up to \(WeightMatrix.fusedRowLimit) rows, tiled (dequantise a "
               + "tile, then oneDNN/sgemm) above; 'other kernel' is the one not chosen. F32 stored runs BLAS on the bytes.")
    table.note("f32 = Float32 matmul on the dequantised matrix (\(MatmulBackend.usesOneDNN ? "oneDNN" : "OpenBLAS")), "
               + "weight \(fmt(Double(4 * outputs * inputs) / 1e6)) MB.")
    table.print()
}

/// One-sequence generation: the fused kernels at 1 row on the shapes a decoding step runs, in each build of the kernels
/// this CPU takes (AVX-512, AVX2, baseline), against the tiled kernel and a Float32 product, threads as in `emend`.
/// Shapes: SmolLM2-135M (the default model, Q4_1 with a Q8_0 tied head): MLP up/gate 576→1536, down 1536→576,
/// attention 576→576, head 576→49152 (also as Q4_1); Llama-3-8B's MLP (Q4_K_M files: Q4_K and Q6_K) 4096→14336.
private func runFusedShapeBenchmarks() {
    let cases: [(WeightStorage, Int, Int)] = [
        (.q4_1, 1536, 576), (.q4_1, 576, 1536), (.q4_1, 576, 576), (.q8_0, 49152, 576), (.q4_1, 49152, 576),
        (.q4_K, 14336, 4096), (.q6_K, 14336, 4096), (.q8_0, 14336, 4096),
    ]
    let best = WeightMatrix.fusedKernelLevel
    let levels = (0...best).reversed().map { $0 }
    let names = ["baseline", "AVX2", "AVX-512"]
    var table = BenchTable("Fused kernels at 1 row (one-sequence generation): GFLOP/s of x·Wᵀ and g·W (best of 7 interleaved runs)",
                           columns: ["type", "W [Out, In]", "weight MB"] + levels.flatMap { ["x·Wᵀ \(names[$0])", "g·W \(names[$0])"] }
                           + ["tiled x·Wᵀ", "f32 x·Wᵀ"])
    var rng = SeededGenerator(seed: 6)
    for (s, outputs, inputs) in cases {
        let bytes = randomBlockBytes(s, blocks: outputs * inputs / s.blockSize, using: &rng)
        guard let w = try? WeightMatrix(storage: s, bytes: WeightBytes(bytes), outputs: outputs, inputs: inputs) else { continue }
        let dense = WeightMatrix(w.dequantized())
        let x = Tensor.randomNormal([1, inputs], using: &rng), g = Tensor.randomNormal([1, outputs], using: &rng)
        // Each timed body repeats the product to about 20 MFLOP, so that a 576 × 576 product (10 µs) is not timer noise.
        let flop = 2 * Double(outputs) * Double(inputs), reps = max(1, Int(2e7 / flop))
        func repeated(_ f: @escaping () -> Void) -> () -> Void { { for _ in 0..<reps { f() } } }
        func rates(_ bodies: [() -> Void]) -> [String] {
            interleavedBestTimes(repetitions: 7, bodies.map(repeated)).map { fmt(flop * Double(reps) / $0 * 1e-9) }
        }
        var gflops: [String] = []
        for level in levels {
            WeightMatrix.capFusedKernelLevel(level)
            gflops += rates([{ blackHole(w.forward(x, kernel: .fused)) }, { blackHole(w.backward(g, kernel: .fused)) }])
        }
        WeightMatrix.capFusedKernelLevel(best)
        table.add([s.description, "[\(outputs), \(inputs)]", fmt(Double(w.weightBytes) / 1e6)] + gflops
                  + rates([{ blackHole(w.forward(x, kernel: .tiled)) }, { blackHole(dense.forward(x)) }]))
    }
    table.note("threads: \(emendThreadCount) (EMEND_THREADS); a product is split over them above \(WeightMatrix.fusedSplitWork) multiply-adds per thread.")
    table.print()
}

/// Prompt processing and the target search: the tiled kernels at the default model's shapes and rows (32 prompts × 20
/// tokens = 640 rows, one prompt of 512, a search batch of 84 rows, 21 target rows through the head) and Llama-3-8B's,
/// against the Float32 product: the tile decoded into oneDNN's blocked layout, into a plain scratch that oneDNN then
/// copies, and split over the threads in tiles of each core's L2 (`tiledSplit`); "default" is what `forward(_:)` and
/// `backward(_:)` pick. Below `blockedLayoutRows` (256) the "blocked" columns run the plain path too.
private func runTiledShapeBenchmarks() {
    let cases: [(WeightStorage, Int, Int, Int)] = [
        (.q4_1, 1536, 576, 640), (.q4_1, 576, 1536, 640), (.q4_1, 576, 576, 640), (.q4_1, 192, 576, 640),
        (.q4_1, 1536, 576, 512), (.q4_1, 1536, 576, 200), (.q4_1, 1536, 576, 84), (.q4_1, 576, 1536, 84),
        (.q4_1, 576, 576, 84), (.q4_1, 192, 576, 84), (.q8_0, 49152, 576, 21), (.q8_0, 49152, 576, 84),
        (.q4_K, 14336, 4096, 64), (.q6_K, 4096, 14336, 64), (.q4_K, 14336, 4096, 200), (.q6_K, 128256, 4096, 21),
    ]
    var table = BenchTable("Tiled kernels: GFLOP/s of x·Wᵀ and g·W, tile decoded into oneDNN's blocked layout, a plain scratch, or split over the threads in L2-sized tiles (best of 5 interleaved runs)",
                           columns: ["type", "W [Out, In]", "R", "x·Wᵀ blocked", "plain", "split", "f32", "g·W blocked", "plain",
                                     "split", "f32", "default / f32 x·Wᵀ", "default / f32 g·W"])
    var rng = SeededGenerator(seed: 7)
    for (s, outputs, inputs, rows) in cases {
        let bytes = randomBlockBytes(s, blocks: outputs * inputs / s.blockSize, using: &rng)
        guard let w = try? WeightMatrix(storage: s, bytes: WeightBytes(bytes), outputs: outputs, inputs: inputs) else { continue }
        let dense = WeightMatrix(w.dequantized())
        let x = Tensor.randomNormal([rows, inputs], using: &rng), g = Tensor.randomNormal([rows, outputs], using: &rng)
        let kernels: [WeightMatrix.BlockKernel] = [.tiled, .tiledPlain, .tiledSplit]
        let t = interleavedBestTimes(repetitions: 5, kernels.map { k in { blackHole(w.forward(x, kernel: k)) } }
            + [{ blackHole(dense.forward(x)) }] + kernels.map { k in { blackHole(w.backward(g, kernel: k)) } }
            + [{ blackHole(dense.backward(g)) }, { blackHole(w.forward(x)) }, { blackHole(w.backward(g)) }])
        let gflops = t.map { 2 * Double(rows) * Double(outputs) * Double(inputs) / $0 * 1e-9 }
        table.add([s.description, "[\(outputs), \(inputs)]", "\(rows)"] + gflops[0..<8].map { fmt($0) }
                  + [fmt(gflops[8] / gflops[3], 2), fmt(gflops[9] / gflops[7], 2)])
    }
    table.note("shapes: SmolLM2-135M's MLP and attention (Q4_1) and tied head (Q8_0), Llama-3-8B's MLP and head (Q4_K_M: Q4_K, Q6_K).")
    table.note("f32 = Float32 matmul on the dequantised matrix (\(MatmulBackend.usesOneDNN ? "oneDNN" : "OpenBLAS")); default = forward(_:) / backward(_:) as the models call them.")
    table.print()
}
