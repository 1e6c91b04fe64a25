// Reading a byte-level BPE tokenizer from Hugging Face `tokenizer.json` (and, optionally,
// `tokenizer_config.json` for the bos/eos/pad/unk names).
//
// Used fields: `model` (type BPE, `vocab`, `merges` as "a b" strings or ["a", "b"] pairs,
// `ignore_merges`, `unk_token`), `added_tokens` (special -> control, otherwise user-defined),
// `normalizer` (null or NFC) and `pre_tokenizer`, which must be one of the known forms:
//   ByteLevel(use_regex: true)                                  -> gpt2
//   Sequence[Digits(individual_digits: true), ByteLevel(use_regex: true)] -> smollm
//   Sequence[Split(Regex: R, Isolated), ByteLevel(use_regex: false)]      -> R's pre-tokenizer
// `decoder` is not read: decoding is always byte-level. `post_processor` only tells whether the model wants
// BOS (see HuggingFaceTokenizerFile.swift); encode itself adds no BOS/EOS.

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
        try self.init(huggingFace: try HuggingFaceTokenizerFile(json: data, configJSON: configJSON, source: source),
                      specialTokenIds: specialTokenIds)
    }

    /// A tokenizer from a parsed `tokenizer.json`.
    init(huggingFace file: HuggingFaceTokenizerFile, specialTokenIds: SpecialTokenIds? = nil) throws {
        let source = file.source
        try file.requireByteFallback(false)
        let (tokens, types) = try file.vocabulary()
        try self.init(tokens: tokens, tokenTypes: types, merges: try file.merges(),
                      preTokenizer: try Self.preTokenizer(huggingFace: file.root["pre_tokenizer"], source: source),
                      specialTokenIds: file.specialTokenIds(tokens: tokens, explicit: specialTokenIds),
                      ignoreMerges: file.model["ignore_merges"] as? Bool ?? false,
                      normalizer: try Self.normalizer(huggingFace: file.root["normalizer"], source: source),
                      addsBOS: file.addsBOS, source: source)
    }

    // MARK: - Helpers

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
