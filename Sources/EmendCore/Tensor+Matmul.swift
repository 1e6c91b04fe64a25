// Matrix products: large ones through oneDNN (about twice OpenBLAS's speed on this project's CPUs, see
// `make bench`), small ones and the fallback through CBLAS `sgemm`. Transposes are strides or flags, never copies.
//
// Shapes: a [..., M, K], b [..., K, N] → [..., M, N]  (with transposeA, a is [..., K, M];
// with transposeB, b is [..., N, K]). A rank-2 `b` is shared by every batch entry of `a`.

import CEmendKernels
import COpenBLAS
import Foundation

/// Which library runs the large Float32 products. `EMEND_MATMUL=openblas` forces OpenBLAS (for side-by-side
/// measurements); the default is oneDNN, with OpenBLAS as the fallback for any product oneDNN refuses.
public enum MatmulBackend: String, Sendable {
    case onednn, openblas

    /// The backend of this process (read once from `EMEND_MATMUL`).
    public static let current: MatmulBackend = {
        ProcessInfo.processInfo.environment["EMEND_MATMUL"].flatMap { MatmulBackend(rawValue: $0.lowercased()) } ?? .onednn
    }()

    /// True when oneDNN is the backend and its library could be loaded.
    public static let usesOneDNN: Bool = current == .onednn && emend_dnnl_available() != 0

    /// Products below this many multiply-adds stay on OpenBLAS: oneDNN's per-call set-up (~10 µs) would dominate.
    static let oneDNNThreshold = 1 << 18

    /// Whether oneDNN takes a product of m×k by k×n: it is the backend, the product is large enough, and it has more
    /// than one row (one row goes to `sgemv`).
    static func oneDNNTakes(m: Int, n: Int, k: Int) -> Bool {
        m * n * k >= oneDNNThreshold && m > 1 && usesOneDNN
    }
}

/// C = op(A) · op(B) through oneDNN when the product is large enough and oneDNN is the backend; false when the
/// caller must compute it itself. Strides express the transposes (row-major A is [m, k] or, transposed, [k, m]).
@inline(__always)
func oneDNNProduct(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                   a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                   c: UnsafeMutablePointer<Float>, ldc: Int) -> Bool {
    guard MatmulBackend.oneDNNTakes(m: m, n: n, k: k) else { return false }
    let (ars, acs) = transposeA ? (1, lda) : (lda, 1)
    let (brs, bcs) = transposeB ? (1, ldb) : (ldb, 1)
    return emend_dnnl_matmul_f32(m, n, k, a, ars, acs, b, brs, bcs, c, ldc) == 0
}

