// Reverse-mode automatic differentiation: a tape of recorded ops, each with its vector-Jacobian
// product (VJP), walked backwards from a scalar loss.
//
// Goals, in order: correct (every VJP is checked against Float64 finite differences in
// AutogradGradientTests), free when unused (an op whose inputs are all constants records nothing
// and allocates no closure), then fast (a VJP computes gradients only for inputs that need them).
//
// Shape legend: B batch, T tokens, D width, H/Hkv heads, Dh head dim, F FFN width, V vocab,
// L layers, N requests, K key dim.
//
// ## Writing an op
//
// Compute the forward value with the `Tensor` kernel; then `guard let tape = Tape.recording(…)`
// returns the constant result when no input requires grad; otherwise `tape.record` stores a VJP
// that maps the upstream gradient (shaped like the output) to one gradient per input (`nil`
// where the input needs none). VJP closures capture Tensors and Bools, never Variables (a Variable
// holds its tape, and the tape holds the closure). Elementwise ops pass `broadcasts: true` and
// return gradients in the output's shape; the tape then sums them down with `unbroadcast`, the
// one place broadcasting is undone.

/// A record of differentiable operations, for computing gradients of a scalar loss.
///
/// A model is written once against `Variable`. Wrapping weights as constants gives plain inference
/// (no tape, no recording); making some leaves tape parameters gives their gradients:
///
///     let tape = Tape()
///     let delta = tape.parameter(Tensor.zeros([D]), name: "delta")      // [D] the edit vector δ
///     var h = embed.gatherRows(tokenIDs)                                  // [T, D]; embed is a constant
///     for l in 0..<L {
///         h = block(h, layer: l)                                          // norms, attention, MLP on Variables
///         if l == editLayer { h = h.addingRows(delta, at: [subjectLast]) }
///     }
///     let logits = linear(h.rmsNormed(weight: finalNorm, eps: 1e-5), lmHead)   // [T, V]
///     let loss = crossEntropy(logits: logits, targets: targets)           // []
///     let dDelta = try tape.gradients(of: loss).gradient(delta)           // [D]; throws on a shape bug
///     try adam.step(params: &deltas, grads: [dDelta])                     // deltas: [Tensor], [D] each
///
/// Frozen weights are `Variable(constant:)` (or `tensor.constant`): no gradient is computed for
/// them, and ops whose inputs are all constants record nothing. Shape errors inside forward ops
/// are programming errors and stop the program (as the Tensor kernels do); validate token ids and
/// other input-derived indices before the forward pass.
///
/// A tape is not thread-safe: record each forward pass on one thread (ops may still use many
/// cores inside). Make a fresh tape for every step; dropping it frees every saved activation.
public final class Tape: @unchecked Sendable {
    /// Maps the upstream gradient (shaped like the op's output) to one gradient per input, in
    /// input order; `nil` for inputs that do not require grad.
    public typealias VJP = (_ upstream: Tensor) -> [Tensor?]

    /// One recorded value: a leaf (parameter) or the output of an op.
    struct Node {
        /// The op's name, used in error messages ("matmul", "rmsNorm", "parameter w_q").
        let op: String
        /// The recorded value's shape; every gradient reaching this node must have it.
        let shape: [Int]
        /// The node id of each input; −1 for inputs that are constants.
        let inputs: [Int]
        /// Whether the VJP returns gradients in the broadcast output shape (elementwise ops).
        let broadcasts: Bool
        /// `nil` for leaves, and for ops declared non-differentiable.
        let vjp: VJP?
        let isLeaf: Bool
    }

    private(set) var nodes: [Node] = []

    public init() {}

    /// The number of recorded nodes (leaves and ops).
    public var count: Int { nodes.count }

    // MARK: - Leaves

    /// A leaf that requires grad: its gradient is available after `gradients(of:)`.
    /// - Parameter name: used in error messages only.
    public func parameter(_ value: Tensor, name: String = "parameter") -> Variable {
        nodes.append(Node(op: name, shape: value.shape, inputs: [], broadcasts: false, vjp: nil, isLeaf: true))
        return Variable(value: value, tape: self, id: nodes.count - 1)
    }

    // MARK: - Recording

    /// The tape shared by those of `inputs` that require grad, or `nil` when none does (the
    /// caller then returns a constant and records nothing). Mixing two tapes is a programming
    /// error and stops the program.
    @inline(__always)
    public static func recording(_ a: Variable) -> Tape? { a.tape }

    @inline(__always)
    public static func recording(_ a: Variable, _ b: Variable) -> Tape? {
        switch (a.tape, b.tape) {
        case (nil, nil): return nil
        case let (t?, nil): return t
        case let (nil, t?): return t
        case let (t?, u?):
            precondition(t === u, "autograd: an op mixes variables from two different tapes")
            return t
        }
    }

    public static func recording(_ inputs: [Variable]) -> Tape? {
        var found: Tape?
        for v in inputs {
            guard let t = v.tape else { continue }
            if let f = found {
                precondition(f === t, "autograd: an op mixes variables from two different tapes")
            } else {
                found = t
            }
        }
        return found
    }

