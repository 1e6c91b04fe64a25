// compare.html: several sequential runs (say ENCORE, MEMIT and AlphaEdit on the same records) on shared axes, the
// way the ENCORE paper's figures put methods side by side: edit efficacy, neighbourhood, downstream F1 and the
// largest edited-matrix norm against the number of edits, time per edit, and one summary row per run.
// Self-contained like report.html (inline SVG, no scripts).

import EmendCore
import Foundation

public enum SequentialComparison {
    public static let fileName = "compare.html"

    /// One run to compare and the label its series get.
    public struct Run: Sendable {
        public var label: String
        public var results: SequentialResults
        public init(label: String, results: SequentialResults) { self.label = label; self.results = results }
    }

    /// Labels: the method's name, upper-cased; the run directory's name where two runs share a method.
    public static func runs(_ pairs: [(directory: URL, results: SequentialResults)]) -> [Run] {
        let methods = pairs.map { $0.results.settings.method.uppercased() }
        return pairs.enumerated().map { i, p in
            let m = methods[i]
            return Run(label: methods.filter { $0 == m }.count > 1 ? p.directory.lastPathComponent : m, results: p.results)
        }
    }

    public static func html(_ runs: [Run]) -> String {
        let title = "Sequential editing compared: " + runs.map(\.label).joined(separator: ", ")
        var body = "<h1>\(xmlEscaped(title))</h1>\n"
        body += "<p class=\"status\">Written by <code>emend bench compare</code> from each run's results.json.</p>\n"
        body += caveats(runs) + summaryTable(runs)
        for chart in charts(runs) { body += "<figure>\(chart)</figure>\n" }
        return SequentialReport.page(title: title, body: body)
    }

    /// Warnings when the runs are not on the same footing (other records, model, batch size or evaluation sample).
    static func caveats(_ runs: [Run]) -> String {
        guard let first = runs.first?.results else { return "" }
        var notes: [String] = []
        func differ<T: Equatable>(_ what: String, _ k: (SequentialResults) -> T) {
            if runs.contains(where: { k($0.results) != k(first) }) { notes.append("the runs differ in \(what)") }
        }
        differ("their records file") { $0.settings.recordsFingerprint }
        differ("their model") { $0.settings.modelFingerprint }
        differ("batch size") { $0.settings.batchSize }
        differ("the evaluation sample") { $0.evaluationSample }
        differ("the downstream probe") { $0.settings.downstream }
        differ("planned edits") { $0.settings.edits }
        if runs.contains(where: { !$0.results.complete }) { notes.append("some runs are still in progress (their lines stop early)") }
        return notes.map { "<p class=\"note\">Note: \(xmlEscaped($0)).</p>\n" }.joined()
    }

    /// One row per run at its last checkpoint, next to the unedited (first) checkpoint.
    static func summaryTable(_ runs: [Run]) -> String {
        var out = "<h2>Summary</h2>\n<table class=\"summary\"><tr><th class=\"k\">run</th><th>edits done</th><th>last checkpoint</th>"
            + "<th>ES</th><th>PS</th><th>NS</th><th>S</th><th>mean F1 unedited → last</th><th>largest ‖W‖/‖W0‖</th>"
            + "<th>s/edit</th><th>steps/fact</th></tr>\n"
        let num = SequentialReport.num
        for run in runs {
            let r = run.results
            let done = r.batches.last?.edits ?? 0
            let last = r.checkpoints.last, e = last?.editMetrics
            let f1 = [r.checkpoints.first, last].map { $0?.downstreamAverage?["f1"].map { num($0, 3) } ?? "–" }.joined(separator: " → ")
            let edits = r.batches.reduce(0) { $0 + $1.requests }
            let seconds = r.batches.reduce(0.0) { $0 + $1.searchSeconds + $1.updateSeconds }
            let steps = r.batches.flatMap(\.searchSteps)
            out += "<tr><td class=\"k\">\(xmlEscaped(run.label))</td><td>\(done) / \(r.settings.edits)</td><td>\(last.map { String($0.edits) } ?? "–")</td>"
            for v in [e?.ES, e?.PS, e?.NS, e?.S] { out += "<td>\(v.map { num($0, 1) } ?? "–")</td>" }
            out += "<td>\(f1)</td><td>\(r.batches.last.map { num($0.relativeNorms.values.max() ?? 1, 4) } ?? "1")</td>"
            out += "<td>\(edits > 0 ? num(seconds / Double(edits), 3) : "–")</td>"
            out += "<td>\(steps.isEmpty ? "–" : num(Double(steps.reduce(0, +)) / Double(steps.count), 2))</td></tr>\n"
        }
        return out + "</table>\n"
    }

    /// The charts, in order: ES, NS, S, mean downstream F1, largest relative norm, seconds per edit; one series per run.
    public static func charts(_ runs: [Run]) -> [String] {
        let palette = SVGLineChart.palette
        let x = "number of edits"
        let xs = 0...Double(runs.map(\.results.settings.edits).max() ?? 1)
        func series(_ points: (SequentialResults) -> [ChartPoint]) -> [ChartSeries] {
            runs.enumerated().map { i, run in ChartSeries(name: run.label, points: points(run.results), color: palette[i % palette.count], lineWidth: 2.5) }
        }
        func metric(_ k: KeyPath<CounterFactScores, Double>) -> (SequentialResults) -> [ChartPoint] {
            { r in r.checkpoints.compactMap { c in c.editMetrics.map { ChartPoint(Double(c.edits), $0[keyPath: k]) } } }
        }
        var out: [String] = []
        for (name, k) in [("Efficacy ES", \CounterFactScores.ES), ("Neighbourhood NS", \.NS), ("Score S", \.S)] {
            out.append(SVGLineChart(title: "\(name) (CounterFact) vs number of edits", xLabel: x, yLabel: "score (×100)",
                                    series: series(metric(k)), yRange: 0...100, xRange: xs).svg())
        }
        var f1 = SVGLineChart(title: "Downstream F1, mean over tasks, vs number of edits", xLabel: x, yLabel: "weighted F1",
                              series: series { r in r.checkpoints.compactMap { c in c.downstreamAverage?["f1"].map { ChartPoint(Double(c.edits), $0) } } },
                              yRange: 0...1, xRange: xs)    // the whole F1 scale: a 0.005 wobble must not look like a cliff
        f1.emptyMessage = "no downstream probe in these runs"
        out.append(f1.svg())
        out.append(SVGLineChart(title: "Largest edited-matrix norm ‖W‖F / ‖W0‖F vs number of edits", xLabel: x,
                                yLabel: "relative Frobenius norm",
                                series: series { r in [ChartPoint(0, 1)] + r.batches.map { ChartPoint(Double($0.edits), $0.relativeNorms.values.max() ?? 1) } },
                                xRange: xs, reference: (1, "unedited")).svg())
        out.append(SVGLineChart(title: "Time per edit (search + update), per batch", xLabel: x, yLabel: "seconds per edit",
                                series: series { r in r.batches.map { ChartPoint(Double($0.edits), $0.secondsPerEdit) } }, xRange: xs).svg())
        return out
    }

    /// Writes `compare.html` (or `file`) atomically.
    public static func write(_ runs: [Run], to file: URL) throws {
        try writeAtomically(Data(html(runs).utf8), to: file)
    }
}
