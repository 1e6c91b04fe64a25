// An obviously-right Float64 reference of the decoder, in plain loops: one token sequence, no cache,
// no BLAS, no shared code with the Swift engine beyond reading the weights. Tests compare the engine's
// Float32 forward (and its gradients, by finite differences on this reference) against it.

import EmendCore
@testable import EmendModels
import Foundation

struct NaiveDecoder64 {
    let c: ModelConfig
    let w: ModelWeights

    typealias Vec = [Double]

    func mat(_ t: Tensor) -> [[Double]] {
        let cols = t.shape[1]
        return (0..<t.shape[0]).map { r in (0..<cols).map { Double(t.scalars[r * cols + $0]) } }
    }
    func vec(_ t: Tensor?) -> Vec? { t.map { $0.scalars.map(Double.init) } }

    /// y = W x (+ b), W [out, in]
    /// A matrix as the model holds it, read through its Float32 values (the naive decoder never sees blocks).
    func lin(_ x: Vec, _ W: WeightMatrix, _ b: Tensor?) -> Vec { lin(x, W.dequantized(), b) }

    func lin(_ x: Vec, _ W: Tensor, _ b: Tensor?) -> Vec {
        let cols = W.shape[1]
        var y = Vec(repeating: 0, count: W.shape[0])
        for r in 0..<W.shape[0] {
            var s = 0.0
            for j in 0..<cols { s += Double(W.scalars[r * cols + j]) * x[j] }
            y[r] = s + (b.map { Double($0.scalars[r]) } ?? 0)
        }
        return y
    }

    func norm(_ x: Vec, _ weight: Tensor, _ bias: Tensor?) -> Vec {
        let d = Double(x.count), eps = Double(c.normEps)
        switch weight.count == x.count ? c.norm : .rms {
        case .rms:
            let ms = x.map { $0 * $0 }.reduce(0, +) / d
            let r = 1 / (ms + eps).squareRoot()
            return x.indices.map { x[$0] * r * Double(weight.scalars[$0]) }
        case .layer:
            let mu = x.reduce(0, +) / d
            let v = x.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / d
            let r = 1 / (v + eps).squareRoot()
            var y = Vec(repeating: 0, count: x.count)
            for j in x.indices {
                let b: Double = bias.map { Double($0.scalars[j]) } ?? 0
                y[j] = (x[j] - mu) * r * Double(weight.scalars[j]) + b
            }
            return y
        }
    }

    func act(_ x: Double) -> Double {
        switch c.activation {
        case .silu: return x / (1 + exp(-x))
        case .geluTanh: return 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
        case .geluErf: return 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
        }
    }

    /// RoPE on one head vector at position p, on its first Dr dims: rotate_half pairs (i, i + Dr/2), or GPT-J's
    /// rotate_every_two pairs (2i, 2i+1).
    /// Gemma-3: sliding-window layers (all but every `globalLayerEvery`-th) use `slidingRopeBase`.
    func rope(_ v: Vec, _ p: Int, layer: Int) -> Vec {
        let dr = c.rotaryDim ?? v.count, half = dr / 2
        let sliding = c.slidingWindow != nil && (layer + 1) % c.globalLayerEvery != 0
        let base = Double(sliding ? (c.slidingRopeBase ?? c.ropeBase) : c.ropeBase)
        var out = v
        for i in 0..<half {
            let theta = Double(p) * pow(base, -Double(2 * i) / Double(dr))
            let (a, b) = c.ropeConvention == .interleaved ? (2 * i, 2 * i + 1) : (i, i + half)
            out[a] = v[a] * cos(theta) - v[b] * sin(theta)
            out[b] = v[b] * cos(theta) + v[a] * sin(theta)
        }
        return out
    }

