// A frozen weight matrix and the two products the editors need from it, at a chosen compute precision.
//
// Shapes: W [Out, In] (PyTorch's nn.Linear layout); x [R, In]; g [R, Out].
//   forward:  y = x · Wᵀ   [R, Out]   (a linear layer)
//   backward: dx = g · W   [R, In]    (its gradient with respect to the input; W is frozen)
// W is held one of two ways:
//   dense:  a Float32 `Tensor`. Float32 runs both products through `matmul` (oneDNN or OpenBLAS). BFloat16 keeps one
//           bfloat16 copy of W, rounds the activations to bfloat16 per product (round to nearest even) and
//           accumulates in Float32 (oneDNN; relative error ≈ 2·10⁻³ against Float32); both products read the same
//           copy, the transpose being a stride. Where the CPU has no native bfloat16 products (AVX-512 BF16 or AMX),
//           BFloat16 falls back to Float32: oneDNN's emulation would be slower than Float32 itself.
//   stored: the bytes of a model file in their stored type (`WeightStorage`: F16, BF16, Q8_0, Q4_K, …), never
//           expanded as a whole; the products dequantise a tile at a time (WeightMatrix+Blocks.swift) and compute in
//           Float32, equal to Float32 products on the dequantised matrix up to the order of accumulation.

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
    /// What holds W's elements.
    enum Payload: Sendable {
        /// W in Float32 [Out, In], and its bfloat16 rounding (raw bits, row-major) when the products run in bfloat16.
        case dense(Tensor, bfloat16: [UInt16]?)
        /// W as stored blocks: rows of `inputs / storage.blockSize` blocks, `outputs` rows.
        case stored(WeightStorage, WeightBytes)
    }

    let payload: Payload
    public let outputs: Int
    public let inputs: Int
    /// The precision the products run at (bfloat16 only for dense W, and where the CPU has it natively).
    public let precision: ComputePrecision

    /// - precision: what the caller asks for; bfloat16 falls back to float32 where the CPU lacks it.
    public init(_ w: Tensor, precision: ComputePrecision = .float32) {
        precondition(w.rank == 2, "WeightMatrix: a matrix [Out, In] is needed, got \(w.shape)")
        outputs = w.shape[0]
        inputs = w.shape[1]
        if precision == .bfloat16 && ComputePrecision.hasNativeBFloat16 && MatmulBackend.usesOneDNN {
            var bits = [UInt16](repeating: 0, count: w.count)
            w.scalars.withUnsafeBufferPointer { p in bits.withUnsafeMutableBufferPointer { b in
                emend_to_bf16(p.baseAddress!, b.baseAddress!, p.count)
            } }
            payload = .dense(w, bfloat16: bits)
            self.precision = .bfloat16
        } else {
            payload = .dense(w, bfloat16: nil)
            self.precision = .float32
        }
    }

    /// W [outputs, inputs] kept in its stored type: `bytes` holds `outputs` rows of `inputs / blockSize` blocks.
    /// Throws `weightRowNotWholeBlocks` or `weightByteCount` when the bytes cannot be such a matrix.
    public init(storage: WeightStorage, bytes: WeightBytes, outputs: Int, inputs: Int) throws {
        precondition(outputs >= 0 && inputs >= 0, "WeightMatrix: negative shape [\(outputs), \(inputs)]")
        guard let rowBytes = storage.rowBytes(inputs) else {
            throw EmendCoreError.weightRowNotWholeBlocks(storage: storage.description, inputs: inputs, blockSize: storage.blockSize)
        }
        guard bytes.bytes.count == outputs * rowBytes else {
            throw EmendCoreError.weightByteCount(storage: storage.description, outputs: outputs, inputs: inputs,
                                                 expected: outputs * rowBytes, got: bytes.bytes.count)
        }
        // F32 products read the bytes as floats: a view at an odd address (a file with a strange alignment) is copied.
        let aligned = storage != .f32 || Int(bitPattern: bytes.bytes.baseAddress) % MemoryLayout<Float>.alignment == 0
        payload = .stored(storage, aligned ? bytes : WeightBytes(copying: bytes.bytes))
        self.outputs = outputs
        self.inputs = inputs
        precision = .float32
    }

    /// How W is stored: F32 for a dense matrix.
    public var storage: WeightStorage {
        if case let .stored(s, _) = payload { return s }
        return .f32
    }

    /// W in Float32 when it is held dense (nil for stored blocks: see `dequantized()`).
    public var float32: Tensor? {
        if case let .dense(w, _) = payload { return w }
        return nil
    }

    /// W in Float32 [Out, In]: the dense tensor itself, or a full dequantisation of the stored blocks (for the
    /// matrices being edited; the products never need it).
    public func dequantized() -> Tensor {
        switch payload {
        case let .dense(w, _): return w
        case .stored: return dequantizedRows(0..<outputs)
        }
    }

    /// Bytes the weights occupy in memory (the bfloat16 copy included).
    public var weightBytes: Int {
        switch payload {
        case let .dense(w, bits): return 4 * w.count + 2 * (bits?.count ?? 0)
        case let .stored(_, b): return b.bytes.count
        }
    }

    /// y = x · Wᵀ: [R, In] → [R, Out].
    public func forward(_ x: Tensor) -> Tensor {
        precondition(x.rank == 2 && x.shape[1] == inputs, "WeightMatrix.forward: input \(x.shape) for W [\(outputs), \(inputs)]")
        switch payload {
        case let .stored(s, b): return storedForward(x, s, b, kernel: .automatic)
        case let .dense(w, nil): return matmul(x, w, transposeB: true)
        case let .dense(w, bits?):
            // op(B)[k = In, n = Out] = Wᵀ: B(p, j) = W[j, p] → row stride 1, column stride In.
            return MatmulProfile.measure(rows: x.shape[0], inner: inputs, outer: outputs, precision: "bf16 x·Wᵀ") {
                product(x, bits, n: outputs, k: inputs, bRowStride: 1, bColumnStride: inputs)
            } ?? matmul(x, w, transposeB: true)
        }
    }

    /// dx = g · W: [R, Out] → [R, In].
    public func backward(_ g: Tensor) -> Tensor {
        precondition(g.rank == 2 && g.shape[1] == outputs, "WeightMatrix.backward: gradient \(g.shape) for W [\(outputs), \(inputs)]")
        switch payload {
        case let .stored(s, b): return storedBackward(g, s, b, kernel: .automatic)
        case let .dense(w, nil): return matmul(g, w)
        case let .dense(w, bits?):
            // op(B)[k = Out, n = In] = W: row stride In, column stride 1.
            return MatmulProfile.measure(rows: g.shape[0], inner: outputs, outer: inputs, precision: "bf16 g·W") {
                product(g, bits, n: inputs, k: outputs, bRowStride: inputs, bColumnStride: 1)
            } ?? matmul(g, w)
        }
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
