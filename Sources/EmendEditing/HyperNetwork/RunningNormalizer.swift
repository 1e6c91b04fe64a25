// The editor network's input normalisation (spec §4.3): per-dimension running mean and standard deviation over
// concat(u, δ) rows, merged batch by batch (Chan et al.'s parallel update, exact). Updated only while training;
// frozen afterwards, so editing is deterministic (spec §4.11 quirk 4). It is a constant map for back-propagation.

import EmendCore
import Foundation

/// Running mean / standard deviation of rows of width `size`.
public struct RunningNormalizer: Sendable, Equatable {
    /// Rows seen so far.
    public var count: Double
    public var mean: [Double]           // [size]
    /// Σ (x − mean)² over the rows seen.
    public var sumSquares: [Double]     // [size]
    /// Added to the standard deviation (float32 machine epsilon, as in the official code).
    public static let eps: Float = 1.1920929e-07

    public init(size: Int) {
        count = 0
        mean = [Double](repeating: 0, count: size)
        sumSquares = mean
    }

    public var size: Int { mean.count }

    /// The standard deviation per dimension (1 before any data, so the map starts as the identity).
    public var std: [Double] {
        count < 2 ? [Double](repeating: 1, count: size) : sumSquares.map { ($0 / (count - 1)).squareRoot() }
    }

    /// Merges rows x [b, size] into the statistics.
    public mutating func update(_ x: Tensor) {
        let b = x.dim(0)
        guard b > 0 else { return }
        var bm = [Double](repeating: 0, count: size), bs = bm
        x.scalars.withUnsafeBufferPointer { p in
            for r in 0..<b { for j in 0..<size { bm[j] += Double(p[r * size + j]) } }
            for j in 0..<size { bm[j] /= Double(b) }
            for r in 0..<b { for j in 0..<size { let d = Double(p[r * size + j]) - bm[j]; bs[j] += d * d } }
        }
        let n = count, nb = Double(b), total = n + nb
        for j in 0..<size {
            let delta = bm[j] - mean[j]
            mean[j] += delta * nb / total
            sumSquares[j] += bs[j] + delta * delta * n * nb / total
        }
        count = total
    }

    /// (x − mean) / (std + eps), rows x [n, size] → [n, size].
    public func apply(_ x: Tensor) -> Tensor {
        let m = Tensor(shape: [size], scalars: mean.map { Float($0) })
        let inv = Tensor(shape: [size], scalars: std.map { 1 / (Float($0) + Self.eps) })
        return (x - m) * inv
    }
}
