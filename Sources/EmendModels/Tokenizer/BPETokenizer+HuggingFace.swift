// Reading a byte-level BPE tokenizer from Hugging Face `tokenizer.json` (and, optionally,
// `tokenizer_config.json` for the bos/eos/pad/unk names).
//
// Used fields: `model` (type BPE, `vocab`, `merges` as "a b" strings or ["a", "b"] pairs,
// `ignore_merges`, `unk_token`), `added_tokens` (special -> control, otherwise user-defined),
// `normalizer` (null or NFC) and `pre_tokenizer`, which must be one of the known forms:
//   ByteLevel(use_regex: true)                                  -> gpt2
//   Sequence[Digits(individual_digits: true), ByteLevel(use_regex: true)] -> smollm
//   Sequence[Split(Regex: R, Isolated), ByteLevel(use_regex: false)]      -> R's pre-tokenizer
// `decoder` and `post_processor` are not read: decoding is always byte-level and encode adds no
// BOS/EOS.

import Foundation

extension BPETokenizer {
    /// Reads `tokenizer.json` (and `tokenizer_config.json` when it exists) from a model folder.
    public init(huggingFaceDirectory url: URL) throws {
        let tokenizerURL = url.appendingPathComponent("tokenizer.json")
        let configURL = url.appendingPathComponent("tokenizer_config.json")
        let data: Data
        do { data = try Data(contentsOf: tokenizerURL) } catch {
            throw TokenizerError.missingField(source: url.path, field: "tokenizer.json")
        }
        let config = FileManager.default.fileExists(atPath: configURL.path) ? try? Data(contentsOf: configURL) : nil
        try self.init(huggingFaceJSON: data, configJSON: config, source: tokenizerURL.path)
    }

    /// A tokenizer from the bytes of a `tokenizer.json`.
    /// - Parameters:
    ///   - configJSON: bytes of `tokenizer_config.json`, read for `bos_token`, `eos_token`,
    ///     `pad_token`, `unk_token` (strings or `{"content": ...}` objects).
    ///   - specialTokenIds: explicit ids; they override what the config names.
    /// - Throws: `TokenizerError` naming the field that is missing, malformed or unsupported.
    public init(huggingFaceJSON data: Data, configJSON: Data? = nil,
                specialTokenIds: SpecialTokenIds? = nil, source: String = "tokenizer.json") throws {
        let root = try Self.jsonObject(data, source: source)
        guard let model = root["model"] as? [String: Any] else {
            throw TokenizerError.missingField(source: source, field: "model")
        }
        if let type = model["type"] as? String, type != "BPE" {
            throw TokenizerError.unsupportedModel(source: source, field: "model.type", expected: "BPE", got: type)
        }
        if let fallback = model["byte_fallback"] as? Bool, fallback {
            throw TokenizerError.unsupportedModel(source: source, field: "model.byte_fallback",
                                                  expected: "false", got: "true")
        }
        for field in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = model[field] as? String, !s.isEmpty {
                throw TokenizerError.unsupportedModel(source: source, field: "model.\(field)", expected: "", got: s)
            }
        }
        guard let vocab = model["vocab"] as? [String: Any] else {
            throw TokenizerError.missingField(source: source, field: "model.vocab")
        }

        // Vocabulary plus added tokens, placed by id.
        var byId: [Int: (text: String, type: TokenType)] = [:]
        byId.reserveCapacity(vocab.count)
        for (text, value) in vocab {
            guard let id = value as? Int, id >= 0 else {
                throw TokenizerError.invalidField(source: source, field: "model.vocab[\"\(text)\"]",
                                                  expected: "a non-negative integer id", got: "\(value)")
            }
            if let other = byId[id] {
                throw TokenizerError.duplicateTokenId(source: source, id: id, first: other.text, second: text)
            }
            byId[id] = (text, .normal)
        }
        for (k, entry) in ((root["added_tokens"] as? [Any]) ?? []).enumerated() {
            guard let e = entry as? [String: Any], let id = e["id"] as? Int, id >= 0,
                  let content = e["content"] as? String else {
                throw TokenizerError.invalidField(source: source, field: "added_tokens[\(k)]",
                                                  expected: "an object with integer id and string content",
                                                  got: "\(entry)")
            }
            if let other = byId[id], other.text != content {
                throw TokenizerError.duplicateTokenId(source: source, id: id, first: other.text, second: content)
            }
            byId[id] = (content, (e["special"] as? Bool ?? false) ? .control : .userDefined)
        }
        let count = (byId.keys.max() ?? -1) + 1
        // A gap is reported before anything is sized by the largest id (an id of 10^12 must not allocate).
        guard count == byId.count else {
            let missing = (0...byId.count).first { byId[$0] == nil } ?? byId.count
            throw TokenizerError.vocabularyNotContiguous(source: source, missingId: missing, vocabularySize: count)
        }
        var tokens: [String] = []
        var types: [TokenType] = []
        tokens.reserveCapacity(count)
        types.reserveCapacity(count)
        for id in 0..<count {
            guard let t = byId[id] else {
                throw TokenizerError.vocabularyNotContiguous(source: source, missingId: id, vocabularySize: count)
            }
            tokens.append(t.text)
            types.append(t.type)
        }

