import EmendCore
@testable import EmendEditing
import EmendModelTestSupport
import EmendModels
import EmendTestSupport
import XCTest

/// The crash test: the real `emend` binary edits a tiny model through a store in 22 batches; a second run of the
/// same command is killed with SIGKILL at least 10 times — inside tensor writes, inside and just after journal
/// commits (EMEND_STORE_CRASH_AT), and at random instants (a timer) — and re-run each time. The independent truth
/// is the uninterrupted run with the same inputs: the final weights, state and journal must equal it, and
/// `emend store verify` must pass.
final class StoreCrashTests: XCTestCase {
    static let requestCount = 22

    var binary: URL { EmendProcess.binary }

    func run(_ args: [String], env extra: [String: String] = [:], home: URL, killAfter: Double? = nil) throws -> EmendProcess.Result {
        try EmendProcess.run(args, env: extra, home: home, killAfter: killAfter)
    }

    /// The journal of the committed versions without ids and wall-clock fields: what two equal runs must share.
    func journal(_ store: EditStore) throws -> [String] {
        let batches = try store.batches().map { b -> String in
            var metrics = (try? JSONSerialization.jsonObject(with: Data(b.metrics.utf8)) as? [String: Double]) ?? [:]
            metrics["search_seconds"] = nil; metrics["update_seconds"] = nil
            return "v\(b.version) \(b.status) \(b.method) \(b.hyperParameters.count) n\(b.requestCount) \(b.tensorSHA256) \(b.tensorBytes) "
                + "\(b.checkpointSHA256 ?? "-") \(b.weightsSHA256) \(b.stateSHA256) \(metrics.sorted { $0.key < $1.key })"
        }
        let requests = try store.requests().map {
            "v\($0.version) \($0.position) \($0.caseID ?? -1) \($0.subject) \($0.prompt) \($0.targetTrue ?? "") \($0.targetNew) \($0.searchSteps ?? -1) \($0.losses) \($0.supersededBy.map { _ in "superseded" } ?? "")"
        }
        return batches + requests
    }

