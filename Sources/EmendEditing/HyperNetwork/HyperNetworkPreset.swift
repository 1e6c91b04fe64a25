// Hyper-network presets are data (Presets/hypernetwork/<family>.json): the settings minus the method.

import EmendModels
import Foundation

/// The settings file of a preset: `HyperNetworkSettings` without `method`, plus a description.
struct HyperNetworkPresetFile: Codable {
    var description: String?
    var layers: [Int]
    var rank: Int?, blocks: Int?, factsPerStep: Int?, lmBatchSize: Int?, chunkTokens: Int?
    var validationInterval: Int?, validationFacts: Int?, patience: Int?
    var initialEta: Float?, metaLearningRate: Double?, localityWeight: Double?, maxGradNorm: Double?
    var seed: UInt64?
}

extension HyperNetworkSettings {
    /// The built-in presets' folder.
    public static var presetDirectory: URL? {
        EditPreset.builtInDirectory?.appendingPathComponent("hypernetwork")
    }

    /// Settings from a preset: a built-in family name ("smollm2-135m") or a .json path.
    public static func preset(_ nameOrPath: String, method: HyperNetworkMethod) throws -> HyperNetworkSettings {
        let url: URL
        if nameOrPath.hasSuffix(".json") || nameOrPath.contains("/") { url = URL(fileURLWithPath: nameOrPath) } else {
            guard let dir = presetDirectory else { throw EmendEditingError.invalidSettings(field: "preset", expected: "a .json file", got: nameOrPath) }
            url = dir.appendingPathComponent("\(nameOrPath).json")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw EmendEditingError.unreadableFile(file: url.path, reason: fileErrorReason(error)) }
        let f: HyperNetworkPresetFile
        do { f = try JSONDecoder().decode(HyperNetworkPresetFile.self, from: data) } catch {
            throw EmendEditingError.invalidJSONFile(file: url.path, expected: "hyper-network settings (see Presets/hypernetwork/*.json)",
                                                    reason: jsonDecodingReason(error, data: data))
        }
        var s = HyperNetworkSettings(method: method, layers: f.layers)
        if let v = f.rank { s.rank = v }
        if let v = f.blocks { s.blocks = v }
        if let v = f.factsPerStep { s.factsPerStep = v }
        if let v = f.lmBatchSize { s.lmBatchSize = v }
        if let v = f.chunkTokens { s.chunkTokens = v }
        if let v = f.validationInterval { s.validationInterval = v }
        if let v = f.validationFacts { s.validationFacts = v }
        if let v = f.patience { s.patience = v }
        if let v = f.initialEta { s.initialEta = v }
        if let v = f.metaLearningRate { s.metaLearningRate = v }
        if let v = f.localityWeight { s.localityWeight = v }
        if let v = f.maxGradNorm { s.maxGradNorm = v }
        if let v = f.seed { s.seed = v }
        try s.validate()
        return s
    }

    /// The default for a model: its family's hyper-network preset when there is one, or the MALMEN rule
    /// (down-projections of the last 6 blocks).
    public static func defaults(for model: TransformerModel, method: HyperNetworkMethod) throws -> HyperNetworkSettings {
        let c = model.config
        if let family = try ModelFamily.recognise(c), let dir = presetDirectory,
           FileManager.default.fileExists(atPath: dir.appendingPathComponent("\(family.name).json").path) {
            return try preset(family.name, method: method)
        }
        return HyperNetworkSettings(method: method, layers: Array(max(0, c.layerCount - 6)..<c.layerCount))
    }
}
