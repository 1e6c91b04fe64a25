// A weight matrix as a model's field: row lookups (embeddings), row reorders and row slices made at load, in-place
// updates of an edited matrix, and a stack of matrices that read the same input (FrozenBlock's q/k/v, gate/up).
//
// Shapes: W [Out, In]. Stored blocks are whole rows (a row is In / blockSize blocks), so every row operation here
// moves bytes and never dequantises: a slice is a view of the same bytes, a reorder a copy row by row.

import CEmendKernels

extension WeightMatrix {
    /// [Out, In].
    public var shape: [Int] { [outputs, inputs] }

    /// True when W is held in stored blocks (not as a Float32 tensor).
    public var isStored: Bool {
        if case .stored = payload { return true }
        return false
    }

    /// Rows `ids` of W in Float32: [ids.count, In] (an embedding lookup; only those rows are dequantised).
    public func gatherRows(_ ids: [Int]) -> Tensor {
        guard case let .stored(s, b) = payload else { return float32!.gatherRows(ids) }
        for i in ids { precondition(i >= 0 && i < outputs, "WeightMatrix.gatherRows: row \(i) of \(outputs)") }
        let n = inputs
        let out = [Float](unsafeUninitializedCapacity: ids.count * n) { p, initialized in
            for (k, i) in ids.enumerated() where n > 0 {
                dequantize(s, b, rows: i..<(i + 1), columns: 0..<n, into: p.baseAddress! + k * n, stride: n)
            }
            initialized = ids.count * n
        }
        return Tensor(shape: [ids.count, n], scalars: out)
    }

    /// Rows `rows` of W as a matrix of the same kind: a view of the same bytes when stored (no copy).
    public func slicedRows(_ rows: Range<Int>) -> WeightMatrix {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= outputs, "WeightMatrix.slicedRows: \(rows) of \(outputs) rows")
        switch payload {
        case let .dense(w, _): return WeightMatrix(w.sliced(axis: 0, rows), precision: precision)
        case let .stored(s, b):
            let rb = s.rowBytes(inputs)!
            let view = UnsafeRawBufferPointer(rebasing: b.bytes[(rows.lowerBound * rb)..<(rows.upperBound * rb)])
            return WeightMatrix(validated: s, WeightBytes(viewing: view, owner: b), outputs: rows.count, inputs: inputs)
        }
    }

    /// W with its rows reordered: row i of the result is row `order[i]` of W (a permutation made at load, such as
    /// llama.cpp's Q/K rows). Stored rows are copied as bytes.
    public func reorderedRows(_ order: [Int]) -> WeightMatrix {
        precondition(order.count == outputs && order.allSatisfy { $0 >= 0 && $0 < outputs },
                     "WeightMatrix.reorderedRows: an order of \(outputs) rows is needed")
        switch payload {
        case let .dense(w, _): return WeightMatrix(w.gatherRows(order), precision: precision)
        case let .stored(s, b):
            let rb = s.rowBytes(inputs)!
            let owned = WeightBytes(count: outputs * rb) { copy in
                for (i, src) in order.enumerated() where rb > 0 {
                    (copy.baseAddress! + i * rb).copyMemory(from: b.bytes.baseAddress! + src * rb, byteCount: rb)
                }
            }
            return WeightMatrix(validated: s, owned, outputs: outputs, inputs: inputs)
        }
    }

    /// The same W computing at `precision` (a bfloat16 copy of a dense W; stored blocks compute as they are).
    public func computing(at precision: ComputePrecision) -> WeightMatrix {
        guard case let .dense(w, _) = payload, precision != self.precision else { return self }
        return WeightMatrix(w, precision: precision)
    }

    /// The Frobenius norm of W.
    public func norm() -> Float { dequantized().norm() }

    /// W += ΔW [Out, In]: the matrix becomes dense Float32 (an edited matrix is materialised; the rest stay stored).
    public static func += (w: inout WeightMatrix, delta: Tensor) {
        precondition(delta.shape == w.shape, "WeightMatrix +=: ΔW \(delta.shape) for W \(w.shape)")
        w = WeightMatrix(w.dequantized() + delta)
    }

    /// A stored matrix whose bytes are known to fit (`rowBytes` and the count checked by the caller).
    private init(validated s: WeightStorage, _ bytes: WeightBytes, outputs: Int, inputs: Int) {
        // The checks cannot fail for bytes cut from a valid matrix at whole rows.
        self = try! WeightMatrix(storage: s, bytes: bytes, outputs: outputs, inputs: inputs)
    }
}

/// Matrices that read the same input, stacked by rows: [W₁; W₂; …] [Σ Outᵢ, In]. Dense parts are concatenated into
/// one matrix, so each pass runs one wide product instead of several narrow ones (FrozenBlock's q/k/v and gate/up);
/// stored parts (which may differ in type: a Q4_K_M file mixes Q4_K and Q6_K) run one product each, never copied.
///
/// Shapes: x [R, In] → forward [R, Σ Outᵢ]; g [R, Σ Outᵢ] → backward [R, In].
public struct StackedMatrix: Sendable {
    /// The matrices in order; one when all were dense.
    public let parts: [WeightMatrix]
    public let outputs: Int
    public let inputs: Int

    /// - precision: the compute precision of the dense parts (see `WeightMatrix.init(_:precision:)`).
    public init(_ parts: [WeightMatrix], precision: ComputePrecision) {
        precondition(!parts.isEmpty && parts.allSatisfy { $0.inputs == parts[0].inputs }, "StackedMatrix: parts must share In")
        if parts.count > 1, parts.allSatisfy({ !$0.isStored }) {
            self.parts = [WeightMatrix(concatenate(parts.map { $0.float32! }, axis: 0), precision: precision)]
        } else {
            self.parts = parts.map { $0.computing(at: precision) }
        }
        outputs = parts.reduce(0) { $0 + $1.outputs }
        inputs = parts[0].inputs
    }

    /// x · [W₁; W₂; …]ᵀ: [R, In] → [R, Σ Outᵢ].
    public func forward(_ x: Tensor) -> Tensor {
        parts.count == 1 ? parts[0].forward(x) : concatenate(parts.map { $0.forward(x) }, axis: 1)
    }

    /// g · [W₁; W₂; …] = Σᵢ g[:, rowsᵢ] · Wᵢ: [R, Σ Outᵢ] → [R, In].
    public func backward(_ g: Tensor) -> Tensor {
        guard parts.count > 1 else { return parts[0].backward(g) }
        var start = 0, sum: Tensor? = nil
        for p in parts {
            let d = p.backward(g.columns(start..<(start + p.outputs)))
            sum = sum.map { $0 + d } ?? d
            start += p.outputs
        }
        return sum!
    }
}

extension WeightMatrix: Equatable {
    /// Equal when both hold the same values in the same shape, however each is stored (a full dequantisation: for
    /// tests and checks, not for hot paths).
    public static func == (a: WeightMatrix, b: WeightMatrix) -> Bool {
        a.shape == b.shape && a.dequantized().scalars == b.dequantized().scalars
    }
}
