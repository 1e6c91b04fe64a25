// A tiny Llama-style decoder in plain Float64 loops, as the reference for autograd tests.
//
// embedding → L × (RMSNorm → causal multi-head attention with RoPE (half-split) and GQA → residual
// → RMSNorm → SwiGLU MLP → residual) → final RMSNorm → logits → mean cross-entropy,
// with an optional vector δ added to chosen rows of layer 0's output (the edit intervention).
//
// Written independently of EmendCore's ops: one token, one head, one dot product at a time.
// Shape legend: T tokens, D width, H/Hkv heads, Dh head dim, F FFN width, V vocab, L layers.

import EmendCore
import Foundation

// MARK: - Types

/// Sizes of the toy decoder.
public struct ToyTransformerConfig: Sendable {
    public var vocab: Int, width: Int, heads: Int, kvHeads: Int, headDim: Int, ffnWidth: Int, layers: Int
    public var eps: Double, ropeBase: Double

    public init(vocab: Int = 11, width: Int = 8, heads: Int = 2, kvHeads: Int = 1, headDim: Int = 4,
                ffnWidth: Int = 12, layers: Int = 2, eps: Double = 1e-5, ropeBase: Double = 10_000) {
        (self.vocab, self.width, self.heads, self.kvHeads, self.headDim) = (vocab, width, heads, kvHeads, headDim)
        (self.ffnWidth, self.layers, self.eps, self.ropeBase) = (ffnWidth, layers, eps, ropeBase)
    }

    /// Every weight's name and shape (PyTorch layouts: linear weights are [Out, In]).
    public var weightShapes: [(name: String, shape: [Int])] {
        var s: [(String, [Int])] = [("embed", [vocab, width])]                     // [V, D]
        for l in 0..<layers {
            s += [("l\(l).attnNorm", [width]),                                     // [D]
                  ("l\(l).wq", [heads * headDim, width]),                          // [H·Dh, D]
                  ("l\(l).wk", [kvHeads * headDim, width]),                        // [Hkv·Dh, D]
                  ("l\(l).wv", [kvHeads * headDim, width]),                        // [Hkv·Dh, D]
                  ("l\(l).wo", [width, heads * headDim]),                          // [D, H·Dh]
                  ("l\(l).mlpNorm", [width]),                                      // [D]
                  ("l\(l).wGate", [ffnWidth, width]),                              // [F, D]
                  ("l\(l).wUp", [ffnWidth, width]),                                // [F, D]
                  ("l\(l).wDown", [width, ffnWidth])]                              // [D, F]
        }
        s += [("finalNorm", [width]), ("lmHead", [vocab, width])]                  // [D], [V, D]
        return s
    }

    /// Seeded random weights: norms near 1, matrices N(0, 0.5²).
    public func randomWeights(seed: UInt64) -> [String: Tensor] {
        var rng = SeededGenerator(seed: seed)
        var w: [String: Tensor] = [:]
        for (name, shape) in weightShapes {
            w[name] = shape.count == 1 ? Tensor.randomNormal(shape, mean: 1, std: 0.2, using: &rng)
                                       : Tensor.randomNormal(shape, std: 0.5, using: &rng)
        }
        return w
    }
}

// MARK: - Forward

