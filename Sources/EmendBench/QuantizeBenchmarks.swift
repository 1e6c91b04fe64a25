// Quantizer speed (GGUFQuantize.swift): one 4096 × 14336 matrix (Llama-3-8B's ffn_down, 58.7M values, Gaussian
// std 0.02) per type, on all threads (EMEND_THREADS), with its relative round-trip RMS error. An 8B model is about
// 136 such matrices, so the last column is the time to quantise 8B parameters at that rate.

import EmendCore
import EmendModels
import Foundation

func runQuantizeBenchmarks() {
    let rows = 4096, cols = 14336
    var rng = SeededGenerator(seed: 1)
    let x = (0..<rows * cols).map { _ in rng.nextNormal() * 0.02 }
    var table = BenchTable("Quantizers on a 4096 × 14336 matrix (\(emendThreadCount) threads; one run each)",
                           columns: ["type", "time s", "M values/s", "rel. RMS error", "8B params min"])
    for type in GGMLType.quantizable where type != .f32 {
        var bytes: [UInt8] = []
        let t = bestTime(warmup: 0, repetitions: 1) { bytes = (try? type.quantize(x, rowLength: cols, tensor: "bench")) ?? [] }
        let y = bytes.withUnsafeBytes { (try? type.dequantize($0, count: x.count)) ?? [] }
        var err = 0.0, ref = 0.0
        for (a, b) in zip(x, y) { err += Double(b - a) * Double(b - a); ref += Double(a) * Double(a) }
        table.add([type.description, fmt(t, 2), fmt(Double(x.count) / t / 1e6, 0), fmt((err / ref).squareRoot(), 4),
                   fmt(t * 8e9 / Double(x.count) / 60, 1)])
    }
    table.print()
}
