// The merge table and the merge loop of SentencePiece BPE for one word.
//
// sentencepiece (`bpe_model.cc`) merges any adjacent pair of symbols whose concatenation is a piece, taking the
// highest score first and the leftmost pair on ties. A symbol is a character or a piece made by earlier merges,
// so the table lists, for every mergeable piece, each way to cut it in two where both halves can be symbols:
// a piece, or a single character (one that is not a piece itself gets an id ≥ V). Scores become priority ranks
// (0 = highest score), so the loop is byte-level BPE's heap loop (`heapMerge`) with leftmost tie-breaking.

import Foundation

extension SentencePieceTokenizer {
    /// What `mergeTable` builds.
    struct MergeTable {
        /// Mergeable pieces and the characters inside them, by UTF-8 bytes (see `symbolIds`).
        var symbolIds: [[UInt8]: Int32]
        /// (left, right) -> rank << 32 | merged id (see `mergeRules`).
        var rules: [UInt64: UInt64]
        /// No mergeable piece has "▁" right after another character.
        var splitsWords: Bool
    }

    /// The merge table of a vocabulary. Only normal, user-defined and unused entries merge (sentencepiece's
    /// `pieces_`); the first of two entries with the same text wins.
    static func mergeTable(tokens: [String], scores: [Float], tokenTypes: [TokenType]) -> MergeTable {
        var symbolIds: [[UInt8]: Int32] = [:]
        symbolIds.reserveCapacity(tokens.count)
        var pieces: [(id: Int, bytes: [UInt8], bounds: [Int])] = []
        pieces.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() where [.normal, .userDefined, .unused].contains(tokenTypes[i]) {
            let b = Array(t.utf8)
            guard !b.isEmpty, symbolIds[b] == nil else { continue }
            symbolIds[b] = Int32(i)
            pieces.append((i, b, characterBounds(b)))
        }

        // Characters that only occur inside pieces; and whether a piece spans a word boundary.
        var nextId = Int32(tokens.count)
        var splitsWords = true
        for p in pieces {
            for j in 0..<(p.bounds.count - 1) {
                let c = Array(p.bytes[p.bounds[j]..<p.bounds[j + 1]])
                if symbolIds[c] == nil { symbolIds[c] = nextId; nextId += 1 }
                if j > 0, c == spaceSymbol, Array(p.bytes[p.bounds[j - 1]..<p.bounds[j]]) != spaceSymbol {
                    splitsWords = false
                }
            }
        }

        let ranks = Dictionary(uniqueKeysWithValues: Set(pieces.map { scores[$0.id] }).sorted(by: >).enumerated()
            .map { ($1, UInt64($0)) })
        var rules: [UInt64: UInt64] = [:]
        for p in pieces where p.bounds.count > 2 {
            let value = (ranks[scores[p.id]] ?? 0) << 32 | UInt64(p.id)
            for s in p.bounds[1..<(p.bounds.count - 1)] {
                guard let l = symbolIds[Array(p.bytes[..<s])], let r = symbolIds[Array(p.bytes[s...])] else { continue }
                rules[UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))] = value
            }
        }
        return MergeTable(symbolIds: symbolIds, rules: rules, splitsWords: splitsWords)
    }

    /// Byte offsets where the UTF-8 characters of `bytes` start, then `bytes.count`.
    static func characterBounds(_ bytes: [UInt8]) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(bytes.count + 1)
        for (k, b) in bytes.enumerated() where b & 0xC0 != 0x80 { out.append(k) }
        if out.first != 0 { out.insert(0, at: 0) }
        out.append(bytes.count)
        return out
    }

    // MARK: - Merge loop

    /// The ids of one word (normalised UTF-8, "▁" for spaces): its characters, merged by `heapMerge` (ranks
    /// from the scores, leftmost on ties, as sentencepiece's agenda), then each final symbol emitted.
    func mergedWord(_ word: [UInt8]) -> [Int32] {
        let bounds = Self.characterBounds(word)
        let n = bounds.count - 1
        guard n > 0 else { return [] }
        var ids = (0..<n).map { k -> Int32 in
            let lo = bounds[k], hi = bounds[k + 1]
            return hi - lo == 1 && word[lo] < 128 ? asciiSymbolIds[Int(word[lo])] : symbolIds[Array(word[lo..<hi])] ?? -1
        }
        // The pair each unused piece was last queued from (sentencepiece's `rev_merge`), to split it back.
        var madeFrom: [Int32: (Int32, Int32)] = [:]
        let next = heapMerge(&ids, rule: { l, r in
            mergeRules[UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))]
        }, pushed: { l, r, rule in
            let merged = Int32(truncatingIfNeeded: rule & 0xFFFF_FFFF)
            if tokenTypes[Int(merged)] == .unused { madeFrom[merged] = (l, r) }
        })
        var out: [Int32] = []
        out.reserveCapacity(n)
        var k = 0
        while k < n {
            let end = next[k] < n ? bounds[next[k]] : word.count
            emit(ids[k], bytes: word[bounds[k]..<end], madeFrom: madeFrom, into: &out)
            k = next[k]
        }
        return out
    }

    /// Appends the ids of one final symbol: a piece as itself (an unused piece split back into the symbols it
    /// was made from), anything else by byte fallback.
    func emit(_ id: Int32, bytes: ArraySlice<UInt8>, madeFrom: [Int32: (Int32, Int32)], into out: inout [Int32]) {
        if id >= 0 && Int(id) < tokens.count {
            if tokenTypes[Int(id)] == .unused, let (l, r) = madeFrom[id] {
                // The halves' bytes: the left one is the prefix whose text is the left piece or character.
                let cut = bytes.startIndex + leftLength(l, bytes: bytes)
                emit(l, bytes: bytes[..<cut], madeFrom: madeFrom, into: &out)
                emit(r, bytes: bytes[cut...], madeFrom: madeFrom, into: &out)
            } else {
                out.append(id)
            }
            return
        }
        // Byte fallback: a character that is no piece becomes its bytes' tokens, else the unknown token.
        let unk = specialTokenIds.unk.map { Int32($0) }
        if hasByteTokens {
            for b in bytes {
                if byteTokenIds[Int(b)] >= 0 { out.append(byteTokenIds[Int(b)]) } else if let unk { out.append(unk) }
            }
        } else if let unk {
            out.append(unk)
        }
    }

    /// The number of bytes of symbol `id` (a piece, or one character of `bytes` when `id` ≥ V).
    func leftLength(_ id: Int32, bytes: ArraySlice<UInt8>) -> Int {
        if Int(id) < tokens.count { return tokens[Int(id)].utf8.count }
        let first = bytes.first ?? 0
        let length = first < 0x80 ? 1 : first < 0xE0 ? 2 : first < 0xF0 ? 3 : 4
        return min(length, bytes.count)
    }
}
