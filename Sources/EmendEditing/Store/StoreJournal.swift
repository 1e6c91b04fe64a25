// The edit store's journal: a SQLite database (GRDB) in WAL mode with synchronous=FULL, so a committed batch
// survives a crash and readers work while a writer runs.
//
// Tables:
//   store_info  key → value: base model path, SHA-256 and size, checkpoint interval, format, creation time
//   batches     one row per committed batch: version, status (committed | rolled_back), method, hyper-parameters,
//               per-batch metrics, the tensor file and its SHA-256, the optional checkpoint file and its SHA-256,
//               and the SHA-256 of the weights and of the state at that version
//   requests    one row per request: subject, prompt, old and new target, search steps, losses, superseded_by
//   tensors     per file, each tensor's name, dtype, shape and SHA-256
//   events      init, rollback (an audit trail)
//   versions    a view: the committed batches in version order
// Added by migration v2 (the edit queue of `emend serve`; a store created before it gains the tables the first
// time a writer opens it):
//   queue       one row per request received: the request (JSON), when, by whom, status (queued | applying |
//               applied | refused), the job it belongs to, the batch that applied it, the reason for a refusal
//   queue_jobs  one row per batch of queued requests, written (with the members' job_id) before the batch is
//               applied: status (applying | committed | failed); the batch that committed it

import Foundation
import GRDB

enum StoreJournal {
    static let formatVersion = "1"

