// Which built-in presets fit a model: model families are data (Presets/families/<family>.json, the shape that
// recognises the family), so supporting another model is adding files, not code. The family's name prefixes its
// locate-then-edit presets (`<family>-<method>.json`) and names its hyper-network preset (`hypernetwork/<family>.json`).

import EmendModels
import Foundation

/// A family's recognising shape; a field left out matches anything.
public struct ModelFamily: Codable, Sendable, Equatable {
    public var name: String = ""
    public var description: String?
    public var architecture: String
    public var layerCount: Int
    public var hiddenSize: Int
    public var intermediateSize: Int?

    enum CodingKeys: String, CodingKey { case description, architecture, layerCount, hiddenSize, intermediateSize }

    public func matches(_ c: ModelConfig) -> Bool {
        c.architecture == architecture && c.layerCount == layerCount && c.hiddenSize == hiddenSize
            && (intermediateSize.map { $0 == c.intermediateSize } ?? true)
    }

    /// The built-in families, by name.
    public static func builtIn() throws -> [ModelFamily] {
        guard let dir = EditPreset.builtInDirectory?.appendingPathComponent("families") else { return [] }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return try files.filter { $0.hasSuffix(".json") }.sorted().map { file in
            let url = dir.appendingPathComponent(file)
            do {
                var f = try JSONDecoder().decode(ModelFamily.self, from: try Data(contentsOf: url))
                f.name = String(file.dropLast(5))
                return f
            } catch {
                throw EmendEditingError.malformedRecord(file: url.path, record: 0, field: "(family)",
                                                        expected: "architecture, layerCount, hiddenSize[, intermediateSize]", got: "\(error)")
            }
        }
    }

    /// The built-in family of a model, or nil when none fits.
    public static func recognise(_ c: ModelConfig) throws -> ModelFamily? {
        try builtIn().first { $0.matches(c) }
    }
}
