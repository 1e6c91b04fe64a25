// The edit store: a folder that makes editing a durable, auditable process.
//
//   <store>/store.sqlite    the journal (StoreJournal): versions, batches, requests, metrics, checksums
//   <store>/tensors/        batch-v<version>-<id>.safetensors: the new values of the weights a batch changed
//                           (F32) and the keys it added to each layer's state (F64, "keys.<layer>");
//                           checkpoint-v<version>-<id>.safetensors every N versions: every edited weight and the
//                           full state (F64 "state.<layer>" [F, F] once dense, or while the state keeps its
//                           keys, "state.<layer>.keys.<b>" [F, n_b] per batch b; key counts in the metadata)
//   <store>/writer.lock     held (flock) by the one process that may write
//
// Version 0 is the base model; version n is the state after n committed batches. Version k is rebuilt exactly
// from the newest checkpoint at or below k, then each batch above it: weights are replaced by their stored values
// and the keys are added to the state by the same operation the editor used (LayerEditState.add), so the result
// is bit-identical; the journal's SHA-256 of the weights and of the state at every version proves it.
//
// Commit order (crash safety): tensor file (temporary name, fsync, rename), checkpoint file (same), then one
// journal transaction. A crash before the transaction commits leaves files the journal does not name; the next
// writer deletes them. A crash after it leaves a complete version.

import EmendCore
import EmendModels
import Foundation
import GRDB

public final class EditStore: @unchecked Sendable {
    public let url: URL
    let journal: DatabasePool
    private let lock: StoreWriterLock?
    public var faults: StoreFaults

    public var tensorsURL: URL { url.appendingPathComponent("tensors") }
    public var isWriter: Bool { lock != nil }

    // MARK: - Create and open

    /// Creates a store in `url` (a new or empty folder) bound to the base model file(s) at `model`.
    @discardableResult
    public static func create(at url: URL, baseModel model: URL, checkpointEvery: Int = 10) throws -> EditStore {
        let fm = FileManager.default
        let dbPath = url.appendingPathComponent("store.sqlite").path
        if fm.fileExists(atPath: dbPath) {
            // A create killed between the schema and the store_info rows leaves a journal with no base model: that
            // half-made store is replaced; anything else is refused.
            let rows = try? StoreJournal.open(URL(fileURLWithPath: dbPath), create: false, readOnly: true)
                .read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM store_info") ?? 0 }
            guard rows == 0 else { throw EditStoreError.alreadyExists(path: url.path) }
            for suffix in ["", "-wal", "-shm"] { try? fm.removeItem(atPath: dbPath + suffix) }
        }
        guard checkpointEvery > 0 else { throw EditStoreError.inconsistent(store: url.path, problem: "checkpoint interval must be positive, got \(checkpointEvery)") }
        do {
            try fm.createDirectory(at: url.appendingPathComponent("tensors"), withIntermediateDirectories: true)
        } catch { throw EditStoreError.writeFailed(file: url.path, reason: fileErrorReason(error)) }
        let (sha, size) = try baseChecksum(model)
        let lock = try StoreWriterLock(store: url)
        let pool = try StoreJournal.open(url.appendingPathComponent("store.sqlite"), create: true, readOnly: false)
        let info: [String: String] = [
            "format": StoreJournal.formatVersion, "base_model_path": model.standardizedFileURL.path, "base_model_sha256": sha,
            "base_model_bytes": "\(size)", "checkpoint_every": "\(checkpointEvery)", "created_at": StoreJournal.now(),
        ]
        try pool.write { db in
            for (k, v) in info { try db.execute(sql: "INSERT INTO store_info (key, value) VALUES (?, ?)", arguments: [k, v]) }
            try db.execute(sql: "INSERT INTO events (at, kind, detail) VALUES (?, 'init', ?)", arguments: [StoreJournal.now(), "base \(model.path) sha256 \(sha)"])
        }
        return EditStore(url: url, journal: pool, lock: lock, faults: .none)
    }