    static func migrator() -> DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE store_info (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                CREATE TABLE batches (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    version INTEGER NOT NULL CHECK (version >= 1),
                    status TEXT NOT NULL CHECK (status IN ('committed', 'rolled_back')),
                    method TEXT NOT NULL,
                    hyper_parameters TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    request_count INTEGER NOT NULL,
                    metrics TEXT NOT NULL,
                    tensor_file TEXT NOT NULL,
                    tensor_sha256 TEXT NOT NULL,
                    tensor_bytes INTEGER NOT NULL,
                    checkpoint_file TEXT,
                    checkpoint_sha256 TEXT,
                    weights_sha256 TEXT NOT NULL,
                    state_sha256 TEXT NOT NULL,
                    rolled_back_at TEXT);
                CREATE UNIQUE INDEX batches_committed_version ON batches(version) WHERE status = 'committed';
                CREATE TABLE requests (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    batch_id INTEGER NOT NULL REFERENCES batches(id),
                    position INTEGER NOT NULL,
                    case_id INTEGER,
                    subject TEXT NOT NULL,
                    prompt TEXT NOT NULL,
                    target_true TEXT,
                    target_new TEXT NOT NULL,
                    request_key TEXT NOT NULL,
                    relation_key TEXT NOT NULL,
                    search_steps INTEGER,
                    losses TEXT NOT NULL,
                    superseded_by INTEGER REFERENCES batches(id));
                CREATE INDEX requests_batch ON requests(batch_id);
                CREATE INDEX requests_relation ON requests(relation_key);
                CREATE TABLE tensors (
                    batch_id INTEGER NOT NULL REFERENCES batches(id),
                    file_kind TEXT NOT NULL CHECK (file_kind IN ('batch', 'checkpoint')),
                    name TEXT NOT NULL,
                    dtype TEXT NOT NULL,
                    shape TEXT NOT NULL,
                    sha256 TEXT NOT NULL,
                    PRIMARY KEY (batch_id, file_kind, name));
                CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL);
                CREATE VIEW versions AS
                    SELECT version, id AS batch_id, created_at, method, request_count, weights_sha256, state_sha256
                    FROM batches WHERE status = 'committed' ORDER BY version;
                """)
        }
        m.registerMigration("v2-queue") { db in
            try db.execute(sql: """
                CREATE TABLE queue_jobs (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    status TEXT NOT NULL CHECK (status IN ('applying', 'committed', 'failed')),
                    base_version INTEGER NOT NULL,
                    created_at TEXT NOT NULL,
                    finished_at TEXT,
                    batch_id INTEGER REFERENCES batches(id),
                    reason TEXT);
                CREATE TABLE queue (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    received_at TEXT NOT NULL,
                    received_unix REAL NOT NULL,
                    submitted_by TEXT,
                    request TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('queued', 'applying', 'applied', 'refused')),
                    job_id INTEGER REFERENCES queue_jobs(id),
                    batch_id INTEGER REFERENCES batches(id),
                    reason TEXT);
                CREATE INDEX queue_status ON queue(status, id);
                CREATE INDEX queue_job ON queue(job_id);
                """)
        }
        return m
    }

    /// Opens (and, when `create` or `migrate`, brings the schema up to date: only the writer may) the journal at `url`.
    static func open(_ url: URL, create: Bool, readOnly: Bool, migrate: Bool = false) throws -> DatabasePool {
        var config = Configuration()
        config.readonly = readOnly
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            if !readOnly { try db.execute(sql: "PRAGMA synchronous = FULL") }
        }
        do {
            let pool = try DatabasePool(path: url.path, configuration: config)
            if create {
                try migrator().migrate(pool)
            } else {
                let ok = try pool.read { db -> Bool in
                    let batches = try db.tableExists("batches")
                    let info = try db.tableExists("store_info")
                    return batches && info
                }
                guard ok else { throw EditStoreError.journal(store: url.deletingLastPathComponent().path, reason: "no batches/store_info tables") }
                if migrate { try migrator().migrate(pool) }
            }
            return pool
        } catch let e as EditStoreError {
            throw e
        } catch {
            throw EditStoreError.journal(store: url.deletingLastPathComponent().path, reason: "\(error)")
        }
    }

    static func now() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date())
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        // NaN and ±∞ (a search loss of a request that took no step, a diverged norm) are journalled as strings,
        // not lost: JSONEncoder refuses them by default.
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return (try? e.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}

/// One batch row as the journal has it.
public struct BatchRecord: Sendable, Equatable {
    public var id: Int64
    public var version: Int
    public var status: String
    public var method: String
    public var hyperParameters: String
    public var createdAt: String
    public var requestCount: Int
    public var metrics: String
    public var tensorFile: String
    public var tensorSHA256: String
    public var tensorBytes: Int
    public var checkpointFile: String?
    public var checkpointSHA256: String?
    public var weightsSHA256: String
    public var stateSHA256: String
    public var rolledBackAt: String?

    /// Throws when a column holds a value of the wrong type (a damaged journal), rather than trapping.
    init(_ r: Row) throws {
        id = try r.decode(forColumn: "id")
        version = try r.decode(forColumn: "version")
        status = try r.decode(forColumn: "status")
        method = try r.decode(forColumn: "method")
        hyperParameters = try r.decode(forColumn: "hyper_parameters")
        createdAt = try r.decode(forColumn: "created_at")
        requestCount = try r.decode(forColumn: "request_count")
        metrics = try r.decode(forColumn: "metrics")
        tensorFile = try r.decode(forColumn: "tensor_file")
        tensorSHA256 = try r.decode(forColumn: "tensor_sha256")
        tensorBytes = try r.decode(forColumn: "tensor_bytes")
        checkpointFile = try r.decode(forColumn: "checkpoint_file")
        checkpointSHA256 = try r.decode(forColumn: "checkpoint_sha256")
        weightsSHA256 = try r.decode(forColumn: "weights_sha256")
        stateSHA256 = try r.decode(forColumn: "state_sha256")
        rolledBackAt = try r.decode(forColumn: "rolled_back_at")
    }
}

/// One request row as the journal has it.
public struct RequestRecord: Sendable, Equatable {
    public var batchID: Int64
    public var version: Int
    public var active: Bool
    public var position: Int
    public var caseID: Int?
    public var subject: String
    public var prompt: String
    public var targetTrue: String?
    public var targetNew: String
    public var requestKey: String
    public var relationKey: String
    public var searchSteps: Int?
    public var losses: String
    public var supersededBy: Int64?

    /// Throws when a column holds a value of the wrong type (a damaged journal), rather than trapping.
    init(_ r: Row) throws {
        batchID = try r.decode(forColumn: "batch_id")
        version = try r.decode(forColumn: "version")
        active = (try r.decode(String.self, forColumn: "status")) == "committed"
        position = try r.decode(forColumn: "position")
        caseID = try r.decode(forColumn: "case_id")
        subject = try r.decode(forColumn: "subject")
        prompt = try r.decode(forColumn: "prompt")
        targetTrue = try r.decode(forColumn: "target_true")
        targetNew = try r.decode(forColumn: "target_new")
        requestKey = try r.decode(forColumn: "request_key")
        relationKey = try r.decode(forColumn: "relation_key")
        searchSteps = try r.decode(forColumn: "search_steps")
        losses = try r.decode(forColumn: "losses")
        supersededBy = try r.decode(forColumn: "superseded_by")
    }
}
