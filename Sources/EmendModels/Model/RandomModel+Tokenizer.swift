// The tokenizer of a random model file: another model's `tokenizer.*` GGUF metadata, resized to the config's
// vocabulary V. Padding appends unused tokens ("<emend-pad-N>", type 5 = unused), which no merge can produce;
// cutting keeps the first V tokens, the merges whose two parts and result are all kept, and the special-token
// ids below V. (llama.cpp requires as many tokens as embedding rows; Emend requires no more.)

extension RandomModel {
    /// `source`'s `tokenizer.*` keys in their order, with the per-token arrays (tokens, token_type, scores)
    /// padded or cut to `vocabSize` entries.
    /// - Throws: `metadataKeyMissing` / `metadataWrongType` when `source` has no string array of tokens.
    public static func tokenizerMetadata(_ source: GGUFFile, vocabSize: Int) throws -> [(key: String, value: GGUFValue)] {
        let file = source.url.path
        guard let tokenValues = source.metadata["tokenizer.ggml.tokens"] else {
            throw EmendModelsError.metadataKeyMissing(file: file, key: "tokenizer.ggml.tokens")
        }
        guard let tokens = tokenValues.stringArray else {
            throw EmendModelsError.metadataWrongType(file: file, key: "tokenizer.ggml.tokens", expected: "array of string", got: tokenValues.summary)
        }
        let n = tokens.count
        let kept = vocabSize < n ? Set(tokens[..<vocabSize]) : []
        var out: [(key: String, value: GGUFValue)] = []
        for key in source.metadataKeys where key.hasPrefix("tokenizer.") {
            guard let value = source.metadata[key] else { continue }
            switch key {
            case "tokenizer.ggml.tokens":
                out.append((key, .array(resized(value.array ?? [], to: vocabSize) { .string("<emend-pad-\($0)>") })))
            case "tokenizer.ggml.token_type":
                out.append((key, .array(resized(value.array ?? [], to: vocabSize) { _ in integer(5, like: value.array?.first) })))
            case "tokenizer.ggml.scores":
                out.append((key, .array(resized(value.array ?? [], to: vocabSize) { _ in .float32(0) })))
            case "tokenizer.ggml.merges" where vocabSize < n:
                let merges = (value.stringArray ?? []).filter { rule in
                    let parts = rule.split(separator: " ", maxSplits: 1).map(String.init)
                    return parts.count == 2 && kept.contains(parts[0]) && kept.contains(parts[1]) && kept.contains(parts[0] + parts[1])
                }
                out.append((key, .array(merges.map { .string($0) })))
            default:
                if key.hasSuffix("_token_id"), let id = value.int, id >= vocabSize { continue }
                out.append((key, value))
            }
        }
        return out
    }

    /// `values` cut to `count` entries, or padded with `pad(index)` up to it.
    private static func resized(_ values: [GGUFValue], to count: Int, pad: (Int) -> GGUFValue) -> [GGUFValue] {
        values.count >= count ? Array(values.prefix(count)) : values + (values.count..<count).map(pad)
    }

    /// The integer `v` in the same GGUF integer type as `example` (int32 when there is none).
    private static func integer(_ v: Int, like example: GGUFValue?) -> GGUFValue {
        switch example {
        case .uint8?: return .uint8(UInt8(v))
        case .int8?: return .int8(Int8(v))
        case .uint16?: return .uint16(UInt16(v))
        case .int16?: return .int16(Int16(v))
        case .uint32?: return .uint32(UInt32(v))
        case .uint64?: return .uint64(UInt64(v))
        case .int64?: return .int64(Int64(v))
        default: return .int32(Int32(v))
        }
    }
}
