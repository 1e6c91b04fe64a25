// The editor network g (spec §4.3, §4.7): one per weight shape, shared by the edited matrices of that shape, which
// it tells apart by a module index l (per-module FiLM scale/shift rows, step size η_l and ridge log λ_l).
//
//   h₀ = normalise(concat(u, δ))                                      [n, S]   S = F + Dm
//   block k (k = 1, 2):  a = y·A    p = a·B + bias    r = max(p, 0)    x = s_l ⊙ r + t_l    out = x + y
//   (ũ, δ̃) = split(h₂)                                                ũ [n, F], δ̃ [n, Dm]
//
// A ~ N(0, 1) [S, R], B = 0 [R, S], bias = 0, scale = 1, shift = 0: the network is the identity at initialisation.
// The ReLU's derivative is taken as 1 at exactly 0 (torch.clamp's convention): at initialisation every p is 0, and
// a derivative of 0 there would leave A and B without gradient forever.

import EmendCore

/// The trainable tensors of one editor network (also used, zero-filled, as its gradient accumulator).
public struct EditorParameters: Sendable {
    public var a: [Tensor]          // per block [S, R]
    public var b: [Tensor]          // per block [R, S]
    public var bias: [Tensor]       // per block [S]
    public var scale: [Tensor]      // per block [modules, S]
    public var shift: [Tensor]      // per block [modules, S]
    /// η_l per module: [modules]
    public var eta: Tensor
    /// ℓ_l = log λ_l per module (MALMEN only): [modules]
    public var logLambda: Tensor

    /// The identity-initialised network (A random, B zero), seeded.
    public static func identity(size: Int, rank: Int, blocks: Int, modules: Int, eta: Float, seed: UInt64) -> EditorParameters {
        var rng = SeededGenerator(seed: seed)
        return EditorParameters(
            a: (0..<blocks).map { _ in Tensor.randomNormal([size, rank], using: &rng) },
            b: (0..<blocks).map { _ in Tensor.zeros([rank, size]) },
            bias: (0..<blocks).map { _ in Tensor.zeros([size]) },
            scale: (0..<blocks).map { _ in Tensor.ones([modules, size]) },
            shift: (0..<blocks).map { _ in Tensor.zeros([modules, size]) },
            eta: Tensor(repeating: eta, shape: [modules]), logLambda: Tensor.zeros([modules]))
    }

    /// Zeros shaped like `self`.
    public func zeros() -> EditorParameters {
        var z = self
        z.flat = flat.map { Tensor.zeros($0.shape) }
        return z
    }

    /// Every tensor in a fixed order (for Adam and clipping).
    public var flat: [Tensor] {
        get { a + b + bias + scale + shift + [eta, logLambda] }
        set {
            let k = a.count
            a = Array(newValue[0..<k]); b = Array(newValue[k..<(2 * k)]); bias = Array(newValue[(2 * k)..<(3 * k)])
            scale = Array(newValue[(3 * k)..<(4 * k)]); shift = Array(newValue[(4 * k)..<(5 * k)])
            eta = newValue[5 * k]; logLambda = newValue[5 * k + 1]
        }
    }

    /// Names matching `flat`, for the checkpoint.
    public var names: [String] {
        let k = a.count
        return (0..<k).map { "block\($0).a" } + (0..<k).map { "block\($0).b" } + (0..<k).map { "block\($0).bias" }
            + (0..<k).map { "block\($0).scale" } + (0..<k).map { "block\($0).shift" } + ["eta", "log_lambda"]
    }

    /// self += other, tensor by tensor.
    public mutating func add(_ other: EditorParameters) {
        flat = zip(flat, other.flat).map { $0 + $1 }
    }
}

/// What the backward pass of `EditorNetwork.forward` needs.
public struct EditorTrace: Sendable {
    var inputs: [Tensor] = []      // y per block [n, S]
    var hidden: [Tensor] = []      // a per block [n, R]
    var pre: [Tensor] = []         // p per block [n, S]
}

/// The network body on normalised rows.
public enum EditorNetwork {
    /// h₀ [n, S] → h₂ [n, S] for module `module`; fills `trace` when given.
    public static func forward(_ p: EditorParameters, module: Int, _ h0: Tensor, trace: inout EditorTrace?) -> Tensor {
        var y = h0
        for k in p.a.indices {
            let a = matmul(y, p.a[k])
            let pre = matmul(a, p.b[k]) + p.bias[k]
            let r = pre.relu()
            let x = r * p.scale[k][module] + p.shift[k][module]
            if trace != nil { trace!.inputs.append(y); trace!.hidden.append(a); trace!.pre.append(pre) }
            y = x + y
        }
        return y
    }

    /// Back-propagates dL/dh₂ [n, S] through the blocks, accumulating into `grads`; returns dL/dh₀.
    @discardableResult
    public static func backward(_ p: EditorParameters, module: Int, trace: EditorTrace, gradOut: Tensor,
                                into grads: inout EditorParameters) -> Tensor {
        var g = gradOut
        for k in p.a.indices.reversed() {
            let pre = trace.pre[k], y = trace.inputs[k], a = trace.hidden[k]
            let r = pre.relu()
            addRow(&grads.shift[k], module, g.sum(axis: 0))
            addRow(&grads.scale[k], module, (g * r).sum(axis: 0))
            let gr = g * p.scale[k][module]
            let gp = gr * pre.map { $0 >= 0 ? 1 : 0 }                  // derivative 1 at exactly 0
            grads.bias[k] += gp.sum(axis: 0)
            grads.b[k] += matmul(a, gp, transposeA: true)
            let ga = matmul(gp, p.b[k], transposeB: true)
            grads.a[k] += matmul(y, ga, transposeA: true)
            g = g + matmul(ga, p.a[k], transposeB: true)
        }
        return g
    }

    static func addRow(_ t: inout Tensor, _ row: Int, _ v: Tensor) {
        let w = t.dim(1)
        t.scalars.withUnsafeMutableBufferPointer { q in for j in 0..<w { q[row * w + j] += v.scalars[j] } }
    }
}
