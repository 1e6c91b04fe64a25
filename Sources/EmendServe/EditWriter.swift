// The one writer of a served store: a thread that applies the edit queue in batches with the locate-then-edit
// editor, exactly as `emend edit --store` does (LocateThenEditor.applyForStore, then EditStore.commit), and
// publishes each new version to the generation side only after its commit.
//
// When a batch starts: as soon as `maxBatch` requests are queued, or the oldest queued request has waited
// `maxWait` seconds. Which requests form it is written to the journal first (EditStore.formJob); after a crash the
// restarted writer redoes exactly that job (EditStore.unfinishedJob) before forming another.
//
// Rollbacks come through here too, between batches, so a rollback never races a commit.
// Shutdown: no batch is committed after `shutdown()` returns; a commit already under way is finished first; a batch
// being edited is abandoned (its job stays in the journal, and the next start redoes it).

import EmendEditing
import EmendModels
import Foundation
import Logging
import Metrics

/// How the writer edits.
public struct WriterSettings: Sendable {
    /// encore, memit, alphaedit or emmet (the locate-then-edit methods).
    public var method: String = "encore"
    /// A preset name or .json file (default: the model's preset for the method).
    public var preset: String?
    /// The statistics corpus (default: the setup's).
    public var corpus: URL?
    public var maxBatch: Int = 16
    /// Seconds the oldest queued request may wait before a smaller batch starts.
    public var maxWait: Double = 10
    public var onDuplicate: DuplicatePolicy = .refuse

    public init() {}
}

/// What the writer is doing, for the dashboard and /v1/versions.
public struct WriterStatus: Sendable {
    public var phase: String
    public var job: Int64?
    public var lastError: String?
}

final class EditWriter: @unchecked Sendable {
    let store: EditStore
    let versions: ModelVersions
    let settings: WriterSettings
    let logger: Logger
    private let condition = NSCondition()
    private var stopping = false
    private var rollbacks: [(version: Int, done: @Sendable (Result<Int, Error>) -> Void)] = []
    private var _status = WriterStatus(phase: "starting: building the editor (layer statistics)")
    /// Held while a commit is under way; shutdown takes it to wait for that commit.
    private let commitLock = NSLock()
    private let appliedCounter = Counter(label: "emend_edits_applied_total")
    private let batchTimer = Metrics.Timer(label: "emend_edit_batch_seconds")

    init(store: EditStore, versions: ModelVersions, settings: WriterSettings, logger: Logger) {
        self.store = store; self.versions = versions; self.settings = settings; self.logger = logger
    }

    var status: WriterStatus {
        condition.lock(); defer { condition.unlock() }
        return _status
    }

    private func setStatus(_ phase: String, job: Int64? = nil, error: String? = nil) {
        condition.lock()
        _status.phase = phase; _status.job = job
        if let error { _status.lastError = error }
        condition.unlock()
    }

    func start() {
        let t = Thread { [self] in self.run() }
        t.name = "emend-writer"
        t.stackSize = 16 << 20
        t.start()
    }

    /// New requests were queued: look at the queue now rather than at the next poll.
    func notify() {
        condition.lock(); condition.signal(); condition.unlock()
    }

