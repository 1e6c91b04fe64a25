// Typed reads of a GGUF file's `tokenizer.ggml.*` keys, shared by both tokenizer kinds: each failure is a
// `TokenizerError` that names the key, what was expected and what was found.
//
// Keys (llama.cpp names): tokenizer.ggml.model, tokenizer.ggml.tokens [V], tokenizer.ggml.token_type [V]
// (optional; codes as `TokenType`), tokenizer.ggml.scores [V] (SentencePiece),
// tokenizer.ggml.{bos,eos,padding,unknown}_token_id, tokenizer.ggml.add_bos_token,
// tokenizer.ggml.add_space_prefix (optional booleans).

import Foundation

struct GGUFTokenizerFields {
    let metadata: [String: GGUFValue]
    /// Names the file, for error messages.
    let source: String

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

    /// Throws unless `tokenizer.ggml.model` is `expected`.
    func requireModel(_ expected: String) throws {
        let model = try string("tokenizer.ggml.model")
        guard model == expected else {
            throw TokenizerError.unsupportedModel(source: source, field: "tokenizer.ggml.model", expected: expected, got: model)
        }
    }

    func optionalId(_ key: String) throws -> Int? {
        guard let v = metadata[key] else { return nil }
        guard let id = v.int else {
            throw TokenizerError.invalidField(source: source, field: key, expected: "an integer", got: v.typeName)
        }
        return id
    }

    func optionalBool(_ key: String) throws -> Bool? {
        guard let v = metadata[key] else { return nil }
        guard let b = v.bool else {
            throw TokenizerError.invalidField(source: source, field: key, expected: "a boolean", got: v.typeName)
        }
        return b
    }

    /// `tokenizer.ggml.token_type`, one code per token; every token is normal when the key is absent.
    func tokenTypes(count: Int) throws -> [TokenType] {
        let key = "tokenizer.ggml.token_type"
        guard let v = metadata[key] else { return [TokenType](repeating: .normal, count: count) }
        guard let codes = v.intArray else {
            throw TokenizerError.invalidField(source: source, field: key, expected: "an array of integers",
                                              got: Self.describe(v))
        }
        guard codes.count == count else {
            throw TokenizerError.countMismatch(source: source, field: key, expected: count, got: codes.count)
        }
        return try codes.enumerated().map { i, c in
            guard let t = TokenType(rawValue: c) else {
                throw TokenizerError.invalidField(source: source, field: "\(key)[\(i)]", expected: "a code 1...6",
                                                  got: "\(c)")
            }
            return t
        }
    }

    /// A required array of `count` numbers (`tokenizer.ggml.scores`).
    func floats(_ key: String, count: Int) throws -> [Float] {
        let v = try required(key)
        guard let values = v.doubleArray else {
            throw TokenizerError.invalidField(source: source, field: key, expected: "an array of numbers",
                                              got: Self.describe(v))
        }
        guard values.count == count else {
            throw TokenizerError.countMismatch(source: source, field: key, expected: count, got: values.count)
        }
        return values.map { Float($0) }
    }

    /// The bos / eos / padding / unknown token ids that are present.
    func specialTokenIds() throws -> SpecialTokenIds {
        SpecialTokenIds(bos: try optionalId("tokenizer.ggml.bos_token_id"),
                        eos: try optionalId("tokenizer.ggml.eos_token_id"),
                        pad: try optionalId("tokenizer.ggml.padding_token_id"),
                        unk: try optionalId("tokenizer.ggml.unknown_token_id"))
    }

    /// A value's type for error messages ("array of int32", "string").
    static func describe(_ v: GGUFValue) -> String {
        if let a = v.array { return "array of \(a.first?.typeName ?? "nothing")" }
        return v.typeName
    }
}
