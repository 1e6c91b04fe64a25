// The editing state at Llama-3-8B's FFN width: one ENCORE solve (F = 14,336, D = 4,096, n = 10 keys, 100 previous
// keys in 10 batches), as the rules were written before (dense F×F sums, the state as its dense Gram, Cholesky of
// a copy) and as they are now (the state as its keys, one F×F buffer built and factored in place). Each variant's
// peak resident memory is measured on its own: the peak is reset (/proc/self/clear_refs) just before it and read
// (VmHWM) just after, so both include the C0 [F, F] they share and the process's own baseline.
//
// `EmendBench state` runs it (not part of the default set: about a minute per solve on two cores, ~13 GB for the
// old variant). EMEND_BENCH_STATE_F sets F (default 14,336); the old variant is skipped when the memory available
// (MemAvailable) is below 1.2× its expected peak, 7 F×F Float64 matrices.
//
// Shapes: F FFN width, D width, n keys.  C0 [F, F]   K [F, n]   R [D, n]   ΔW [D, F]

import EmendCore
import EmendEditing
import Foundation

func runStateBenchmark() {
    let f = ProcessInfo.processInfo.environment["EMEND_BENCH_STATE_F"].flatMap(Int.init) ?? 14_336
    let d = 4_096, n = 10, rule = UpdateRule.normConstrained(lambdaP: 15_000, lambdaN: 20)
    var rng = SeededGenerator(seed: 5)
    let c0 = wellConditionedSecondMoment(f, &rng)
    let k = randomMatrix(f, n, &rng), r = randomMatrix(d, n, &rng)
    var state = LayerEditState(width: f)
    for _ in 0..<10 { try? state.add(keys: randomMatrix(f, n, &rng)) }
    resetPeakResident()
    let baseline = Double(peakResidentBytes()) / 1e9
    var table = BenchTable("ENCORE solve at F = \(f), D = \(d), n = \(n), 100 previous keys (one run each, Float64)",
                           columns: ["variant", "state GB", "seconds", "peak RSS GB", "peak − baseline GB"])
    resetPeakResident()
    var t0 = Date()
    guard let new = try? rule.solve(keys: k, residuals: r, c0: c0, state: state) else { print("new solve failed"); return }
    var t = Date().timeIntervalSince(t0), peak = Double(peakResidentBytes()) / 1e9
    table.add(["in place, state as keys", fmt(Double(state.byteCount) / 1e9, 3), fmt(t, 1), fmt(peak, 2), fmt(peak - baseline, 2)])
    let expectedOld = 7 * 8 * Double(f) * Double(f)
    if Double(availableBytes()) >= 1.2 * expectedOld {
        let gram = state.previousKeysGram
        resetPeakResident()
        t0 = Date()
        guard let old = try? denseSolve(lambdaP: 15_000, lambdaN: 20, k: k, r: r, c0: c0, gram: gram) else { print("old solve failed"); return }
        t = Date().timeIntervalSince(t0); peak = Double(peakResidentBytes()) / 1e9
        table.add(["dense (before), state as Gram", fmt(8 * Double(f * f) / 1e9, 3), fmt(t, 1), fmt(peak, 2), fmt(peak - baseline, 2)])
        let diff = ((try? (new - old).frobeniusNorm()) ?? .nan) / old.frobeniusNorm()
        table.note("‖ΔW_new − ΔW_old‖ / ‖ΔW_old‖ = \(String(format: "%.2e", diff))")
    } else {
        table.note("dense variant skipped: \(fmt(Double(availableBytes()) / 1e9, 1)) GB available, it needs about \(fmt(expectedOld / 1e9, 1)) GB")
    }
    table.note("baseline = C0, K, R, the factored state and the process before either solve: \(fmt(baseline, 2)) GB (C0 alone \(fmt(8 * Double(f * f) / 1e9, 2)) GB); the dense variant's peak includes its Gram")
    table.print()
}

/// The ENCORE solve as written before: ΔW = R (A⁻¹ K)ᵀ, A = λp C0 + Kp Kpᵀ + K Kᵀ + λn I by dense sums.
private func denseSolve(lambdaP: Double, lambdaN: Double, k: Matrix64, r: Matrix64, c0: Matrix64, gram: Matrix64) throws -> Matrix64 {
    var a = try lambdaP * c0 + gram + matmul(k, k, transposeB: true)
    try a.addDiagonal(lambdaN)
    return try matmul(r, try CholeskyFactor(a).solve(k), transposeB: true)
}

/// I + a small random symmetric matrix (spectral norm about 0.2): positive definite, cheap to make at F = 14,336. [F, F]
private func wellConditionedSecondMoment(_ f: Int, _ rng: inout SeededGenerator) -> Matrix64 {
    var m = Matrix64.zeros(f, f)
    let scale = 0.1 / Double(f).squareRoot()
    for i in 0..<f {
        m[i, i] = 1
        for j in 0..<i { let x = scale * Double(rng.nextNormal()); m[i, j] = x; m[j, i] = x }
    }
    return m
}

private func randomMatrix(_ rows: Int, _ cols: Int, _ rng: inout SeededGenerator) -> Matrix64 {
    var m = Matrix64.zeros(rows, cols)
    for i in 0..<m.scalars.count { m.scalars[i] = Double(rng.nextNormal()) }
    return m
}

/// The peak resident set size since the last reset (VmHWM), in bytes; 0 where /proc is missing.
func peakResidentBytes() -> Int {
    procStatusKilobytes("VmHWM:", file: "/proc/self/status").map { $0 * 1024 } ?? 0
}

/// The resident set size now (VmRSS), in bytes; 0 where /proc is missing.
func residentBytes() -> Int {
    procStatusKilobytes("VmRSS:", file: "/proc/self/status").map { $0 * 1024 } ?? 0
}

/// Resets VmHWM to the current resident size (Linux ≥ 4.0: "5" to /proc/self/clear_refs); no-op elsewhere.
func resetPeakResident() {
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
}

/// MemAvailable in bytes (Int.max where /proc/meminfo is missing).
private func availableBytes() -> Int {
    procStatusKilobytes("MemAvailable:", file: "/proc/meminfo").map { $0 * 1024 } ?? Int.max
}

/// A `field:` line of a /proc status file, in kB (VmRSS, VmHWM, MemAvailable).
func procStatusKilobytes(_ field: String, file: String) -> Int? {
    guard let text = try? String(contentsOfFile: file, encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field) }) else { return nil }
    // "VmHWM:\t14501234 kB": a tab, and spaces only where the number is short.
    return line.split(whereSeparator: \.isWhitespace).dropFirst().first.flatMap { Int($0) }
}
