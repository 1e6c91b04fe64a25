// MALMEN's aggregation (spec §4.4) and its closed-form backward pass (spec §4.6), in Float64.
//
// Row-vector convention: a key u is a row of U [n, F] (the down-projection input), a value difference d is a row
// of D [n, Dm] (the change of that token's layer output that its own rank-1 shift would cause). The shift
//
//     S* = argmin_S ‖U·S − D‖² + λ‖S‖²  =  (UᵀU + λI)⁻¹ UᵀD            [F, Dm]   (primal: an F×F system)
//        = Uᵀ (UUᵀ + λIₙ)⁻¹ D                                                     (dual: an n×n system)
//
// Given G = dL/dS*, with M = UᵀU + λI and λ = exp(ℓ):
//
//     dL/dD = U M⁻¹ G = (UUᵀ + λIₙ)⁻¹ U G             [n, Dm]
//     dL/dℓ = −λ ⟨M⁻¹G, S*⟩,   M⁻¹G = (G − Uᵀ (UUᵀ + λIₙ)⁻¹ U G) / λ
//
// The smaller of n and F picks the form; both are exact. The Cholesky factor is kept for the backward pass.

import EmendCore

/// The ridge least-squares shift of one edited matrix, with what its backward pass needs.
public struct LeastSquaresShift: Sendable {
    /// S* [F, Dm]: add its transpose to a [Dm, F] down-projection.
    public let shift: Matrix64
    /// λ, the ridge coefficient used.
    public let lambda: Double
    /// Whether the n×n (dual) system was solved.
    public let dual: Bool
    let keys: Matrix64            // [n, F]
    let factor: CholeskyFactor    // of UᵀU + λI (primal) or UUᵀ + λIₙ (dual)

    /// Solves for S* from keys U [n, F], value differences D [n, Dm] and λ > 0.
    /// - forceDual: nil picks the cheaper form; true/false force one (tests compare both).
    public init(keys: Matrix64, values: Matrix64, lambda: Double, forceDual: Bool? = nil) throws {
        guard keys.rows == values.rows else {
            throw EmendCoreError.shapeMismatch(operation: "LeastSquaresShift", expected: "\(keys.rows) value rows (one per key)",
                                               got: "\(values.rows)")
        }
        guard lambda > 0, lambda.isFinite else {
            throw EmendEditingError.invalidSettings(field: "lambda", expected: "a positive finite ridge", got: "\(lambda)")
        }
        let dual = forceDual ?? (keys.rows < keys.cols)
        self.keys = keys
        self.lambda = lambda
        self.dual = dual
        if dual {
            var k = try matmul(keys, keys, transposeB: true)            // [n, n]
            try k.addDiagonal(lambda)
            factor = try CholeskyFactor(k)
            shift = try matmul(keys, try factor.solve(values), transposeA: true)
        } else {
            var m = try matmul(keys, keys, transposeA: true)            // [F, F]
            try m.addDiagonal(lambda)
            factor = try CholeskyFactor(m)
            shift = try factor.solve(try matmul(keys, values, transposeA: true))
        }
    }

    /// The gradients with respect to the value differences [n, Dm] and to ℓ = log λ, from G = dL/dS* [F, Dm].
    public func backward(_ g: Matrix64) throws -> (values: Matrix64, logLambda: Double) {
        guard g.rows == shift.rows, g.cols == shift.cols else {
            throw EmendCoreError.shapeMismatch(operation: "LeastSquaresShift.backward", expected: "[\(shift.rows), \(shift.cols)]",
                                               got: "[\(g.rows), \(g.cols)]")
        }
        let x: Matrix64, dValues: Matrix64
        if dual {
            let y = try factor.solve(try matmul(keys, g))                // (UUᵀ + λI)⁻¹ U G   [n, Dm]
            dValues = y
            x = (1 / lambda) * (try g - (try matmul(keys, y, transposeA: true)))
        } else {
            x = try factor.solve(g)                                      // M⁻¹ G   [F, Dm]
            dValues = try matmul(keys, x)
        }
        var dot = 0.0
        for i in 0..<x.scalars.count { dot += x.scalars[i] * shift.scalars[i] }
        return (dValues, -lambda * dot)
    }
}
