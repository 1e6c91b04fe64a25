// Update rules: how a layer's weight change ΔW is computed from the keys K of this batch, the residuals R it
// must write, the preserved-knowledge statistics C0 and the layer's sequential state. All in Float64.
//
// Shapes: F key width (FFN width), D model width, n requests in the batch.
//   K [F, n]   R [D, n]   C0 [F, F]   Kp Kpᵀ [F, F]   ΔW [D, F]
//
//   MEMIT (sequential):  ΔW = R Kᵀ (λp C0 + Kp Kpᵀ + K Kᵀ)⁻¹
//   ENCORE:              ΔW = R Kᵀ (λp C0 + Kp Kpᵀ + K Kᵀ + λn I)⁻¹
//   AlphaEdit:           ΔW = R Kᵀ P (Kp Kpᵀ P + K Kᵀ P + α I)⁻¹,   P the projector on C0's null space
//   EMMET:               ΔW = R (Kᵀ A⁻¹ K + λe I)⁻¹ Kᵀ A⁻¹,          A = λp C0 + Kp Kpᵀ (+ λn I)
// (MEMIT and ENCORE are one rule: λn = 0 is MEMIT.) The symmetric systems are solved by Cholesky with n
// right-hand sides; AlphaEdit's is not symmetric and is solved by LU.

import EmendCore

/// The rule that turns keys and residuals into a weight change.
public enum UpdateRule: Sendable, Equatable, Codable {
    /// MEMIT with the previous-edits term (λn = 0) and ENCORE's norm constraint (λn > 0).
    case normConstrained(lambdaP: Double, lambdaN: Double)
    /// AlphaEdit: null-space projection of C0 (eigenvalues below `nullSpaceThreshold` span the null space), ridge α.
    case alphaEdit(alpha: Double, nullSpaceThreshold: Double)
    /// EMMET: the equality-constrained closed form, relaxed by `emmetLambda`.
    case emmet(lambdaP: Double, lambdaN: Double, emmetLambda: Double)

    public static func memit(lambdaP: Double) -> UpdateRule { .normConstrained(lambdaP: lambdaP, lambdaN: 0) }

    public var name: String {
        switch self {
        case .normConstrained(_, let n): return n == 0 ? "memit" : "encore"
        case .alphaEdit: return "alphaedit"
        case .emmet: return "emmet"
        }
    }
}

/// What a layer remembers between batches.
public struct LayerEditState: Sendable, Equatable {
    /// Σ K Kᵀ over every earlier batch at this layer: [F, F]
    public var previousKeysGram: Matrix64
    /// The number of keys accumulated.
    public var editCount: Int

    public init(width: Int) {
        previousKeysGram = Matrix64.zeros(width, width)
        editCount = 0
    }

    /// Adds this batch's keys: Kp Kpᵀ += K Kᵀ (K: [F, n]).
    public mutating func add(keys: Matrix64) throws {
        previousKeysGram = try previousKeysGram + matmul(keys, keys, transposeB: true)
        editCount += keys.cols
    }
}

extension UpdateRule {
    /// ΔW [D, F] for keys K [F, n], residuals R [D, n], statistics C0 [F, F] (normalised second moment) and the
    /// layer's state. `projector` is AlphaEdit's P [F, F] (see `nullSpaceProjector`).
    public func solve(keys k: Matrix64, residuals r: Matrix64, c0: Matrix64, state: LayerEditState,
                      projector: Matrix64? = nil) throws -> Matrix64 {
        let f = k.rows
        guard r.cols == k.cols, c0.rows == f, c0.cols == f, state.previousKeysGram.rows == f else {
            throw EmendCoreError.shapeMismatch(operation: "UpdateRule.solve",
                                               expected: "K [F, n], R [D, n], C0 [F, F] with F = \(f)",
                                               got: "K [\(k.rows), \(k.cols)], R [\(r.rows), \(r.cols)], C0 [\(c0.rows), \(c0.cols)]")
        }
        let kkT = try matmul(k, k, transposeB: true)
        switch self {
        case let .normConstrained(lambdaP, lambdaN):
            // A = λp C0 + Kp Kpᵀ + K Kᵀ + λn I;  ΔW = R (A⁻¹ K)ᵀ  (A symmetric).
            var a = try lambdaP * c0 + state.previousKeysGram + kkT
            if lambdaN != 0 { try a.addDiagonal(lambdaN) }
            let adj = try CholeskyFactor(a).solve(k)                       // [F, n]
            return try matmul(r, adj, transposeB: true)
        case let .alphaEdit(alpha, _):
            // The code's form: upd = solve(P (K Kᵀ + Kp Kpᵀ) + α I, P K Rᵀ), ΔW = updᵀ.
            guard let p = projector else {
                throw EmendCoreError.shapeMismatch(operation: "AlphaEdit", expected: "a null-space projector [F, F]", got: "none")
            }
            var lhs = try matmul(p, kkT + state.previousKeysGram)
            try lhs.addDiagonal(alpha)
            let rhs = try matmul(p, try matmul(k, r, transposeB: true))    // [F, D]
            return try luSolve(lhs, rhs).transposed()
        case let .emmet(lambdaP, lambdaN, emmetLambda):
            var a = try lambdaP * c0 + state.previousKeysGram
            if lambdaN != 0 { try a.addDiagonal(lambdaN) }
            let aInvK = try CholeskyFactor(a).solve(k)                      // A⁻¹K [F, n]
            var d = try matmul(k, aInvK, transposeA: true)                  // Kᵀ A⁻¹ K [n, n]
            if emmetLambda != 0 { try d.addDiagonal(emmetLambda) }
            // ΔW = R D⁻¹ (A⁻¹K)ᵀ ; D is symmetric positive definite.
            let dInvRt = try CholeskyFactor(d).solve(r.transposed())        // D⁻¹ Rᵀ [n, D]
            return try matmul(dInvRt, aInvK, transposeA: true, transposeB: true)
        }
    }
}

/// AlphaEdit's projector onto the null space of C0: P = U Uᵀ over the eigenvectors whose eigenvalue is below
/// `threshold` (an absolute threshold on the token-averaged C0, 2e-2 in the papers). [F, F]
public func nullSpaceProjector(c0: Matrix64, threshold: Double) throws -> Matrix64 {
    let eig = try SymmetricEigendecomposition(c0)
    let keep = eig.values.indices.filter { eig.values[$0] < threshold }
    let f = c0.rows
    var u = Matrix64.zeros(f, keep.count)
    for (j, col) in keep.enumerated() { for i in 0..<f { u.scalars[i * keep.count + j] = eig.vectors[i, col] } }
    return try matmul(u, u, transposeB: true)
}
