// EmendCore benchmarks: Tensor matmul against raw cblas_sgemm, and the Float64 solvers.
//
// Shapes (M×N×K: [M, K] · [K, N]): 1024³ (square reference), 4096×576×1536 (a 4096-token batch
// through SmolLM2-135M's FFN down projection, D 576, F 1536), 32×1536×576 (a short prompt through
// its up projection). Solver sizes: 1536 (F of SmolLM2-135M: MEMIT's key covariance) and 4096.

import COpenBLAS
import EmendCore
import Foundation

func runCoreBenchmarks() {
    benchMatmul()
    benchSolvers()
}

// MARK: - Matmul

private func benchMatmul() {
    var table = BenchTable("Tensor matmul vs raw cblas_sgemm (Float32, best of 7 interleaved runs after warm-up)",
                           columns: ["M×N×K", "B", "Tensor GFLOP/s", "sgemm GFLOP/s", "ratio"])
    var rng = SeededGenerator(seed: 1)
    for (m, n, k) in [(1024, 1024, 1024), (4096, 576, 1536), (32, 1536, 576)] {
        for transposeB in [false, true] {
            let a = Tensor.randomNormal([m, k], using: &rng)
            let b = Tensor.randomNormal(transposeB ? [n, k] : [k, n], using: &rng)
            let flops = 2 * Double(m) * Double(n) * Double(k)
            // Small products take well under a millisecond: repeat them inside each timing.
            let inner = max(1, Int(2e9 / flops))
            var c = [Float](repeating: 0, count: m * n)
            let times = a.scalars.withUnsafeBufferPointer { pa in
                b.scalars.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        let ap = pa.baseAddress, bp = pb.baseAddress, cp = pc.baseAddress
                        return interleavedBestTimes(repetitions: 7, [
                            { for _ in 0..<inner { blackHole(matmul(a, b, transposeB: transposeB)) } },
                            {
                                for _ in 0..<inner {
                                    cblas_sgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                                                Int32(m), Int32(n), Int32(k), 1, ap, Int32(k),
                                                bp, Int32(transposeB ? k : n), 0, cp, Int32(n))
                                }
                            },
                        ])
                    }
                }
            }
            let tTensor = times[0] / Double(inner), tRaw = times[1] / Double(inner)
            table.add(["\(m)×\(n)×\(k)", transposeB ? "[N, K]ᵀ" : "[K, N]", fmt(flops / tTensor * 1e-9),
                       fmt(flops / tRaw * 1e-9), fmt(tRaw / tTensor, 2)])
        }
    }
    table.note("ratio = Tensor speed / raw speed (goal ≥ 0.9 at 1024³); B [N, K]ᵀ is the `linear` layout.")
    table.print()
}

// MARK: - Float64 solvers

private func benchSolvers() {
    var table = BenchTable("Float64 solvers (LAPACK), 100 right-hand sides",
                           columns: ["operation", "n", "time ms", "GFLOP/s", "residual"])
    var rng = SeededGenerator(seed: 2)
    for n in [1536, 4096] {
        let (a, b) = spdSystem(n, rhs: 100, using: &rng)
        let reps = n <= 2048 ? 3 : 1
        var x = b
        let t = bestTime(warmup: n <= 2048 ? 1 : 0, repetitions: reps) {
            x = (try? CholeskyFactor(a).solve(b)) ?? b
        }
        // Cholesky n³/3 flops, two triangular solves 2n²·R.
        let flops = Double(n) * Double(n) * Double(n) / 3 + 2 * Double(n) * Double(n) * 100
        table.add(["Cholesky factor + solve", "\(n)", fmt(t * 1e3), fmt(flops / t * 1e-9), residual(a, x, b)])
        if n == 1536 {
            let factor = try? CholeskyFactor(a)
            let tSolve = bestTime(repetitions: 5) { blackHole(try? factor?.solve(b)) }
            table.add(["  solve only (reused factor)", "\(n)", fmt(tSolve * 1e3), fmt(2 * Double(n * n) * 100 / tSolve * 1e-9), ""])
            var xLU = b
            let tLU = bestTime(repetitions: 3) { xLU = (try? luSolve(a, b)) ?? b }
            let luFlops = 2 * Double(n) * Double(n) * Double(n) / 3 + 2 * Double(n) * Double(n) * 100
            table.add(["LU solve (dgesv)", "\(n)", fmt(tLU * 1e3), fmt(luFlops / tLU * 1e-9), residual(a, xLU, b)])
            var eig: SymmetricEigendecomposition?
            let tEig = bestTime(warmup: 0, repetitions: 2) { eig = try? SymmetricEigendecomposition(a) }
            table.add(["symmetric eigen (dsyevd)", "\(n)", fmt(tEig * 1e3), "", eig == nil ? "failed" : ""])
        }
    }
    // Key-covariance accumulation: 4096 Float32 keys of width 1536 into a Float64 [F, F].
    let keys = Tensor.randomNormal([4096, 1536], using: &rng)
    var acc = Matrix64.zeros(1536, 1536)
    let tGram = bestTime(repetitions: 3) { try? gramAccumulate(keys, into: &acc) }
    table.add(["gramAccumulate 4096×1536", "1536", fmt(tGram * 1e3), fmt(4096 * 1536 * 1536 / tGram * 1e-9), ""])
    table.note("residual = ‖A·X − B‖_F / ‖B‖_F; A = Gᵀ·G/n + I (well conditioned); gramAccumulate flops counted as N·F².")
    table.print()
}

/// A random symmetric positive definite system: A = Gᵀ·G/n + I [n, n], B [n, rhs].
private func spdSystem(_ n: Int, rhs: Int, using rng: inout SeededGenerator) -> (Matrix64, Matrix64) {
    let g = Tensor.randomNormal([n, n], using: &rng)
    var a = Matrix64.zeros(n, n)
    try? gramAccumulate(g, into: &a)
    a = (1 / Double(n)) * a
    try? a.addDiagonal(1)
    let b = (try? Matrix64(Tensor.randomNormal([n, rhs], using: &rng))) ?? Matrix64.zeros(n, rhs)
    return (a, b)
}

private func residual(_ a: Matrix64, _ x: Matrix64, _ b: Matrix64) -> String {
    guard let ax = try? matmul(a, x), let r = try? ax - b else { return "failed" }
    return String(format: "%.1e", r.frobeniusNorm() / b.frobeniusNorm())
}
