// The MLP branch as the residual stream receives it, for the editors that change the down-projection.
//
// A block adds its MLP's output u = down(key) to the residual stream either as it is (Llama, GPT-2, GPT-J) or
// through a post-norm, b = n(u) = g ⊙ u / ρ(u), ρ(u) = √(mean(u²) + ε) (Gemma). Locate-then-edit editors decide
// how the block output should move (a residual r) and then write u's change into the down-projection, so with a
// post-norm they need the u whose branch output is nearest the wanted one:
//   wanted y* = n(u) + r.  n is scale-invariant and its image is { g ⊙ v : ‖v‖² = D } (up to ε), so
//   v = argmin ‖g ⊙ v − y*‖² subject to ‖v‖² = D: the Lagrange condition (g² + μ) v = g ⊙ y* gives
//       v_i = g_i y*_i / (g_i² + μ), with the one μ > −min g_i² where ‖v‖² = D (bisection: ‖v(μ)‖ falls as μ grows);
//   u* = s·v with s = (v·u)/(v·v), the point of that ray nearest u (ρ(u) if the ray points away from u), or
//   nearest the search's u0 + δ at the search's own layer: the scale is free for the prompt the target was read
//   at, but not for the other prompts of the request, which move by the same ΔW·k.
// n(u*) = y* exactly when y* is in the image (then μ = 0, v = y*/g), which the target search guarantees at its
// own layer by searching u + δ rather than the block output (TargetSearch). Otherwise n(u*) is the point of the
// image nearest y* (in the residual stream's own metric), and what is left over stays in the residual that the
// next edited layer is given.
//
// Shape legend: N rows, D width.

import EmendCore

extension TransformerModel {
    /// Whether block `layer` passes its MLP output through a post-norm.
    public func hasMLPPostNorm(_ layer: Int) -> Bool { weights.blocks[layer].ffnPostNorm != nil }

    /// The branch the residual stream receives from MLP outputs u of block `layer`: n(u), or u. [N, D] → [N, D]
    public func mlpBranch(_ layer: Int, _ u: Tensor) -> Tensor { postNorm(u, weights.blocks[layer].ffnPostNorm).0 }

    /// dL/du from dL/d(branch) at MLP outputs u of block `layer`. [N, D] → [N, D]
    public func mlpBranchBackward(_ layer: Int, _ u: Tensor, dBranch: Tensor) -> Tensor {
        guard let g = weights.blocks[layer].ffnPostNorm else { return dBranch }
        let (_, saved) = normForward(u, weight: g, bias: nil)
        return normBackward(dBranch, x: u, weight: g, saved: saved)
    }

    /// The MLP outputs u* whose branch is nearest `wanted` (see the header), one per row of `current` (the MLP
    /// outputs now). Without a post-norm: `wanted` itself. [N, D], [N, D] → [N, D]
    /// - scaleNear: where given, the point of the ray nearest these rows instead of nearest `current` (the target
    ///   search's own u0 + δ, so that every prompt of a request moves by the δ the search tried).
    public func mlpOutputs(_ layer: Int, reaching wanted: Tensor, from current: Tensor, scaleNear: Tensor? = nil) -> Tensor {
        guard let g = weights.blocks[layer].ffnPostNorm else { return wanted }
        let d = current.dim(-1), rows = current.count / max(d, 1)
        var out = [Float](repeating: 0, count: current.count)
        let g2 = g.scalars.map { Double($0) * Double($0) }
        for r in 0..<rows {
            let u = current.scalars[(r * d)..<((r + 1) * d)].map(Double.init)
            let b = (0..<d).map { Double(g.scalars[$0]) * Double(wanted.scalars[r * d + $0]) }
            func v(_ mu: Double) -> [Double] { (0..<d).map { g2[$0] + mu > 0 ? b[$0] / (g2[$0] + mu) : 0 } }
            func excess(_ mu: Double) -> Double { v(mu).reduce(0) { $0 + $1 * $1 } - Double(d) }
            // ‖v(μ)‖² − D falls from +∞ (near −min g²) to ≤ 0 at μ = √(Σb²/D); bisect in between.
            var lo = -(g2.min() ?? 0), hi = max((b.reduce(0) { $0 + $1 * $1 } / Double(d)).squareRoot(), 1e-12)
            for _ in 0..<200 where hi - lo > 1e-12 * max(1, abs(hi)) {
                let mid = (lo + hi) / 2
                if excess(mid) > 0 { lo = mid } else { hi = mid }
            }
            let vs = v(hi)
            let vu = zip(vs, u).reduce(0) { $0 + $1.0 * $1.1 }, vv = vs.reduce(0) { $0 + $1 * $1 }
            var s = vv > 0 ? vu / vv : 0
            if !(s > 0) || !s.isFinite { s = (u.reduce(0) { $0 + $1 * $1 } / Double(d) + Double(config.normEps)).squareRoot() }
            if let near = scaleNear {
                let vn = (0..<d).reduce(0.0) { $0 + vs[$1] * Double(near.scalars[r * d + $1]) }
                if vv > 0, vn > 0 { s = vn / vv }
            }
            for j in 0..<d { out[r * d + j] = Float(s * vs[j]) }
        }
        return Tensor(shape: current.shape, scalars: out)
    }
}
