// A locate-then-edit method is a composition (ARCHITECTURE.md): target search × stopping rule × update rule ×
// layers. Presets are data files (`presets/*.json`), not code branches; AlphaEdit+MPES, MEMIT+norm-constraint and
// every other combination in the ENCORE paper exist by editing a JSON file.

import EmendCore
import EmendModels
import Foundation

/// Which keys enter a layer's sequential state Kp Kpᵀ after a batch (spec §8.3, quirk 6).
public enum KeyCacheTiming: String, Sendable, Codable, Equatable {
    /// The keys this batch was solved with, before the layer's update (ENCORE's SEQ_CACHE).
    case beforeUpdate
    /// The keys recomputed on the edited model after every layer is updated (the AlphaEdit repository).
    case afterBatch
}

/// Everything that defines one locate-then-edit method on one model family.
public struct EditPreset: Sendable, Equatable, Codable {
    public var name: String
    /// What this preset is for and where its numbers come from.
    public var description: String = ""
    /// Edited layers, ascending; δ is searched at the last one.
    public var layers: [Int]
    public var search: TargetSearchSettings
    public var rule: UpdateRule
    public var statistics: StatisticsSettings = StatisticsSettings()
    public var contexts: ContextTemplateSettings = ContextTemplateSettings()
    public var keyCache: KeyCacheTiming = .beforeUpdate

    public init(name: String, description: String = "", layers: [Int], search: TargetSearchSettings, rule: UpdateRule,
                statistics: StatisticsSettings = StatisticsSettings(), contexts: ContextTemplateSettings = ContextTemplateSettings(),
                keyCache: KeyCacheTiming = .beforeUpdate) {
        self.name = name; self.description = description; self.layers = layers; self.search = search; self.rule = rule
        self.statistics = statistics; self.contexts = contexts; self.keyCache = keyCache
    }

    /// Checks the preset against a model with `layerCount` blocks; names the field that is wrong.
    public func validate(layerCount: Int) throws {
        guard !layers.isEmpty else { throw EmendEditingError.invalidSettings(field: "layers", expected: "at least one layer", got: "[]") }
        for l in layers where l < 0 || l >= layerCount { throw EmendEditingError.layerOutOfRange(layer: l, layerCount: layerCount) }
        guard layers == layers.sorted(), Set(layers).count == layers.count else {
            throw EmendEditingError.invalidSettings(field: "layers", expected: "distinct layers in ascending order", got: "\(layers)")
        }
        guard search.maxSteps >= 1 else { throw EmendEditingError.invalidSettings(field: "search.maxSteps", expected: "≥ 1", got: "\(search.maxSteps)") }
        guard search.learningRate > 0 else {
            throw EmendEditingError.invalidSettings(field: "search.learningRate", expected: "> 0", got: "\(search.learningRate)")
        }
        if case .mostProbable(let k) = search.stopping, k < 0 {
            throw EmendEditingError.invalidSettings(field: "search.stopping.extraSteps", expected: "≥ 0", got: "\(k)")
        }
        switch rule {
        case let .normConstrained(lp, ln):
            guard lp >= 0, ln >= 0, lp + ln > 0 else {
                throw EmendEditingError.invalidSettings(field: "rule.lambdaP/lambdaN", expected: "non-negative, not both 0", got: "\(lp), \(ln)")
            }
        case let .alphaEdit(a, t):
            guard a > 0, t > 0 else { throw EmendEditingError.invalidSettings(field: "rule.alpha/nullSpaceThreshold", expected: "> 0", got: "\(a), \(t)") }
        case let .emmet(lp, _, _):
            guard lp > 0 else { throw EmendEditingError.invalidSettings(field: "rule.lambdaP", expected: "> 0", got: "\(lp)") }
        }
    }

    // MARK: - Files

    /// Reads a preset JSON file.
    public static func load(_ url: URL) throws -> EditPreset {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EmendEditingError.unreadableFile(file: url.path, reason: fileErrorReason(error))
        }
        do { return try JSONDecoder().decode(EditPreset.self, from: data) } catch {
            throw EmendEditingError.invalidJSONFile(file: url.path, expected: "a preset (see Sources/EmendEditing/Presets/*.json)",
                                                    reason: jsonDecodingReason(error, data: data))
        }
    }
}

// MARK: - Built-in presets

extension EditPreset {
    /// The folder of built-in presets (shipped with the package as resources).
    public static var builtInDirectory: URL? { Bundle.module.url(forResource: "Presets", withExtension: nil) }

    /// Names of the built-in presets, e.g. "smollm2-135m-encore", "llama3-8b-memit".
    public static var builtInNames: [String] {
        guard let dir = builtInDirectory,
              let files = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return [] }
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// A built-in preset by name, or a preset file by path.
    public static func named(_ nameOrPath: String) throws -> EditPreset {
        if nameOrPath.hasSuffix(".json") || nameOrPath.contains("/") { return try load(URL(fileURLWithPath: nameOrPath)) }
        guard let dir = builtInDirectory, builtInNames.contains(nameOrPath) else {
            throw EmendEditingError.invalidSettings(field: "preset", expected: "one of \(builtInNames.joined(separator: ", ")) or a .json file",
                                                    got: "'\(nameOrPath)'")
        }
        return try load(dir.appendingPathComponent("\(nameOrPath).json"))
    }
}
