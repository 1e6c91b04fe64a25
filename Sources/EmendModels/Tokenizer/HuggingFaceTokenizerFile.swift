// The parts of a Hugging Face `tokenizer.json` (and `tokenizer_config.json`) that both tokenizer kinds read
// the same way: the BPE model object, the vocabulary with the added tokens placed by id, the merge list, the
// special-token ids and whether BOS is prepended.
//
// BOS: the `post_processor` decides in the tokenizers library: a TemplateProcessing (alone or inside a
// Sequence) whose single-sequence template starts with a SpecialToken prepends that token. When
// `tokenizer_config.json` is there, its `bos_token` names the BOS and its `add_bos_token` (when present)
// overrides the post-processor, as transformers' Llama tokenizer does.

import EmendCore
import Foundation

struct HuggingFaceTokenizerFile {
    /// The whole `tokenizer.json` object.
    let root: [String: Any]
    /// Its `model` object.
    let model: [String: Any]
    /// `tokenizer_config.json`, when given.
    let config: [String: Any]?
    /// Names the file, for error messages.
    let source: String

    /// Parses both files and checks that the model is BPE.
    init(json data: Data, configJSON: Data?, source: String) throws {
        root = try Self.jsonObject(data, source: source)
        config = try configJSON.map { try Self.jsonObject($0, source: "tokenizer_config.json") }
        self.source = source
        guard let model = root["model"] as? [String: Any] else {
            throw TokenizerError.missingField(source: source, field: "model")
        }
        if let type = model["type"] as? String, type != "BPE" {
            throw TokenizerError.unsupportedModel(source: source, field: "model.type", expected: "BPE", got: type)
        }
        for field in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = model[field] as? String, !s.isEmpty {
                throw TokenizerError.unsupportedModel(source: source, field: "model.\(field)", expected: "", got: s)
            }
        }
        self.model = model
    }

    /// `model.byte_fallback` (SentencePiece-style BPE when true).
    var byteFallback: Bool { model["byte_fallback"] as? Bool ?? false }

    /// Throws unless `model.byte_fallback` is `expected` (absent reads as false).
    func requireByteFallback(_ expected: Bool) throws {
        guard byteFallback != expected else { return }
        throw TokenizerError.unsupportedModel(source: source, field: "model.byte_fallback", expected: "\(expected)",
                                              got: (model["byte_fallback"] as? Bool).map { "\($0)" } ?? "absent")
    }

    /// The vocabulary plus the added tokens, by id: added tokens marked special are control tokens, the other
    /// added tokens user-defined, the rest normal.
    /// - Returns: tokens [V] and their types [V].
    func vocabulary() throws -> (tokens: [String], types: [TokenType]) {
        guard let vocab = model["vocab"] as? [String: Any] else {
            throw TokenizerError.missingField(source: source, field: "model.vocab")
        }
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
        var tokens: [String] = [], types: [TokenType] = []
        tokens.reserveCapacity(count)
        types.reserveCapacity(count)
        for id in 0..<count {
            guard let t = byId[id] else {
                throw TokenizerError.vocabularyNotContiguous(source: source, missingId: id, vocabularySize: count)
            }
            tokens.append(t.text)
            types.append(t.type)
        }
        return (tokens, types)
    }

    /// `model.merges`: "a b" strings (older files) or ["a", "b"] pairs (tokenizers >= 0.20), in rank order.
    func merges() throws -> [(String, String)] {
        let raw = (model["merges"] as? [Any]) ?? []
        var merges: [(String, String)] = []
        merges.reserveCapacity(raw.count)
        for (k, m) in raw.enumerated() {
            if let s = m as? String {
                merges.append(try BPETokenizer.parseMerge(s, index: k, source: source))
            } else if let pair = m as? [Any], pair.count == 2, let a = pair[0] as? String, let b = pair[1] as? String {
                merges.append((a, b))
            } else {
                throw TokenizerError.malformedMerge(source: source, index: k, merge: "\(m)")
            }
        }
        return merges
    }

    /// Special ids: from `tokenizer_config.json`'s names, then the post-processor's BOS, then
    /// `model.unk_token`; explicit ids override them all.
    func specialTokenIds(tokens: [String], explicit: SpecialTokenIds?) -> SpecialTokenIds {
        if let explicit { return explicit }
        var ids = SpecialTokenIds()
        let index = Dictionary(tokens.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        if let config {
            func named(_ key: String) -> Int? {
                let v = config[key]
                let text = (v as? String) ?? ((v as? [String: Any])?["content"] as? String)
                return text.flatMap { index[$0] }
            }
            ids = SpecialTokenIds(bos: named("bos_token"), eos: named("eos_token"), pad: named("pad_token"),
                                  unk: named("unk_token"))
        }
        if ids.bos == nil { ids.bos = postProcessorBOS() }
        if ids.unk == nil, let unk = model["unk_token"] as? String { ids.unk = index[unk] }
        return ids
    }

    /// Whether BOS goes before every sequence: `tokenizer_config.json`'s `add_bos_token` when present, else
    /// whether the post-processor prepends a special token.
    var addsBOS: Bool {
        if let add = config?["add_bos_token"] as? Bool { return add }
        return postProcessorBOS() != nil
    }

    /// The id of the special token the post-processor's single-sequence template starts with, if any.
    func postProcessorBOS() -> Int? {
        guard let pp = root["post_processor"] as? [String: Any] else { return nil }
        let steps = pp["type"] as? String == "Sequence" ? (pp["processors"] as? [Any] ?? []) : [pp]
        for case let step as [String: Any] in steps where step["type"] as? String == "TemplateProcessing" {
            guard let first = (step["single"] as? [Any])?.first as? [String: Any],
                  let special = first["SpecialToken"] as? [String: Any], let name = special["id"] as? String
            else { return nil }
            let entry = (step["special_tokens"] as? [String: Any])?[name] as? [String: Any]
            return (entry?["ids"] as? [Any])?.first as? Int
        }
        return nil
    }

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
}

