import EmendCore
import EmendEditing
import EmendModelTestSupport
import EmendServe
import EmendTestSupport
import Foundation
import XCTest

/// The crash test of the served store: a child `emend serve` is killed with SIGKILL at least 5 times while it applies
/// the queue — inside its commits (EMEND_STORE_CRASH_AT: tensor writes, inside and just after the journal
/// transaction) and at random instants — and restarted each time. The independent truth is an uninterrupted server
/// given the same edits: the final weights and state must equal its, every acknowledged edit must be applied
/// exactly once (one request row per edit, all queue rows applied), and `emend store verify` must pass.
final class ServeCrashTests: XCTestCase {
    /// Seven batches of two: enough that the random kill, which comes first, always leaves batches for the four
    /// kills inside commits (two of which commit their batch).
    static let editCount = 14

    func serveArgs(_ f: ServeFixture, store: URL) -> [String] {
        ["--store", store.path, "--keys", f.keysFile.path, "--model", f.model.path, "--preset", f.preset.path,
         "--corpus", f.corpus.path, "--max-batch", "2", "--max-wait", "0", "--port", "0"]
    }

    /// Queue rows not yet applied or refused, read from the journal (another process's view).
    func unfinished(_ store: URL) throws -> Int {
        let s = try EditStore.open(at: store, writer: false)
        let c = try s.queueCounts()
        return (c[.queued] ?? 0) + (c[.applying] ?? 0)
    }

    /// Posts the edits once: the ids when acknowledged (202). A server killed before answering may still have
    /// journalled them; the caller checks the journal.
    func post(_ port: Int, key: String) -> [Int64]? {
        let r = HTTP.request("POST", "http://127.0.0.1:\(port)/v1/edits", key: key, body: TinyModelFile.requests(Self.editCount))
        guard r.status == 202 else { return nil }
        return (HTTP.json(r.body)["data"] as? [[String: Any]])?.compactMap { ($0["id"] as? NSNumber)?.int64Value }
    }

