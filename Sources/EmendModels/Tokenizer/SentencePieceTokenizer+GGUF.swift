// Reading a SentencePiece tokenizer from GGUF metadata (llama.cpp's "llama" vocabulary).
//
// Keys: tokenizer.ggml.model (must be "llama"), tokenizer.ggml.tokens [V], tokenizer.ggml.scores [V],
// tokenizer.ggml.token_type [V] (optional; 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte),
// tokenizer.ggml.{bos,eos,padding,unknown}_token_id, tokenizer.ggml.add_bos_token and
// tokenizer.ggml.add_space_prefix (optional; both default to true, as in llama.cpp).
// tokenizer.ggml.remove_extra_whitespaces = true (sentencepiece's whitespace collapsing) is refused rather than
// ignored.

import Foundation

extension SentencePieceTokenizer {
    /// The tokenizer stored in a GGUF file's metadata (a vocabulary-only GGUF works too).
    public init(gguf file: GGUFFile) throws {
        try self.init(ggufMetadata: file.metadata, source: file.url.lastPathComponent)
    }

    /// The tokenizer described by GGUF metadata.
    /// - Parameter source: names the file, for error messages.
    /// - Throws: `TokenizerError` naming the key that is missing, has the wrong type, the wrong count or an
    ///   unsupported value.
    public init(ggufMetadata metadata: [String: GGUFValue], source: String = "GGUF") throws {
        let fields = GGUFTokenizerFields(metadata: metadata, source: source)
        try fields.requireModel("llama")
        if try fields.optionalBool("tokenizer.ggml.remove_extra_whitespaces") == true {
            throw TokenizerError.unsupportedModel(source: source, field: "tokenizer.ggml.remove_extra_whitespaces",
                                                  expected: "false", got: "true")
        }
        let tokens = try fields.strings("tokenizer.ggml.tokens")
        let scores = try fields.floats("tokenizer.ggml.scores", count: tokens.count)
        let types = try fields.tokenTypes(count: tokens.count)
        let ids = try fields.specialTokenIds()
        let addsBOS = try fields.optionalBool("tokenizer.ggml.add_bos_token") ?? true
        let prefix = try fields.optionalBool("tokenizer.ggml.add_space_prefix") ?? true
        do {
            try self.init(tokens: tokens, scores: scores, tokenTypes: types, specialTokenIds: ids,
                          addSpacePrefix: prefix, addsBOS: addsBOS, source: source)
        } catch let TokenizerError.invalidField(source, field, expected, got) {
            // Name the GGUF key of a per-token field ("tokens[3]" -> "tokenizer.ggml.tokens[3]").
            throw TokenizerError.invalidField(source: source, field: "tokenizer.ggml." + field, expected: expected, got: got)
        }
    }
}
