// Fault injection for the edit store: named points in a commit where a test can make the write fail (a full disk)
// or the process die (SIGKILL), to prove that a failure at any of them leaves the last committed version intact.
//
// From the command line: EMEND_STORE_CRASH_AT="<point>:<n>" kills the process with SIGKILL the n-th time it
// reaches <point> (counting from 1). This is how the crash test stops the real binary mid-write.

import Foundation

/// A moment inside `EditStore.commit`, in the order they happen.
public enum StoreFaultPoint: String, Sendable, CaseIterable {
    /// Half-way through writing a batch's tensor file (temporary name, not yet synced).
    case tensorWrite = "tensor-write"
    /// The batch's tensor file is renamed into place; the journal does not know it yet.
    case tensorRenamed = "tensor-renamed"
    /// Half-way through writing a checkpoint file.
    case checkpointWrite = "checkpoint-write"
    /// Inside the journal transaction, every row inserted, before COMMIT.
    case journalCommit = "journal-commit"
    /// Just after the journal transaction committed.
    case journalCommitted = "journal-committed"
}

/// Called at each fault point; throwing simulates a failed write there.
public struct StoreFaults: Sendable {
    public var hook: @Sendable (StoreFaultPoint) throws -> Void

    public init(hook: @escaping @Sendable (StoreFaultPoint) throws -> Void) { self.hook = hook }

    public static let none = StoreFaults { _ in }

    /// A full disk at `point`: every write that reaches it fails with ENOSPC.
    public static func diskFull(at point: StoreFaultPoint) -> StoreFaults {
        StoreFaults { p in
            if p == point { throw EditStoreError.writeFailed(file: "(\(p.rawValue))", reason: String(cString: strerror(ENOSPC))) }
        }
    }

    /// From `EMEND_STORE_CRASH_AT` ("<point>:<n>"), or `.none` when unset or malformed.
    public static func fromEnvironment() -> StoreFaults {
        guard let spec = ProcessInfo.processInfo.environment["EMEND_STORE_CRASH_AT"] else { return .none }
        let parts = spec.split(separator: ":")
        guard parts.count == 2, let point = StoreFaultPoint(rawValue: String(parts[0])), let n = Int(parts[1]), n > 0 else {
            return .none
        }
        let counter = HitCounter()
        return StoreFaults { p in
            guard p == point else { return }
            if counter.increment() == n { kill(getpid(), SIGKILL) }
        }
    }
}

private final class HitCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var hits = 0
    func increment() -> Int { lock.lock(); defer { lock.unlock() }; hits += 1; return hits }
}
