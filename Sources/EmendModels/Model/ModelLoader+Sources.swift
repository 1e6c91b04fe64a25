// The format side of loading: GGUF files and Hugging Face folders as `WeightReader`s, model-name resolution,
// and the one public entry point `TransformerModel.load`.

import EmendCore
import Foundation

/// GGUF tensors by their llama.cpp names.
struct GGUFWeightReader: WeightReader {
    let file: GGUFFile
    var description: String { file.url.path }
    var names: [String] { file.tensors.map(\.name) }
    func shape(_ name: String) -> [Int]? { file.tensorInfo(name)?.shape }
    func load(_ name: String) throws -> Tensor { try file.tensor(name) }
    func loadMatrix(_ name: String) throws -> WeightMatrix? { try file.storedMatrix(name) }
}

/// safetensors tensors by their Hugging Face names. Checkpoints saved without the family's optional prefix (GPT-2's
/// `transformer.`) are read as if they had it.
struct SafeTensorsWeightReader: WeightReader {
    let folder: SafeTensorsFolder
    let addPrefix: String?
    var description: String { folder.url.path }

    init(folder: SafeTensorsFolder, family: ModelFamily) {
        self.folder = folder
        addPrefix = family.hfOptionalPrefix.flatMap { p in folder.names.contains { $0.hasPrefix(p) } ? nil : p }
    }
    private static func keepsOwnName(_ name: String) -> Bool { name.hasPrefix("lm_head.") }
    private func fileName(_ name: String) -> String {
        guard let p = addPrefix, name.hasPrefix(p) else { return name }
        return String(name.dropFirst(p.count))
    }
    var names: [String] { folder.names.map { n in addPrefix.map { Self.keepsOwnName(n) ? n : $0 + n } ?? n } }
    func shape(_ name: String) -> [Int]? { folder.info(fileName(name))?.shape }
    func load(_ name: String) throws -> Tensor { try folder.tensor(fileName(name)) }
    func loadMatrix(_ name: String) throws -> WeightMatrix? { try folder.storedMatrix(fileName(name)) }
}

/// Where Emend keeps downloaded models and caches: `$EMEND_HOME`, default `~/.cache/emend`.
public enum EmendPaths {
    public static var home: URL {
        if let h = ProcessInfo.processInfo.environment["EMEND_HOME"], !h.isEmpty { return URL(fileURLWithPath: h) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/emend")
    }
    public static var models: URL { home.appendingPathComponent("models") }
    /// The default model: SmolLM2-135M-Instruct, Q4_1 GGUF (`emend pull smollm2`; `scripts/setup.sh` fetches it too).
    public static var defaultModel: URL { models.appendingPathComponent(NamedModel.defaultFile) }
    /// The default statistics corpus: 10,033 English Wikipedia summaries (fetched by `scripts/setup.sh`).
    public static var defaultCorpus: URL { home.appendingPathComponent("data/wikipedia-summaries-en.json") }
    public static var cache: URL { home.appendingPathComponent("cache") }
}

extension ModelSource {
    /// Resolves a model argument: a named model (`smollm2`, `default`, `gemma3-270m`: `emend models`) in the model
    /// cache, a `.gguf` file, or a folder holding `config.json` and safetensors.
    public static func resolve(_ name: String) throws -> ModelSource {
        if let named = try NamedModel.named(name) {
            guard FileManager.default.fileExists(atPath: named.url.path) else {
                throw EmendModelsError.namedModelMissing(name: named.name, file: named.url.path)
            }
            return .gguf(named.url)
        }
        let url = URL(fileURLWithPath: (name as NSString).expandingTildeInPath)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw EmendModelsError.modelNotFound(name: name, searched: [url.path])
        }
        if isDir.boolValue {
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path) else {
                throw EmendModelsError.modelNotFound(name: name, searched: [url.appendingPathComponent("config.json").path])
            }
            return .huggingFace(url)
        }
        return .gguf(url)
    }
}

extension TransformerModel {
    /// Loads a model: reads the config, then every weight through its family's names, checking each shape.
    /// - dequantize: hold every weight matrix in Float32 (the former path: 4 bytes a parameter); by default they stay
    ///   in the file's own type, mapped from it (`WeightMatrix`), and only a matrix being edited becomes Float32.
    public static func load(_ source: ModelSource, dequantize: Bool = false) throws -> TransformerModel {
        switch source {
        case .gguf(let url):
            let file = try GGUFFile(url: url)
            let config = try ModelConfig(gguf: file)
            let family = try ModelFamily.of(config.architecture, file: url.path)
            let weights = try loadWeights(config: config, family: family, format: .gguf, reader: GGUFWeightReader(file: file),
                                          dequantize: dequantize)
            return TransformerModel(config: config, weights: weights, source: source)
        case .huggingFace(let url):
            let config = try ModelConfig(huggingFaceConfig: url.appendingPathComponent("config.json"))
            let family = try ModelFamily.of(config.architecture, file: url.path)
            let reader = SafeTensorsWeightReader(folder: try SafeTensorsFolder(url: url), family: family)
            let weights = try loadWeights(config: config, family: family, format: .huggingFace, reader: reader,
                                          dequantize: dequantize)
            return TransformerModel(config: config, weights: weights, source: source)
        }
    }
}