    /// Rolls the store back to `version` between batches; returns the new head.
    func rollback(to version: Int) async throws -> Int {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Int, Error>) in
            condition.lock()
            if stopping {
                condition.unlock()
                c.resume(throwing: APIError(.serviceUnavailable, "the server is shutting down", type: "server_error"))
                return
            }
            rollbacks.append((version, { c.resume(with: $0) }))
            condition.signal()
            condition.unlock()
        }
    }

    /// Stops the writer: returns once no commit is under way and none will start.
    func shutdown() {
        condition.lock()
        stopping = true
        let pending = rollbacks
        rollbacks = []
        condition.signal()
        condition.unlock()
        for r in pending { r.done(.failure(APIError(.serviceUnavailable, "the server is shutting down", type: "server_error"))) }
        commitLock.lock()
        commitLock.unlock()
    }

    private var isStopping: Bool { condition.lock(); defer { condition.unlock() }; return stopping }

    // MARK: - The loop

    private func run() {
        let base = versions.base.loaded
        let baseEditor: LocateThenEditor
        var editor: LocateThenEditor
        var snapshot: StoreSnapshot
        do {
            let p = try EditPreset.named(settings.preset ?? EditingSession.defaultPresetName(method: settings.method, model: base.model))
            baseEditor = try EditingSession.makeEditor(base, preset: p, corpus: settings.corpus, warning: { [logger] in logger.warning("\($0)") })
            snapshot = try store.snapshot()
            editor = snapshot.version > 0 ? try baseEditor.resumed(at: snapshot) : baseEditor
            logger.info("writer ready: preset \(p.name), store at version \(snapshot.version)")
        } catch {
            logger.error("the writer cannot start, so edits stay queued: \(error)")
            setStatus("stopped: the editor could not be built", error: "\(error)")
            return
        }
        setStatus("idle")
        var checkedUnfinished = false
        var retryAfter: Date? = nil
        while true {
            // Wait for work: a rollback, a full batch, or the oldest request's time.
            condition.lock()
            if !stopping && rollbacks.isEmpty { _ = condition.wait(until: Date().addingTimeInterval(0.2)) }
            if stopping { condition.unlock(); setStatus("stopped"); return }
            let rollback = rollbacks.isEmpty ? nil : rollbacks.removeFirst()
            condition.unlock()

            if let rollback {
                do {
                    try store.rollback(to: rollback.version)
                    snapshot = try store.snapshot()
                    editor = snapshot.version > 0 ? try baseEditor.resumed(at: snapshot) : baseEditor
                    publish(snapshot.version, editor.model, base: base)
                    logger.notice("rolled back to version \(snapshot.version)")
                    rollback.done(.success(snapshot.version))
                } catch {
                    rollback.done(.failure(error))
                }
                continue
            }
            if let r = retryAfter, Date() < r { continue }
            retryAfter = nil

            let job: QueueJob?
            do {
                if !checkedUnfinished, let unfinished = try store.unfinishedJob() {
                    logger.notice("redoing queue job \(unfinished.id) (\(unfinished.requests.count) request(s)), interrupted before its commit")
                    job = unfinished
                } else {
                    checkedUnfinished = true
                    let queued = try store.queueCounts()[.queued] ?? 0
                    let age = try store.oldestQueuedAge() ?? 0
                    guard queued > 0, queued >= settings.maxBatch || age >= settings.maxWait else { continue }
                    let check = editor
                    job = try store.formJob(maxCount: settings.maxBatch, policy: settings.onDuplicate) { r in
                        do { try check.validate([r], file: "the request"); return nil } catch { return "\(error)" }
                    }
                }
            } catch {
                logger.error("cannot read or write the queue: \(error)")
                setStatus("idle", error: "\(error)")
                retryAfter = Date().addingTimeInterval(2)
                continue
            }
            guard let job else { continue }
            checkedUnfinished = true
            setStatus("applying queue job \(job.id) (\(job.requests.count) request(s)) on version \(snapshot.version)", job: job.id)
            let t0 = DispatchTime.now()
            let batch: StoreBatch
            do {
                batch = try editor.applyForStore(job.requests, file: "queue job \(job.id)", supersedes: settings.onDuplicate == .replace)
            } catch {
                // The editor refused the batch: redoing it would fail the same way.
                logger.error("queue job \(job.id) refused by the editor: \(error)")
                try? store.failJob(job.id, reason: "the editor refused the batch: \(error)")
                editor = (try? snapshot.version > 0 ? baseEditor.resumed(at: snapshot) : baseEditor) ?? baseEditor
                setStatus("idle", error: "\(error)")
                continue
            }
            commitLock.lock()
            if isStopping {
                commitLock.unlock()
                logger.notice("shutting down: queue job \(job.id) abandoned before its commit; the next start redoes it")
                setStatus("stopped")
                return
            }
            do {
                snapshot = try store.commit(batch, after: snapshot, job: job.id)
                commitLock.unlock()
            } catch {
                commitLock.unlock()
                logger.error("the commit of queue job \(job.id) failed, retrying: \(error)")
                editor = (try? snapshot.version > 0 ? baseEditor.resumed(at: snapshot) : baseEditor) ?? baseEditor
                checkedUnfinished = false
                retryAfter = Date().addingTimeInterval(2)
                setStatus("idle", error: "\(error)")
                continue
            }
            publish(snapshot.version, editor.model, base: base)
            appliedCounter.increment(by: job.requests.count)
            batchTimer.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds))
            logger.info("version \(snapshot.version): queue job \(job.id), \(job.requests.count) request(s) applied")
            setStatus("idle")
        }
    }

    private func publish(_ version: Int, _ model: TransformerModel, base: LoadedModel) {
        var loaded = base
        loaded.model = model
        versions.publish(ServedModel(version: version, loaded: loaded))
    }
}
