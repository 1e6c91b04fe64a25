// Where the editor gets C0 of a layer: held in memory (tests, small models), or read from the statistics cache when
// that layer is solved and released after (large models: five C0 of Llama-3-8B are 8.2 GB).
//
// Shapes: F FFN width.  C0 [F, F]

import EmendCore

/// C0 per layer, on demand.
public struct StatisticsProvider: Sendable {
    /// The layers it has C0 for, ascending.
    public let layers: [Int]
    /// Every C0, when held in memory; nil when each is read on demand.
    public let resident: [Int: Matrix64]?
    private let read: @Sendable (Int) throws -> Matrix64

    /// C0 read by `read` at each call of `c0(_:width:)` (from disk, say), not kept.
    public init(layers: [Int], read: @escaping @Sendable (Int) throws -> Matrix64) {
        self.layers = layers.sorted()
        self.resident = nil
        self.read = read
    }

    /// C0 held in memory: layer → [F, F]
    public init(resident c0: [Int: Matrix64]) {
        self.layers = c0.keys.sorted()
        self.resident = c0
        self.read = { l in c0[l] ?? Matrix64.zeros(0, 0) }
    }

    /// C0 of `layer` [F, F].
    /// - Throws: `invalidSettings` when the provider has none for `layer` or it is not [width, width].
    public func c0(_ layer: Int, width f: Int) throws -> Matrix64 {
        let m: Matrix64? = try layers.contains(layer) ? read(layer) : nil
        guard let m, m.rows == f, m.cols == f else {
            throw EmendEditingError.invalidSettings(field: "statistics[\(layer)]", expected: "C0 of shape [\(f), \(f)]",
                                                    got: m.map { "[\($0.rows), \($0.cols)]" } ?? "none")
        }
        return m
    }
}