/// C = alpha · op(A) · op(B) + beta · C on raw row-major buffers (a thin, checked `cblas_sgemm`).
/// - Parameters: m, n, k: op(A) is m×k, op(B) is k×n, C is m×n. lda/ldb/ldc: row strides.
@inline(__always)
public func sgemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                  alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                  b: UnsafePointer<Float>, ldb: Int,
                  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return
    }
    // One row (a decoding step through `linear`): OpenBLAS's sgemm packs the whole of B before its kernel,
    // which costs as much as the product itself; sgemv streams B once (measured 3.5x faster at 1×576·576×1536).
    if m == 1 && !transposeA {
        // beta = 0 must not read C (it may be uninitialised): clear it and accumulate with beta = 1.
        if beta == 0 { for j in 0..<n { c[j] = 0 } } else if beta != 1 { for j in 0..<n { c[j] *= beta } }
        cblas_sgemv(CblasRowMajor, transposeB ? CblasNoTrans : CblasTrans, Int32(transposeB ? n : k),
                    Int32(transposeB ? k : n), alpha, b, Int32(ldb), a, 1, 1, c, 1)
        return
    }
    cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Sets the number of threads OpenBLAS and oneDNN use (Emend's own kernels use `emendThreadCount`).
public func setBLASThreads(_ n: Int) {
    openblas_set_num_threads(Int32(max(1, n)))
    emend_dnnl_set_threads(Int32(max(1, n)))
}

/// The matrix product of the last two axes, batched over the leading axes.
///
/// - `a`: [..., M, K] (or [..., K, M] with `transposeA`)
/// - `b`: [..., K, N] (or [..., N, K] with `transposeB`); rank 2 broadcasts over a's batch
/// - returns [..., M, N]
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.rank >= 2 && b.rank >= 2, "matmul: ranks \(a.rank) and \(b.rank); both need ≥ 2")
    let ar = a.shape[a.rank - 2], ac = a.shape[a.rank - 1]
    let br = b.shape[b.rank - 2], bc = b.shape[b.rank - 1]
    let (m, k) = transposeA ? (ac, ar) : (ar, ac)
    let (kb, n) = transposeB ? (bc, br) : (br, bc)
    precondition(k == kb, "matmul: inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
    let batchA = Array(a.shape.dropLast(2))
    let batchB = Array(b.shape.dropLast(2))
    let nBatch = batchA.product
    precondition(b.rank == 2 || batchA == batchB, "matmul: batch shapes differ: \(batchA) vs \(batchB)")

    // The output is not zero-filled first: sgemm with beta = 0 writes every element of C and
    // never reads it (BLAS semantics; `sgemm` above writes zeros itself when k = 0). Skipping the
    // fill saves a full pass over C, which is most of Tensor's overhead on large products.
    let total = nBatch * m * n
    // The label is built only when profiling (EMEND_PROFILE_MATMUL=1): this is every product's path.
    let out = MatmulProfile.measure(rows: nBatch * m, inner: k, outer: n,
                                    precision: b.rank == 2 && !transposeA && MatmulBackend.oneDNNTakes(m: nBatch * m, n: n, k: k)
                                        ? "f32 oneDNN" : "f32 OpenBLAS") { [Float](unsafeUninitializedCapacity: total) { pc, initialized in
        initialized = total
        if total == 0 { return }
        a.scalars.withUnsafeBufferPointer { pa in
            b.scalars.withUnsafeBufferPointer { pb in
                // A shared 2-D right operand and an untransposed left one: fold the batch into M.
                if b.rank == 2 && !transposeA {
                    if k > 0, oneDNNProduct(transposeA: false, transposeB: transposeB, m: nBatch * m, n: n, k: k,
                                            a: pa.baseAddress!, lda: ac, b: pb.baseAddress!, ldb: bc,
                                            c: pc.baseAddress!, ldc: n) { return }
                    sgemm(transposeA: false, transposeB: transposeB, m: nBatch * m, n: n, k: k,
                          a: pa.baseAddress!, lda: ac, b: pb.baseAddress!, ldb: bc, c: pc.baseAddress!, ldc: n)
                    return
                }
                let strideB = b.rank == 2 ? 0 : br * bc
                for i in 0..<nBatch {
                    sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                          a: pa.baseAddress! + i * ar * ac, lda: ac,
                          b: pb.baseAddress! + i * strideB, ldb: bc,
                          c: pc.baseAddress! + i * m * n, ldc: n)
                }
            }
        }
    } }
    return Tensor(shape: batchA + [m, n], scalars: out)
}

/// A linear layer without bias: x · Wᵀ.
/// - `x`: [..., In]; `weight`: [Out, In] (PyTorch's `nn.Linear.weight` layout) → [..., Out]
public func linear(_ x: Tensor, _ weight: Tensor) -> Tensor {
    precondition(weight.rank == 2 && x.dim(-1) == weight.shape[1],
                 "linear: input \(x.shape) does not match weight \(weight.shape)")
    let rows = x.shape.dropLast().reduce(1, *)
    var y = matmul(x.reshaped([rows, x.dim(-1)]), weight, transposeB: true)
    y = y.reshaped(Array(x.shape.dropLast()) + [weight.shape[0]])
    return y
}
