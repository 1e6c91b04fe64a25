// report.html of a sequential run: one self-contained page (inline CSS and SVG, no scripts, no network) with the
// run's settings, its headline numbers, and the charts of the ENCORE paper's figures: edit metrics, downstream F1
// per task and on average, and edited-matrix norms against the number of edits, plus time per edit and search steps.

import EmendCore
import Foundation

public enum SequentialReport {
    public static let fileName = "report.html"

    /// Writes `report.html` into `directory` atomically.
    public static func write(_ results: SequentialResults, to directory: URL) throws {
        try writeAtomically(Data(html(results).utf8), to: directory.appendingPathComponent(fileName))
    }

    // MARK: - Page

    public static func html(_ r: SequentialResults) -> String {
        let s = r.settings
        let title = "\(s.method.uppercased()) · \(s.edits) sequential edits in batches of \(s.batchSize) · \(s.model)"
        var body = "<h1>\(xmlEscaped(title))</h1>\n"
        let status = r.complete ? "complete" : "in progress: \(r.batches.count) of \(s.batchCount) batches done"
        body += "<p class=\"status\">Status: \(xmlEscaped(status)). Written by <code>emend bench sequential</code>; "
            + "regenerate with <code>emend bench report RUN_DIR</code>.</p>\n"
        body += headline(r) + settingsTable(r)
        for chart in charts(r) { body += "<figure>\(chart)</figure>\n" }
        body += checkpointTable(r)
        return page(title: title, body: body)
    }

