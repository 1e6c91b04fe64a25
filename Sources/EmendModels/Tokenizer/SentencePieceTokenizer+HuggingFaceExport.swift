// Writing a SentencePiece tokenizer as Hugging Face `tokenizer.json` + `tokenizer_config.json`, the inverse of
// SentencePieceTokenizer+HuggingFace.swift, so a safetensors export of a GGUF Llama 2 / Mistral model carries
// its tokenizer. The merge list is the one the scores imply, in transformers' converter order (highest score
// first, then by the halves' ids); read back, it gives the same ids (pieces of equal score other than the runs
// of "▁" get distinct ranks, and type "unused" becomes normal).

import Foundation

extension SentencePieceTokenizer {
    /// Every cut of every mergeable piece into two pieces, highest score first (ties by id), each piece's cuts
    /// by (left id, right id).
    var mergesByScore: [(String, String)] {
        let mergeable: Set<TokenType> = [.normal, .userDefined, .unused]
        let order = tokens.indices.filter { mergeable.contains(tokenTypes[$0]) && symbolIds[Array(tokens[$0].utf8)] == Int32($0) }
            .sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        var merges: [(String, String)] = []
        for id in order {
            let bytes = Array(tokens[id].utf8)
            var cuts: [(Int32, Int32)] = []
            for s in Self.characterBounds(bytes).dropFirst().dropLast() {
                guard let l = symbolIds[Array(bytes[..<s])], let r = symbolIds[Array(bytes[s...])],
                      Int(l) < tokens.count, Int(r) < tokens.count else { continue }
                cuts.append((l, r))
            }
            for (l, r) in cuts.sorted(by: { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }) {
                merges.append((tokens[Int(l)], tokens[Int(r)]))
            }
        }
        return merges
    }

    /// `tokenizer.json` bytes: BPE with byte fallback, the Metaspace pre-tokenizer, sentencepiece's decoder.
    public func huggingFaceJSON() throws -> Data {
        var vocab: [String: Int] = [:]
        for (i, t) in tokens.enumerated() where vocab[t] == nil { vocab[t] = i }
        let added: [[String: Any]] = tokens.indices.compactMap { i in
            guard [.control, .unknown, .userDefined].contains(tokenTypes[i]) else { return nil }
            return ["id": i, "content": tokens[i], "single_word": false, "lstrip": false, "rstrip": false,
                    "normalized": false, "special": tokenTypes[i] != .userDefined]
        }
        var model: [String: Any] = ["type": "BPE", "vocab": vocab, "merges": mergesByScore.map { [$0.0, $0.1] },
                                    "ignore_merges": false, "byte_fallback": true, "fuse_unk": true,
                                    "dropout": NSNull(), "continuing_subword_prefix": NSNull(), "end_of_word_suffix": NSNull()]
        model["unk_token"] = unkTokenId.map { tokens[$0] } ?? NSNull()
        let decoders: [[String: Any]] = [
            ["type": "Replace", "pattern": ["String": "\u{2581}"], "content": " "],
            ["type": "ByteFallback"], ["type": "Fuse"],
            ["type": "Strip", "content": " ", "start": addSpacePrefix ? 1 : 0, "stop": 0],
        ]
        let root: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": added, "normalizer": NSNull(),
            "pre_tokenizer": ["type": "Metaspace", "replacement": "\u{2581}",
                              "prepend_scheme": addSpacePrefix ? "first" : "never", "split": false] as [String: Any],
            "post_processor": HuggingFaceTokenizerFile.postProcessor(bos: addsBOS ? bosTokenId.map { ($0, tokens[$0]) } : nil),
            "decoder": ["type": "Sequence", "decoders": decoders] as [String: Any],
            "model": model,
        ]
        return try HuggingFaceTokenizerFile.serialized(root)
    }

    /// Writes `tokenizer.json` and `tokenizer_config.json` into `folder` (atomically, each); returns their URLs.
    public func writeHuggingFaceFiles(to folder: URL, chatTemplate: String?) throws -> [URL] {
        let config = try HuggingFaceTokenizerFile.configJSON(tokens: tokens, ids: specialTokenIds, addsBOS: addsBOS,
                                                             chatTemplate: chatTemplate)
        return try HuggingFaceTokenizerFile.write(tokenizerJSON: try huggingFaceJSON(), configJSON: config, to: folder)
    }
}
