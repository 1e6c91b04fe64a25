// Errors thrown by EmendCore: one sentence each, naming what was expected and what was found.

public enum EmendCoreError: Error, CustomStringConvertible, Sendable {
    /// A matrix that must be symmetric positive definite is not (LAPACK info > 0 from potrf).
    case notPositiveDefinite(operation: String, minorOrder: Int)
    /// A matrix that must be invertible is singular (LAPACK info > 0 from getrf).
    case singular(operation: String, pivot: Int)
    /// An eigendecomposition did not converge.
    case noConvergence(operation: String, info: Int)
    /// Shapes that must agree do not.
    case shapeMismatch(operation: String, expected: String, got: String)
    /// A value that must be finite is NaN or infinite.
    case nonFinite(operation: String, what: String)
    /// LAPACK rejected an argument (info < 0) or could not allocate its workspace: a bug in Emend.
    case lapackFailure(operation: String, info: Int)
    /// Gradient flowed into a recorded op that has no vector-Jacobian product (or whose VJP
    /// returned no gradient for an input that requires one).
    case missingVJP(operation: String, detail: String)
    /// A variable handed to a tape was recorded on a different tape (or on none).
    case foreignVariable(operation: String, detail: String)
    /// A stored weight matrix whose byte count is not rows × blocks per row × bytes per block.
    case weightByteCount(storage: String, outputs: Int, inputs: Int, expected: Int, got: Int)
    /// A stored weight matrix whose rows are not a whole number of blocks.
    case weightRowNotWholeBlocks(storage: String, inputs: Int, blockSize: Int)

    public var description: String {
        switch self {
        case let .notPositiveDefinite(op, k):
            return "\(op): the matrix is not positive definite (leading minor of order \(k) is not positive); hint: add a larger ridge term"
        case let .singular(op, p):
            return "\(op): the matrix is singular (U[\(p),\(p)] is exactly zero)"
        case let .noConvergence(op, info):
            return "\(op): LAPACK did not converge (info \(info))"
        case let .shapeMismatch(op, e, g):
            return "\(op): expected shape \(e), got \(g)"
        case let .nonFinite(op, what):
            return "\(op): \(what) contains NaN or infinity"
        case let .lapackFailure(op, info):
            if info == -1010 { return "\(op): LAPACK could not allocate its workspace (info -1010, out of memory)" }
            return "\(op): LAPACK rejected argument \(-info) (info \(info)); this is a bug in Emend"
        case let .missingVJP(op, detail):
            return "\(op): no gradient could be computed (\(detail)); hint: give the op a VJP or pass its input as a constant"
        case let .foreignVariable(op, detail):
            return "\(op): \(detail); hint: differentiate a loss with the tape that recorded it"
        case let .weightByteCount(storage, outputs, inputs, expected, got):
            return "WeightMatrix: \(storage) [\(outputs), \(inputs)] takes \(expected) bytes, got \(got)"
        case let .weightRowNotWholeBlocks(storage, inputs, blockSize):
            return "WeightMatrix: \(storage) rows of \(inputs) elements are not whole blocks of \(blockSize)"
        }
    }
}
