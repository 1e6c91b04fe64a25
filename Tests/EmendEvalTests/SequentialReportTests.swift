import XCTest
import EmendEditing
@testable import EmendEval

/// report.html of a hand-made 300-edit run: the charts are there, with one circle per data point where the
/// geometry (worked by hand below) puts it, axis labels, and nothing that needs a network or scripts.
final class SequentialReportTests: XCTestCase {
    typealias F = TinySequentialFixture

    /// CounterFact scores for `n` records of which `wins` succeed everywhere (ES = PS = NS = 100·wins/n).
    static func scores(records n: Int, wins: Int) -> CounterFactScores {
        let win = CounterFactPairOutcome(nllNew: 1, nllTrue: 2, newAllCorrect: true, trueAllCorrect: false)
        let lose = CounterFactPairOutcome(nllNew: 2, nllTrue: 1, newAllCorrect: false, trueAllCorrect: true)
        let neighbourKept = CounterFactPairOutcome(nllNew: 2, nllTrue: 1, newAllCorrect: false, trueAllCorrect: true)
        return CounterFactMetrics.aggregate((0..<n).map { i in
            CounterFactRecordScore(caseID: i, rewrite: i < wins ? win : lose, paraphrases: [i < wins ? win : lose],
                                   neighborhood: [i < wins ? neighbourKept : win])
        })
    }

    /// 3 batches of 100, checkpoints at 0/100/200/300, layers 0 and 1, two downstream tasks.
    static func results() -> SequentialResults {
        let s = F.settings(edits: 300, batch: 100, every: 100)
        var r = SequentialResults(settings: s, originalNorms: [0: 10, 1: 20], evaluationSample: Array(0..<60))
        for b in 1...3 {
            let x = Double(b)
            r.batches.append(SequentialBatchRecord(
                batch: b, edits: 100 * b, requests: 100, searchSeconds: 100 + x, updateSeconds: 20, saveSeconds: 1,
                secondsPerEdit: (120 + x) / 100, searchSteps: Array(repeating: 10 + b, count: 100), meanSearchSteps: 10 + x,
                meanFinalLoss: 0.1, updateNorms: [0: 0.5, 1: 0.6], weightNorms: [0: 10 + x, 1: 20 + x],
                relativeNorms: [0: 1 + 0.01 * x, 1: 1 + 0.02 * x], relativeDistances: [0: 0.01 * x, 1: 0.02 * x]))
        }
        for (k, e) in [0, 100, 200, 300].enumerated() {
            let wins = [1, 2, 3, 1][k]                           // ES 50 % at 0 and at 300 edits (1 of 2)
            let down: CheckpointScores = ["sst2": ["f1": 0.7 - 0.1 * Double(k)], "mrpc": ["f1": 0.6]]
            r.checkpoints.append(SequentialCheckpointRecord(edits: e, batches: k, editMetrics: scores(records: 2 + (k == 0 || k == 3 ? 0 : 2), wins: wins),
                                                            editMetricsSeconds: 1, downstream: down,
                                                            downstreamAverage: CheckpointProbe.average(down), downstreamSeconds: 1))
        }
        r.sessions = [0]
        r.complete = true
        return r
    }

    func count(_ needle: String, in s: String) -> Int { s.components(separatedBy: needle).count - 1 }

