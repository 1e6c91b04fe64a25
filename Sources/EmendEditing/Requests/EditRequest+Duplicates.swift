// The duplicate policy for a requests file edited without a store (`emend edit` with `--out` or `--dry-run`):
// the same rule the edit store applies (EditStore+Plan.swift), within the file alone. An exact repeat of an
// earlier request (same prompt, subject and targets) is edited once; a request that gives a subject and relation
// (same subject, same prompt template) another new target is a conflict, handled by `DuplicatePolicy`:
// refuse (default: stop before any work), replace (the later request wins), keep-both (both go to the editor,
// which then writes some mixture of the two), skip (the earlier request wins).

import Foundation

/// The requests to edit after the duplicate policy, and what was left out.
public struct RequestPlan: Sendable {
    /// To edit, in file order.
    public var requests: [EditRequest]
    /// Exact repeats of an earlier request, left out (the fact is edited once).
    public var repeated: Int
    /// Conflicting re-edits of a subject and relation, as "record i: 'prompt' → 'target'".
    public var conflicts: [String]
    /// Requests left out by `replace` (the earlier one) or `skip` (the later one).
    public var dropped: Int
}

extension EditRequest {
    /// Applies `policy` to the requests of one file; throws `.conflictingRequests` under `.refuse`.
    public static func plan(_ requests: [EditRequest], policy: DuplicatePolicy, file: String) throws -> RequestPlan {
        var kept: [EditRequest?] = []
        var keys = Set<String>()
        var relationIndex: [String: [Int]] = [:]   // relation → positions in `kept`
        var repeated = 0, dropped = 0
        var conflicts: [String] = []
        for (i, r) in requests.enumerated() {
            let key = r.storeKey
            if keys.contains(key) { repeated += 1; continue }
            keys.insert(key)
            let relation = r.relationKey
            if let earlier = relationIndex[relation], !earlier.isEmpty {
                conflicts.append("record \(i): '\(r.filledPrompt)' → '\(r.targetNew)'")
                switch policy {
                case .refuse, .keepBoth: break
                case .skip: dropped += 1; continue
                case .replace:
                    for k in earlier where kept[k] != nil { kept[k] = nil; dropped += 1 }
                }
            }
            relationIndex[relation, default: []].append(kept.count)
            kept.append(r)
        }
        if policy == .refuse, !conflicts.isEmpty { throw EmendEditingError.conflictingRequests(file: file, examples: conflicts) }
        return RequestPlan(requests: kept.compactMap { $0 }, repeated: repeated, conflicts: conflicts, dropped: dropped)
    }
}
