// Errors thrown while building a tokenizer or a chat template: one sentence each, naming the
// source (file or metadata key), the field, what was expected and what was found.

/// Everything that can go wrong while reading a tokenizer (GGUF metadata or `tokenizer.json`) or a
/// chat template. Encoding and decoding themselves never throw: byte-level BPE covers every input, and
/// SentencePiece covers what its pieces miss with byte tokens (or the unknown token).
public enum TokenizerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The pre-tokenizer name (GGUF `tokenizer.ggml.pre`) is not one Emend implements.
    case unknownPreTokenizer(name: String, supported: [String])
    /// A `tokenizer.json` pre-tokenizer (or its Split regex) maps to none of the known pre-tokenizers.
    case unsupportedPreTokenizer(source: String, found: String)
    /// The tokenizer model, or one of its settings, is not one Emend reads (the field names which).
    case unsupportedModel(source: String, field: String, expected: String, got: String)
    /// A required field is absent.
    case missingField(source: String, field: String)
    /// A field is present but has the wrong JSON / metadata type or an unusable value.
    case invalidField(source: String, field: String, expected: String, got: String)
    /// Two per-token arrays that must have one entry per token differ in length.
    case countMismatch(source: String, field: String, expected: Int, got: Int)
    /// A merge rule is not two tokens separated by one space.
    case malformedMerge(source: String, index: Int, merge: String)
    /// A merge rule names a token (or produces one) that is not in the vocabulary.
    case mergeTokenNotInVocabulary(source: String, index: Int, token: String)
    /// A special-token id (bos/eos/pad/unk) does not index the vocabulary.
    case specialTokenOutOfRange(source: String, name: String, id: Int, vocabularySize: Int)
    /// Token ids in a `tokenizer.json` leave a gap, so ids and rows would not line up.
    case vocabularyNotContiguous(source: String, missingId: Int, vocabularySize: Int)
    /// Two different strings claim the same token id.
    case duplicateTokenId(source: String, id: Int, first: String, second: String)
    /// The normalizer is one Emend does not implement.
    case unsupportedNormalizer(source: String, found: String)
    /// A `tokenizer.json` file could not be parsed as JSON.
    case invalidJSON(source: String, reason: String)
    /// A Jinja chat template is not the ChatML form Emend renders natively.
    case unsupportedChatTemplate(reason: String)

    public var description: String {
        switch self {
        case let .unknownPreTokenizer(name, supported):
            return "tokenizer.ggml.pre: unknown pre-tokenizer \"\(name)\"; supported: \(supported.joined(separator: ", "))"
        case let .unsupportedPreTokenizer(source, found):
            return "\(source): pre_tokenizer \(found) matches none of the known pre-tokenizers "
                + "(\(PreTokenizer.allCases.map(\.rawValue).joined(separator: ", ")))"
        case let .unsupportedModel(source, field, expected, got):
            return "\(source): \(field) is \"\(got)\", expected \"\(expected)\""
        case let .missingField(source, field):
            return "\(source): required field \(field) is missing"
        case let .invalidField(source, field, expected, got):
            return "\(source): \(field) should be \(expected), got \(got)"
        case let .countMismatch(source, field, expected, got):
            return "\(source): \(field) has \(got) entries, expected \(expected) (one per token)"
        case let .malformedMerge(source, index, merge):
            return "\(source): merge \(index) \"\(merge)\" is not two tokens separated by a space"
        case let .mergeTokenNotInVocabulary(source, index, token):
            return "\(source): merge \(index) uses or produces \"\(token)\", which is not in the vocabulary"
        case let .specialTokenOutOfRange(source, name, id, v):
            return "\(source): \(name) token id \(id) is outside the vocabulary of \(v) tokens"
        case let .vocabularyNotContiguous(source, missing, v):
            return "\(source): no token has id \(missing), but ids run up to \(v - 1); ids must be 0..<\(v)"
        case let .duplicateTokenId(source, id, first, second):
            return "\(source): token id \(id) is claimed by both \"\(first)\" and \"\(second)\""
        case let .unsupportedNormalizer(source, found):
            return "\(source): normalizer \(found) is not supported (byte-level BPE: null or NFC; SentencePiece: null "
                + "with a Metaspace pre-tokenizer, or Prepend(\"▁\") then Replace(\" \", \"▁\"))"
        case let .invalidJSON(source, reason):
            return "\(source): not valid JSON (\(reason))"
        case let .unsupportedChatTemplate(reason):
            return "chat template: \(reason); hint: only the ChatML form (<|im_start|>role\\ncontent<|im_end|>) is rendered"
        }
    }
}
