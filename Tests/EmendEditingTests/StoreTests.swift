import XCTest
import EmendCore
import EmendModels
import EmendTestSupport
@testable import EmendEditing

/// The edit store on synthetic batches (random weights and keys, no model): exact rebuild and rollback, corruption
/// and wrong-model detection, simulated disk-full at every write, the writer lock, duplicates and resuming.
final class StoreTests: XCTestCase {
    var dir: URL!
    var base: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        base = dir.appendingPathComponent("base.bin")
        try Data((0..<4096).map { UInt8($0 % 251) }).write(to: base)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Batch `i`: new values of ffnDown at layers 1 and 2 (only layer 1 on odd batches), 2 keys per layer. D 6, F 8.
    func batch(_ i: Int, subject: String? = nil) -> StoreBatch {
        var rng = SeededGenerator(seed: UInt64(100 + i))
        let layers = i % 2 == 1 ? [1] : [1, 2]
        var weights: [String: Tensor] = [:], keys: [Int: Matrix64] = [:]
        for l in layers {
            weights[EditStore.weightName(layer: l, role: .ffnDown)] = Tensor(shape: [6, 8]) { _ in rng.nextNormal() }
            keys[l] = try! Matrix64(rows: 8, cols: 2, scalars: (0..<16).map { _ in Double(rng.nextNormal()) })
        }
        let req = EditRequest(caseID: i, prompt: "{} plays", subject: subject ?? "Player \(i)", targetNew: "chess", targetTrue: "go")
        return StoreBatch(method: "synthetic", hyperParameters: "{}", requests: [StoredRequest(request: req, searchSteps: i, losses: [0.5])],
                          weights: weights, stateKeys: keys, metrics: ["i": Double(i)])
    }

    func makeStore(checkpointEvery: Int = 3) throws -> EditStore {
        try EditStore.create(at: dir.appendingPathComponent("store"), baseModel: base, checkpointEvery: checkpointEvery)
    }

