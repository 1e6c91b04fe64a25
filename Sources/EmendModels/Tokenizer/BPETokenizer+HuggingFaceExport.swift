// Writing a byte-level BPE tokenizer as Hugging Face `tokenizer.json` + `tokenizer_config.json`, the inverse of
// BPETokenizer+HuggingFace.swift: a safetensors export of a GGUF model then carries its tokenizer, and
// `BPETokenizer(huggingFaceDirectory:)` reads back the same vocabulary, merges (in rank order), added tokens,
// pre-tokenizer, normaliser, special ids and BOS setting.

import Foundation

extension BPETokenizer {
    /// The merge rules, highest priority first, as (left, right) token texts.
    var mergesByRank: [(String, String)] {
        var ranked: [(rank: UInt64, pair: (String, String))] = []
        ranked.reserveCapacity(mergeRules.count)
        for (key, value) in mergeRules {
            let l = Int(UInt32(truncatingIfNeeded: key >> 32)), r = Int(UInt32(truncatingIfNeeded: key))
            ranked.append((value >> 32, (tokens[l], tokens[r])))
        }
        return ranked.sorted { $0.rank < $1.rank }.map(\.pair)
    }

    /// The `pre_tokenizer` object that `preTokenizer(huggingFace:)` maps back to this tokenizer's pre-tokenizer.
    var huggingFacePreTokenizer: [String: Any] {
        func byteLevel(regex: Bool) -> [String: Any] {
            ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": regex]
        }
        func split(_ pattern: String) -> [String: Any] {
            ["type": "Sequence", "pretokenizers": [
                ["type": "Split", "pattern": ["Regex": pattern], "behavior": "Isolated", "invert": false] as [String: Any],
                byteLevel(regex: false)]]
        }
        switch preTokenizer {
        case .gpt2: return byteLevel(regex: true)
        case .smollm:
            return ["type": "Sequence", "pretokenizers": [["type": "Digits", "individual_digits": true] as [String: Any],
                                                          byteLevel(regex: true)]]
        case .llamaBPE: return split(PreTokenizer.llama3Regex)
        case .qwen2: return split(PreTokenizer.qwen2Regex)
        }
    }

    /// `tokenizer.json` bytes: model (BPE vocab and merges), added tokens, pre-tokenizer, normaliser, decoder.
    public func huggingFaceJSON() throws -> Data {
        var vocab: [String: Int] = [:]
        for (i, t) in tokens.enumerated() where vocab[t] == nil { vocab[t] = i }
        let added: [[String: Any]] = tokens.indices.compactMap { i in
            guard tokenTypes[i] == .control || tokenTypes[i] == .userDefined else { return nil }
            return ["id": i, "content": tokens[i], "single_word": false, "lstrip": false, "rstrip": false,
                    "normalized": false, "special": tokenTypes[i] == .control]
        }
        var model: [String: Any] = ["type": "BPE", "vocab": vocab, "merges": mergesByRank.map { [$0.0, $0.1] },
                                    "ignore_merges": ignoreMerges, "byte_fallback": false, "fuse_unk": false,
                                    "dropout": NSNull(), "continuing_subword_prefix": NSNull(), "end_of_word_suffix": NSNull()]
        model["unk_token"] = unkTokenId.map { tokens[$0] } ?? NSNull()
        let root: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": added,
            "normalizer": normalizer == .nfc ? ["type": "NFC"] as Any : NSNull(),
            "pre_tokenizer": huggingFacePreTokenizer,
            "post_processor": HuggingFaceTokenizerFile.postProcessor(bos: addsBOS ? bosTokenId.map { ($0, tokens[$0]) } : nil),
            "decoder": ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true] as [String: Any],
            "model": model,
        ]
        return try HuggingFaceTokenizerFile.serialized(root)
    }

    /// `tokenizer_config.json` bytes: the special tokens by name, `add_bos_token`, and the chat template (Jinja
    /// source) when given.
    public func huggingFaceConfigJSON(chatTemplate: String? = nil) throws -> Data {
        try HuggingFaceTokenizerFile.configJSON(tokens: tokens, ids: specialTokenIds, addsBOS: addsBOS,
                                                chatTemplate: chatTemplate)
    }

    /// Writes `tokenizer.json` and `tokenizer_config.json` into `folder` (atomically, each); returns their URLs.
    public func writeHuggingFaceFiles(to folder: URL, chatTemplate: String?) throws -> [URL] {
        try HuggingFaceTokenizerFile.write(tokenizerJSON: try huggingFaceJSON(),
                                           configJSON: try huggingFaceConfigJSON(chatTemplate: chatTemplate), to: folder)
    }
}
