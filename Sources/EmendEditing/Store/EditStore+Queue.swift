// The edit queue: requests received by `emend serve`, durable before they are acknowledged, applied by one writer
// in batches ("jobs"), exactly once across crashes.
//
// A request's life:  queued ──formJob──► applying ──commit(job:)──► applied (in version k)
//                       └──formJob (duplicate policy, invalid)──► refused (reason)
//                                      applying ──failJob (the editor refused the batch)──► refused (reason)
//
// Exactly once: `formJob` writes a job's membership (queue_jobs row, members' job_id and status 'applying') in one
// transaction before the batch is edited; `EditStore.commit(_:after:job:)` marks the job committed and its members
// applied inside the very transaction that commits the batch. So after a crash at any instant either the batch and
// the marks are both in the journal (the job is done) or neither is (the job is still 'applying', and
// `unfinishedJob` hands exactly those requests, in the same order, to the restarted writer).

import Foundation
import GRDB

/// Where a queued request is.
public enum QueueStatus: String, Sendable, Codable, CaseIterable {
    case queued, applying, applied, refused
    /// Applied in a version that was later rolled back (derived: the row says applied, its batch rolled_back).
    case rolledBack = "rolled_back"
}

/// One request of the edit queue as the journal has it.
public struct QueuedEdit: Sendable, Equatable {
    public var id: Int64
    public var request: EditRequest
    public var status: QueueStatus
    public var receivedAt: String
    /// The key (its name in the keys file) that submitted it.
    public var submittedBy: String?
    public var jobID: Int64?
    /// The version that applied it (status applied or rolled_back).
    public var version: Int?
    /// Why it was refused.
    public var reason: String?
}

/// A batch of queued requests whose membership is in the journal: what the writer edits next.
public struct QueueJob: Sendable, Equatable {
    public var id: Int64
    /// The store's head when the job was formed.
    public var baseVersion: Int
    /// The queue ids, in application order.
    public var editIDs: [Int64]
    public var requests: [EditRequest]
}

extension EditStore {
    // MARK: - Receive

    /// Records `requests` as queued, in one transaction, and returns their ids (in order). Once this returns, the
    /// requests survive any crash. Needs the writer lock (the queue's tables are made by the writer's migration).
    public func enqueue(_ requests: [EditRequest], submittedBy: String?) throws -> [Int64] {
        guard isWriter else { throw EditStoreError.inconsistent(store: url.path, problem: "enqueue needs the writer lock (open with writer: true)") }
        let now = StoreJournal.now(), unix = Date().timeIntervalSince1970
        let rows = requests.map { StoreJournal.json($0) }
        do {
            return try journal.write { db in
                try rows.map { json in
                    try db.execute(sql: "INSERT INTO queue (received_at, received_unix, submitted_by, request, status) VALUES (?, ?, ?, ?, 'queued')",
                                   arguments: [now, unix, submittedBy, json])
                    return db.lastInsertedRowID
                }
            }
        } catch { throw EditStoreError.writeFailed(file: url.appendingPathComponent("store.sqlite").path, reason: "\(error)") }
    }

    // MARK: - Read

