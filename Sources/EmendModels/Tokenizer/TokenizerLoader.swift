// Reading a tokenizer of whichever kind a file holds: GGUF `tokenizer.ggml.model` "gpt2" is byte-level BPE and
// "llama" SentencePiece BPE; a `tokenizer.json` whose BPE model has `byte_fallback: true` is SentencePiece,
// any other byte-level. Everything outside Tokenizer/ loads tokenizers here and holds them as `any Tokenizer`.

import Foundation

public enum TokenizerLoader {
    /// The GGUF `tokenizer.ggml.model` values Emend reads, and what each is.
    public static let ggufModels = ["gpt2": "byte-level BPE", "llama": "SentencePiece BPE"]

    /// The tokenizer described by GGUF metadata.
    /// - Throws: `TokenizerError` naming the key that is missing, malformed or unsupported.
    public static func tokenizer(ggufMetadata metadata: [String: GGUFValue], source: String = "GGUF") throws -> any Tokenizer {
        let model = try GGUFTokenizerFields(metadata: metadata, source: source).string("tokenizer.ggml.model")
        switch model {
        case "gpt2": return try BPETokenizer(ggufMetadata: metadata, source: source)
        case "llama": return try SentencePieceTokenizer(ggufMetadata: metadata, source: source)
        default:
            throw TokenizerError.unsupportedModel(source: source, field: "tokenizer.ggml.model",
                                                  expected: ggufModels.keys.sorted().joined(separator: "\" or \""),
                                                  got: model)
        }
    }

    /// The tokenizer stored in a GGUF file (one with no tensors, a vocabulary-only GGUF, works too).
    public static func tokenizer(gguf file: GGUFFile) throws -> any Tokenizer {
        try tokenizer(ggufMetadata: file.metadata, source: file.url.lastPathComponent)
    }

    /// The tokenizer in the bytes of a `tokenizer.json` (and optionally `tokenizer_config.json`).
    public static func tokenizer(huggingFaceJSON data: Data, configJSON: Data? = nil,
                                 source: String = "tokenizer.json") throws -> any Tokenizer {
        let file = try HuggingFaceTokenizerFile(json: data, configJSON: configJSON, source: source)
        return file.byteFallback ? try SentencePieceTokenizer(huggingFace: file) : try BPETokenizer(huggingFace: file)
    }

    /// The tokenizer of a Hugging Face folder: `tokenizer.json`, and `tokenizer_config.json` when it exists.
    public static func tokenizer(huggingFaceDirectory url: URL) throws -> any Tokenizer {
        let file = url.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw TokenizerError.missingField(source: url.path, field: "tokenizer.json")
        }
        return try tokenizer(tokenizerJSONFile: file)
    }

    /// The tokenizer of a `tokenizer.json` file, with the `tokenizer_config.json` beside it when there is one.
    public static func tokenizer(tokenizerJSONFile url: URL) throws -> any Tokenizer {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EmendModelsError.fileUnreadable(file: url.path, reason: fileErrorReason(error))
        }
        let configURL = url.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json")
        let config = FileManager.default.fileExists(atPath: configURL.path) ? try? Data(contentsOf: configURL) : nil
        return try tokenizer(huggingFaceJSON: data, configJSON: config, source: url.path)
    }

    /// The tokenizer named on a command line: a `tokenizer.json` file, a `.gguf` file (weights or vocabulary
    /// only), a Hugging Face folder, or a model name that `ModelSource.resolve` accepts (`smollm2`). No weights
    /// are read.
    public static func load(_ name: String) throws -> any Tokenizer {
        let url = URL(fileURLWithPath: (name as NSString).expandingTildeInPath)
        var isDirectory: ObjCBool = false
        let source: ModelSource
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { return try tokenizer(huggingFaceDirectory: url) }
            if url.pathExtension.lowercased() == "json" { return try tokenizer(tokenizerJSONFile: url) }
            source = .gguf(url)
        } else {
            source = try ModelSource.resolve(name)
        }
        switch source {
        case .gguf(let file): return try tokenizer(gguf: try GGUFFile(url: file))
        case .huggingFace(let dir): return try tokenizer(huggingFaceDirectory: dir)
        }
    }
}