    /// Six charts, each an <svg> with axis labels and one circle per data point: edit metrics 4 series × 4
    /// checkpoints; downstream 2 tasks + mean × 4; norms and distances 2 layers × (3 batches + the start);
    /// time 3 series × 3 batches; steps 1 × 3.
    func testReport_ChartsAndDataPoints() {
        let html = SequentialReport.html(Self.results())
        let charts = html.components(separatedBy: "<svg ").dropFirst()
        XCTAssertEqual(charts.count, 6)
        XCTAssertEqual(charts.map { count("class=\"point\"", in: $0) }, [16, 12, 8, 8, 9, 3])
        for c in charts {
            XCTAssertTrue(c.contains("class=\"axis-label x-label\""))
            XCTAssertTrue(c.contains(">number of edits</text>"))
            XCTAssertTrue(c.contains("class=\"axis-label y-label\""))
            XCTAssertTrue(c.contains("</svg>"))
        }
        let titles = ["Edit metrics (CounterFact) vs number of edits", "Downstream F1 per task and mean", "‖W‖F / ‖W0‖F",
                      "Time per edit", "Target-search steps"]
        for t in titles { XCTAssertTrue(html.contains(t), t) }
        // Series present by name.
        for name in ["ES", "PS", "NS", "S", "sst2", "mrpc", "mean", "layer 0", "layer 1", "search", "update", "total"] {
            XCTAssertTrue(html.contains("data-series=\"\(name)\""), name)
        }
        // Geometry, by hand: plot box x 64…550 (720 − 64 − 170 = 486 wide), y 34…290 (340 − 34 − 50 = 256 high).
        // x ticks 0, 100, 200, 300 (step 100 ≥ 300/5), so 300 edits → x = 550; y fixed 0…100, so ES 50 → y = 290 − 128 = 162.
        XCTAssertTrue(charts.first!.contains("<circle class=\"point\" cx=\"550.0\" cy=\"162.0\""), "ES 50 at 300 edits")
        XCTAssertTrue(charts.first!.contains("<title>ES: 300 → 50</title>"))
        // Self-contained: no scripts, no external resources.
        XCTAssertFalse(html.lowercased().contains("<script"))
        XCTAssertFalse(html.contains("src="))
        XCTAssertFalse(html.contains("href="))
        XCTAssertEqual(count("http", in: html), count("xmlns=\"http://www.w3.org/2000/svg\"", in: html))
        // Headline: ES unedited 50.0 and after 300 edits 50.0; largest norm ratio after batch 3 = 1.06.
        XCTAssertTrue(html.contains("<td class=\"k\">ES (CounterFact, ×100)</td><td>50.0</td><td>50.0</td>"))
        XCTAssertTrue(html.contains("<td>1.0600</td>"))
    }

    /// compare.html of two runs on the same records: six charts with one series per run and one circle per data
    /// point (ES, NS, S, mean F1: 2 runs × 4 checkpoints; largest norm: 2 × (start + 3 batches); time: 2 × 3), the
    /// summary rows, and a caveat when the evaluation samples differ. The MEMIT run's norms are set by hand so its
    /// largest ratio after batch 3 is 1.12, placed on the norm chart where the geometry puts it.
    func testComparison_OneSeriesPerRun() {
        let encore = Self.results()
        var memit = Self.results()
        memit.settings.method = "memit"
        for i in memit.batches.indices { memit.batches[i].relativeNorms = [0: 1 + 0.04 * Double(i + 1), 1: 1.01] }
        let runs = SequentialComparison.runs([(URL(fileURLWithPath: "/r/encore-300"), encore), (URL(fileURLWithPath: "/r/memit-300"), memit)])
        XCTAssertEqual(runs.map(\.label), ["ENCORE", "MEMIT"])
        let html = SequentialComparison.html(runs)
        let charts = html.components(separatedBy: "<svg ").dropFirst()
        XCTAssertEqual(charts.count, 6)
        XCTAssertEqual(charts.map { count("class=\"point\"", in: $0) }, [8, 8, 8, 8, 8, 6])
        for c in charts { XCTAssertTrue(c.contains("data-series=\"ENCORE\"") && c.contains("data-series=\"MEMIT\"")) }
        XCTAssertTrue(charts.dropFirst(4).first!.contains("<title>MEMIT: 300 → 1.12</title>"))
        XCTAssertTrue(html.contains("<td class=\"k\">MEMIT</td><td>300 / 300</td><td>300</td><td>50.0</td>"))
        XCTAssertFalse(html.contains("Note:"))
        memit.evaluationSample = [1, 2]
        XCTAssertTrue(SequentialComparison.html(SequentialComparison.runs([(URL(fileURLWithPath: "/a"), encore), (URL(fileURLWithPath: "/b"), memit)]))
            .contains("Note: the runs differ in the evaluation sample."))
        // Two runs of one method are told apart by their directories.
        XCTAssertEqual(SequentialComparison.runs([(URL(fileURLWithPath: "/r/x"), encore), (URL(fileURLWithPath: "/r/y"), encore)]).map(\.label), ["x", "y"])
        XCTAssertFalse(html.lowercased().contains("<script"))
    }

