// Reading a byte-level BPE tokenizer and its chat template from GGUF metadata.
//
// Keys (llama.cpp names): tokenizer.ggml.model (must be "gpt2", i.e. byte-level BPE),
// tokenizer.ggml.pre (pre-tokenizer name), tokenizer.ggml.tokens [V], tokenizer.ggml.token_type
// [V] (optional; 3 = control, 4 = user-defined), tokenizer.ggml.merges ("a b" strings),
// tokenizer.ggml.{bos,eos,padding,unknown}_token_id (optional), tokenizer.chat_template (optional).
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
        func required(_ key: String) throws -> GGUFValue {
            guard let v = metadata[key] else { throw TokenizerError.missingField(source: source, field: key) }
            return v
        }
        func string(_ key: String) throws -> String {
            let v = try required(key)
            guard let s = v.string else {
                throw TokenizerError.invalidField(source: source, field: key, expected: "a string", got: v.typeName)
            }
            return s
        }
        func strings(_ key: String) throws -> [String] {
            let v = try required(key)
            guard let s = v.stringArray else {
                throw TokenizerError.invalidField(source: source, field: key, expected: "an array of strings",
                                                  got: Self.describe(v))
            }
            return s
        }
        func optionalId(_ key: String) throws -> Int? {
            guard let v = metadata[key] else { return nil }
            guard let id = v.int else {
                throw TokenizerError.invalidField(source: source, field: key, expected: "an integer", got: v.typeName)
            }
            return id
        }

        let model = try string("tokenizer.ggml.model")
        guard model == "gpt2" else {
            throw TokenizerError.unsupportedModel(source: source, field: "tokenizer.ggml.model",
                                                  expected: "gpt2", got: model)
        }
        let pre = try PreTokenizer(ggufName: try string("tokenizer.ggml.pre"))
        let tokens = try strings("tokenizer.ggml.tokens")

        var types = [TokenType](repeating: .normal, count: tokens.count)
        if let v = metadata["tokenizer.ggml.token_type"] {
            guard let codes = v.intArray else {
                throw TokenizerError.invalidField(source: source, field: "tokenizer.ggml.token_type",
                                                  expected: "an array of integers", got: Self.describe(v))
            }
            guard codes.count == tokens.count else {
                throw TokenizerError.countMismatch(source: source, field: "tokenizer.ggml.token_type",
                                                   expected: tokens.count, got: codes.count)
            }
            for (i, c) in codes.enumerated() {
                guard let t = TokenType(rawValue: c) else {
                    throw TokenizerError.invalidField(source: source, field: "tokenizer.ggml.token_type[\(i)]",
                                                      expected: "a code 1...6", got: "\(c)")
                }
                types[i] = t
            }
        }

        let rules = metadata["tokenizer.ggml.merges"] == nil ? [] : try strings("tokenizer.ggml.merges")
        var merges: [(String, String)] = []
        merges.reserveCapacity(rules.count)
        for (k, r) in rules.enumerated() {
            merges.append(try Self.parseMerge(r, index: k, source: source + " tokenizer.ggml.merges"))
        }

        let ids = SpecialTokenIds(bos: try optionalId("tokenizer.ggml.bos_token_id"),
                                  eos: try optionalId("tokenizer.ggml.eos_token_id"),
                                  pad: try optionalId("tokenizer.ggml.padding_token_id"),
                                  unk: try optionalId("tokenizer.ggml.unknown_token_id"))
        try self.init(tokens: tokens, tokenTypes: types, merges: merges, preTokenizer: pre,
                      specialTokenIds: ids, ignoreMerges: pre == .llamaBPE, source: source)
    }

    /// A value's type for error messages ("array of int32", "string").
    static func describe(_ v: GGUFValue) -> String {
        if let a = v.array { return "array of \(a.first?.typeName ?? "nothing")" }
        return v.typeName
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
