// What `emend edit --store` still has to do with a request file: requests already committed (same fact) are
// skipped, which is what makes re-running an interrupted command resume it; requests that re-edit a subject and
// relation already edited (in the store, or earlier in the file) are handled by the duplicate policy.
//
// Resuming gives the same batches as an uninterrupted run: batches commit whole and in order, so the committed
// requests are a prefix of the pending list, and the rest is cut into batches from the same boundary.

import Foundation

/// What to do with a request whose subject and relation were already edited.
public enum DuplicatePolicy: String, Sendable, CaseIterable {
    /// Stop before editing anything and list the duplicates (the default: the user decides).
    case refuse
    /// Apply it and mark the earlier request(s) as superseded in the journal.
    case replace
    /// Apply it; both stay in the journal as active.
    case keepBoth = "keep-both"
    /// Do not apply it.
    case skip
}

/// The requests left to edit, and why the others are not.
public struct StorePlan: Sendable {
    /// Still to edit, in file order.
    public var pending: [EditRequest]
    /// Already committed to the store (same prompt, subject and targets).
    public var alreadyCommitted: Int
    /// Re-edits of a subject and relation, by (index in the file, description).
    public var duplicates: [(index: Int, description: String)]
    /// Duplicates left out under `.skip`.
    public var skipped: Int
    /// Exact repeats of a request earlier in the same file (edited once, not counted as committed).
    public var repeatedInFile: Int = 0
}

extension EditStore {
    /// Plans an edit of `requests` under `policy`; throws `.duplicateRequests` for `.refuse` when any request
    /// re-edits a subject and relation.
    public func plan(_ requests: [EditRequest], policy: DuplicatePolicy) throws -> StorePlan {
        let committed = try self.requests()
        // A superseded request no longer counts as applied, except when resuming the very file that superseded it
        // (its replacement, already committed, comes later in the same file).
        let committedKeys = Set(committed.filter { $0.supersededBy == nil }.map(\.requestKey))
        let supersededKeys = Set(committed.filter { $0.supersededBy != nil }.map(\.requestKey))
        var seenRelations = Set(committed.filter { $0.supersededBy == nil }.map(\.relationKey))
        var pending: [EditRequest] = []
        var duplicates: [(index: Int, description: String)] = []
        var alreadyCommitted = 0, skipped = 0, repeatedInFile = 0
        var seenKeys = Set<String>()
        for (i, r) in requests.enumerated() {
            let key = r.storeKey
            if committedKeys.contains(key) { alreadyCommitted += 1; seenRelations.insert(r.relationKey); continue }
            if supersededKeys.contains(key),
               requests[(i + 1)...].contains(where: { $0.relationKey == r.relationKey && committedKeys.contains($0.storeKey) }) {
                alreadyCommitted += 1; continue
            }
            if seenKeys.contains(key) { repeatedInFile += 1; continue }   // the same fact twice in one file: once
            seenKeys.insert(key)
            if seenRelations.contains(r.relationKey) {
                duplicates.append((i, "record \(i): '\(r.filledPrompt)' → '\(r.targetNew)'"))
                if policy == .skip { skipped += 1; continue }
            }
            seenRelations.insert(r.relationKey)
            pending.append(r)
        }
        if policy == .refuse, !duplicates.isEmpty {
            throw EditStoreError.duplicateRequests(store: url.path, examples: duplicates.map { $0.description })
        }
        return StorePlan(pending: pending, alreadyCommitted: alreadyCommitted, duplicates: duplicates, skipped: skipped,
                         repeatedInFile: repeatedInFile)
    }
}
