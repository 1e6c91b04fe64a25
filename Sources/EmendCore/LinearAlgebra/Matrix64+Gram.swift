// Accumulating Gram matrices Xᵀ·X in Float64: the key covariance C = Σ_t k_t·k_tᵀ of a corpus,
// summed over many batches of Float32 keys.
//
// Shapes: X [N, F] (N rows of keys, F features) ; accumulator [F, F].
//
// Why Float64: a corpus contributes ~10⁵–10⁶ rank-1 terms; summed in Float32 the small eigenvalues
// that the edit rules invert drown in rounding error. Each chunk of rows is widened to Double and
// added with dsyrk (half the flops of dgemm: only one triangle is formed), then mirrored.

import COpenBLAS

/// Adds Xᵀ·X to `accumulator`, in Float64.
/// - x: [N, F] Float32 rows; accumulator: [F, F], symmetric (as every result of this function is).
/// - chunkRows: rows widened to Double per dsyrk call (memory: chunkRows·F·8 bytes).
/// - Throws: `shapeMismatch` (x not rank 2, or the accumulator not [F, F]), `nonFinite` (NaN/∞
///   in x; the accumulator is then left unchanged).
public func gramAccumulate(_ x: Tensor, into accumulator: inout Matrix64, chunkRows: Int = 512) throws {
    let op = "gramAccumulate"
    guard x.rank == 2 else {
        throw EmendCoreError.shapeMismatch(operation: op, expected: "keys [N, F]", got: "\(x.shape)")
    }
    let n = x.shape[0], f = x.shape[1]
    guard accumulator.rows == f && accumulator.cols == f else {
        throw EmendCoreError.shapeMismatch(operation: op, expected: "accumulator [\(f), \(f)]",
                                           got: "[\(accumulator.rows), \(accumulator.cols)]")
    }
    guard x.scalars.allSatisfy({ $0.isFinite }) else {
        throw EmendCoreError.nonFinite(operation: op, what: "the keys")
    }
    if n == 0 || f == 0 { return }
    let chunk = max(1, min(chunkRows, n))
    var wide = [Double](repeating: 0, count: chunk * f)
    x.scalars.withUnsafeBufferPointer { px in
        wide.withUnsafeMutableBufferPointer { pw in
            accumulator.scalars.withUnsafeMutableBufferPointer { pc in
                guard let xs = px.baseAddress, let ws = pw.baseAddress, let cs = pc.baseAddress else { return }
                var start = 0
                while start < n {
                    let m = min(chunk, n - start)
                    let src = xs + start * f
                    for i in 0..<(m * f) { ws[i] = Double(src[i]) }
                    // Row-major, Trans: C[f, f] += Wᵀ·W for W [m, f]; only the lower triangle is written.
                    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, Int32(f), Int32(m),
                                1, ws, Int32(f), 1, cs, Int32(f))
                    start += m
                }
                // Mirror the lower triangle into the upper one.
                for i in 0..<f { for j in (i + 1)..<max(f, i + 1) { cs[i * f + j] = cs[j * f + i] } }
            }
        }
    }
}

/// Adds K·Kᵀ to the lower triangle of `accumulator` in Float64 (dsyrk; the strictly upper triangle is left as it
/// was): the previous-keys term of the update rules' system matrix, formed in place from the keys themselves.
/// - k: [F, n]; accumulator: [F, F]
/// - Throws: `shapeMismatch` when the accumulator is not [F, F].
public func lowerGramAccumulate(_ k: Matrix64, into accumulator: inout Matrix64) throws {
    let f = k.rows, n = k.cols
    guard accumulator.rows == f && accumulator.cols == f else {
        throw EmendCoreError.shapeMismatch(operation: "lowerGramAccumulate", expected: "accumulator [\(f), \(f)]",
                                           got: "[\(accumulator.rows), \(accumulator.cols)]")
    }
    if n == 0 || f == 0 { return }
    k.scalars.withUnsafeBufferPointer { pk in
        accumulator.scalars.withUnsafeMutableBufferPointer { pc in
            guard let ks = pk.baseAddress, let cs = pc.baseAddress else { return }
            // Row-major, NoTrans: C[f, f] += K·Kᵀ for K [f, n]; only the lower triangle is written.
            cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, Int32(f), Int32(n), 1, ks, Int32(n), 1, cs, Int32(f))
        }
    }
}