    func testStoreCrash_KilledRunsResumeToTheUninterruptedResult() throws {
        guard TestPaths.exists(binary) else { throw XCTSkip("\(binary.path) not built (swift build -c release --build-tests builds it)") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-crash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try TinyModelFile.writeFixture(in: dir, requestCount: Self.requestCount)
        let home = dir.appendingPathComponent("home")
        let model = dir.appendingPathComponent("tiny.gguf").path
        func edit(_ store: URL) -> [String] {
            ["edit", "--store", store.path, "--model", model, "--preset", dir.appendingPathComponent("tiny-preset.json").path,
             "--requests", dir.appendingPathComponent("requests.json").path, "--corpus", dir.appendingPathComponent("corpus.json").path,
             "--batch-size", "1"]
        }
        // The uninterrupted run (it also fills the statistics and context caches both runs then read).
        let clean = dir.appendingPathComponent("clean"), crashed = dir.appendingPathComponent("crashed")
        for s in [clean, crashed] {
            let r = try run(["store", "init", s.path, "--model", model, "--checkpoint-every", "4"], home: home)
            XCTAssertEqual(r.status, 0, r.output)
        }
        let t0 = Date()
        let first = try run(edit(clean), home: home)
        XCTAssertEqual(first.status, 0, first.output)
        let cleanSeconds = Date().timeIntervalSince(t0)

        // The interrupted run: kill, resume, until done with at least 10 kills.
        var rng = SeededGenerator(seed: 2026)
        let points = ["tensor-write", "tensor-renamed", "journal-commit", "journal-committed", "checkpoint-write"]
        var kills = 0, attempts = 0, finished = false
        var killedAt: [String] = []
        while !finished || kills < 10 {
            attempts += 1
            XCTAssertLessThan(attempts, 60, "the crash loop did not finish: \(killedAt)")
            if attempts >= 60 { break }
            if finished {   // done before 10 kills: roll back a few versions and carry on (resuming redoes them)
                let head = try EditStore.open(at: crashed, writer: false).head()
                let r = try run(["store", "rollback", crashed.path, "\(max(0, head - 3))"], home: home)
                XCTAssertEqual(r.status, 0, r.output)
                finished = false
            }
            var env: [String: String] = [:]
            var timer: Double? = nil
            if kills % 3 == 2 {
                timer = 0.2 + Double(rng.nextUniform()) * cleanSeconds * 0.5
            } else {
                let point = points[Int(rng.next() % UInt64(points.count))]
                env["EMEND_STORE_CRASH_AT"] = "\(point):\(1 + Int(rng.next() % 3))"
            }
            let r = try run(edit(crashed), env: env, home: home, killAfter: timer)
            if r.killed {
                kills += 1
                killedAt.append(env["EMEND_STORE_CRASH_AT"] ?? String(format: "timer %.2fs", timer ?? 0))
            } else {
                XCTAssertEqual(r.status, 0, r.output)
                finished = r.status == 0
                if r.status != 0 { break }
            }
        }
        XCTAssertGreaterThanOrEqual(kills, 10, "\(killedAt)")

        let a = try EditStore.open(at: clean, writer: false), b = try EditStore.open(at: crashed, writer: false)
        XCTAssertEqual(try a.head(), Self.requestCount)
        XCTAssertEqual(try b.head(), Self.requestCount)
        XCTAssertEqual(try a.snapshot(), try b.snapshot(), "weights and state after the interrupted run")
        XCTAssertEqual(try journal(a), try journal(b), "journal")
        let verify = try run(["store", "verify", crashed.path], home: home)
        XCTAssertEqual(verify.status, 0, verify.output)
        XCTAssertTrue(verify.output.contains("ok"), verify.output)
        print("crash test: \(kills) kills (\(killedAt.joined(separator: ", "))), \(attempts) runs; uninterrupted run \(String(format: "%.1f", cleanSeconds))s")
    }

    /// The command line refuses what would corrupt a store: a truncated tensor file (edit and verify fail and name
    /// it), a different base model (edit names both checksums), a re-edit of a subject and relation without
    /// --on-duplicate; and with --on-duplicate skip the run goes on. The store is unchanged by each refusal.
    func testStoreCLI_RefusesBadInput() throws {
        guard TestPaths.exists(binary) else { throw XCTSkip("\(binary.path) not built") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-refuse-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try TinyModelFile.writeFixture(in: dir, requestCount: 3)
        let home = dir.appendingPathComponent("home")
        let model = dir.appendingPathComponent("tiny.gguf").path, store = dir.appendingPathComponent("store")
        func edit(_ reqs: String, model m: String = model, _ extra: [String] = []) -> [String] {
            ["edit", "--store", store.path, "--model", m, "--preset", dir.appendingPathComponent("tiny-preset.json").path,
             "--requests", reqs, "--corpus", dir.appendingPathComponent("corpus.json").path, "--batch-size", "1"] + extra
        }
        let reqs = dir.appendingPathComponent("requests.json").path
        XCTAssertEqual(try run(["store", "init", store.path, "--model", model], home: home).status, 0)
        let first = try run(edit(reqs) + ["--limit", "2"], home: home)
        XCTAssertEqual(first.status, 0, first.output)

        // A truncated tensor file.
        let s = try EditStore.open(at: store, writer: false)
        let f = s.tensorsURL.appendingPathComponent(try XCTUnwrap(try s.batches().last).tensorFile)
        let good = try Data(contentsOf: f)
        try good.prefix(good.count / 2).write(to: f)
        let truncated = try run(edit(reqs), home: home)
        XCTAssertNotEqual(truncated.status, 0)
        XCTAssertTrue(truncated.output.contains("truncated"), truncated.output)
        XCTAssertNotEqual(try run(["store", "verify", store.path], home: home).status, 0)
        try good.write(to: f)
        XCTAssertEqual(try s.head(), 2)

        // Another base model.
        let other = dir.appendingPathComponent("other.gguf")
        try TinyModelFile.write(to: other, seed: 8)
        let wrong = try run(edit(reqs, model: other.path), home: home)
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertTrue(wrong.output.contains("another base model"), wrong.output)
        XCTAssertNotEqual(try run(["store", "verify", store.path, "--model", other.path], home: home).status, 0)

        // A re-edit of the same subject and relation: refused until the user chooses.
        let dup = dir.appendingPathComponent("dup.json")
        try Data(#"[{"requested_rewrite": {"prompt": "{} is located in", "subject": "Landmark 0", "target_new": {"str": "Tokyo"}}}]"#.utf8).write(to: dup)
        let refused = try run(edit(dup.path), home: home)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("--on-duplicate"), refused.output)
        XCTAssertEqual(try s.head(), 2)
        let skipped = try run(edit(dup.path, ["--on-duplicate", "skip"]), home: home)
        XCTAssertEqual(skipped.status, 0, skipped.output)
        XCTAssertEqual(try s.head(), 2)
        let verify = try run(["store", "verify", store.path], home: home)
        XCTAssertEqual(verify.status, 0, verify.output)
    }
}
