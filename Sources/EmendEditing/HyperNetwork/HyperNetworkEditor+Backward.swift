// The editor's backward pass (spec §4.6–§4.7): from G_l = dL/dS_l [F, Dm] (the meta-loss gradient with respect to
// each edited down-projection, read off the language model) to the gradients of every editor parameter.
// The network is re-run chunk by chunk with a trace, so only one chunk's graph is alive (never the LM's).
//
//   MALMEN: dL/dD = U M⁻¹ G, dL/dℓ = −λ⟨M⁻¹G, S*⟩ (LeastSquaresShift.backward); per row, with c = −η⟨u, ũ⟩, d = c δ̃:
//           g_δ̃ = c g_d,  g_c = ⟨g_d, δ̃⟩,  g_ũ = −η g_c u,  g_η = −Σ g_c ⟨u, ũ⟩
//   MEND:   S = −η Ũᵀ Δ̃:  g_Ũ = −η Δ̃ Gᵀ,  g_Δ̃ = −η Ũ G,  g_η = −⟨G, ŨᵀΔ̃⟩

import EmendCore
import Foundation

extension HyperNetworkEditor {
    /// Accumulates into `grads` the gradients of the meta-loss, given G per edited layer ([F, Dm]).
    public func backward(caches: [Int: TokenCache], shifts: [Int: LayerShift], metaGradients: [Int: Tensor],
                         into grads: inout EditorParameters) throws {
        for l in settings.layers {
            guard let g = metaGradients[l], let cache = caches[l] else { continue }
            let m = module(l), eta = parameters.eta.scalars[m]
            var dValues: Tensor? = nil
            if settings.method == .malmen {
                guard let solve = shifts[l]?.solve else { continue }
                let (dv, dl) = try solve.backward(try Matrix64(g))
                grads.logLambda.scalars[m] += Float(dl)
                dValues = Tensor(dv)
            }
            var offset = 0
            for (k, v) in cache.chunks(of: settings.chunkTokens) {
                let n = k.dim(0)
                var trace: EditorTrace? = EditorTrace()
                let (pu, pd) = pseudo(m, keys: k, values: v, trace: &trace)
                let gPu: Tensor, gPd: Tensor
                if let dv = dValues {
                    let gd = dv.rows(offset..<(offset + n))
                    let uu = (k * pu).sum(axis: 1)                       // ⟨u, ũ⟩ [n]
                    let c = uu * (-eta)
                    let gc = (gd * pd).sum(axis: 1)                      // [n]
                    gPd = gd * c.reshaped([n, 1])
                    gPu = k * (gc * (-eta)).reshaped([n, 1])
                    grads.eta.scalars[m] += -(gc * uu).sum()
                } else {
                    let pg = matmul(pu, g)                               // Ũ G [n, Dm]
                    gPu = matmul(pd, g, transposeB: true) * (-eta)
                    gPd = pg * (-eta)
                    grads.eta.scalars[m] += -(pg * pd).sum()
                }
                EditorNetwork.backward(parameters, module: m, trace: trace!, gradOut: concatenate([gPu, gPd], axis: 1), into: &grads)
                offset += n
            }
        }
    }
}

/// The global L2 norm of a list of gradients, and the list scaled so its norm is at most `maxNorm`.
public func clipGlobalNorm(_ grads: [Tensor], maxNorm: Double) -> (clipped: [Tensor], norm: Double) {
    var s = 0.0
    for g in grads { for x in g.scalars { s += Double(x) * Double(x) } }
    let norm = s.squareRoot()
    guard norm > maxNorm, norm.isFinite else { return (grads, norm) }
    let f = Float(maxNorm / (norm + 1e-6))
    return (grads.map { $0 * f }, norm)
}