    /// FIPS 180-4 test vectors ("abc", the empty string, the 448-bit message) and a split update.
    func testSHA256_KnownVectors() {
        XCTAssertEqual(Checksum.hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(Checksum.hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let long = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        XCTAssertEqual(Checksum.hex(Data(long.utf8)), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var split = Checksum()
        split.update(Data(long.utf8.prefix(5))); split.update(Data(long.utf8.dropFirst(5)))
        XCTAssertEqual(split.finalizeHex(), Checksum.hex(Data(long.utf8)))
    }

    /// Commits `n` batches and returns the in-memory snapshot after each (index = version).
    func commitAll(_ store: EditStore, _ range: ClosedRange<Int>, from start: StoreSnapshot) throws -> [StoreSnapshot] {
        var snaps = [start]
        for i in range { snaps.append(try store.commit(batch(i), after: snaps.last!)) }
        return snaps
    }

    /// Every version rebuilt from the files (checkpoints every 3) equals the in-memory snapshot bit for bit; rollback
    /// to k then the same batches k+1…n reproduces version n exactly (weights, state, and the journal checksums).
    func testStore_RollbackThenReapplyReproducesHead() throws {
        let store = try makeStore()
        let snaps = try commitAll(store, 1...7, from: StoreSnapshot(version: 0))
        for v in 0...7 { XCTAssertEqual(try store.snapshot(at: v), snaps[v], "version \(v)") }
        let before = try store.batches().map { ($0.weightsSHA256, $0.stateSHA256, $0.tensorSHA256) }
        try store.rollback(to: 2)
        XCTAssertEqual(try store.head(), 2)
        XCTAssertEqual(try store.snapshot(), snaps[2])
        XCTAssertEqual(try store.requests().count, 2, "requests above version 2 count as not applied")
        let again = try commitAll(store, 3...7, from: try store.snapshot())
        XCTAssertEqual(again.last, snaps[7])
        XCTAssertEqual(try store.snapshot(), snaps[7])
        XCTAssertEqual(try store.batches().map { ($0.weightsSHA256, $0.stateSHA256, $0.tensorSHA256) }.map { "\($0)" }, before.map { "\($0)" })
        XCTAssertEqual(try store.batches(includeRolledBack: true).count, 12, "rolled-back batches stay in the journal")
        let report = try store.verify(baseModel: base)
        XCTAssertTrue(report.ok, "\(report.problems)")
        XCTAssertEqual(report.versionsRebuilt, 7)
    }

    /// A flipped byte and a truncation in a batch file, and a tampered checkpoint: verify names them; the edit
    /// path (checkFiles + snapshot) refuses.
    func testStore_CorruptFilesDetected() throws {
        let store = try makeStore()
        _ = try commitAll(store, 1...4, from: StoreSnapshot(version: 0))
        let b4 = try XCTUnwrap(try store.batches().last)
        let f = store.tensorsURL.appendingPathComponent(b4.tensorFile)
        let good = try Data(contentsOf: f)
        var bad = good; bad[bad.count - 3] ^= 0x40
        try bad.write(to: f)
        XCTAssertFalse(try store.verify(baseModel: base).ok)
        XCTAssertThrowsError(try store.snapshot()) { XCTAssertTrue("\($0)".contains("checksum"), "\($0)") }
        try good.prefix(good.count - 10).write(to: f)
        XCTAssertFalse(try store.verify(baseModel: base).ok)
        XCTAssertThrowsError(try store.checkFiles()) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
        try good.write(to: f)
        XCTAssertTrue(try store.verify(baseModel: base).ok)
        let b3 = try XCTUnwrap(try store.batches().first { $0.version == 3 })
        let cp = store.tensorsURL.appendingPathComponent(try XCTUnwrap(b3.checkpointFile))
        var c = try Data(contentsOf: cp); c[c.count - 1] ^= 1
        try c.write(to: cp)
        XCTAssertFalse(try store.verify(baseModel: base).ok)
        XCTAssertThrowsError(try store.snapshot(at: 3))
    }

    /// A store bound to one model refuses another (verify and the edit path's check).
    func testStore_WrongBaseModelRefused() throws {
        let store = try makeStore()
        let other = dir.appendingPathComponent("other.bin")
        try Data((0..<4096).map { UInt8($0 % 13) }).write(to: other)
        XCTAssertNoThrow(try store.checkBaseModel(base))
        XCTAssertThrowsError(try store.checkBaseModel(other)) {
            guard case EditStoreError.wrongModel = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertFalse(try store.verify(baseModel: other).ok)
    }

    /// A write that fails (ENOSPC) at each point of a commit leaves the previous version intact: same head, same
    /// snapshot, verify passes, no file left behind; the same commit then succeeds.
    func testStore_DiskFullLeavesPreviousVersion() throws {
        let store = try makeStore(checkpointEvery: 3)
        let snaps = try commitAll(store, 1...2, from: StoreSnapshot(version: 0))
        for point in [StoreFaultPoint.tensorWrite, .tensorRenamed, .checkpointWrite, .journalCommit] {
            store.faults = .diskFull(at: point)
            XCTAssertThrowsError(try store.commit(batch(3), after: snaps[2]), "\(point)")
            store.faults = .none
            XCTAssertEqual(try store.head(), 2, "\(point)")
            XCTAssertEqual(try store.snapshot(), snaps[2], "\(point)")
            let report = try store.verify(baseModel: base)
            XCTAssertTrue(report.ok, "\(point): \(report.problems)")
            XCTAssertEqual(report.strayFiles, [], "\(point)")
        }
        let third = try store.commit(batch(3), after: snaps[2])
        XCTAssertEqual(try store.snapshot(), third)
        XCTAssertEqual(third.version, 3)
    }

    /// A second writer is refused with the lock message while readers open the store.
    func testStore_SecondWriterRefused() throws {
        let store = try makeStore()
        _ = try store.commit(batch(1), after: StoreSnapshot(version: 0))
        XCTAssertThrowsError(try EditStore.open(at: store.url, writer: true)) {
            guard case EditStoreError.locked = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue("\($0)".contains("another process"))
        }
        let reader = try EditStore.open(at: store.url, writer: false)
        XCTAssertEqual(try reader.head(), 1)
        XCTAssertEqual(try reader.requests(subject: "player 1").count, 1)
    }

    /// Duplicates of a subject and relation: refused by default, skipped, kept, or replacing (superseded in the
    /// journal, and active again after a rollback); already committed facts are skipped (resume).
    func testStore_DuplicatesAndResumePlan() throws {
        let store = try makeStore()
        _ = try store.commit(batch(1, subject: "Magnus"), after: StoreSnapshot(version: 0))
        let same = EditRequest(caseID: 1, prompt: "{} plays", subject: "Magnus", targetNew: "chess", targetTrue: "go")
        let reEdit = EditRequest(prompt: "{} plays", subject: "magnus ", targetNew: "poker")
        let fresh = EditRequest(prompt: "{} plays", subject: "Hikaru", targetNew: "chess")
        XCTAssertThrowsError(try store.plan([same, reEdit, fresh], policy: .refuse)) {
            guard case EditStoreError.duplicateRequests(_, let ex) = $0 else { return XCTFail("\($0)") }
            XCTAssertEqual(ex.count, 1)
        }
        let skip = try store.plan([same, reEdit, fresh], policy: .skip)
        XCTAssertEqual(skip.pending, [fresh]); XCTAssertEqual(skip.alreadyCommitted, 1); XCTAssertEqual(skip.skipped, 1)
        XCTAssertEqual(try store.plan([same, reEdit, fresh], policy: .keepBoth).pending, [reEdit, fresh])
        var b = batch(2); b.requests = [StoredRequest(request: reEdit)]; b.supersedes = true
        _ = try store.commit(b, after: try store.snapshot())
        XCTAssertEqual(try store.requests(subject: "Magnus").map { $0.supersededBy != nil }, [true, false])
        // The superseded request asked for again is a re-edit of the current one (poker), not "already applied"…
        XCTAssertThrowsError(try store.plan([same], policy: .refuse))
        XCTAssertEqual(try store.plan([same], policy: .replace).pending, [same])
        // …except when resuming the file that superseded it (its replacement, committed, comes later in the file).
        let resume = try store.plan([same, reEdit, fresh], policy: .replace)
        XCTAssertEqual(resume.pending, [fresh]); XCTAssertEqual(resume.alreadyCommitted, 2)
        try store.rollback(to: 1)
        XCTAssertEqual(try store.requests(subject: "Magnus").map { $0.supersededBy != nil }, [false])
    }

    /// NaN and ±∞ in losses and metrics reach the journal as "nan"/"inf" (JSONEncoder alone would refuse them and
    /// the row would lose every value).
    func testStore_NonFiniteValuesJournalled() throws {
        let store = try makeStore()
        var b = batch(1)
        b.requests[0].losses = [.nan]
        b.metrics = ["diverged": .infinity, "ok": 1.5]
        _ = try store.commit(b, after: StoreSnapshot(version: 0))
        let row = try XCTUnwrap(try store.batches().last)
        XCTAssertTrue(row.metrics.contains("\"inf\"") && row.metrics.contains("1.5"), row.metrics)
        XCTAssertTrue(try store.requests().last?.losses.contains("\"nan\"") ?? false)
    }

    /// A create killed after the schema but before the info rows leaves a journal without a base model: `create`
    /// replaces it; a complete store is still refused.
    func testStore_HalfCreatedStoreIsReplaced() throws {
        let url = dir.appendingPathComponent("half")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let pool = try StoreJournal.open(url.appendingPathComponent("store.sqlite"), create: true, readOnly: false)
        try pool.close()
        let store = try EditStore.create(at: url, baseModel: base)
        XCTAssertEqual(try store.info()["checkpoint_every"], "10")
        XCTAssertThrowsError(try EditStore.create(at: url, baseModel: base)) {
            guard case EditStoreError.alreadyExists = $0 else { return XCTFail("\($0)") }
        }
    }
}

