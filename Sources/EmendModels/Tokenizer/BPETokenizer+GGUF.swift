// Reading a byte-level BPE tokenizer and its chat template from GGUF metadata.
//
// Keys (llama.cpp names): tokenizer.ggml.model (must be "gpt2", i.e. byte-level BPE),
// tokenizer.ggml.pre (pre-tokenizer name), tokenizer.ggml.tokens [V], tokenizer.ggml.token_type
// [V] (optional; 3 = control, 4 = user-defined), tokenizer.ggml.merges ("a b" strings),
// tokenizer.ggml.{bos,eos,padding,unknown}_token_id (optional), tokenizer.ggml.add_bos_token (optional,
// default false), tokenizer.chat_template (optional).
// As in llama.cpp, the Llama 3 pre-tokenizer also turns on `ignoreMerges`.

import Foundation

extension BPETokenizer {
    /// The tokenizer stored in a GGUF file's metadata.
    public init(gguf file: GGUFFile) throws {
        try self.init(ggufMetadata: file.metadata, source: file.url.lastPathComponent)
    }

    /// The tokenizer described by GGUF metadata.
    /// - Parameter source: names the file, for error messages.
    /// - Throws: `TokenizerError` naming the key that is missing, has the wrong type or an
    ///   unsupported value.
    public init(ggufMetadata metadata: [String: GGUFValue], source: String = "GGUF") throws {
        let fields = GGUFTokenizerFields(metadata: metadata, source: source)
        try fields.requireModel("gpt2")
        let pre = try PreTokenizer(ggufName: try fields.string("tokenizer.ggml.pre"))
        let tokens = try fields.strings("tokenizer.ggml.tokens")
        let types = try fields.tokenTypes(count: tokens.count)

        let rules = metadata["tokenizer.ggml.merges"] == nil ? [] : try fields.strings("tokenizer.ggml.merges")
        var merges: [(String, String)] = []
        merges.reserveCapacity(rules.count)
        for (k, r) in rules.enumerated() {
            merges.append(try Self.parseMerge(r, index: k, source: source + " tokenizer.ggml.merges"))
        }

        try self.init(tokens: tokens, tokenTypes: types, merges: merges, preTokenizer: pre,
                      specialTokenIds: try fields.specialTokenIds(), ignoreMerges: pre == .llamaBPE,
                      addsBOS: try fields.optionalBool("tokenizer.ggml.add_bos_token") ?? false, source: source)
    }
}

extension ChatTemplate {
    /// The chat template in GGUF `tokenizer.chat_template`, or nil when the file has none.
    /// - Throws: `TokenizerError.unsupportedChatTemplate` when the template is not ChatML.
    public static func fromGGUF(_ metadata: [String: GGUFValue]) throws -> ChatTemplate? {
        guard let text = metadata["tokenizer.chat_template"]?.string else { return nil }
        return try ChatTemplate(jinja: text)
    }
}