    /// Opens an existing store; `writer` takes the writer lock (refused while another process holds it) and removes
    /// files left by an interrupted commit.
    public static func open(at url: URL, writer: Bool, faults: StoreFaults = .none) throws -> EditStore {
        let db = url.appendingPathComponent("store.sqlite")
        guard FileManager.default.fileExists(atPath: db.path) else { throw EditStoreError.notAStore(path: url.path) }
        let lock = writer ? try StoreWriterLock(store: url) : nil
        // The writer brings an older journal's schema up to date (migration v2 adds the edit queue's tables).
        let pool = try StoreJournal.open(db, create: false, readOnly: false, migrate: writer)
        let store = EditStore(url: url, journal: pool, lock: lock, faults: faults)
        if writer { try store.removeUncommittedFiles() }
        return store
    }

    private init(url: URL, journal: DatabasePool, lock: StoreWriterLock?, faults: StoreFaults) {
        self.url = url; self.journal = journal; self.lock = lock; self.faults = faults
    }

    /// SHA-256 and byte count of a model file, or of a Hugging Face folder's config and safetensors files.
    public static func baseChecksum(_ model: URL) throws -> (sha256: String, bytes: Int) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: model.path, isDirectory: &isDir) else {
            throw EditStoreError.unreadable(file: model.path, reason: "no such file")
        }
        var files = [model]
        if isDir.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: model.path)) ?? []
            files = names.filter { $0.hasSuffix(".safetensors") || $0 == "config.json" }.sorted().map { model.appendingPathComponent($0) }
        }
        var all = Checksum(), bytes = 0
        var single = ""
        for f in files {
            let h = try Checksum.hex(fileAt: f)
            single = h
            all.update(Data("\(f.lastPathComponent):\(h)\n".utf8))
            bytes += ((try? FileManager.default.attributesOfItem(atPath: f.path))?[.size] as? Int) ?? 0
        }
        return (files.count == 1 ? single : all.finalizeHex(), bytes)
    }

    // MARK: - Store facts

    public func info() throws -> [String: String] {
        try journal.read { db in
            var info: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key, value FROM store_info") {
                let key: String = try row.decode(forColumn: "key")
                // The schema makes keys unique; a damaged or hand-edited journal may not (found by fuzzing).
                guard info[key] == nil else {
                    throw EditStoreError.inconsistent(store: url.path, problem: "the journal's store_info names '\(key)' twice")
                }
                info[key] = try row.decode(forColumn: "value")
            }
            return info
        }
    }

    /// The checkpoint interval recorded when the store was created.
    public func checkpointInterval() throws -> Int {
        guard let text = try info()["checkpoint_every"], let n = Int(text), n > 0 else {
            throw EditStoreError.inconsistent(store: url.path, problem: "store_info has no positive checkpoint_every")
        }
        return n
    }

    /// The newest committed version (0: the base model).
    public func head() throws -> Int {
        try journal.read { db in try Int.fetchOne(db, sql: "SELECT MAX(version) FROM batches WHERE status = 'committed'") ?? 0 }
    }

    /// Throws `.wrongModel` unless `model`'s SHA-256 is the one the store was created with.
    public func checkBaseModel(_ model: URL) throws {
        let want = try info()["base_model_sha256"] ?? "(none)"
        let got = try EditStore.baseChecksum(model).sha256
        guard got == want else { throw EditStoreError.wrongModel(store: url.path, expected: "sha256 \(want)", got: "sha256 \(got) (\(model.path))") }
    }

    /// The committed batches (version order), or all batches including rolled-back ones.
    public func batches(includeRolledBack: Bool = false) throws -> [BatchRecord] {
        try journal.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM batches \(includeRolledBack ? "" : "WHERE status = 'committed'") ORDER BY id").map { try BatchRecord($0) }
        }
    }

    /// Requests with their batch's version; optionally only those whose subject contains `subject` (any case).
    public func requests(subject: String? = nil, includeRolledBack: Bool = false) throws -> [RequestRecord] {
        var sql = "SELECT r.*, b.version, b.status FROM requests r JOIN batches b ON b.id = r.batch_id WHERE 1"
        var args: [any DatabaseValueConvertible] = []
        if !includeRolledBack { sql += " AND b.status = 'committed'" }
        if let s = subject { sql += " AND r.subject LIKE ?"; args.append("%\(s)%") }
        sql += " ORDER BY b.id, r.position"
        let a = StatementArguments(args.map { $0.databaseValue })
        return try journal.read { db in try Row.fetchAll(db, sql: sql, arguments: a).map { try RequestRecord($0) } }
    }

    func file(_ name: String) -> URL { tensorsURL.appendingPathComponent(name) }

    // MARK: - Commit

    /// Journals one batch on top of `previous` (the snapshot at the head) and returns the new head snapshot.
    /// Everything or nothing: a failure at any point leaves the store at `previous.version`.
    /// - job: the edit queue's job (`formJob`) this batch applies: its requests become applied in the same
    ///   transaction, so a batch is either committed with its queue rows marked, or neither.
    public func commit(_ batch: StoreBatch, after previous: StoreSnapshot, job: Int64? = nil) throws -> StoreSnapshot {
        guard isWriter else { throw EditStoreError.inconsistent(store: url.path, problem: "commit needs the writer lock (open with writer: true)") }
        let headNow = try head()
        guard previous.version == headNow else {
            throw EditStoreError.inconsistent(store: url.path, problem: "commit on version \(previous.version) but the head is \(headNow)")
        }
        for name in batch.weights.keys { _ = try EditStore.parseWeightName(name) }
        let next = try previous.applying(batch)
        let v = next.version
        let tag = String(UInt32.random(in: 0...UInt32.max), radix: 16)

        // 1. The batch's tensors.
        var entries: [(name: String, tensor: StoreTensor)] = batch.weights.keys.sorted().map { ("weight.\($0)", .f32(batch.weights[$0]!)) }
        entries += batch.stateKeys.keys.sorted().map { ("keys.\($0)", .f64(batch.stateKeys[$0]!)) }
        let tensorName = String(format: "batch-v%06d-%@.safetensors", v, tag)
        let checkpointName = String(format: "checkpoint-v%06d-%@.safetensors", v, tag)
        // Any failure before the journal commits removes what this commit wrote (the next writer would anyway).
        func discard() { unlink(file(tensorName).path); unlink(file(checkpointName).path) }
        let written: (sha256: String, bytes: Int)
        do {
            written = try StoreTensorFile.write(entries, to: file(tensorName), faults: faults, point: .tensorWrite)
            try faults.hook(.tensorRenamed)
        } catch { discard(); throw error }

        // 2. A checkpoint every N versions.
        var checkpoint: (name: String, sha: String, entries: [(name: String, tensor: StoreTensor)])? = nil
        if v % (try checkpointInterval()) == 0 {
            var ce: [(name: String, tensor: StoreTensor)] = next.weights.keys.sorted().map { ("weight.\($0)", .f32(next.weights[$0]!)) }
            ce += next.states.keys.sorted().flatMap { Self.stateEntries(next.states[$0]!, layer: $0) }
            let meta = Dictionary(uniqueKeysWithValues: next.states.map { ("edit_count.\($0.key)", "\($0.value.editCount)") })
            do {
                let w = try StoreTensorFile.write(ce, metadata: meta.merging(["version": "\(v)"]) { a, _ in a }, to: file(checkpointName),
                                                  faults: faults, point: .checkpointWrite)
                checkpoint = (checkpointName, w.sha256, ce)
            } catch { discard(); throw error }
        }

        // 3. One journal transaction.
        let weightsSum = next.weightsChecksum, stateSum = next.stateChecksum
        let metrics = StoreJournal.json(batch.metrics)
        let faults = self.faults
        let cp = checkpoint
        do {
            try journal.write { db in
                try db.execute(sql: """
                    INSERT INTO batches (version, status, method, hyper_parameters, created_at, request_count, metrics, tensor_file,
                        tensor_sha256, tensor_bytes, checkpoint_file, checkpoint_sha256, weights_sha256, state_sha256)
                    VALUES (?, 'committed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [v, batch.method, batch.hyperParameters, StoreJournal.now(), batch.requests.count, metrics,
                                     tensorName, written.sha256, written.bytes, cp?.name, cp?.sha, weightsSum, stateSum])
                let id = db.lastInsertedRowID
                if batch.supersedes {
                    for r in batch.requests {
                        try db.execute(sql: """
                            UPDATE requests SET superseded_by = ? WHERE relation_key = ? AND request_key != ? AND superseded_by IS NULL
                              AND batch_id IN (SELECT id FROM batches WHERE status = 'committed' AND id != ?)
                            """, arguments: [id, r.request.relationKey, r.request.storeKey, id])
                    }
                }
                for (i, r) in batch.requests.enumerated() {
                    let q = r.request
                    try db.execute(sql: """
                        INSERT INTO requests (batch_id, position, case_id, subject, prompt, target_true, target_new, request_key,
                            relation_key, search_steps, losses) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [id, i, q.caseID, q.subject, q.prompt, q.targetTrue, q.targetNew, q.storeKey, q.relationKey,
                                         r.searchSteps, StoreJournal.json(r.losses.map(Double.init))])
                }
                for (name, t) in entries {
                    try db.execute(sql: "INSERT INTO tensors (batch_id, file_kind, name, dtype, shape, sha256) VALUES (?, 'batch', ?, ?, ?, ?)",
                                   arguments: [id, name, t.dtype, "\(t.shape)", t.checksum])
                }
                for (name, t) in cp?.entries ?? [] {
                    try db.execute(sql: "INSERT INTO tensors (batch_id, file_kind, name, dtype, shape, sha256) VALUES (?, 'checkpoint', ?, ?, ?, ?)",
                                   arguments: [id, name, t.dtype, "\(t.shape)", t.checksum])
                }
                if let job { try EditStore.markJobCommitted(db, job: job, batchID: id, requestCount: batch.requests.count, store: url.path) }
                try faults.hook(.journalCommit)
            }
        } catch {
            discard()
            if let e = error as? EditStoreError { throw e }
            throw EditStoreError.writeFailed(file: url.appendingPathComponent("store.sqlite").path, reason: "\(error)")
        }
        try faults.hook(.journalCommitted)
        return next
    }

    /// Deletes tensor files no journal row names (an interrupted commit's) and temporary files.
    func removeUncommittedFiles() throws {
        let named = try journal.read { db in
            Set(try Row.fetchAll(db, sql: "SELECT tensor_file, checkpoint_file FROM batches").flatMap { [try $0.decode(String?.self, forColumn: "tensor_file"), try $0.decode(String?.self, forColumn: "checkpoint_file")].compactMap { $0 } })
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: tensorsURL.path)) ?? []
        for n in names where !named.contains(n) { unlink(file(n).path) }
    }

    // MARK: - Rebuild and rollback

    /// The edited weights and the state at `version`, rebuilt from the newest checkpoint at or below it and the
    /// batches above; checks each file's SHA-256 and the journal's checksums of the result.
    public func snapshot(at version: Int? = nil) throws -> StoreSnapshot {
        let all = try batches()
        let top = all.last?.version ?? 0
        let v = version ?? top
        guard v >= 0, v <= top else { throw EditStoreError.noSuchVersion(store: url.path, version: v, head: top) }
        var snap = StoreSnapshot(version: 0)
        var start = 0
        if let cp = all.last(where: { $0.version <= v && $0.checkpointFile != nil }), let name = cp.checkpointFile {
            let f = file(name)
            let tensors = try StoreTensorFile.read(f, sha256: cp.checkpointSHA256)
            let meta = try SafeTensorsFile(url: f).metadata
            snap.version = cp.version
            for (key, t) in tensors {
                if key.hasPrefix("weight."), case .f32(let w) = t { snap.weights[String(key.dropFirst(7))] = w }
            }
            snap.states = try Self.states(fromCheckpoint: tensors, metadata: meta, file: f)
            start = cp.version
        }
        for b in all where b.version > start && b.version <= v {
            snap = try snap.applying(try storedBatch(b))
            guard snap.weightsChecksum == b.weightsSHA256, snap.stateChecksum == b.stateSHA256 else {
                throw EditStoreError.inconsistent(store: url.path, problem: "version \(b.version) rebuilt from its files does not match the journal's checksums")
            }
        }
        if let b = all.first(where: { $0.version == v }) {
            guard snap.weightsChecksum == b.weightsSHA256, snap.stateChecksum == b.stateSHA256 else {
                throw EditStoreError.inconsistent(store: url.path, problem: "checkpoint of version \(v) does not match the journal's checksums")
            }
        }
        return snap
    }

    /// A committed batch's tensors read back (file checksum checked).
    func storedBatch(_ b: BatchRecord) throws -> StoreBatch {
        let tensors = try StoreTensorFile.read(file(b.tensorFile), sha256: b.tensorSHA256)
        var out = StoreBatch(method: b.method, hyperParameters: b.hyperParameters, requests: [], weights: [:])
        for (key, t) in tensors {
            if key.hasPrefix("weight."), case .f32(let w) = t { out.weights[String(key.dropFirst(7))] = w }
            else if key.hasPrefix("keys."), case .f64(let k) = t, let l = Int(key.dropFirst(5)) { out.stateKeys[l] = k }
            else { throw EditStoreError.corruptTensorFile(file: file(b.tensorFile).path, problem: "unexpected tensor '\(key)'") }
        }
        return out
    }

    /// Makes `version` the head: batches above it are marked rolled back (kept for the audit trail, their requests
    /// count as not applied) and what they superseded is active again. The next commit becomes `version + 1`.
    public func rollback(to version: Int) throws {
        guard isWriter else { throw EditStoreError.inconsistent(store: url.path, problem: "rollback needs the writer lock") }
        let top = try head()
        guard version >= 0, version <= top else { throw EditStoreError.noSuchVersion(store: url.path, version: version, head: top) }
        _ = try snapshot(at: version)   // refuse to roll back to a version that cannot be rebuilt
        try journal.write { db in
            let now = StoreJournal.now()
            try db.execute(sql: """
                UPDATE requests SET superseded_by = NULL WHERE superseded_by IN
                  (SELECT id FROM batches WHERE status = 'committed' AND version > ?)
                """, arguments: [version])
            try db.execute(sql: "UPDATE batches SET status = 'rolled_back', rolled_back_at = ? WHERE status = 'committed' AND version > ?",
                           arguments: [now, version])
            try db.execute(sql: "INSERT INTO events (at, kind, detail) VALUES (?, 'rollback', ?)", arguments: [now, "from version \(top) to \(version)"])
        }
    }

    // MARK: - Weight names

    /// The store name of a per-block weight: "blk.<layer>.<role>" (e.g. "blk.3.ffnDown").
    public static func weightName(layer: Int, role: TensorRole) -> String { "blk.\(layer).\(role.rawValue)" }

    static func parseWeightName(_ name: String) throws -> (layer: Int, role: TensorRole) {
        let parts = name.split(separator: ".")
        guard parts.count == 3, parts[0] == "blk", let l = Int(parts[1]), let role = TensorRole(rawValue: String(parts[2])), role.isPerBlock else {
            throw EditStoreError.unsupportedWeight(name: name)
        }
        return (l, role)
    }
}
