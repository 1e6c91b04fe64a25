// Update rules: how a layer's weight change ΔW is computed from the keys K of this batch, the residuals R it
// must write, the preserved-knowledge statistics C0 and the layer's sequential state. All in Float64.
//
// Shapes: F key width (FFN width), D model width, n requests in the batch.
//   K [F, n]   R [D, n]   C0 [F, F]   Kp Kpᵀ [F, F] (LayerEditState)   ΔW [D, F]
//
//   MEMIT (sequential):  ΔW = R Kᵀ (λp C0 + Kp Kpᵀ + K Kᵀ)⁻¹
//   ENCORE:              ΔW = R Kᵀ (λp C0 + Kp Kpᵀ + K Kᵀ + λn I)⁻¹
//   AlphaEdit:           ΔW = R Kᵀ P (Kp Kpᵀ P + K Kᵀ P + α I)⁻¹,   P the projector on C0's null space
//   EMMET:               ΔW = R (Kᵀ A⁻¹ K + λe I)⁻¹ Kᵀ A⁻¹,          A = λp C0 + Kp Kpᵀ (+ λn I)
// (MEMIT and ENCORE are one rule: λn = 0 is MEMIT.) The symmetric systems are solved by Cholesky with n
// right-hand sides; AlphaEdit's is not symmetric and is solved by LU. The symmetric systems are built and factored
// in one F×F buffer (`systemMatrix`, `CholeskyFactor(overwriting:)`), so a solve holds C0 and one more F×F matrix.

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

extension UpdateRule {
    /// ΔW [D, F] for keys K [F, n], residuals R [D, n], statistics C0 [F, F] (normalised second moment) and the
    /// layer's state. `projector` is AlphaEdit's P [F, F] (see `nullSpaceProjector`).
    public func solve(keys k: Matrix64, residuals r: Matrix64, c0: Matrix64, state: LayerEditState,
                      projector: Matrix64? = nil) throws -> Matrix64 {
        let f = k.rows
        guard r.cols == k.cols, c0.rows == f, c0.cols == f, state.width == f else {
            throw EmendCoreError.shapeMismatch(operation: "UpdateRule.solve",
                                               expected: "K [F, n], R [D, n], C0 [F, F] with F = \(f)",
                                               got: "K [\(k.rows), \(k.cols)], R [\(r.rows), \(r.cols)], C0 [\(c0.rows), \(c0.cols)]")
        }
        switch self {
        case let .normConstrained(lambdaP, lambdaN):
            // A = λp C0 + Kp Kpᵀ + K Kᵀ + λn I;  ΔW = R (A⁻¹ K)ᵀ  (A symmetric).
            var a = try Self.systemMatrix(lambdaP: lambdaP, c0: c0, state: state, lambdaN: lambdaN, keys: k)
            let adj = try CholeskyFactor(overwriting: &a).solve(k)          // [F, n]
            return try matmul(r, adj, transposeB: true)
        case let .alphaEdit(alpha, _):
            // The code's form: upd = solve(P (K Kᵀ + Kp Kpᵀ) + α I, P K Rᵀ), ΔW = updᵀ. (Dense F×F temporaries: the
            // projector is one already.)
            guard let p = projector else {
                throw EmendCoreError.shapeMismatch(operation: "AlphaEdit", expected: "a null-space projector [F, F]", got: "none")
            }
            var lhs = try matmul(p, try matmul(k, k, transposeB: true) + state.previousKeysGram)
            try lhs.addDiagonal(alpha)
            let rhs = try matmul(p, try matmul(k, r, transposeB: true))    // [F, D]
            return try luSolve(lhs, rhs).transposed()
        case let .emmet(lambdaP, lambdaN, emmetLambda):
            var a = try Self.systemMatrix(lambdaP: lambdaP, c0: c0, state: state, lambdaN: lambdaN, keys: nil)
            let aInvK = try CholeskyFactor(overwriting: &a).solve(k)        // A⁻¹K [F, n]
            var d = try matmul(k, aInvK, transposeA: true)                  // Kᵀ A⁻¹ K [n, n]
            if emmetLambda != 0 { try d.addDiagonal(emmetLambda) }
            // ΔW = R D⁻¹ (A⁻¹K)ᵀ ; D is symmetric positive definite.
            let dInvRt = try CholeskyFactor(d).solve(r.transposed())        // D⁻¹ Rᵀ [n, D]
            return try matmul(dInvRt, aInvK, transposeA: true, transposeB: true)
        }
    }

    /// The symmetric system λp C0 + Kp Kpᵀ (+ K Kᵀ) + λn I [F, F], built in one F×F buffer: λp C0 written once,
    /// then the state's Gram, K Kᵀ (K [F, n], when given) and λn added in place. Only the lower triangle is
    /// complete (the strictly upper one holds λp C0 and no more when the state is factored); Cholesky reads only
    /// that triangle. Peak besides C0: this one matrix.
    static func systemMatrix(lambdaP: Double, c0: Matrix64, state: LayerEditState, lambdaN: Double,
                             keys k: Matrix64?) throws -> Matrix64 {
        var a = lambdaP * c0
        try state.addGram(toLowerOf: &a)
        if let k { try lowerGramAccumulate(k, into: &a) }
        if lambdaN != 0 { try a.addDiagonal(lambdaN) }
        return a
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