    /// Records an op's output and VJP; returns the output as a variable on this tape.
    /// - Parameters:
    ///   - value: the op's forward result.
    ///   - op: the op's name, for error messages.
    ///   - inputs: the op's variable inputs, in the order the VJP returns their gradients.
    ///   - broadcasts: the VJP returns gradients in `value`'s shape, to be summed down to each input.
    ///   - vjp: `nil` declares the op non-differentiable; gradient reaching it throws.
    public func record(_ value: Tensor, op: String, inputs: [Variable], broadcasts: Bool = false,
                       vjp: VJP?) -> Variable {
        let ids = inputs.map { v -> Int in
            guard let t = v.tape else { return -1 }
            precondition(t === self, "autograd: \(op) records onto a tape that does not own its input")
            return v.id
        }
        nodes.append(Node(op: op, shape: value.shape, inputs: ids, broadcasts: broadcasts, vjp: vjp, isLeaf: false))
        return Variable(value: value, tape: self, id: nodes.count - 1)
    }

    // MARK: - Backward

    /// Gradients of a one-element `loss` with respect to every leaf it depends on.
    ///
    /// Walks the nodes in reverse recording order (a topological order: inputs are always recorded
    /// before the ops that use them), seeding the loss with 1 and accumulating with `+`.
    /// Gradients of intermediate values are freed as soon as they are used, unless listed in `keeping`.
    /// - Throws: `EmendCoreError.foreignVariable` if `loss` was not recorded here;
    ///   `.shapeMismatch` if `loss` has more than one element or a VJP returns a wrongly shaped
    ///   gradient; `.missingVJP` if gradient reaches a non-differentiable op.
    public func gradients(of loss: Variable, keeping: [Variable] = []) throws -> Gradients {
        guard let t = loss.tape, t === self else {
            throw EmendCoreError.foreignVariable(operation: "Tape.gradients(of:)",
                                                 detail: "the loss was not recorded on this tape (it is a constant or from another tape)")
        }
        guard loss.value.count == 1 else {
            throw EmendCoreError.shapeMismatch(operation: "Tape.gradients(of:): the loss must be a single element",
                                               expected: "[] or [1]", got: "\(loss.shape)")
        }
        var kept = Set<Int>()
        for v in keeping {
            guard let vt = v.tape, vt === self else {
                throw EmendCoreError.foreignVariable(operation: "Tape.gradients(of:keeping:)",
                                                     detail: "a kept variable was not recorded on this tape")
            }
            kept.insert(v.id)
        }

        var grads = [Tensor?](repeating: nil, count: loss.id + 1)
        grads[loss.id] = Tensor(repeating: 1, shape: loss.shape)
        for id in stride(from: loss.id, through: 0, by: -1) {
            guard let upstream = grads[id] else { continue }
            let node = nodes[id]
            if node.isLeaf { continue }
            if !kept.contains(id) { grads[id] = nil }
            guard node.inputs.contains(where: { $0 >= 0 }) else { continue }
            guard let vjp = node.vjp else {
                throw EmendCoreError.missingVJP(operation: node.op, detail: "the op was recorded as non-differentiable")
            }
            let inputGrads = vjp(upstream)
            guard inputGrads.count == node.inputs.count else {
                throw EmendCoreError.missingVJP(operation: node.op,
                                                detail: "its VJP returned \(inputGrads.count) gradients for \(node.inputs.count) inputs")
            }
            for (k, inputID) in node.inputs.enumerated() where inputID >= 0 {
                guard let raw = inputGrads[k] else {
                    throw EmendCoreError.missingVJP(operation: node.op,
                                                    detail: "its VJP returned no gradient for input \(k), which requires grad")
                }
                let g = try conformed(raw, to: nodes[inputID].shape, node: node, input: k)
                accumulate(g, into: &grads[inputID])
            }
        }
        var out: [Int: Tensor] = [:]
        for (id, g) in grads.enumerated() {
            if let g, nodes[id].isLeaf || kept.contains(id) { out[id] = g }
        }
        return Gradients(tape: self, byNode: out)
    }

    // MARK: - Helpers

    /// The gradient for input `k` of `node`, summed down over broadcast axes if the op broadcasts,
    /// checked to have the input's shape.
    private func conformed(_ g: Tensor, to shape: [Int], node: Node, input k: Int) throws -> Tensor {
        if g.shape == shape { return g }
        if node.broadcasts, Self.broadcasts(shape, to: g.shape) { return unbroadcast(g, to: shape) }
        throw EmendCoreError.shapeMismatch(operation: "gradient of \(node.op) for input \(k)",
                                           expected: "\(shape)", got: "\(g.shape)")
    }

    /// Whether `small` broadcasts to `big` (NumPy rules, right-aligned).
    static func broadcasts(_ small: [Int], to big: [Int]) -> Bool {
        guard small.count <= big.count else { return false }
        let off = big.count - small.count
        for i in 0..<small.count where small[i] != 1 && small[i] != big[off + i] { return false }
        return true
    }

    /// `slot += g`, without copying the buffer already held in `slot`.
    private func accumulate(_ g: Tensor, into slot: inout Tensor?) {
        guard var sum = slot else { slot = g; return }
        slot = nil                     // release the array's second reference so `+=` is in place
        sum += g
        slot = sum
    }
}

/// The gradients `Tape.gradients(of:)` computed: one per leaf reached (and per kept variable).
public struct Gradients: Sendable {
    let tape: Tape
    let byNode: [Int: Tensor]

    /// The gradient of the loss with respect to `v` (shaped like `v`), or `nil` if `v` is not a
    /// leaf of this tape, or the loss does not depend on it.
    public subscript(_ v: Variable) -> Tensor? {
        guard let t = v.tape, t === tape else { return nil }
        return byNode[v.id]
    }

    /// The gradient with respect to `v`, zeros when the loss does not depend on it.
    public func gradient(_ v: Variable) -> Tensor { self[v] ?? Tensor.zeros(v.shape) }
}