    /// Queue rows, newest first (at most `limit`), or the rows with the given ids. Empty for a store whose
    /// journal has no queue yet (never opened by a writer since migration v2).
    public func queuedEdits(ids: [Int64]? = nil, status: QueueStatus? = nil, limit: Int = 1000) throws -> [QueuedEdit] {
        try journal.read { db in
            guard try db.tableExists("queue") else { return [] }
            var sql = """
                SELECT q.*, b.version AS version, b.status AS batch_status FROM queue q LEFT JOIN batches b ON b.id = q.batch_id WHERE 1
                """
            var args: [any DatabaseValueConvertible] = []
            if let ids { sql += " AND q.id IN (\(ids.map { _ in "?" }.joined(separator: ",")))"; args += ids.map { $0 as any DatabaseValueConvertible } }
            if let status {
                switch status {
                case .applied: sql += " AND q.status = 'applied' AND b.status = 'committed'"
                case .rolledBack: sql += " AND q.status = 'applied' AND b.status = 'rolled_back'"
                default: sql += " AND q.status = ?"; args.append(status.rawValue)
                }
            }
            sql += " ORDER BY q.id DESC LIMIT ?"
            args.append(max(0, limit))
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args.map { $0.databaseValue })).map { try queuedEdit($0) }
        }
    }

    /// Count of queue rows per status (rolled-back ones apart).
    public func queueCounts() throws -> [QueueStatus: Int] {
        try journal.read { db in
            guard try db.tableExists("queue") else { return [:] }
            var out: [QueueStatus: Int] = [:]
            let sql = """
                SELECT CASE WHEN q.status = 'applied' AND b.status = 'rolled_back' THEN 'rolled_back' ELSE q.status END AS s, COUNT(*) AS n
                FROM queue q LEFT JOIN batches b ON b.id = q.batch_id GROUP BY s
                """
            for r in try Row.fetchAll(db, sql: sql) {
                if let s = QueueStatus(rawValue: try r.decode(String.self, forColumn: "s")) { out[s] = try r.decode(forColumn: "n") }
            }
            return out
        }
    }

    /// Seconds since the oldest queued request was received (nil: nothing queued).
    public func oldestQueuedAge(now: Date = Date()) throws -> Double? {
        try journal.read { db in
            guard try db.tableExists("queue") else { return nil }
            return try Double.fetchOne(db, sql: "SELECT MIN(received_unix) FROM queue WHERE status = 'queued'").map { now.timeIntervalSince1970 - $0 }
        }
    }

    // MARK: - Batches of the queue

    /// The job a previous writer formed but did not commit (it was killed, or stopped mid-batch): the restarted
    /// writer applies exactly it, first.
    public func unfinishedJob() throws -> QueueJob? {
        try journal.read { db in
            guard try db.tableExists("queue_jobs") else { return nil }
            guard let row = try Row.fetchOne(db, sql: "SELECT id, base_version FROM queue_jobs WHERE status = 'applying' ORDER BY id LIMIT 1") else { return nil }
            let id: Int64 = try row.decode(forColumn: "id")
            let members = try Row.fetchAll(db, sql: "SELECT id, request FROM queue WHERE job_id = ? AND status = 'applying' ORDER BY id", arguments: [id])
            return QueueJob(id: id, baseVersion: try row.decode(forColumn: "base_version"), editIDs: try members.map { try $0.decode(forColumn: "id") },
                            requests: try members.map { try decodeRequest($0) })
        }
    }

    /// Forms the next job from the queue (oldest first, at most `maxCount` requests) and records it before anything
    /// is edited. Requests that may not be applied are refused on the way, durably, with the reason:
    /// - the same fact (prompt, subject, targets) already applied and active, or earlier in this job;
    /// - a re-edit of a subject and relation already edited, under `policy` `.refuse` or `.skip`
    ///   (`.replace` and `.keepBoth` apply it; a second re-edit of the same relation waits for the next job);
    /// - `validate` returns a reason (e.g. the editor cannot tokenize it).
    /// Returns nil when no request is left to apply. Throws when another job is still unfinished.
    public func formJob(maxCount: Int, policy: DuplicatePolicy, validate: (EditRequest) -> String? = { _ in nil }) throws -> QueueJob? {
        guard isWriter else { throw EditStoreError.inconsistent(store: url.path, problem: "formJob needs the writer lock") }
        guard maxCount > 0 else { throw EditStoreError.inconsistent(store: url.path, problem: "a job needs room for at least one request, got \(maxCount)") }
        let path = url.path
        do {
            return try journal.write { db -> QueueJob? in
                if try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM queue_jobs WHERE status = 'applying'") ?? 0 > 0 {
                    throw EditStoreError.inconsistent(store: path, problem: "a queue job is still being applied; finish it (unfinishedJob) first")
                }
                let head = try Int.fetchOne(db, sql: "SELECT MAX(version) FROM batches WHERE status = 'committed'") ?? 0
                var appliedKeys: [String: Int] = [:], editedRelations: [String: Int] = [:]
                for r in try Row.fetchAll(db, sql: """
                    SELECT r.request_key, r.relation_key, b.version FROM requests r JOIN batches b ON b.id = r.batch_id
                    WHERE b.status = 'committed' AND r.superseded_by IS NULL
                    """) {
                    let v: Int = try r.decode(forColumn: "version")
                    appliedKeys[try r.decode(forColumn: "request_key")] = v
                    editedRelations[try r.decode(forColumn: "relation_key")] = v
                }
                var chosen: [(id: Int64, request: EditRequest)] = []
                var chosenKeys: [String: Int64] = [:], chosenRelations = Set<String>()
                func refuse(_ id: Int64, _ reason: String) throws {
                    try db.execute(sql: "UPDATE queue SET status = 'refused', reason = ? WHERE id = ?", arguments: [reason, id])
                }
                let cursor = try Row.fetchCursor(db, sql: "SELECT id, request FROM queue WHERE status = 'queued' ORDER BY id")
                var rows: [(Int64, EditRequest?)] = []
                while let row = try cursor.next() {
                    let id: Int64 = try row.decode(forColumn: "id")
                    rows.append((id, try? decodeRequest(row)))
                    if rows.count >= maxCount * 4 + 64 { break }   // enough to fill a job even past refusals
                }
                for (id, request) in rows {
                    guard chosen.count < maxCount else { break }
                    guard let r = request else { try refuse(id, "the journal's copy of the request cannot be read"); continue }
                    let key = r.storeKey, relation = r.relationKey
                    if let v = appliedKeys[key] { try refuse(id, "the same fact is already applied, in version \(v)"); continue }
                    if let other = chosenKeys[key] { try refuse(id, "the same fact is edit \(other), in the same batch"); continue }
                    if let reason = validate(r) { try refuse(id, reason); continue }
                    if chosenRelations.contains(relation) { break }   // applied after this job, against its result
                    if let v = editedRelations[relation] {
                        switch policy {
                        case .refuse:
                            try refuse(id, "re-edits '\(r.subject)' in '\(r.prompt)', already edited in version \(v); the server's --on-duplicate is refuse")
                            continue
                        case .skip:
                            try refuse(id, "skipped: re-edits '\(r.subject)' in '\(r.prompt)', already edited in version \(v) (--on-duplicate skip)")
                            continue
                        case .replace, .keepBoth: break
                        }
                    }
                    chosen.append((id, r)); chosenKeys[key] = id; chosenRelations.insert(relation)
                }
                guard !chosen.isEmpty else { return nil }
                try db.execute(sql: "INSERT INTO queue_jobs (status, base_version, created_at) VALUES ('applying', ?, ?)", arguments: [head, StoreJournal.now()])
                let job = db.lastInsertedRowID
                for c in chosen {
                    try db.execute(sql: "UPDATE queue SET status = 'applying', job_id = ? WHERE id = ?", arguments: [job, c.id])
                }
                return QueueJob(id: job, baseVersion: head, editIDs: chosen.map(\.id), requests: chosen.map(\.request))
            }
        } catch let e as EditStoreError {
            throw e
        } catch {
            throw EditStoreError.writeFailed(file: url.appendingPathComponent("store.sqlite").path, reason: "\(error)")
        }
    }

    /// Ends a job that the editor refused (a deterministic error, so redoing it would fail again): the job is
    /// marked failed and its requests refused with `reason`.
    public func failJob(_ job: Int64, reason: String) throws {
        guard isWriter else { throw EditStoreError.inconsistent(store: url.path, problem: "failJob needs the writer lock") }
        try journal.write { db in
            try db.execute(sql: "UPDATE queue_jobs SET status = 'failed', finished_at = ?, reason = ? WHERE id = ? AND status = 'applying'",
                           arguments: [StoreJournal.now(), reason, job])
            try db.execute(sql: "UPDATE queue SET status = 'refused', reason = ? WHERE job_id = ? AND status = 'applying'", arguments: [reason, job])
        }
    }

    /// Inside `commit`'s transaction: the job committed by batch `batchID`, its requests applied. Throws (and so
    /// rolls the whole commit back) unless the job is still applying with exactly `requestCount` members.
    static func markJobCommitted(_ db: Database, job: Int64, batchID: Int64, requestCount: Int, store: String) throws {
        try db.execute(sql: "UPDATE queue_jobs SET status = 'committed', finished_at = ?, batch_id = ? WHERE id = ? AND status = 'applying'",
                       arguments: [StoreJournal.now(), batchID, job])
        guard db.changesCount == 1 else {
            throw EditStoreError.inconsistent(store: store, problem: "queue job \(job) is not being applied (already committed, failed or unknown)")
        }
        try db.execute(sql: "UPDATE queue SET status = 'applied', batch_id = ? WHERE job_id = ? AND status = 'applying'", arguments: [batchID, job])
        guard db.changesCount == requestCount else {
            throw EditStoreError.inconsistent(store: store, problem: "queue job \(job) has \(db.changesCount) request(s), the batch \(requestCount)")
        }
    }

    // MARK: - Rows

    func queuedEdit(_ r: Row) throws -> QueuedEdit {
        let raw: String = try r.decode(forColumn: "status")
        var status = QueueStatus(rawValue: raw) ?? .refused
        let batchStatus: String? = try r.decode(forColumn: "batch_status")
        if status == .applied, batchStatus == "rolled_back" { status = .rolledBack }
        return QueuedEdit(id: try r.decode(forColumn: "id"), request: try decodeRequest(r), status: status,
                          receivedAt: try r.decode(forColumn: "received_at"), submittedBy: try r.decode(forColumn: "submitted_by"),
                          jobID: try r.decode(forColumn: "job_id"), version: try r.decode(forColumn: "version"),
                          reason: try r.decode(forColumn: "reason"))
    }

    func decodeRequest(_ r: Row) throws -> EditRequest {
        let json: String = try r.decode(forColumn: "request")
        do { return try JSONDecoder().decode(EditRequest.self, from: Data(json.utf8)) } catch {
            throw EditStoreError.inconsistent(store: url.path, problem: "queue row \(String(describing: r["id"])) holds an unreadable request: \(error)")
        }
    }
}