    /// An empty run (no batch yet) renders, with "no data yet" in place of points.
    func testReport_EmptyRunRenders() {
        let r = SequentialResults(settings: F.settings(), originalNorms: [:], evaluationSample: [])
        let html = SequentialReport.html(r)
        XCTAssertEqual(count("<svg ", in: html), 6)
        XCTAssertEqual(count("class=\"point\"", in: html), 0)
        XCTAssertEqual(count("no data yet", in: html), 6)
        XCTAssertTrue(html.contains("in progress: 0 of 4 batches"))
    }

    /// Tick choice, by hand: 0…300 → step 100; 0.97…1.23 → step 0.1 from 0.9 to 1.3; fixed 0…100 → step 20.
    func testNiceTicks_HandWorked() {
        XCTAssertEqual(SVGLineChart.niceTicks(0, 300), [0, 100, 200, 300])
        let t = SVGLineChart.niceTicks(0.97, 1.23)
        XCTAssertEqual(t.count, 5)
        for (a, b) in zip(t, [0.9, 1.0, 1.1, 1.2, 1.3]) { XCTAssertEqual(a, b, accuracy: 1e-9) }
        XCTAssertEqual(SVGLineChart.niceTicks(0, 100, exact: true), [0, 20, 40, 60, 80, 100])
        XCTAssertEqual(SVGLineChart.tickLabel(1.1000000000000001, step: 0.1), "1.1")
        XCTAssertEqual(SVGLineChart.tickLabel(2000, step: 500), "2000")
    }

    /// Names with markup characters are escaped, so a task called "a<b" cannot break the page.
    func testEscaping() {
        XCTAssertEqual(xmlEscaped("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;")
        let chart = SVGLineChart(title: "t<", xLabel: "x", yLabel: "y", series: [ChartSeries(name: "a<b", points: [ChartPoint(0, 1)], color: "#000")])
        XCTAssertFalse(chart.svg().contains("a<b"))
    }
}

/// The report in a real browser: headless Chromium (Debian `chromium`) loads it, its DOM has the six charts and
/// their points, and it takes a screenshot. Skips when Chromium is not installed.
final class SequentialReportBrowserTests: XCTestCase {
    static func chromium() -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            for name in ["chromium", "chromium-browser"] {
                let p = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: p) { return p }
            }
        }
        return nil
    }

    /// Runs Chromium headless on `args`; returns (status, stdout, stderr).
    func runChromium(_ exe: String, _ args: [String]) throws -> (Int32, String, String) {
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("emend-chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                       "--user-data-dir=\(profile.path)"] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read while it runs (a full pipe would block it), then wait.
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func testReport_OpensInHeadlessChromium() throws {
        guard let exe = Self.chromium() else { throw XCTSkip("chromium is not installed (Debian: apt-get install -y chromium)") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try SequentialReport.write(SequentialReportTests.results(), to: dir)
        let page = dir.appendingPathComponent("report.html")
        let (status, dom, log) = try runChromium(exe, ["--dump-dom", page.absoluteString])
        XCTAssertEqual(status, 0, log)
        XCTAssertEqual(dom.components(separatedBy: "<svg ").count - 1, 6, "charts in the rendered DOM")
        XCTAssertEqual(dom.components(separatedBy: "class=\"point\"").count - 1, 56, "data points in the rendered DOM")
        XCTAssertFalse(log.contains("CONSOLE"), "console messages: \(log)")
        let shot = dir.appendingPathComponent("report.png")
        let (s2, _, log2) = try runChromium(exe, ["--screenshot=\(shot.path)", "--window-size=1000,2400", "--hide-scrollbars", page.absoluteString])
        XCTAssertEqual(s2, 0, log2)
        let png = try Data(contentsOf: shot)
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "a PNG file")
        XCTAssertGreaterThan(png.count, 20_000, "a blank page compresses to far less")
        if let keep = ProcessInfo.processInfo.environment["EMEND_KEEP_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(at: shot, to: URL(fileURLWithPath: keep))
        }
    }
}