    func testServeCrash_KilledMidBatchResumesExactlyOnce() throws {
        guard TestPaths.exists(ServeProcess.binary) else { throw XCTSkip("\(ServeProcess.binary.path) not built (swift build -c release --build-tests builds it)") }
        let f = try ServeFixture.make("crash")
        defer { f.remove() }
        let home = f.dir.appendingPathComponent("home")
        let editKey = try XCTUnwrap(f.keys[.edit])
        let clean = f.store, crashed = f.dir.appendingPathComponent("crashed")
        try EditStore.create(at: crashed, baseModel: f.model, checkpointEvery: 3)

        // The uninterrupted server.
        let server = try ServeProcess(serveArgs(f, store: clean), home: home)
        let port = try XCTUnwrap(server.waitForPort(), server.output)
        let t0 = Date()
        let ids = try XCTUnwrap(post(port, key: editKey), server.output)
        XCTAssertEqual(ids.count, Self.editCount)
        while try unfinished(clean) > 0 && Date().timeIntervalSince(t0) < 300 { Thread.sleep(forTimeInterval: 0.1) }
        // How long the queue takes once posted (start-up excluded): the random kill falls in its first 40 %.
        let cleanSeconds = Date().timeIntervalSince(t0)
        server.kill(SIGTERM)
        XCTAssertFalse(server.wait(), "SIGTERM ends the server")
        XCTAssertEqual(server.process.terminationStatus, 0, server.output)
        XCTAssertEqual(try EditStore.open(at: clean, writer: false).head(), Self.editCount / 2)

        // The killed and restarted server.
        var rng = SeededGenerator(seed: 2026)
        // Kill 0 at a random instant; kills 1–4 before the batch's files are complete, inside the journal transaction,
        // after the tensor file is in place but unknown to the journal, just after the transaction.
        let points = ["", "tensor-write", "journal-commit", "tensor-renamed", "journal-committed"]
        var kills = 0, runs = 0, posted = false
        var killedAt: [String] = []
        while true {
            runs += 1
            guard runs < 40 else { XCTFail("the crash loop did not finish: \(killedAt)"); break }
            // Five runs die (first at a random instant while the queue is being applied, then four inside a commit,
            // at the first time the process reaches the point); then the server runs undisturbed until the queue
            // is empty.
            let killing = kills < 5
            var env: [String: String] = [:]
            var timer: Double? = nil
            if killing && kills == 0 {
                timer = 0.05 + Double(rng.nextUniform()) * cleanSeconds * 0.4
            } else if killing {
                env["EMEND_STORE_CRASH_AT"] = "\(points[kills]):1"
            }
            let p = try ServeProcess(serveArgs(f, store: crashed), home: home, env: env)
            guard let port = p.waitForPort() else {
                XCTFail("no port: \(p.output)"); p.kill(SIGKILL); p.wait(); break
            }
            if !posted {
                if let got = post(port, key: editKey) { XCTAssertEqual(got, ids, "the same ids in a fresh store"); posted = true }
                else if (try EditStore.open(at: crashed, writer: false).queuedEdits().count) == Self.editCount { posted = true }
            }
            if let timer { DispatchQueue.global().asyncAfter(deadline: .now() + timer) { p.kill(SIGKILL) } }
            let start = Date()
            while p.process.isRunning, try unfinished(crashed) > 0 || !posted, Date().timeIntervalSince(start) < 120 {
                Thread.sleep(forTimeInterval: 0.05)
            }
            if p.process.isRunning { p.kill(SIGTERM) }
            if p.wait() {
                kills += 1
                killedAt.append(env["EMEND_STORE_CRASH_AT"] ?? String(format: "timer %.2fs", timer ?? 0))
            } else {
                XCTAssertEqual(p.process.terminationStatus, 0, p.output)
            }
            if posted, try unfinished(crashed) == 0 { break }
        }
        XCTAssertGreaterThanOrEqual(kills, 5, "\(killedAt)")

        let a = try EditStore.open(at: clean, writer: false), b = try EditStore.open(at: crashed, writer: false)
        XCTAssertEqual(try b.head(), Self.editCount / 2)
        XCTAssertEqual(try a.snapshot(), try b.snapshot(), "weights and state after the interrupted runs")
        let rows = try b.queuedEdits()
        XCTAssertEqual(rows.count, Self.editCount)
        XCTAssertTrue(rows.allSatisfy { $0.status == .applied }, "\(rows.map { "\($0.id) \($0.status) \($0.reason ?? "")" })")
        let applied = try b.requests()
        XCTAssertEqual(applied.count, Self.editCount, "each edit applied once")
        XCTAssertEqual(Set(applied.map(\.requestKey)).count, Self.editCount)
        let verify = Process()
        verify.executableURL = ServeProcess.binary
        verify.arguments = ["store", "verify", crashed.path]
        let pipe = Pipe(); verify.standardOutput = pipe; verify.standardError = pipe
        try verify.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        verify.waitUntilExit()
        XCTAssertEqual(verify.terminationStatus, 0, out)
        // `emend store queue` lists the same: every edit applied, in versions 1 to 7.
        let queue = Process()
        queue.executableURL = ServeProcess.binary
        queue.arguments = ["store", "queue", crashed.path]
        let qpipe = Pipe(); queue.standardOutput = qpipe; queue.standardError = qpipe
        try queue.run()
        let listed = String(decoding: qpipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        queue.waitUntilExit()
        XCTAssertEqual(queue.terminationStatus, 0, listed)
        XCTAssertTrue(listed.hasPrefix("queue: queued 0, applying 0, applied \(Self.editCount), refused 0, rolled_back 0"), listed)
        XCTAssertTrue(listed.contains("applied in version \(Self.editCount / 2)"), listed)
        print("serve crash test: \(kills) kills (\(killedAt.joined(separator: ", "))), \(runs) runs; uninterrupted \(String(format: "%.1f", cleanSeconds))s")
    }

    /// Graceful shutdown: SIGTERM while the queue is being applied ends the server with status 0 within seconds; a
    /// batch under way is either committed whole or left to the next start (its job still applying); after a
    /// restart every edit is applied exactly once and `emend store verify` passes. Independent truth: the journal's
    /// rows counted directly.
    func testServeSIGTERM_StopsCleanlyAndTheRestartFinishes() throws {
        guard TestPaths.exists(ServeProcess.binary) else { throw XCTSkip("\(ServeProcess.binary.path) not built") }
        let f = try ServeFixture.make("sigterm")
        defer { f.remove() }
        let home = f.dir.appendingPathComponent("home")
        let editKey = try XCTUnwrap(f.keys[.edit])
        let first = try ServeProcess(serveArgs(f, store: f.store), home: home)
        let port = try XCTUnwrap(first.waitForPort(), first.output)
        XCTAssertEqual(post(port, key: editKey)?.count, Self.editCount)
        Thread.sleep(forTimeInterval: 0.3)
        let t0 = Date()
        first.kill(SIGTERM)
        XCTAssertFalse(first.wait(timeout: 60), first.output)
        XCTAssertEqual(first.process.terminationStatus, 0, first.output)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 30)
        let mid = try EditStore.open(at: f.store, writer: false)
        let head = try mid.head()
        XCTAssertEqual(try mid.requests().count, 2 * head, "only whole batches committed")
        XCTAssertEqual(try mid.queueCounts()[.applied] ?? 0, 2 * head)

        let second = try ServeProcess(serveArgs(f, store: f.store), home: home)
        XCTAssertNotNil(second.waitForPort(), second.output)
        let start = Date()
        while try unfinished(f.store) > 0, Date().timeIntervalSince(start) < 120 { Thread.sleep(forTimeInterval: 0.05) }
        second.kill(SIGTERM)
        XCTAssertFalse(second.wait())
        XCTAssertEqual(second.process.terminationStatus, 0, second.output)
        let end = try EditStore.open(at: f.store, writer: false)
        XCTAssertEqual(try end.head(), Self.editCount / 2)
        XCTAssertEqual(try end.requests().count, Self.editCount)
        XCTAssertTrue(try end.queuedEdits().allSatisfy { $0.status == .applied })
        XCTAssertTrue(try end.verify().ok)
        print("SIGTERM test: stopped at version \(head), restart finished at \(try end.head())")
    }
}
