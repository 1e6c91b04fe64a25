// The merge loop both BPE kinds share: a min-heap of candidate pairs over a linked list of symbols, O(n log n).
// Byte-level BPE ranks a pair by its merge rule's position in the merge list, SentencePiece by its merged piece's
// score; both merge the pair with the lowest (rank, left position) first. A heap entry goes stale when a
// neighbour merges; a popped entry is used only if both its symbols are unchanged since it was pushed.

/// Merges adjacent symbols, always the candidate pair with the lowest (rank, left position), until none is left.
/// - Parameters:
///   - ids: the symbols' ids [n]; on return a merged symbol holds its new id and one merged into its left
///     neighbour holds -2 (a symbol without an id, -1, never merges unless `rule` says so).
///   - rule: the packed rule (rank << 32 | merged id) of a pair of ids, or nil when there is none.
///   - pushed: called with each candidate pair (left id, right id, packed rule) as it is queued.
/// - Returns: the links of the surviving symbols: start at 0 and follow `next[k]` until n. [n]
func heapMerge(_ ids: inout [Int32], rule: (Int32, Int32) -> UInt64?,
               pushed: (Int32, Int32, UInt64) -> Void = { _, _, _ in }) -> [Int] {
    let n = ids.count
    guard n > 1 else { return n == 1 ? [1] : [] }
    var next = Array(1...n)  // n = end of list
    var prev = Array(-1..<(n - 1))
    var heap = PairHeap()
    func push(_ left: Int) {
        let right = next[left]
        guard right < n, let r = rule(ids[left], ids[right]) else { return }
        heap.push(PairHeap.Entry(rank: UInt32(r >> 32), left: Int32(left), leftId: ids[left], rightId: ids[right]))
        pushed(ids[left], ids[right], r)
    }
    for k in 0..<(n - 1) { push(k) }
    while let e = heap.pop() {
        let left = Int(e.left)
        let right = next[left]
        // Stale: the left symbol was merged away (its id changed) or its neighbour changed.
        guard ids[left] == e.leftId, right < n, ids[right] == e.rightId, let r = rule(e.leftId, e.rightId) else { continue }
        ids[left] = Int32(truncatingIfNeeded: r & 0xFFFF_FFFF)
        ids[right] = -2  // removed; -2 never equals a stored id
        next[left] = next[right]
        if next[right] < n { prev[next[right]] = left }
        if prev[left] >= 0 { push(prev[left]) }
        push(left)
    }
    return next
}

/// A binary min-heap of candidate merges ordered by (rank, left position).
struct PairHeap {
    struct Entry {
        var rank: UInt32
        var left: Int32
        var leftId: Int32
        var rightId: Int32
        @inline(__always)
        func precedes(_ o: Entry) -> Bool { rank != o.rank ? rank < o.rank : left < o.left }
    }

    private var items: [Entry] = []

    mutating func push(_ e: Entry) {
        items.append(e)
        var c = items.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            guard items[c].precedes(items[p]) else { break }
            items.swapAt(c, p)
            c = p
        }
    }

    mutating func pop() -> Entry? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return top }
        items[0] = last
        var p = 0
        while true {
            let l = 2 * p + 1, r = l + 1
            var m = p
            if l < items.count && items[l].precedes(items[m]) { m = l }
            if r < items.count && items[r].precedes(items[m]) { m = r }
            if m == p { break }
            items.swapAt(p, m)
            p = m
        }
        return top
    }
}

