// Loading is one pipeline (STYLE rule 15): a format reader that knows no models → the family's names and its
// `sanitize` step (Families/) → every expected tensor checked for presence and shape, fused ones split, none left
// over → the fields of the role → field table (ModelWeights.swift).

import EmendCore
import Foundation

/// Where a model's weights live.
public enum ModelSource: Sendable, Equatable {
    case gguf(URL)
    case huggingFace(URL)

    public var url: URL {
        switch self { case .gguf(let u), .huggingFace(let u): return u }
    }
}

/// A format reader seen by the loader: tensor names, shapes, and Float32 data.
protocol WeightReader {
    var description: String { get }
    var names: [String] { get }
    func shape(_ name: String) -> [Int]?
    func load(_ name: String) throws -> Tensor
}

extension TransformerModel {
    /// Loads and checks every weight of `config` stored by `family` in `format`, through `reader`.
    static func loadWeights(config c: ModelConfig, family: ModelFamily, format: WeightFormat,
                            reader: WeightReader) throws -> ModelWeights {
        let file = reader.description, names = family.names(format)
        var used = Set<String>()
        var loaded: [String: Tensor] = [:]    // "role/layer" → tensor
        for stored in names.stored {
            for l in 0..<(stored.isPerBlock ? c.layerCount : 1) {
                let parts = stored.roles.compactMap { ModelWeights.expectedShape($0, c) }
                // Not this config's (a bias it has none of): a leftover if the file has it.
                guard let first = parts.first, parts.count == stored.roles.count else { continue }
                let name = stored.name(layer: l)
                guard reader.shape(name) != nil else { throw EmendModelsError.tensorNotFound(file: file, tensor: name) }
                used.insert(name)
                let t = family.sanitize(try reader.load(name), stored, format, c)
                // Fused roles are stacked by rows: the expected shape is their rows summed, the rest shared.
                let expected = [parts.reduce(0) { $0 + $1[0] }] + first.dropFirst()
                guard t.shape == expected else {
                    throw EmendModelsError.tensorShapeMismatch(file: file, tensor: name, expected: expected, got: t.shape)
                }
                var row = 0
                for (role, shape) in zip(stored.roles, parts) {
                    loaded["\(role)/\(l)"] = parts.count == 1 ? t : t.sliced(axis: 0, row..<(row + shape[0]))
                    row += shape[0]
                }
            }
        }
        // Leftovers: the family's tolerated names, and a tied head's stored copy; anything else is an error.
        let tiedHead = c.tiedEmbeddings ? names.holding(.output).map { $0.name(layer: 0) } : nil
        let leftovers = reader.names.filter { n in !used.contains(n) && n != tiedHead && !family.leftovers.contains { $0.matches(n) } }
        if !leftovers.isEmpty { throw EmendModelsError.unexpectedTensors(file: file, tensors: leftovers) }
        return try ModelWeights(layerCount: c.layerCount, tensor: { role, l in loaded["\(role)/\(l)"] }, missing: { role, l in
            EmendModelsError.tensorNotFound(file: file, tensor: names.holding(role)?.name(layer: l) ?? role.rawValue)
        })
    }
}