/// Mean cross-entropy of `targets` after running `tokens` through the toy decoder, in Float64.
/// - weights: by the names in `weightShapes`; delta: [D] added to rows `deltaRows` of layer 0's output.
public func naiveToyTransformerLoss(_ config: ToyTransformerConfig, weights: [String: Naive64],
                                    tokens: [Int], targets: [Int], delta: Naive64?, deltaRows: [Int]) -> Double {
    let c = config, t = tokens.count, group = c.heads / c.kvHeads
    func w(_ name: String) -> Naive64 {
        guard let found = weights[name] else { preconditionFailure("naiveToyTransformerLoss: no weight named \(name)") }
        return found
    }
    /// y[o] = Σ_i m[o, i]·x[i] for m [Out, In].
    func matvec(_ m: Naive64, _ x: [Double]) -> [Double] {
        let inW = m.shape[1]
        return (0..<m.shape[0]).map { o in (0..<inW).reduce(0.0) { $0 + m.values[o * inW + $1] * x[$1] } }
    }
    func rmsNorm(_ x: [Double], _ g: Naive64) -> [Double] {
        let ms = x.reduce(0) { $0 + $1 * $1 } / Double(x.count)
        return x.indices.map { x[$0] / (ms + c.eps).squareRoot() * g.values[$0] }
    }
    /// Half-split RoPE of one head vector at position p.
    func rope(_ v: [Double], _ p: Int) -> [Double] {
        let half = v.count / 2
        var out = v
        for i in 0..<half {
            let angle = Double(p) / Foundation.pow(c.ropeBase, Double(2 * i) / Double(v.count))
            out[i] = v[i] * Foundation.cos(angle) - v[i + half] * Foundation.sin(angle)
            out[i + half] = v[i + half] * Foundation.cos(angle) + v[i] * Foundation.sin(angle)
        }
        return out
    }

    let embed = w("embed")
    var h: [[Double]] = tokens.map { id in Array(embed.values[(id * c.width)..<((id + 1) * c.width)]) }   // [T][D]
    for l in 0..<c.layers {
        // Attention.
        let x = h.map { rmsNorm($0, w("l\(l).attnNorm")) }
        let q = x.map { matvec(w("l\(l).wq"), $0) }, k = x.map { matvec(w("l\(l).wk"), $0) }
        let v = x.map { matvec(w("l\(l).wv"), $0) }
        var attn = [[Double]](repeating: [Double](repeating: 0, count: c.heads * c.headDim), count: t)
        for head in 0..<c.heads {
            let kvHead = head / group
            func part(_ row: [Double], _ hd: Int) -> [Double] { Array(row[(hd * c.headDim)..<((hd + 1) * c.headDim)]) }
            for i in 0..<t {
                let qi = rope(part(q[i], head), i)
                var scores: [Double] = []
                for j in 0...i {
                    let kj = rope(part(k[j], kvHead), j)
                    scores.append(zip(qi, kj).reduce(0) { $0 + $1.0 * $1.1 } / Double(c.headDim).squareRoot())
                }
                let m = scores.max() ?? 0
                let e = scores.map { Foundation.exp($0 - m) }, s = e.reduce(0, +)
                for j in 0...i {
                    let vj = part(v[j], kvHead)
                    for d in 0..<c.headDim { attn[i][head * c.headDim + d] += e[j] / s * vj[d] }
                }
            }
        }
        for i in 0..<t {
            let o = matvec(w("l\(l).wo"), attn[i])
            for d in 0..<c.width { h[i][d] += o[d] }
        }
        // SwiGLU MLP.
        for i in 0..<t {
            let xi = rmsNorm(h[i], w("l\(l).mlpNorm"))
            let gate = matvec(w("l\(l).wGate"), xi), up = matvec(w("l\(l).wUp"), xi)
            let act = zip(gate, up).map { g, u in g / (1 + Foundation.exp(-g)) * u }
            let o = matvec(w("l\(l).wDown"), act)
            for d in 0..<c.width { h[i][d] += o[d] }
        }
        if l == 0, let delta {
            for r in deltaRows { for d in 0..<c.width { h[r][d] += delta.values[d] } }
        }
    }
    // Head and loss.
    var total = 0.0, used = 0
    for i in 0..<t where targets[i] != ignoreIndex {
        let logits = matvec(w("lmHead"), rmsNorm(h[i], w("finalNorm")))
        let m = logits.max() ?? 0
        let lse = m + Foundation.log(logits.reduce(0) { $0 + Foundation.exp($1 - m) })
        total += lse - logits[targets[i]]
        used += 1
    }
    return used == 0 ? 0 : total / Double(used)
}