    /// A self-contained page: inline CSS, the body as given, no scripts, no external resources.
    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(xmlEscaped(title))</title>
        <style>
        body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 960px; color: #222; }
        h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
        table { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px; }
        th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; } th { background: #f5f5f5; }
        td.k, th.k { text-align: left; }
        figure { margin: 18px 0; } svg.chart { border: 1px solid #eee; max-width: 100%; height: auto; }
        p.note { font-size: 13px; color: #555; } code { font-size: 12px; }
        </style>
        </head>
        <body>
        \(body)</body>
        </html>

        """
    }

    // MARK: - Tables

    static func headline(_ r: SequentialResults) -> String {
        let first = r.checkpoints.first, last = r.checkpoints.last
        var rows: [(String, String, String)] = []
        func m(_ c: SequentialCheckpointRecord?, _ k: KeyPath<CounterFactScores, Double>) -> String {
            c?.editMetrics.map { num($0[keyPath: k], 1) } ?? "–"
        }
        if first?.editMetrics != nil || last?.editMetrics != nil {
            for (name, k) in [("ES", \CounterFactScores.ES), ("PS", \.PS), ("NS", \.NS), ("S", \.S)] {
                rows.append((name + " (CounterFact, ×100)", m(first, k), m(last, k)))
            }
        }
        if first?.downstreamAverage?["f1"] != nil || last?.downstreamAverage?["f1"] != nil {
            rows.append(("downstream F1, mean over tasks", first?.downstreamAverage?["f1"].map { num($0, 3) } ?? "–",
                         last?.downstreamAverage?["f1"].map { num($0, 3) } ?? "–"))
        }
        if let b = r.batches.last {
            rows.append(("largest ‖W‖/‖W0‖", "1", num(b.relativeNorms.values.max() ?? 1, 4)))
            rows.append(("largest ‖W−W0‖/‖W0‖", "0", num(b.relativeDistances.values.max() ?? 0, 4)))
            let edits = r.batches.reduce(0) { $0 + $1.requests }
            let seconds = r.batches.reduce(0.0) { $0 + $1.searchSeconds + $1.updateSeconds }
            let steps = r.batches.flatMap(\.searchSteps)
            rows.append(("s/edit (search + update), mean", "", num(seconds / Double(max(1, edits)), 3)))
            rows.append(("search steps per fact, mean", "", num(Double(steps.reduce(0, +)) / Double(max(1, steps.count)), 2)))
        }
        guard !rows.isEmpty else { return "" }
        let lastLabel = last.map { "after \($0.edits) edits" } ?? "–"
        var out = "<h2>Headline</h2>\n<table class=\"headline\"><tr><th class=\"k\"></th><th>unedited</th><th>\(lastLabel)</th></tr>\n"
        for (k, a, b) in rows { out += "<tr><td class=\"k\">\(xmlEscaped(k))</td><td>\(a)</td><td>\(b)</td></tr>\n" }
        out += "</table>\n"
        if let c = last, let e = c.editMetrics {
            out += "<p class=\"note\">Edit metrics on \(e.records) edited records of the evaluation sample (\(num(r.settings.evalRatio * 100, 0)) % of the "
                + "planned edits, seed \(r.settings.evalSeed)); the unedited column scores the whole sample before any edit.</p>\n"
        }
        return out
    }

    static func settingsTable(_ r: SequentialResults) -> String {
        let s = r.settings
        let rows: [(String, String)] = [
            ("method / preset", "\(s.method) / \(s.preset.name)"),
            ("edited layers", s.preset.layers.map(String.init).joined(separator: ", ")),
            ("update rule", s.preset.rule.name),
            ("model", "\(s.model) (fingerprint \(s.modelFingerprint))"),
            ("records", "\(s.recordsFile) (first \(s.edits)\(s.uniqueSubjects ? " with distinct subjects" : ""), fingerprint \(s.recordsFingerprint))"),
            ("edits / batch", "\(s.edits) / \(s.batchSize) (\(s.batchCount) batches)"),
            ("checkpoints", s.checkpointEdits.map(String.init).joined(separator: ", ") + " edits"),
            ("evaluation sample", "\(r.evaluationSample.count) records (ratio \(s.evalRatio), seed \(s.evalSeed))"),
            ("downstream probe", s.downstream),
            ("sessions (batch at start)", r.sessions.map(String.init).joined(separator: ", ")),
        ]
        var out = "<h2>Settings</h2>\n<table class=\"settings\">\n"
        for (k, v) in rows { out += "<tr><td class=\"k\">\(xmlEscaped(k))</td><td class=\"k\">\(xmlEscaped(v))</td></tr>\n" }
        return out + "</table>\n"
    }

    static func checkpointTable(_ r: SequentialResults) -> String {
        guard !r.checkpoints.isEmpty else { return "" }
        let tasks = Array(Set(r.checkpoints.flatMap { ($0.downstream ?? [:]).keys })).sorted()
        var out = "<h2>Checkpoints</h2>\n<table class=\"checkpoints\"><tr><th>edits</th><th>records</th><th>ES</th><th>PS</th><th>NS</th><th>S</th>"
        out += tasks.map { "<th>\(xmlEscaped($0)) F1</th>" }.joined() + (tasks.isEmpty ? "" : "<th>mean F1</th>") + "</tr>\n"
        for c in r.checkpoints {
            let e = c.editMetrics
            out += "<tr><td>\(c.edits)</td><td>\(e.map { String($0.records) } ?? "–")</td>"
            for v in [e?.ES, e?.PS, e?.NS, e?.S] { out += "<td>\(v.map { num($0, 1) } ?? "–")</td>" }
            for t in tasks { out += "<td>\(c.downstream?[t]?["f1"].map { num($0, 3) } ?? "–")</td>" }
            if !tasks.isEmpty { out += "<td>\(c.downstreamAverage?["f1"].map { num($0, 3) } ?? "–")</td>" }
            out += "</tr>\n"
        }
        return out + "</table>\n"
    }

    // MARK: - Charts

    /// The page's charts, in order: edit metrics, downstream F1, norms, distances, time per edit, search steps.
    public static func charts(_ r: SequentialResults) -> [String] {
        let palette = SVGLineChart.palette
        let x = "number of edits"
        let xs = 0...Double(r.settings.edits)          // every chart spans the planned run, finished or not
        var out: [String] = []

        let cps = r.checkpoints.filter { $0.editMetrics != nil }
        let metrics: [(String, KeyPath<CounterFactScores, Double>)] = [("ES", \.ES), ("PS", \.PS), ("NS", \.NS), ("S", \.S)]
        out.append(SVGLineChart(
            title: "Edit metrics (CounterFact) vs number of edits", xLabel: x, yLabel: "score (×100)",
            series: metrics.enumerated().map { i, m in
                ChartSeries(name: m.0, points: cps.map { ChartPoint(Double($0.edits), $0.editMetrics![keyPath: m.1]) },
                            color: palette[i], lineWidth: m.0 == "S" ? 3 : 1.75)
            }, yRange: 0...100, xRange: xs).svg())

        let down = r.checkpoints.filter { $0.downstream != nil }
        let tasks = Array(Set(down.flatMap { ($0.downstream ?? [:]).keys })).sorted()
        var f1 = tasks.enumerated().map { i, t in
            ChartSeries(name: t, points: down.compactMap { c in c.downstream?[t]?["f1"].map { ChartPoint(Double(c.edits), $0) } },
                        color: palette[i % palette.count])
        }
        if !tasks.isEmpty {
            f1.append(ChartSeries(name: "mean", points: down.compactMap { c in c.downstreamAverage?["f1"].map { ChartPoint(Double(c.edits), $0) } },
                                  color: "#000000", lineWidth: 3.5))
        }
        var f1Chart = SVGLineChart(title: "Downstream F1 per task and mean vs number of edits", xLabel: x, yLabel: "weighted F1", series: f1,
                                   xRange: xs)
        if r.settings.downstream == "none" { f1Chart.emptyMessage = "no downstream probe in this run" }
        out.append(f1Chart.svg())

        let layers = r.settings.preset.layers
        func perLayer(_ pick: KeyPath<SequentialBatchRecord, [Int: Double]>, start: Double) -> [ChartSeries] {
            layers.enumerated().map { i, l in
                let after = r.batches.compactMap { b in b[keyPath: pick][l].map { ChartPoint(Double(b.edits), $0) } }
                return ChartSeries(name: "layer \(l)", points: after.isEmpty ? [] : [ChartPoint(0, start)] + after,
                                   color: palette[i % palette.count])
            }
        }
        out.append(SVGLineChart(title: "Edited matrix norm ‖W‖F / ‖W0‖F vs number of edits", xLabel: x, yLabel: "relative Frobenius norm",
                                series: perLayer(\.relativeNorms, start: 1), xRange: xs, reference: (1, "unedited")).svg())
        out.append(SVGLineChart(title: "Distance from the original ‖W − W0‖F / ‖W0‖F", xLabel: x, yLabel: "relative distance",
                                series: perLayer(\.relativeDistances, start: 0), xRange: xs).svg())

        func perBatch(_ v: (SequentialBatchRecord) -> Double) -> [ChartPoint] {
            r.batches.map { ChartPoint(Double($0.edits), v($0)) }
        }
        out.append(SVGLineChart(title: "Time per edit, per batch", xLabel: x, yLabel: "seconds per edit", series: [
            ChartSeries(name: "search", points: perBatch { $0.searchSeconds / Double(max(1, $0.requests)) }, color: palette[0]),
            ChartSeries(name: "update", points: perBatch { $0.updateSeconds / Double(max(1, $0.requests)) }, color: palette[1]),
            ChartSeries(name: "total", points: perBatch(\.secondsPerEdit), color: "#000000", lineWidth: 3),
        ], xRange: xs).svg())
        out.append(SVGLineChart(title: "Target-search steps per fact (batch mean)", xLabel: x, yLabel: "steps",
                                series: [ChartSeries(name: "steps", points: perBatch(\.meanSearchSteps), color: palette[2])], xRange: xs).svg())
        return out
    }

    static func num(_ v: Double, _ decimals: Int) -> String { v.isFinite ? String(format: "%.\(decimals)f", v) : "–" }
}