        // Merges: "a b" strings (older files) or ["a", "b"] pairs (tokenizers >= 0.20).
        var merges: [(String, String)] = []
        let rawMerges = (model["merges"] as? [Any]) ?? []
        merges.reserveCapacity(rawMerges.count)
        for (k, m) in rawMerges.enumerated() {
            if let s = m as? String {
                merges.append(try Self.parseMerge(s, index: k, source: source))
            } else if let pair = m as? [Any], pair.count == 2, let a = pair[0] as? String, let b = pair[1] as? String {
                merges.append((a, b))
            } else {
                throw TokenizerError.malformedMerge(source: source, index: k, merge: "\(m)")
            }
        }

        // Special ids: explicit, else from tokenizer_config.json, else model.unk_token.
        var ids = SpecialTokenIds()
        let index = Dictionary(tokens.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        if let configJSON {
            let config = try Self.jsonObject(configJSON, source: "tokenizer_config.json")
            func named(_ key: String) -> Int? {
                let v = config[key]
                let text = (v as? String) ?? ((v as? [String: Any])?["content"] as? String)
                return text.flatMap { index[$0] }
            }
            ids = SpecialTokenIds(bos: named("bos_token"), eos: named("eos_token"),
                                  pad: named("pad_token"), unk: named("unk_token"))
        }
        if ids.unk == nil, let unk = model["unk_token"] as? String { ids.unk = index[unk] }
        if let specialTokenIds { ids = specialTokenIds }

        try self.init(tokens: tokens, tokenTypes: types, merges: merges,
                      preTokenizer: try Self.preTokenizer(huggingFace: root["pre_tokenizer"], source: source),
                      specialTokenIds: ids,
                      ignoreMerges: model["ignore_merges"] as? Bool ?? false,
                      normalizer: try Self.normalizer(huggingFace: root["normalizer"], source: source),
                      source: source)
    }

    // MARK: - Helpers

    static func jsonObject(_ data: Data, source: String) throws -> [String: Any] {
        let any: Any
        do { any = try JSONSerialization.jsonObject(with: data) } catch {
            throw TokenizerError.invalidJSON(source: source, reason: jsonDecodingReason(error, data: data))
        }
        guard let object = any as? [String: Any] else {
            throw TokenizerError.invalidJSON(source: source, reason: "the top level is not an object")
        }
        return object
    }

    /// Maps a `tokenizer.json` pre_tokenizer object to a known pre-tokenizer.
    static func preTokenizer(huggingFace json: Any?, source: String) throws -> PreTokenizer {
        let steps: [[String: Any]]
        if let o = json as? [String: Any], o["type"] as? String == "Sequence" {
            steps = (o["pretokenizers"] as? [Any] ?? []).compactMap { $0 as? [String: Any] }
        } else if let o = json as? [String: Any] {
            steps = [o]
        } else {
            steps = []
        }
        let kinds = steps.map { $0["type"] as? String ?? "?" }
        func byteLevel(_ o: [String: Any], regex: Bool) -> Bool {
            o["type"] as? String == "ByteLevel" && (o["use_regex"] as? Bool ?? true) == regex
                && !(o["add_prefix_space"] as? Bool ?? false)
        }
        if steps.count == 1, byteLevel(steps[0], regex: true) { return .gpt2 }
        if steps.count == 2, kinds[0] == "Digits", steps[0]["individual_digits"] as? Bool == true,
           byteLevel(steps[1], regex: true) {
            return .smollm
        }
        if steps.count == 2, kinds[0] == "Split", byteLevel(steps[1], regex: false),
           (steps[0]["behavior"] as? String ?? "Isolated") == "Isolated",
           !(steps[0]["invert"] as? Bool ?? false),
           let pattern = (steps[0]["pattern"] as? [String: Any])?["Regex"] as? String {
            switch pattern {
            case PreTokenizer.gpt2Regex: return .gpt2
            case PreTokenizer.llama3Regex: return .llamaBPE
            case PreTokenizer.qwen2Regex: return .qwen2
            default:
                throw TokenizerError.unsupportedPreTokenizer(source: source, found: "Split regex \(pattern)")
            }
        }
        let found = json == nil || json is NSNull ? "null" : "[\(kinds.joined(separator: ", "))]"
        throw TokenizerError.unsupportedPreTokenizer(source: source, found: found)
    }

    /// Maps a `tokenizer.json` normalizer object to a supported normalisation.
    static func normalizer(huggingFace json: Any?, source: String) throws -> Normalizer {
        guard let o = json as? [String: Any] else { return .none }
        switch o["type"] as? String {
        case "NFC": return .nfc
        case "Sequence" where (o["normalizers"] as? [Any])?.isEmpty ?? true: return .none
        default: throw TokenizerError.unsupportedNormalizer(source: source, found: "\(o["type"] ?? "?")")
        }
    }
}