// MARK: - Writing

extension HuggingFaceTokenizerFile {
    /// The `post_processor` that prepends `bos` (id, text) to every sequence, or null without one.
    static func postProcessor(bos: (id: Int, text: String)?) -> Any {
        guard let bos else { return NSNull() }
        let special: [String: Any] = ["SpecialToken": ["id": bos.text, "type_id": 0]]
        func sequence(_ id: String, _ typeId: Int) -> [String: Any] { ["Sequence": ["id": id, "type_id": typeId]] }
        return [
            "type": "TemplateProcessing",
            "single": [special, sequence("A", 0)],
            "pair": [special, sequence("A", 0), special, sequence("B", 1)],
            "special_tokens": [bos.text: ["id": bos.text, "ids": [bos.id], "tokens": [bos.text]]],
        ] as [String: Any]
    }

    /// The bytes of a `tokenizer.json` object, keys sorted. A U+FEFF inside a string (Mistral has that token) is
    /// written as the escape `\uFEFF`: Foundation drops it from the start of a string it reads raw.
    static func serialized(_ root: [String: Any]) throws -> Data {
        let raw = [UInt8](try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys]))
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF], escaped = Array("\\uFEFF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        while i < raw.count {
            if i + 2 < raw.count, raw[i] == bom[0], raw[i + 1] == bom[1], raw[i + 2] == bom[2] {
                out += escaped
                i += 3
            } else {
                out.append(raw[i])
                i += 1
            }
        }
        return Data(out)
    }

    /// `tokenizer_config.json` bytes: the special tokens by name, `add_bos_token`, and the chat template (Jinja
    /// source) when given.
    static func configJSON(tokens: [String], ids: SpecialTokenIds, addsBOS: Bool, chatTemplate: String?) throws -> Data {
        var config: [String: Any] = ["tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": false,
                                     "add_bos_token": addsBOS, "add_eos_token": false]
        if let chatTemplate { config["chat_template"] = chatTemplate }
        for (key, id) in [("bos_token", ids.bos), ("eos_token", ids.eos), ("pad_token", ids.pad), ("unk_token", ids.unk)] {
            config[key] = id.map { tokens[$0] } ?? NSNull()
        }
        return try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys])
    }

    /// Writes `tokenizer.json` and `tokenizer_config.json` into `folder` (atomically, each); returns their URLs.
    static func write(tokenizerJSON: Data, configJSON: Data, to folder: URL) throws -> [URL] {
        var written: [URL] = []
        for (name, bytes) in [("tokenizer.json", tokenizerJSON), ("tokenizer_config.json", configJSON)] {
            let url = folder.appendingPathComponent(name)
            let out = try AtomicFileWriter(url: url)
            do { try out.write(Array(bytes)); try out.commit() } catch { out.abandon(); throw error }
            written.append(url)
        }
        return written
    }
}
