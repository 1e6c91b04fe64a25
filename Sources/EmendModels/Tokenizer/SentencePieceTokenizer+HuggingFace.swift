// Reading a SentencePiece tokenizer from Hugging Face `tokenizer.json` (model BPE with `byte_fallback: true`),
// so that it gives the sentencepiece library's ids, not those of the tokenizers library where the two differ.
//
// Used fields: `model` (`vocab`, `merges`, `unk_token`), `added_tokens` (special -> control, otherwise
// user-defined), entries written `<0xXX>` (byte tokens), the space handling in one of its two forms:
//   pre_tokenizer Metaspace(replacement "▁", prepend_scheme first|always|never, or add_prefix_space), normalizer null
//   normalizer Sequence[Prepend("▁") (optional), Replace(" " -> "▁")], pre_tokenizer null
// (Metaspace's `split` is not followed: sentencepiece merges across spaces, so Emend does too), and the
// post-processor or `tokenizer_config.json` for BOS (see HuggingFaceTokenizerFile.swift).
//
// Scores. tokenizer.json keeps none, only the merge list, which the converters write in priority order (by
// score, or by id, which sentencepiece's BPE trainer assigns in score order). A piece's score is minus the rank
// of the first merge that makes it. One rule is restored by hand: the Llama 2 and Mistral models give the
// pieces made only of "▁" ("▁▁", "▁▁▁▁", ...) the score −1e9, so runs of spaces merge after everything else,
// leftmost first; transformers' converter loses that (its merge list starts with "▁ ▁"), which is why the
// tokenizers library splits leading spaces differently from sentencepiece. Here those pieces get one score
// below every merge's.

import Foundation

extension SentencePieceTokenizer {
    /// A tokenizer from the bytes of a `tokenizer.json` (and optionally `tokenizer_config.json`).
    /// - Parameters:
    ///   - configJSON: bytes of `tokenizer_config.json`: `bos_token`, `eos_token`, `pad_token`, `unk_token`
    ///     and `add_bos_token`.
    ///   - specialTokenIds: explicit ids; they override what the files name.
    /// - Throws: `TokenizerError` naming the field that is missing, malformed or unsupported.
    public init(huggingFaceJSON data: Data, configJSON: Data? = nil,
                specialTokenIds: SpecialTokenIds? = nil, source: String = "tokenizer.json") throws {
        try self.init(huggingFace: try HuggingFaceTokenizerFile(json: data, configJSON: configJSON, source: source),
                      specialTokenIds: specialTokenIds)
    }

    /// A tokenizer from a parsed `tokenizer.json`.
    init(huggingFace file: HuggingFaceTokenizerFile, specialTokenIds: SpecialTokenIds? = nil) throws {
        let source = file.source
        try file.requireByteFallback(true)
        let prefix = try Self.spacePrefix(huggingFace: file.root, source: source)
        let vocabulary = try file.vocabulary()
        let tokens = vocabulary.tokens
        var types = vocabulary.types
        let ids = file.specialTokenIds(tokens: tokens, explicit: specialTokenIds)
        for (i, t) in tokens.enumerated() where types[i] == .normal && Self.byteValue(t) != nil { types[i] = .byte }
        if let unk = ids.unk, tokens.indices.contains(unk), types[unk] == .control { types[unk] = .unknown }
        let scores = try Self.scores(tokens: tokens, types: types, merges: try file.merges(), source: source)
        try self.init(tokens: tokens, scores: scores, tokenTypes: types, specialTokenIds: ids, addSpacePrefix: prefix,
                      addsBOS: file.addsBOS, source: source)
    }

    /// Scores from the merge list (see the header): −rank of the first merge that makes each piece; pieces no
    /// merge makes get −(merge count); pieces made only of "▁", two or more, get one less.
    static func scores(tokens: [String], types: [TokenType], merges: [(String, String)], source: String) throws -> [Float] {
        var index: [String: Int] = [:]
        index.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() where index[t] == nil { index[t] = i }
        let unmade = -Float(merges.count)
        var scores = [Float](repeating: unmade, count: tokens.count)
        var made = [Bool](repeating: false, count: tokens.count)
        for (rank, (a, b)) in merges.enumerated() {
            for t in [a, b, a + b] where index[t] == nil {
                throw TokenizerError.mergeTokenNotInVocabulary(source: source, index: rank, token: t)
            }
            guard let m = index[a + b], !made[m] else { continue }
            made[m] = true
            scores[m] = -Float(rank)
        }
        for (i, t) in tokens.enumerated() where types[i] == .normal && t.unicodeScalars.count > 1
            && t.unicodeScalars.allSatisfy({ $0 == "\u{2581}" }) {
            scores[i] = unmade - 1
        }
        return scores
    }

    /// Whether the text gets the dummy "▁" prefix, from the two supported normalizer / pre_tokenizer forms.
    static func spacePrefix(huggingFace root: [String: Any], source: String) throws -> Bool {
        func steps(_ json: Any?, list: String) -> [[String: Any]] {
            guard let o = json as? [String: Any] else { return [] }
            if o["type"] as? String == "Sequence" { return (o[list] as? [Any] ?? []).compactMap { $0 as? [String: Any] } }
            return [o]
        }
        let norm = steps(root["normalizer"], list: "normalizers")
        let pre = steps(root["pre_tokenizer"], list: "pretokenizers")
        let normKinds = norm.map { $0["type"] as? String ?? "?" }, preKinds = pre.map { $0["type"] as? String ?? "?" }

        if pre.count == 1, preKinds[0] == "Metaspace", norm.isEmpty {
            let m = pre[0]
            guard (m["replacement"] as? String ?? "\u{2581}") == "\u{2581}" else {
                throw TokenizerError.unsupportedPreTokenizer(source: source,
                                                             found: "Metaspace(replacement: \(m["replacement"] ?? "?"))")
            }
            switch m["prepend_scheme"] as? String {
            case "first", "always": return true
            case "never": return false
            case nil: return m["add_prefix_space"] as? Bool ?? true
            case let other?:
                throw TokenizerError.unsupportedPreTokenizer(source: source, found: "Metaspace(prepend_scheme: \(other))")
            }
        }
        if pre.isEmpty, let replace = norm.last, replace["type"] as? String == "Replace",
           (replace["pattern"] as? [String: Any])?["String"] as? String == " ",
           replace["content"] as? String == "\u{2581}" {
            if norm.count == 1 { return false }
            if norm.count == 2, normKinds[0] == "Prepend", norm[0]["prepend"] as? String == "\u{2581}" { return true }
        }
        if !norm.isEmpty {
            throw TokenizerError.unsupportedNormalizer(source: source, found: "[\(normKinds.joined(separator: ", "))]")
        }
        throw TokenizerError.unsupportedPreTokenizer(source: source,
                                                     found: pre.isEmpty ? "null" : "[\(preKinds.joined(separator: ", "))]")
    }
}
