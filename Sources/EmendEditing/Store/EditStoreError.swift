// The edit store's errors: each one sentence naming the file (or store), what was expected and what was found,
// with a hint where the fix is known.

import Foundation

public enum EditStoreError: Error, CustomStringConvertible, Equatable {
    case notAStore(path: String)
    case alreadyExists(path: String)
    case unreadable(file: String, reason: String)
    case writeFailed(file: String, reason: String)
    case locked(store: String, holder: String)
    case journal(store: String, reason: String)
    case wrongModel(store: String, expected: String, got: String)
    case checksumMismatch(file: String, expected: String, got: String)
    case corruptTensorFile(file: String, problem: String)
    case noSuchVersion(store: String, version: Int, head: Int)
    case inconsistent(store: String, problem: String)
    case duplicateRequests(store: String, examples: [String])
    case unsupportedWeight(name: String)

    public var description: String {
        switch self {
        case let .notAStore(p): return "\(p) is not an edit store (no store.sqlite); hint: create one with `emend store init \(p) --model …`"
        case let .alreadyExists(p): return "\(p) already holds an edit store; hint: choose another folder or use it with `emend edit --store \(p)`"
        case let .unreadable(f, r): return "cannot read \(f): \(r)"
        case let .writeFailed(f, r): return "cannot write \(f): \(r); the store is unchanged at its last committed version"
        case let .locked(s, h): return "the store \(s) is being written by another process (\(h)); only one writer at a time. hint: wait for it to finish, or stop it — readers (log, show, export, verify) work meanwhile"
        case let .journal(s, r): return "the journal of \(s) is unusable: \(r)"
        case let .wrongModel(s, e, g): return "the store \(s) is bound to another base model: expected \(e), got \(g); hint: pass the model the store was created with (`emend store show \(s)`)"
        case let .checksumMismatch(f, e, g): return "\(f): checksum expected sha256 \(e), got \(g) (the file was changed or truncated); hint: `emend store rollback` to a version before it, or restore the file"
        case let .corruptTensorFile(f, p): return "\(f): \(p)"
        case let .noSuchVersion(s, v, h): return "the store \(s) has no version \(v): versions are 0 (the base model) to \(h)"
        case let .inconsistent(s, p): return "the store \(s) is inconsistent: \(p)"
        case let .duplicateRequests(s, ex):
            return "\(ex.count) request(s) re-edit a subject and relation already edited in \(s) or earlier in the file, e.g. \(ex.prefix(3).joined(separator: "; ")); hint: choose with --on-duplicate replace|keep-both|skip"
        case let .unsupportedWeight(n): return "the edit store cannot apply weight '\(n)': expected 'blk.<layer>.<role>' with a per-block role"
        }
    }
}

extension EditStoreError: LocalizedError {
    public var errorDescription: String? { description }
}
