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

/// A format reader seen by the loader: tensor names, shapes, Float32 data, and matrices in their stored type.
protocol WeightReader {
    var description: String { get }
    var names: [String] { get }
    func shape(_ name: String) -> [Int]?
    func load(_ name: String) throws -> Tensor
    /// The 2-D tensor `name` kept in its stored type (mapped, no copy), or nil where its type has no kernels.
    func loadMatrix(_ name: String) throws -> WeightMatrix?
}

extension TransformerModel {
    /// Loads and checks every weight of `config` stored by `family` in `format`, through `reader`. Weight matrices
    /// stay in their stored type where the reader and the family allow (`ModelFamily.matricesKeepLayout`) unless
    /// `dequantize` is set; everything else is Float32.
    static func loadWeights(config c: ModelConfig, family: ModelFamily, format: WeightFormat, reader: WeightReader,
                            dequantize: Bool = false) throws -> ModelWeights {
        let file = reader.description, names = family.names(format)
        var used = Set<String>()
        var loaded: [String: Weight] = [:]    // "role/layer" → weight
        for stored in names.stored {
            for l in 0..<(stored.isPerBlock ? c.layerCount : 1) {
                let parts = stored.roles.compactMap { ModelWeights.expectedShape($0, c) }
                // Not this config's (a bias it has none of): a leftover if the file has it.
                guard let first = parts.first, parts.count == stored.roles.count else { continue }
                let name = stored.name(layer: l)
                guard reader.shape(name) != nil else { throw EmendModelsError.tensorNotFound(file: file, tensor: name) }
                used.insert(name)
                let order = family.rowOrder(stored, format, c)
                let w: Weight
                if !dequantize, stored.roles.allSatisfy(\.isMatrix), family.matricesKeepLayout.contains(format),
                   let m = try reader.loadMatrix(name) {
                    w = .matrix(try order.map { try reordered(m, $0, file: file, tensor: name) } ?? m)
                } else {
                    var t = try reader.load(name)
                    if let order { t = try reordered(t, order, file: file, tensor: name) }
                    w = .tensor(family.sanitize(t, stored, format, c))
                }
                // Fused roles are stacked by rows: the expected shape is their rows summed, the rest shared.
                let expected = [parts.reduce(0) { $0 + $1[0] }] + first.dropFirst()
                guard w.shape == expected else {
                    throw EmendModelsError.tensorShapeMismatch(file: file, tensor: name, expected: expected, got: w.shape)
                }
                var row = 0
                for (role, shape) in zip(stored.roles, parts) {
                    let rows = row..<(row + shape[0])
                    switch w {
                    case .matrix(let m): loaded["\(role)/\(l)"] = .matrix(parts.count == 1 ? m : m.slicedRows(rows))
                    case .tensor(let t): loaded["\(role)/\(l)"] = .tensor(parts.count == 1 ? t : t.sliced(axis: 0, rows))
                    }
                    row += shape[0]
                }
            }
        }
        // Leftovers: the family's tolerated names, and a tied head's stored copy; anything else is an error.
        let tiedHead = c.tiedEmbeddings ? names.holding(.output).map { $0.name(layer: 0) } : nil
        let leftovers = reader.names.filter { n in !used.contains(n) && n != tiedHead && !family.leftovers.contains { $0.matches(n) } }
        if !leftovers.isEmpty { throw EmendModelsError.unexpectedTensors(file: file, tensors: leftovers) }
        return try ModelWeights(layerCount: c.layerCount, weight: { role, l in loaded["\(role)/\(l)"] }, missing: { role, l in
            EmendModelsError.tensorNotFound(file: file, tensor: names.holding(role)?.name(layer: l) ?? role.rawValue)
        })
    }

    /// A matrix's rows in `order` (checked against its row count first).
    private static func reordered(_ m: WeightMatrix, _ order: [Int], file: String, tensor: String) throws -> WeightMatrix {
        guard order.count == m.outputs else {
            throw EmendModelsError.tensorShapeMismatch(file: file, tensor: tensor, expected: [order.count, m.inputs], got: m.shape)
        }
        return m.reorderedRows(order)
    }

    /// A tensor's rows (its first axis: the elements of a vector) in `order`.
    private static func reordered(_ t: Tensor, _ order: [Int], file: String, tensor: String) throws -> Tensor {
        guard t.rank >= 1, order.count == t.shape[0] else {
            throw EmendModelsError.tensorShapeMismatch(file: file, tensor: tensor, expected: [order.count] + t.shape.dropFirst(), got: t.shape)
        }
        return rowsReordered(t, order)
    }
}

/// A tensor's rows (its first axis: the elements of a vector) in `order` (one entry per row).
func rowsReordered(_ t: Tensor, _ order: [Int]) -> Tensor {
    let cols = t.count / max(t.shape[0], 1)
    return t.reshaped([t.shape[0], cols]).gatherRows(order).reshaped(t.shape)
}

/// The permutation that undoes `order` (inverse[order[i]] = i).
func inversePermutation(_ order: [Int]) -> [Int] {
    var inverse = order
    for (i, o) in order.enumerated() { inverse[o] = i }
    return inverse
}
