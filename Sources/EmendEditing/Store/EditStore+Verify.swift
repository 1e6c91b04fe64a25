// `emend store verify`: everything the store claims, checked. The base model's SHA-256 (when its file is at
// hand); each tensor file's SHA-256, its tensors against the journal's names, dtypes, shapes and per-tensor
// checksums; every version rebuilt from the files, its weights and state hashed and compared with the journal;
// versions contiguous from 1 to the head; and leftover files no journal row names.

import EmendCore
import EmendModels
import Foundation
import GRDB

/// What `verify` found: an empty `problems` means the store is sound.
public struct StoreVerifyReport: Sendable {
    public var head: Int
    public var batchesChecked: Int
    public var filesChecked: Int
    public var versionsRebuilt: Int
    public var problems: [String]
    /// Files in tensors/ that no journal row names (a crashed commit's; removed by the next writer).
    public var strayFiles: [String]
    /// What could not be checked (e.g. the base model is not at its recorded path and none was given).
    public var notes: [String]
    public var ok: Bool { problems.isEmpty }
}

extension EditStore {
    /// Checks the store; `baseModel` (default: the path recorded at init, when it still exists) is hashed too.
    public func verify(baseModel: URL? = nil) throws -> StoreVerifyReport {
        var problems: [String] = [], notes: [String] = []
        let info = try self.info()
        if info["format"] != StoreJournal.formatVersion { problems.append("journal format \(info["format"] ?? "none"), expected \(StoreJournal.formatVersion)") }
        let base = baseModel ?? info["base_model_path"].map { URL(fileURLWithPath: $0) }
        if let b = base, FileManager.default.fileExists(atPath: b.path) {
            do { try checkBaseModel(b) } catch { problems.append("\(error)") }
        } else {
            notes.append("base model \(base?.path ?? "(unknown)") not found, so its checksum was not checked (pass --model)")
        }
        let all = try batches(includeRolledBack: true)
        let active = all.filter { $0.status == "committed" }.sorted { $0.version < $1.version }
        for (i, b) in active.enumerated() where b.version != i + 1 {
            problems.append("versions are not contiguous: the \(i + 1)th committed batch has version \(b.version)")
            break
        }
        // Files and per-tensor checksums.
        var files = 0
        let expected: [Int64: [String: (String, String, String)]] = try journal.read { db in
            var out: [Int64: [String: (String, String, String)]] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT * FROM tensors") {
                let key = try r.decode(String.self, forColumn: "file_kind") + ":" + r.decode(String.self, forColumn: "name")
                out[try r.decode(forColumn: "batch_id"), default: [:]][key] = (try r.decode(forColumn: "dtype"), try r.decode(forColumn: "shape"),
                                                                           try r.decode(forColumn: "sha256"))
            }
            return out
        }
        for b in all {
            var pairs: [(kind: String, name: String, sha: String)] = [("batch", b.tensorFile, b.tensorSHA256)]
            if let c = b.checkpointFile, let s = b.checkpointSHA256 { pairs.append(("checkpoint", c, s)) }
            for (kind, name, sha) in pairs {
                files += 1
                let f = file(name)
                do {
                    let tensors = try StoreTensorFile.read(f, sha256: sha)
                    let want = (expected[b.id] ?? [:]).filter { $0.key.hasPrefix(kind + ":") }
                    if want.count != tensors.count {
                        problems.append("\(f.path): \(tensors.count) tensors, the journal lists \(want.count)")
                    }
                    for (tname, t) in tensors {
                        guard let row = want["\(kind):\(tname)"] else {
                            problems.append("\(f.path): tensor '\(tname)' is not in the journal"); continue
                        }
                        let (dtype, shape, tsha) = row
                        if dtype != t.dtype || shape != "\(t.shape)" || tsha != t.checksum {
                            problems.append("\(f.path): tensor '\(tname)' differs from the journal (dtype, shape or checksum)")
                        }
                    }
                } catch {
                    problems.append("\(error)")
                }
            }
        }
        // Every version rebuilt from the files and compared with the journal's checksums (incrementally).
        var rebuilt = 0
        if problems.isEmpty {
            var snap = StoreSnapshot(version: 0)
            for b in active {
                do {
                    snap = try snap.applying(try storedBatch(b))
                    if snap.weightsChecksum != b.weightsSHA256 || snap.stateChecksum != b.stateSHA256 {
                        problems.append("version \(b.version): weights or state rebuilt from the files differ from the journal's checksums")
                        break
                    }
                    if b.checkpointFile != nil {
                        let fromCheckpoint = try snapshot(at: b.version)
                        if fromCheckpoint != snap { problems.append("version \(b.version): the checkpoint differs from the replayed batches") }
                    }
                    rebuilt += 1
                } catch {
                    problems.append("version \(b.version): \(error)")
                    break
                }
            }
        }
        let named = Set(all.flatMap { [$0.tensorFile, $0.checkpointFile].compactMap { $0 } })
        let present = (try? FileManager.default.contentsOfDirectory(atPath: tensorsURL.path)) ?? []
        return StoreVerifyReport(head: active.last?.version ?? 0, batchesChecked: all.count, filesChecked: files, versionsRebuilt: rebuilt,
                                 problems: problems, strayFiles: present.filter { !named.contains($0) }.sorted(), notes: notes)
    }
}

extension EditStore {
    /// The check `emend edit --store` runs before writing: every committed batch's tensor file exists with the size
    /// the journal recorded, and every checkpoint exists. (`snapshot()` then checks the SHA-256 of each file it reads;
    /// `verify` checks them all.)
    public func checkFiles() throws {
        for b in try batches() {
            let f = file(b.tensorFile)
            let size = (try? FileManager.default.attributesOfItem(atPath: f.path))?[.size] as? Int
            guard let size else { throw EditStoreError.unreadable(file: f.path, reason: "missing (version \(b.version))") }
            guard size == b.tensorBytes else {
                throw EditStoreError.corruptTensorFile(file: f.path, problem: "\(size) bytes, the journal recorded \(b.tensorBytes) (truncated or changed); hint: `emend store verify`, then roll back below version \(b.version)")
            }
            if let c = b.checkpointFile, !FileManager.default.fileExists(atPath: file(c).path) {
                throw EditStoreError.unreadable(file: file(c).path, reason: "missing checkpoint (version \(b.version))")
            }
        }
    }
}