    /// Hidden states after every block, for one sequence: [L+1][T][D] (index 0 = embeddings).
    /// `delta`: (layer, position, vector) added to that block's output.
    /// Gemma-3 (written from its description, not from Emend's forward): embeddings × √D; RMSNorm on each q/k head
    /// before RoPE; a norm on the attention's and on the MLP's output before the residual; keys visible to a query at
    /// t only when t − j < W on sliding-window layers; logits scaled by 1/√query_pre_attn_scalar.
    func hiddenStates(_ ids: [Int], delta: (layer: Int, pos: Int, v: Vec)? = nil) -> [[Vec]] {
        let d = c.hiddenSize, dh = c.headDim, g = c.groupSize
        var x: [Vec] = ids.enumerated().map { (t, id) in
            var e = (0..<d).map { Double(w.tokenEmbedding.dequantized().scalars[id * d + $0]) }
            if let pe = w.positionEmbedding { for j in 0..<d { e[j] += Double(pe.scalars[t * d + j]) } }
            if c.scaleEmbeddings { e = e.map { $0 * Double(d).squareRoot() } }
            return e
        }
        var all = [x]
        for (l, b) in w.blocks.enumerated() {
            let a = x.map { norm($0, b.attnNorm, b.attnNormBias) }
            var qs = a.map { lin($0, b.attnQ, b.attnQBias) }, ks = a.map { lin($0, b.attnK, b.attnKBias) }
            let vs = a.map { lin($0, b.attnV, b.attnVBias) }
            func head(_ v: Vec, _ h: Int) -> Vec { Array(v[(h * dh)..<((h + 1) * dh)]) }
            if let qn = b.attnQNorm, let kn = b.attnKNorm {
                for t in ids.indices {
                    for h in 0..<c.headCount { qs[t].replaceSubrange((h * dh)..<((h + 1) * dh), with: norm(head(qs[t], h), qn, nil)) }
                    for h in 0..<c.kvHeadCount { ks[t].replaceSubrange((h * dh)..<((h + 1) * dh), with: norm(head(ks[t], h), kn, nil)) }
                }
            }
            if c.positions == .rope {
                for t in ids.indices {
                    for h in 0..<c.headCount { qs[t].replaceSubrange((h * dh)..<((h + 1) * dh), with: rope(head(qs[t], h), t, layer: l)) }
                    for h in 0..<c.kvHeadCount { ks[t].replaceSubrange((h * dh)..<((h + 1) * dh), with: rope(head(ks[t], h), t, layer: l)) }
                }
            }
            let window = (c.slidingWindow != nil && (l + 1) % c.globalLayerEvery != 0) ? c.slidingWindow! : Int.max
            let scale = 1 / Double(c.queryPreAttentionScalar ?? Float(dh)).squareRoot()
            var x1 = x
            for t in ids.indices {
                var o = Vec(repeating: 0, count: c.headCount * dh)
                for h in 0..<c.headCount {
                    let kv = h / g
                    var s = Vec(repeating: -Double.infinity, count: t + 1)
                    for j in 0...t where t - j < window {
                        var dot = 0.0
                        for e in 0..<dh { dot += qs[t][h * dh + e] * ks[j][kv * dh + e] }
                        s[j] = dot * scale
                    }
                    let m = s.max()!
                    s = s.map { exp($0 - m) }
                    let z = s.reduce(0, +)
                    for j in 0...t { for e in 0..<dh { o[h * dh + e] += s[j] / z * vs[j][kv * dh + e] } }
                }
                var proj = lin(o, b.attnOutput, b.attnOutputBias)
                if let pn = b.attnPostNorm { proj = norm(proj, pn, nil) }
                for j in 0..<d { x1[t][j] += proj[j] }
            }
            var x2 = x1
            for t in ids.indices {
                // Parallel blocks (GPT-J) feed the MLP the attention's normed input: out = x + attn(a) + mlp(a).
                let m = c.block == .parallel ? a[t] : norm(x1[t], b.ffnNorm!, b.ffnNormBias)
                let up = lin(m, b.ffnUp, b.ffnUpBias)
                let key: Vec
                if let gate = b.ffnGate {
                    let gp = lin(m, gate, b.ffnGateBias)
                    key = up.indices.map { act(gp[$0]) * up[$0] }
                } else {
                    key = up.map(act)
                }
                var down = lin(key, b.ffnDown, b.ffnDownBias)
                if let pn = b.ffnPostNorm { down = norm(down, pn, nil) }
                for j in 0..<d { x2[t][j] += down[j] }
            }
            if let dl = delta, dl.layer == l { for j in 0..<d { x2[dl.pos][j] += dl.v[j] } }
            x = x2
            all.append(x)
        }
        return all
    }

    /// Logits at every position: [T][V]
    func logits(_ ids: [Int], delta: (layer: Int, pos: Int, v: Vec)? = nil) -> [Vec] {
        let h = hiddenStates(ids, delta: delta).last!
        return h.map { lin(norm($0, w.outputNorm, w.outputNormBias), w.outputHead, w.outputBias) }
    }

    /// Mean NLL of ids[1...] given the prefix.
    func meanNLL(_ ids: [Int], delta: (layer: Int, pos: Int, v: Vec)? = nil) -> Double {
        let lg = logits(ids, delta: delta)
        var total = 0.0
        for t in 0..<(ids.count - 1) {
            let m = lg[t].max()!
            let lse = m + log(lg[t].map { exp($0 - m) }.reduce(0, +))
            total += lse - lg[t][ids[t + 1]]
        }
        return total / Double(ids.count - 1)
    }

    /// d(mean NLL)/dδ by central differences of `meanNLL` (step `eps`), δ added to block `layer`'s output at `pos`: [D]
    func deltaGradient(_ ids: [Int], layer: Int, pos: Int, eps: Double = 1e-5) -> [Double] {
        (0..<c.hiddenSize).map { j in
            var e = [Double](repeating: 0, count: c.hiddenSize); e[j] = eps
            let up = meanNLL(ids, delta: (layer, pos, e))
            e[j] = -eps
            return (up - meanNLL(ids, delta: (layer, pos, e))) / (2 * eps)
        }
    }
}
