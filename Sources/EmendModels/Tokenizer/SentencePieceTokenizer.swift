// SentencePiece BPE (Llama 2, Mistral): text -> token ids and back, as the sentencepiece library does it.
//
// Shape legend: V vocabulary size.
//
// Encoding, in order (sentencepiece's `normalizer.cc` and `bpe_model.cc`):
//   1. the empty text gives no ids; otherwise one "▁" is put in front (the dummy prefix, `addSpacePrefix`)
//      and every space becomes "▁" (no other normalisation: Llama 2 and Mistral use the identity normaliser);
//   2. user-defined tokens (and, when asked, control tokens) written in the text are matched as whole strings;
//   3. each plain stretch is cut into characters, which are merged pairwise: always the adjacent pair whose
//      concatenation is a piece with the highest score, the leftmost on ties, until no pair makes a piece;
//   4. a piece of type "unused" is split back into the two symbols it was made from; a symbol that is not a
//      piece (a character outside the vocabulary) becomes the `<0xXX>` tokens of its UTF-8 bytes (byte
//      fallback), or the unknown token when the vocabulary has no byte tokens.
// No BOS/EOS is added (`addsBOS` says whether the model wants BOS; see Tokenizer.swift).
//
// Decoding: "▁" becomes a space, byte tokens become their byte, control tokens their literal text (or nothing
// with `skipSpecial`), the unknown token " ⁇ " (sentencepiece's surface); the bytes are read as UTF-8 with
// U+FFFD for invalid sequences. Decoding a whole sequence drops the leading space of its first piece when the
// dummy prefix is on, as sentencepiece does; a continuation keeps it.
//
// Goals, in order: sentencepiece's ids (from GGUF and `tokenizer.json` alike), no input can crash it, then
// speed: the text is cut into words before each "▁" that follows another character, when no piece spans such a
// boundary (checked once, at load), and each word's ids are cached; merges use integer pair keys and a heap.

import Foundation

/// A SentencePiece BPE tokenizer: pieces with scores and types, byte fallback, dummy space prefix.
public struct SentencePieceTokenizer: Tokenizer {
    /// Vocabulary entries as stored ("▁world", "<0x0A>", "<s>"), indexed by id. [V]
    public let tokens: [String]
    /// Merge priority of each piece: higher merges first. [V]
    public let scores: [Float]
    /// The kind of each entry. [V]
    public let tokenTypes: [TokenType]
    /// bos / eos / pad / unk ids.
    public let specialTokenIds: SpecialTokenIds
    /// Put one "▁" in front of the text before encoding (sentencepiece `add_dummy_prefix`, GGUF
    /// `tokenizer.ggml.add_space_prefix`).
    public let addSpacePrefix: Bool
    /// The model expects BOS before every sequence (GGUF `tokenizer.ggml.add_bos_token`, the `tokenizer.json`
    /// post-processor). `encode` never adds it; see `Tokenizer.promptIDs`.
    public let addsBOS: Bool

    /// Number of entries in the vocabulary (V).
    public var vocabularySize: Int { tokens.count }

    /// UTF-8 of "▁" (U+2581), the space symbol.
    static let spaceSymbol: [UInt8] = [0xE2, 0x96, 0x81]

    /// Merge symbols by their UTF-8 bytes: every mergeable piece (normal, user-defined, unused) by its id, and
    /// every character inside one that is not a piece itself by an id ≥ V (it can merge, but is not a token).
    let symbolIds: [[UInt8]: Int32]
    /// `symbolIds` of the 128 ASCII characters, -1 when absent. [128]
    let asciiSymbolIds: [Int32]
    /// Merge rules: key `left << 32 | right` (symbol ids), value `priority << 32 | merged id`, where priority
    /// is the rank of the merged piece's score (0 = highest score; equal scores share a rank).
    let mergeRules: [UInt64: UInt64]
    /// Id of the byte token `<0xXX>` of each byte, -1 when the vocabulary has none. [256]
    let byteTokenIds: [Int32]
    /// The vocabulary has byte tokens (byte fallback is on).
    let hasByteTokens: Bool
    /// The bytes each token decodes to. [V]
    let tokenBytes: [[UInt8]]
    let addedTokens: AddedTokenMatcher
    /// No mergeable piece has "▁" right after another character, so text can be cut into words there.
    let splitsWords: Bool
    let wordCache = WordCache()

    // MARK: - Creation

