// The merge loop of byte-level BPE for one word, and the per-word cache in front of it (both tokenizer kinds
// use the cache and `heapMerge`, PairMerge.swift).

import Foundation

extension BPETokenizer {
    /// Words longer than this many bytes merge with the heap (O(n log n)) instead of rescanning.
    static let heapMergeThreshold = 128

    /// The ids of one word (its UTF-8 bytes), by repeated lowest-rank pair merging.
    ///
    /// Each step merges the adjacent pair whose rule has the lowest rank; among equal ranks (the
    /// same pair occurring twice) the leftmost. This equals GPT-2's "merge every occurrence of the
    /// best pair" and llama.cpp / HF's priority queue.
    func mergedWord(_ word: [UInt8]) -> [Int32] {
        if ignoreMerges, let id = idForToken[ByteLevel.encode(word)] { return [id] }
        return word.count > Self.heapMergeThreshold ? mergedByHeap(word) : mergedByScan(word)
    }

    /// The merge loop by rescanning all pairs each step: O(n²) with small constants, fastest for
    /// short words, and the obviously-right reference the heap version is tested against.
    func mergedByScan(_ word: [UInt8]) -> [Int32] {
        var symbols = word.map { byteTokenIds[Int($0)] }
        if symbols.count < 2 { return symbols.filter { $0 >= 0 } }
        // pairs[k] = packed (rank, merged id) of symbols k, k+1; .max when no rule applies.
        var pairs = [UInt64](repeating: .max, count: symbols.count - 1)
        for k in 0..<pairs.count { pairs[k] = rule(symbols[k], symbols[k + 1]) }
        while symbols.count > 1 {
            var best = 0
            var bestRule = pairs[0]
            for k in 1..<pairs.count where pairs[k] < bestRule {
                best = k
                bestRule = pairs[k]
            }
            if bestRule == .max { break }
            symbols[best] = Int32(truncatingIfNeeded: bestRule & 0xFFFF_FFFF)
            symbols.remove(at: best + 1)
            pairs.remove(at: best)
            if best > 0 { pairs[best - 1] = rule(symbols[best - 1], symbols[best]) }
            if best < pairs.count { pairs[best] = rule(symbols[best], symbols[best + 1]) }
        }
        // A byte without a token (-1) has no rules, so it only blocked merges; now drop it.
        if symbols.contains(where: { $0 < 0 }) { symbols.removeAll { $0 < 0 } }
        return symbols
    }

    /// The merge loop with a min-heap of candidate pairs over a linked list of symbols (`heapMerge`):
    /// O(n log n), for long words (a paragraph of CJK text is one \p{L}+ word).
    func mergedByHeap(_ word: [UInt8]) -> [Int32] {
        var ids = word.map { byteTokenIds[Int($0)] }
        let next = heapMerge(&ids) { l, r in
            let packed = rule(l, r)
            return packed == .max ? nil : packed
        }
        var out: [Int32] = []
        var k = 0
        while k < ids.count {
            if ids[k] >= 0 { out.append(ids[k]) }
            k = next[k]
        }
        return out
    }

    /// Packed (rank << 32 | merged id) of the rule for (left, right), or .max when there is none.
    @inline(__always)
    func rule(_ left: Int32, _ right: Int32) -> UInt64 {
        mergeRules[UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))] ?? .max
    }
}

/// A bounded, thread-safe cache from a word's bytes to its BPE ids. When full it is emptied: the
/// words that matter (frequent ones) come straight back.
final class WordCache: @unchecked Sendable {
    /// The most words kept before the cache is emptied.
    static let capacity = 1 << 17
    private var entries: [[UInt8]: [Int32]] = [:]
    private let lock = NSLock()

    subscript(word: [UInt8]) -> [Int32]? {
        get {
            lock.lock(); defer { lock.unlock() }
            return entries[word]
        }
        set {
            lock.lock(); defer { lock.unlock() }
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[word] = newValue
        }
    }

    var count: Int {
        lock.lock(); defer { lock.unlock() }
        return entries.count
    }
}
