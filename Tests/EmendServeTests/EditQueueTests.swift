import EmendCore
@testable import EmendEditing
import EmendTestSupport
import Foundation
import GRDB
import XCTest

/// The edit store's queue (EditStore+Queue), on a store whose batches are synthetic (a 2×2 weight per batch, no
/// model): what is durable when, how jobs form, and that a job is committed at most once.
final class EditQueueTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-queue-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("not a real model".utf8).write(to: dir.appendingPathComponent("base.bin"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func makeStore() throws -> EditStore {
        try EditStore.create(at: dir.appendingPathComponent("store"), baseModel: dir.appendingPathComponent("base.bin"))
    }

    func request(_ i: Int, subject: String? = nil, target: String = "Rome") -> EditRequest {
        EditRequest(caseID: i, prompt: "{} is located in", subject: subject ?? "Landmark \(i)", targetNew: target, targetTrue: "Paris")
    }

    /// A batch as an editor would hand it over: one weight whose value encodes the version.
    func batch(for job: QueueJob, value: Float) -> StoreBatch {
        StoreBatch(method: "test", hyperParameters: "{}", requests: job.requests.map { StoredRequest(request: $0) },
                   weights: ["blk.0.ffnDown": Tensor(shape: [2, 2], scalars: [value, 0, 0, value])])
    }

    /// Independent truth: the ids are the rows' order of arrival; a reopened store (another process) reads them back
    /// as queued with the request unchanged.
    func testEnqueue_IsDurableAndOrdered() throws {
        var store: EditStore? = try makeStore()
        let ids = try store!.enqueue([request(0), request(1), request(2)], submittedBy: "edit-key")
        XCTAssertEqual(ids.count, 3)
        XCTAssertEqual(ids, ids.sorted())
        store = nil
        let reopened = try EditStore.open(at: dir.appendingPathComponent("store"), writer: false)
        let rows = try reopened.queuedEdits().sorted { $0.id < $1.id }
        XCTAssertEqual(rows.map(\.id), ids)
        XCTAssertEqual(rows.map(\.status), [.queued, .queued, .queued])
        XCTAssertEqual(rows[1].request, request(1))
        XCTAssertEqual(rows[0].submittedBy, "edit-key")
    }

    /// A job formed and not committed (the writer was killed) is found again, with the same members in the same
    /// order, by the next writer; forming another job meanwhile is refused; committing it marks exactly its members
    /// applied in the new version; committing it a second time is refused and leaves the head where it was.
    func testJob_UnfinishedIsRedoneExactlyOnce() throws {
        var store: EditStore? = try makeStore()
        let ids = try store!.enqueue((0..<5).map { request($0) }, submittedBy: nil)
        let job = try XCTUnwrap(try store!.formJob(maxCount: 2, policy: .refuse))
        XCTAssertEqual(job.editIDs, Array(ids.prefix(2)))
        store = nil   // "killed": the lock is released, the journal keeps the job

        let s = try EditStore.open(at: dir.appendingPathComponent("store"), writer: true)
        let again = try XCTUnwrap(try s.unfinishedJob())
        XCTAssertEqual(again, job)
        XCTAssertThrowsError(try s.formJob(maxCount: 2, policy: .refuse))
        let v1 = try s.commit(batch(for: again, value: 1), after: try s.snapshot(), job: again.id)
        XCTAssertEqual(v1.version, 1)
        XCTAssertNil(try s.unfinishedJob())
        let rows = try s.queuedEdits().sorted { $0.id < $1.id }
        XCTAssertEqual(rows.map(\.status), [.applied, .applied, .queued, .queued, .queued])
        XCTAssertEqual(rows[0].version, 1)
        XCTAssertThrowsError(try s.commit(batch(for: again, value: 2), after: v1, job: again.id)) { e in
            XCTAssertTrue("\(e)".contains("not being applied"), "\(e)")
        }
        XCTAssertEqual(try s.head(), 1)
        XCTAssertEqual(try s.requests().count, 2, "the refused second commit added no request rows")
    }

    /// The duplicate policy at job formation, against applied requests (independent truth: the policy's definition
    /// in DuplicatePolicy): the same fact again is refused under every policy; a re-edit of the same subject and
    /// relation is refused (refuse, skip) or applied (replace, keep-both); two re-edits of one relation never share
    /// a job.
    func testFormJob_DuplicatePolicies() throws {
        for policy in DuplicatePolicy.allCases {
            try? FileManager.default.removeItem(at: dir.appendingPathComponent("store"))
            let s = try makeStore()
            _ = try s.enqueue([request(0)], submittedBy: nil)
            let first = try XCTUnwrap(try s.formJob(maxCount: 4, policy: policy))
            _ = try s.commit(batch(for: first, value: 1), after: try s.snapshot(), job: first.id)
            let ids = try s.enqueue([request(0), request(0, subject: "Landmark 0", target: "Oslo"),
                                     request(0, subject: "Landmark 0", target: "Lima"), request(5)], submittedBy: nil)
            let job = try s.formJob(maxCount: 4, policy: policy)
            let rows = Dictionary(uniqueKeysWithValues: try s.queuedEdits(ids: ids).map { ($0.id, $0) })
            XCTAssertEqual(rows[ids[0]]?.status, .refused, "\(policy): the same fact again")
            XCTAssertTrue(rows[ids[0]]?.reason?.contains("already applied, in version 1") ?? false, "\(rows[ids[0]]?.reason ?? "")")
            switch policy {
            case .refuse, .skip:
                XCTAssertEqual(rows[ids[1]]?.status, .refused, "\(policy)")
                XCTAssertEqual(rows[ids[2]]?.status, .refused, "\(policy)")
                XCTAssertEqual(job?.editIDs, [ids[3]], "\(policy)")
            case .replace, .keepBoth:
                XCTAssertEqual(job?.editIDs, [ids[1]], "\(policy): the second re-edit of the relation waits for the next job")
                XCTAssertEqual(rows[ids[2]]?.status, .queued, "\(policy)")
            }
        }
    }

    /// A request the editor refuses (`validate` gives a reason) is refused with that reason and not put in the job;
    /// a job the editor fails is ended with its requests refused, and the next job forms from the rest.
    func testFormJob_ValidationAndFailedJobs() throws {
        let s = try makeStore()
        let ids = try s.enqueue([request(0), request(1), request(2)], submittedBy: nil)
        let job = try XCTUnwrap(try s.formJob(maxCount: 2, policy: .refuse) { $0.subject == "Landmark 0" ? "too long" : nil })
        XCTAssertEqual(job.editIDs, [ids[1], ids[2]])
        XCTAssertEqual(try s.queuedEdits(ids: [ids[0]]).first?.reason, "too long")
        try s.failJob(job.id, reason: "the editor refused the batch")
        XCTAssertEqual(try s.queuedEdits(ids: [ids[1]]).first?.status, .refused)
        XCTAssertNil(try s.unfinishedJob())
        XCTAssertNil(try s.formJob(maxCount: 2, policy: .refuse), "nothing left to apply")
    }

    /// A store made before the queue existed (its journal without migration v2) gains the queue's tables the first
    /// time a writer opens it, keeps its versions, and a reader of the old journal sees an empty queue.
    func testMigration_OldStoreGainsTheQueue() throws {
        let url = dir.appendingPathComponent("store")
        do {
            let s = try makeStore()
            _ = try s.commit(StoreBatch(method: "test", hyperParameters: "{}", requests: [StoredRequest(request: request(9))],
                                        weights: ["blk.0.ffnDown": Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])]), after: StoreSnapshot(version: 0))
        }
        // Make it an old journal: drop what v2 added, and its record.
        let db = try DatabaseQueue(path: url.appendingPathComponent("store.sqlite").path)
        try db.write { db in
            try db.execute(sql: "DROP TABLE queue; DROP TABLE queue_jobs; DELETE FROM grdb_migrations WHERE identifier = 'v2-queue'")
        }
        try db.close()
        let reader = try EditStore.open(at: url, writer: false)
        XCTAssertEqual(try reader.queuedEdits(), [])
        XCTAssertNil(try reader.unfinishedJob())
        let writer = try EditStore.open(at: url, writer: true)
        XCTAssertEqual(try writer.head(), 1)
        let ids = try writer.enqueue([request(1)], submittedBy: nil)
        XCTAssertEqual(try writer.queuedEdits(ids: ids).first?.status, .queued)
        XCTAssertTrue(try writer.verify().ok)
    }
}
