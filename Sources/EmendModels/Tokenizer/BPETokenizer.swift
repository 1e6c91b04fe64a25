// Byte-level BPE (GPT-2 family): text -> token ids and back.
//
// Shape legend: V vocabulary size.
//
// Encoding, in order:
//   1. added tokens ("<|im_start|>") written in the text are matched as whole strings;
//   2. each plain stretch is cut into words by the pre-tokenizer regex (`PreTokenizer`);
//   3. each word's UTF-8 bytes become byte-level tokens, which are merged pairwise, always taking
//      the adjacent pair with the lowest merge rank (leftmost on ties), until no pair has a rule.
// No BOS/EOS is added (`addsBOS` says whether the model wants BOS; see Tokenizer.swift). A byte with no
// token in the vocabulary is dropped (llama.cpp does the same). Decoding maps every token back to its bytes
// (added tokens are literal text) and decodes UTF-8 with U+FFFD for each invalid sequence (Python's `errors="replace"`).
//
// Goals, in order: ids identical to llama.cpp / Hugging Face, no input can crash it, then speed
// (merges are done per word and cached per word; integer pair keys, no string building).

import Foundation

/// A byte-level BPE tokenizer: vocabulary, merge ranks, added tokens and pre-tokenizer.
public struct BPETokenizer: Tokenizer {
    /// The kind of each vocabulary entry (shared with SentencePiece; see `EmendModels.TokenType`).
    public typealias TokenType = EmendModels.TokenType
    /// Ids of the special tokens (see `EmendModels.SpecialTokenIds`).
    public typealias SpecialTokenIds = EmendModels.SpecialTokenIds

    /// Unicode normalisation applied to the text before anything else.
    public enum Normalizer: String, Sendable, Equatable {
        case none
        /// Canonical composition (Qwen 2's `tokenizer.json`).
        case nfc
    }

    /// Vocabulary entries in byte-level form ("Ġworld"), indexed by id. [V]
    public let tokens: [String]
    /// The kind of each entry. [V]
    public let tokenTypes: [TokenType]
    /// How text is cut into words before merging.
    public let preTokenizer: PreTokenizer
    /// bos / eos / pad / unk ids.
    public let specialTokenIds: SpecialTokenIds
    /// Emit a word's own token when the whole word is in the vocabulary, skipping merges (Llama 3).
    public let ignoreMerges: Bool
    /// Normalisation applied before encoding.
    public let normalizer: Normalizer
    /// The model expects BOS before every sequence (GGUF `tokenizer.ggml.add_bos_token`, the `tokenizer.json`
    /// post-processor). `encode` never adds it; see `Tokenizer.promptIDs`.
    public let addsBOS: Bool

    /// Number of entries in the vocabulary (V).
    public var vocabularySize: Int { tokens.count }
    /// Number of merge rules (duplicates counted once).
    public var mergeCount: Int { mergeRules.count }

    /// Byte-level string -> id (first id wins when a string repeats).
    let idForToken: [String: Int32]
    /// Merge rules: key `left << 32 | right`, value `rank << 32 | merged id`.
    let mergeRules: [UInt64: UInt64]
    /// Id of the single-byte token of each byte, -1 when the vocabulary has none. [256]
    let byteTokenIds: [Int32]
    /// The bytes each token decodes to. [V]
    let tokenBytes: [[UInt8]]
    let addedTokens: AddedTokenMatcher
    let wordCache = WordCache()

    // MARK: - Creation

    /// A tokenizer from its parts.
    /// - Parameters:
    ///   - tokens: vocabulary in byte-level form, by id. [V]
    ///   - tokenTypes: kind of each token; control and user-defined tokens are matched whole in text. [V]
    ///   - merges: merge rules, highest priority first (index = rank).
    ///   - addsBOS: the model expects BOS before every sequence.
    ///   - source: names the file or metadata the parts came from, for error messages.
    /// - Throws: `TokenizerError` when counts disagree, a merge names an unknown token or a special
    ///   id is out of range.
    public init(tokens: [String], tokenTypes: [TokenType], merges: [(String, String)],
                preTokenizer: PreTokenizer, specialTokenIds: SpecialTokenIds = SpecialTokenIds(),
                ignoreMerges: Bool = false, normalizer: Normalizer = .none, addsBOS: Bool = false,
                source: String = "tokenizer") throws {
        guard tokenTypes.count == tokens.count else {
            throw TokenizerError.countMismatch(source: source, field: "token types",
                                               expected: tokens.count, got: tokenTypes.count)
        }
        guard tokens.count < Int(Int32.max) else {
            throw TokenizerError.invalidField(source: source, field: "tokens", expected: "fewer than 2^31 tokens",
                                              got: "\(tokens.count)")
        }
        var idForToken: [String: Int32] = [:]
        idForToken.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() where idForToken[t] == nil { idForToken[t] = Int32(i) }

        // Some vocabularies lack a few bytes (SmolLM2 has no token for 0x04, 0xF1, ...): those
        // get -1, block merges across them, and are dropped from the output, like llama.cpp.
        var byteTokenIds = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            if let id = idForToken[String(ByteLevel.scalarForByte[b])] { byteTokenIds[b] = id }
        }