    /// A tokenizer from its parts.
    /// - Parameters:
    ///   - tokens: vocabulary by id; byte tokens are written `<0xXX>`. [V]
    ///   - scores: merge priority of each piece, higher first; only normal, user-defined and unused pieces
    ///     merge. [V]
    ///   - tokenTypes: kind of each token; control, unknown and user-defined tokens are matched whole in text
    ///     (control and unknown only with `parseSpecial`). [V]
    ///   - specialTokenIds: bos/eos/pad/unk; a missing unk is the first token of type unknown.
    ///   - source: names the file or metadata the parts came from, for error messages.
    /// - Throws: `TokenizerError` when counts disagree, a score is not a number, a byte token is not written
    ///   `<0xXX>` or a special id is out of range.
    public init(tokens: [String], scores: [Float], tokenTypes: [TokenType],
                specialTokenIds: SpecialTokenIds = SpecialTokenIds(), addSpacePrefix: Bool = true,
                addsBOS: Bool = true, source: String = "tokenizer") throws {
        let v = tokens.count
        guard scores.count == v else {
            throw TokenizerError.countMismatch(source: source, field: "scores", expected: v, got: scores.count)
        }
        guard tokenTypes.count == v else {
            throw TokenizerError.countMismatch(source: source, field: "token types", expected: v, got: tokenTypes.count)
        }
        guard v < Int(Int32.max) / 2 else {
            throw TokenizerError.invalidField(source: source, field: "tokens", expected: "fewer than 2^30 tokens",
                                              got: "\(v)")
        }
        if let k = scores.firstIndex(where: \.isNaN) {
            throw TokenizerError.invalidField(source: source, field: "scores[\(k)]", expected: "a number", got: "NaN")
        }
        var ids = specialTokenIds
        if ids.unk == nil { ids.unk = tokenTypes.firstIndex(of: .unknown) }
        try ids.validate(vocabularySize: v, source: source)

        // Byte tokens, and what each token decodes to.
        var byteTokenIds = [Int32](repeating: -1, count: 256)
        var tokenBytes: [[UInt8]] = []
        tokenBytes.reserveCapacity(v)
        var added: [(text: String, id: Int, isControl: Bool)] = []
        for (i, t) in tokens.enumerated() {
            switch tokenTypes[i] {
            case .byte:
                guard let b = Self.byteValue(t) else {
                    throw TokenizerError.invalidField(source: source, field: "tokens[\(i)]",
                                                      expected: "a byte token written <0xXX>", got: "\"\(t)\"")
                }
                if byteTokenIds[Int(b)] < 0 { byteTokenIds[Int(b)] = Int32(i) }
                tokenBytes.append([b])
            case .control:
                added.append((t, i, true))
                tokenBytes.append(Array(t.utf8))
            case .unknown:
                added.append((t, i, true))
                tokenBytes.append(Array(" \u{2047} ".utf8))
            case .userDefined:
                // Matched in the normalised text, where spaces are "▁": Gemma's GGUF stores its runs of spaces
                // ("  ", id 138) with real spaces, which must match text "  " as sentencepiece matches "▁▁".
                added.append((String(decoding: Self.spacesEscaped(Array(t.utf8)), as: UTF8.self), i, false))
                tokenBytes.append(Self.spacesRestored(Array(t.utf8)))
            case .normal, .unused:
                tokenBytes.append(Self.spacesRestored(Array(t.utf8)))
            }
        }

        let table = Self.mergeTable(tokens: tokens, scores: scores, tokenTypes: tokenTypes)
        self.tokens = tokens
        self.scores = scores
        self.tokenTypes = tokenTypes
        self.specialTokenIds = ids
        self.addSpacePrefix = addSpacePrefix
        self.addsBOS = addsBOS
        self.symbolIds = table.symbolIds
        self.asciiSymbolIds = (0..<128).map { table.symbolIds[[UInt8($0)]] ?? -1 }
        self.mergeRules = table.rules
        self.byteTokenIds = byteTokenIds
        self.hasByteTokens = byteTokenIds.contains { $0 >= 0 }
        self.tokenBytes = tokenBytes
        self.addedTokens = AddedTokenMatcher(added)
        self.splitsWords = table.splitsWords
    }

