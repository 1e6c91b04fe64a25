// Weight matrices in their stored type: y = x·Wᵀ and dx = g·W on W kept as GGUF blocks, against Float32 products
// (`matmul`: oneDNN, else OpenBLAS sgemm) on the dequantised matrix, in the same run.
//
// Shape: W [Out 2048, In 8192], Llama-3.2-1B's FFN down projection (D 2048, F 8192); R = 1 (a decoding step),
// 10 (a few prompts), 512 (a batch of the target search). FLOPs counted as 2·R·Out·In per product.

import EmendCore
import EmendTestSupport

func runWeightBenchmarks() {
    let (outputs, inputs) = (2048, 8192)
    var table = BenchTable("Stored weights W [\(outputs), \(inputs)]: GFLOP/s of x·Wᵀ and g·W (best of 5 interleaved runs)",
                           columns: ["type", "weight MB", "R", "x·Wᵀ", "g·W", "other kernel x·Wᵀ", "other kernel g·W",
                                     "f32 x·Wᵀ", "f32 g·W", "x·Wᵀ / f32"])
    var rng = SeededGenerator(seed: 5)
    for s: WeightStorage in [.q4_K, .q6_K, .q8_0, .bf16, .f32] {
        let bytes = randomBlockBytes(s, blocks: outputs * inputs / s.blockSize, using: &rng)
        guard let w = try? WeightMatrix(storage: s, bytes: WeightBytes(bytes), outputs: outputs, inputs: inputs) else { continue }
        let dense = WeightMatrix(w.dequantized())
        for rows in [1, 4, 10, 512] {
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