        var rules: [UInt64: UInt64] = [:]
        rules.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let l = idForToken[a] else {
                throw TokenizerError.mergeTokenNotInVocabulary(source: source, index: rank, token: a)
            }
            guard let r = idForToken[b] else {
                throw TokenizerError.mergeTokenNotInVocabulary(source: source, index: rank, token: b)
            }
            guard let m = idForToken[a + b] else {
                throw TokenizerError.mergeTokenNotInVocabulary(source: source, index: rank, token: a + b)
            }
            let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
            if rules[key] == nil { rules[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: m)) }
        }

        try specialTokenIds.validate(vocabularySize: tokens.count, source: source)

        var added: [(text: String, id: Int, isControl: Bool)] = []
        var tokenBytes: [[UInt8]] = []
        tokenBytes.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() {
            switch tokenTypes[i] {
            case .control, .userDefined:
                added.append((t, i, tokenTypes[i] == .control))
                tokenBytes.append(Array(t.utf8))
            default:
                tokenBytes.append(ByteLevel.decode(t))
            }
        }

        self.tokens = tokens
        self.tokenTypes = tokenTypes
        self.preTokenizer = preTokenizer
        self.specialTokenIds = specialTokenIds
        self.ignoreMerges = ignoreMerges
        self.normalizer = normalizer
        self.addsBOS = addsBOS
        self.idForToken = idForToken
        self.mergeRules = rules
        self.byteTokenIds = byteTokenIds
        self.tokenBytes = tokenBytes
        self.addedTokens = AddedTokenMatcher(added)
    }

    /// Splits a merge rule written as "left right" (GGUF and older `tokenizer.json` form). The
    /// separator is the first space after the first character, so a left token may begin with one.
    public static func parseMerge(_ rule: String, index: Int, source: String) throws -> (String, String) {
        let scalars = Array(rule.unicodeScalars)
        guard scalars.count >= 3, let sep = scalars.dropFirst().firstIndex(of: " "), sep + 1 < scalars.count
        else { throw TokenizerError.malformedMerge(source: source, index: index, merge: rule) }
        var left = String.UnicodeScalarView(), right = String.UnicodeScalarView()
        left.append(contentsOf: scalars[..<sep])
        right.append(contentsOf: scalars[(sep + 1)...])
        return (String(left), String(right))
    }

    // MARK: - Encoding

    /// Token ids of `text`; no BOS or EOS is added.
    /// - Parameters:
    ///   - parseSpecial: recognise control tokens ("<|im_end|>") written in the text as single ids; when
    ///     false they are tokenized as plain text. User-defined tokens always match.
    ///   - continuing: ignored: byte-level BPE adds no prefix, so a continuation encodes as any text.
    public func encode(_ text: String, parseSpecial: Bool, continuing: Bool) -> [Int] {
        let text = normalizer == .nfc ? text.precomposedStringWithCanonicalMapping : text
        return addedTokens.encode(Array(text.utf8), includeControl: parseSpecial, plain: encodePlain)
    }

    /// Pre-tokenizes one stretch of plain text and appends the BPE ids of every word.
    func encodePlain(_ bytes: ArraySlice<UInt8>, into out: inout [Int]) {
        let scanned = ScannedText(utf8: bytes)
        let base = bytes.startIndex
        for piece in preTokenizer.pieces(of: scanned) {
            let lo = base + scanned.byteOffsets[piece.lowerBound]
            let hi = base + scanned.byteOffsets[piece.upperBound]
            if hi - lo == 1 {
                let id = byteTokenIds[Int(bytes[lo])]
                if id >= 0 { out.append(Int(id)) }
                continue
            }
            let word = Array(bytes[lo..<hi])
            if let ids = wordCache[word] {
                for id in ids { out.append(Int(id)) }
            } else {
                let ids = mergedWord(word)
                wordCache[word] = ids
                for id in ids { out.append(Int(id)) }
            }
        }
    }

    // MARK: - Decoding

    /// The text of `ids`. Added tokens decode to their literal text; byte sequences that are not
    /// valid UTF-8 decode to U+FFFD (one per maximal invalid subsequence); ids outside the
    /// vocabulary decode to U+FFFD.
    /// - Parameters:
    ///   - skipSpecial: leave control tokens out (HF `skip_special_tokens=True`).
    ///   - continuing: ignored: a byte-level token decodes to the same text wherever it stands.
    public func decode(_ ids: [Int], skipSpecial: Bool, continuing: Bool) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids {
            guard id >= 0 && id < tokens.count else {
                bytes.append(contentsOf: [0xEF, 0xBF, 0xBD])
                continue
            }
            if skipSpecial && tokenTypes[id] == .control { continue }
            bytes.append(contentsOf: tokenBytes[id])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The raw bytes token `id` stands for, or nil when `id` is outside the vocabulary.
    public func bytes(of id: Int) -> [UInt8]? {
        (0..<tokens.count).contains(id) ? tokenBytes[id] : nil
    }

    /// The vocabulary entry of `id` in byte-level form ("Ġworld"), or nil when out of range.
    public func tokenString(_ id: Int) -> String? {
        (0..<tokens.count).contains(id) ? tokens[id] : nil
    }

    /// The id of a vocabulary entry given in byte-level form, or nil.
    public func tokenId(_ token: String) -> Int? {
        idForToken[token].map(Int.init)
    }
}