    /// The byte a byte token stands for: "<0x0A>" -> 10; nil unless the text is exactly `<0x` two hex digits `>`.
    static func byteValue(_ token: String) -> UInt8? {
        let u = Array(token.utf8)
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            default: return nil
            }
        }
        guard u.count == 6, u[0] == UInt8(ascii: "<"), u[1] == UInt8(ascii: "0"), u[2] == UInt8(ascii: "x"),
              u[5] == UInt8(ascii: ">"), let high = hex(u[3]), let low = hex(u[4]) else { return nil }
        return high << 4 | low
    }

    /// `bytes` with every space replaced by "▁".
    static func spacesEscaped(_ bytes: [UInt8]) -> [UInt8] {
        bytes.flatMap { $0 == 0x20 ? spaceSymbol : [$0] }
    }

    /// `bytes` with every "▁" replaced by a space.
    static func spacesRestored(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if i + 2 < bytes.count, bytes[i] == 0xE2, bytes[i + 1] == 0x96, bytes[i + 2] == 0x81 {
                out.append(0x20)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    // MARK: - Encoding

    /// Token ids of `text`; no BOS or EOS is added.
    /// - Parameters:
    ///   - parseSpecial: recognise control tokens ("<s>") written in the text as single ids (sentencepiece
    ///     never does; llama.cpp's `parse_special`); user-defined tokens always match.
    ///   - continuing: the text continues earlier text: no dummy prefix is put in front.
    public func encode(_ text: String, parseSpecial: Bool, continuing: Bool) -> [Int] {
        guard !text.isEmpty else { return [] }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + text.utf8.count / 4 + 3)
        if addSpacePrefix && !continuing { bytes += Self.spaceSymbol }
        for b in text.utf8 {
            if b == 0x20 { bytes += Self.spaceSymbol } else { bytes.append(b) }
        }
        return addedTokens.encode(bytes, includeControl: parseSpecial, plain: encodePlain)
    }

    /// Cuts one stretch of normalised text into words (when that is exact) and appends each word's ids.
    func encodePlain(_ bytes: ArraySlice<UInt8>, into out: inout [Int]) {
        var start = bytes.startIndex
        if splitsWords {
            // A word ends before a "▁" whose previous character is not "▁".
            var i = start + 1
            while i + 2 < bytes.endIndex {
                if bytes[i] == 0xE2, bytes[i + 1] == 0x96, bytes[i + 2] == 0x81,
                   !(i - start >= 3 && bytes[i - 3] == 0xE2 && bytes[i - 2] == 0x96 && bytes[i - 1] == 0x81) {
                    appendWord(bytes[start..<i], into: &out)
                    start = i
                    i += 3
                } else {
                    i += 1
                }
            }
        }
        if start < bytes.endIndex { appendWord(bytes[start..<bytes.endIndex], into: &out) }
    }

    func appendWord(_ word: ArraySlice<UInt8>, into out: inout [Int]) {
        let key = Array(word)
        let ids: [Int32]
        if let cached = wordCache[key] {
            ids = cached
        } else {
            ids = mergedWord(key)
            wordCache[key] = ids
        }
        for id in ids { out.append(Int(id)) }
    }

    // MARK: - Decoding

    /// The text of `ids` (see the header for each token kind).
    /// - Parameters:
    ///   - skipSpecial: leave control tokens out (HF `skip_special_tokens=True`).
    ///   - continuing: the ids follow earlier tokens: keep the first piece's leading space.
    public func decode(_ ids: [Int], skipSpecial: Bool, continuing: Bool) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        var atStart = addSpacePrefix && !continuing
        for id in ids {
            guard id >= 0 && id < tokens.count else {
                bytes.append(contentsOf: [0xEF, 0xBF, 0xBD])
                atStart = false
                continue
            }
            let type = tokenTypes[id]
            if skipSpecial && type == .control { continue }
            let piece = tokenBytes[id]
            if atStart, type == .normal || type == .userDefined || type == .unused, piece.first == 0x20 {
                bytes.append(contentsOf: piece.dropFirst())
            } else {
                bytes.append(contentsOf: piece)
            }
            atStart = false
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The vocabulary entry of `id` ("▁world", "<0x0A>"), or nil when out of range.
    public func tokenString(_ id: Int) -> String? {
        (0..<tokens.count).contains(id) ? tokens[id] : nil
    }

    /// The id of a vocabulary entry ("▁world"), or nil.
    public func tokenId(_ token: String) -> Int? {
        guard let id = symbolIds[Array(token.utf8)], Int(id) < tokens.count else {
            return tokens.firstIndex(of: token)
        }
        return Int(id)
    }
}
