// BenchTable: the aligned text table every benchmark group prints, and the timing helper they share.
// A group builds one table (title, column names, rows of cells) and prints it; text columns are
// left-aligned, numeric ones right-aligned.

import EmendCore
import Foundation

/// An aligned text table of benchmark results.
struct BenchTable {
    /// A line printed above the table.
    let title: String
    /// Column headers, one per cell of each row.
    let columns: [String]
    /// Rows of preformatted cells (`columns.count` each).
    private(set) var rows: [[String]] = []
    /// Notes printed under the table (how to read it, caveats).
    private(set) var notes: [String] = []

    init(_ title: String, columns: [String]) {
        self.title = title
        self.columns = columns
    }

    /// Appends a row; missing cells are left blank, extra ones dropped.
    mutating func add(_ cells: [String]) {
        rows.append((0..<columns.count).map { $0 < cells.count ? cells[$0] : "" })
    }

    /// Appends a note line printed under the table.
    mutating func note(_ line: String) { notes.append(line) }

    /// The table as text: title, header, rule, rows, notes.
    func rendered() -> String {
        let all = [columns] + rows
        let widths = columns.indices.map { c in all.map { $0[c].count }.max() ?? 0 }
        // A column is numeric when every body cell parses as a number (after stripping a unit suffix).
        let numeric = columns.indices.map { c in
            !rows.isEmpty && rows.allSatisfy { Double($0[c].trimmingCharacters(in: CharacterSet(charactersIn: "x%× "))) != nil || $0[c].isEmpty }
        }
        func line(_ cells: [String]) -> String {
            cells.indices.map { c in
                let pad = String(repeating: " ", count: widths[c] - cells[c].count)
                return numeric[c] ? pad + cells[c] : cells[c] + pad
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        var out = ["", "== \(title) ==", line(columns), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        out += rows.map(line)
        out += notes.map { "  " + $0 }
        return out.joined(separator: "\n")
    }

    /// Prints the table to standard output.
    func print() { Swift.print(rendered()) }
}

// MARK: - Timing

/// The best (smallest) wall time in seconds of `repetitions` runs of `body`, after `warmup`
/// untimed runs. Best-of rejects interference from other processes on a shared machine.
func bestTime(warmup: Int = 1, repetitions: Int, _ body: () -> Void) -> Double {
    for _ in 0..<warmup { body() }
    var best = Double.infinity
    for _ in 0..<max(1, repetitions) {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
    }
    return best
}

/// The best wall time in seconds of each body, timed alternately (A, B, A, B, …) after one warm-up
/// each, so that a burst of load from other processes hits every contender alike.
func interleavedBestTimes(repetitions: Int, _ bodies: [() -> Void]) -> [Double] {
    for body in bodies { body() }
    var best = [Double](repeating: .infinity, count: bodies.count)
    for _ in 0..<max(1, repetitions) {
        for (i, body) in bodies.enumerated() {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            best[i] = min(best[i], Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
    }
    return best
}

/// A number with `digits` digits after the point.
func fmt(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }

/// Keeps a value alive so the optimiser cannot remove the work that produced it.
@inline(never) func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }

/// The matrix products recorded so far by shape (EMEND_PROFILE_MATMUL=1), most time first; `of` names the runs.
func printMatmulProfile(of runs: String) {
    var table = BenchTable("Matrix products of \(runs), by shape (EMEND_PROFILE_MATMUL=1; most time first)",
                           columns: ["rows×inner×outer", "kind", "count", "seconds", "GFLOP/s"])
    let entries = MatmulProfile.entries()
    let shown = Int(ProcessInfo.processInfo.environment["EMEND_PROFILE_ROWS"] ?? "") ?? 25  // EMEND_PROFILE_ROWS=N shows N
    for e in entries.prefix(shown) {
        table.add(["\(e.rows)×\(e.inner)×\(e.outer)", e.precision, "\(e.count)", fmt(e.seconds, 2), fmt(e.gflops, 0)])
    }
    let total = entries.reduce(0.0) { $0 + $1.seconds }
    table.note(String(format: "%d shapes, %.1f s in all (the first %d shown)", entries.count, total, min(shown, entries.count)))
    table.print()
}
