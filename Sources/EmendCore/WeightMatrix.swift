// A frozen weight matrix and the two products the editors need from it, at a chosen compute precision.
//
// Shapes: W [Out, In] (PyTorch's nn.Linear layout); x [R, In]; g [R, Out].
//   forward:  y = x · Wᵀ   [R, Out]   (a linear layer)
//   backward: dx = g · W   [R, In]    (its gradient with respect to the input; W is frozen)
// Float32 runs both through `matmul` (oneDNN or OpenBLAS). BFloat16 keeps one bfloat16 copy of W, rounds the
// activations to bfloat16 per product (round to nearest even) and accumulates in Float32 (oneDNN; relative error
// ≈ 2·10⁻³ against Float32); both products read the same copy, the transpose being a stride.
// Where the CPU has no native bfloat16 products (AVX-512 BF16 or AMX), BFloat16 falls back to Float32: oneDNN's
// emulation would be slower than Float32 itself.

import CEmendKernels

/// The precision of a product's inputs; accumulation and output are Float32 in every case.
public enum ComputePrecision: String, Sendable, Codable, CaseIterable {
    case float32
    case bfloat16

    /// True when this CPU multiplies bfloat16 natively.
    public static let hasNativeBFloat16: Bool = emend_dnnl_has_native_bf16() != 0
}

/// A weight matrix W [Out, In] frozen for many products (the target search, the gradient tracer).
public struct WeightMatrix: Sendable {
    /// W in Float32: [Out, In].
    public let float32: Tensor
    /// The precision the products run at (bfloat16 only where the CPU has it natively).
    public let precision: ComputePrecision
    /// W rounded to bfloat16 (raw bits, row-major [Out, In]) when `precision` is bfloat16.
    let bfloat16: [UInt16]?

    public var outputs: Int { float32.shape[0] }
    public var inputs: Int { float32.shape[1] }

    /// - precision: what the caller asks for; bfloat16 falls back to float32 where the CPU lacks it.
    public init(_ w: Tensor, precision: ComputePrecision = .float32) {
        precondition(w.rank == 2, "WeightMatrix: a matrix [Out, In] is needed, got \(w.shape)")
        float32 = w
        if precision == .bfloat16 && ComputePrecision.hasNativeBFloat16 && MatmulBackend.usesOneDNN {
            var bits = [UInt16](repeating: 0, count: w.count)
            w.scalars.withUnsafeBufferPointer { p in bits.withUnsafeMutableBufferPointer { b in
                emend_to_bf16(p.baseAddress!, b.baseAddress!, p.count)
            } }
            bfloat16 = bits
            self.precision = .bfloat16
        } else {
            bfloat16 = nil
            self.precision = .float32
        }
    }

    /// y = x · Wᵀ: [R, In] → [R, Out].
    public func forward(_ x: Tensor) -> Tensor {
        precondition(x.rank == 2 && x.shape[1] == inputs, "WeightMatrix.forward: input \(x.shape) for W \(float32.shape)")
        guard let bits = bfloat16 else { return matmul(x, float32, transposeB: true) }
        // op(B)[k = In, n = Out] = Wᵀ: B(p, j) = W[j, p] → row stride 1, column stride In.
        return MatmulProfile.measure(rows: x.shape[0], inner: inputs, outer: outputs, precision: "bf16 x·Wᵀ") {
            product(x, bits, n: outputs, k: inputs, bRowStride: 1, bColumnStride: inputs)
        } ?? matmul(x, float32, transposeB: true)
    }

    /// dx = g · W: [R, Out] → [R, In].
    public func backward(_ g: Tensor) -> Tensor {
        precondition(g.rank == 2 && g.shape[1] == outputs, "WeightMatrix.backward: gradient \(g.shape) for W \(float32.shape)")
        guard let bits = bfloat16 else { return matmul(g, float32) }
        // op(B)[k = Out, n = In] = W: row stride In, column stride 1.
        return MatmulProfile.measure(rows: g.shape[0], inner: outputs, outer: inputs, precision: "bf16 g·W") {
            product(g, bits, n: inputs, k: outputs, bRowStride: inputs, bColumnStride: 1)
        } ?? matmul(g, float32)
    }

    /// a [m, k] · B [k, n] with B in bfloat16; nil when oneDNN refused (the caller then uses Float32).
    private func product(_ a: Tensor, _ b: [UInt16], n: Int, k: Int, bRowStride: Int, bColumnStride: Int) -> Tensor? {
        let m = a.shape[0]
        if m == 0 { return Tensor.zeros([0, n]) }
        var ok = false
        let out = [Float](unsafeUninitializedCapacity: m * n) { pc, initialized in
            a.scalars.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
                ok = emend_dnnl_matmul_bf16(m, n, k, pa.baseAddress!, k, pb.baseAddress!, bRowStride, bColumnStride,
                                            pc.baseAddress!, n) == 0
            } }
            initialized = ok ? m * n : 0
        }
        return ok ? Tensor(shape: [m, n], scalars: out) : nil
    }
}
