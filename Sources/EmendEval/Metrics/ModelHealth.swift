// Model health after editing (the ENCORE paper's diagnostics):
//  - matrix norms: for every 2-D weight that differs between the original and the edited model, the Frobenius
//    norm ‖W‖_F = √Σ w² and the spectral norm ‖W‖₂ = σ_max (largest eigenvalue of the Gram matrix, Float64), each next to
//    the original's and as a ratio; and ‖ΔW‖_F.
//  - residual share ("importance hacking"): on corpus text, per token, ‖m_l‖ / ‖h_l‖ where m_l is layer l's
//    MLP output (W_down·key + bias) and h_l the block output (residual stream after the layer); mean over
//    tokens. An edit that makes one layer's MLP dominate the residual stream raises it.
//  - overfitting (the paper's Table 1): the mean probability the edited model gives its edited facts
//    (P(new | rewrite prompt)) next to the mean probability the unedited model gives the facts it knew
//    (P(true | prompt) over records where every true-object token was its argmax). P is the sequence
//    probability exp(Σ log p) and, as a second column, the geometric-mean token probability exp(−mean NLL).
//
// Shape legend: R rows (tokens), D width, F FFN width, O/I a matrix's out/in sizes.

import EmendCore
import EmendEditing
import EmendModels
import Foundation

// MARK: - Matrix norms

/// One edited matrix: its norms before and after.
public struct MatrixNormChange: Sendable, Equatable, Codable {
    public var layer: Int
    public var role: String
    public var frobenius0: Double, frobenius: Double
    public var spectral0: Double, spectral: Double
    /// ‖W − W0‖_F.
    public var deltaFrobenius: Double
    public var frobeniusRatio: Double { frobenius0 > 0 ? frobenius / frobenius0 : 0 }
    public var spectralRatio: Double { spectral0 > 0 ? spectral / spectral0 : 0 }
}

public enum MatrixNorms {
    /// √Σ w², summed in Float64.
    public static func frobenius(_ w: Tensor) -> Double {
        w.scalars.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    }

    /// σ_max of a 2-D tensor [O, I]: the square root of the largest eigenvalue of the smaller Gram matrix (W·Wᵀ
    /// [O, O] or Wᵀ·W [I, I]), formed with one Float64 GEMM and decomposed by LAPACK; 0 for an empty or
    /// non-finite matrix.
    public static func spectral(_ w: Tensor) -> Double {
        guard w.shape.count == 2, w.shape[0] > 0, w.shape[1] > 0, let a = try? Matrix64(w) else { return 0 }
        let rowsSmaller = a.rows <= a.cols
        guard let gram = try? matmul(a, a, transposeA: !rowsSmaller, transposeB: rowsSmaller),
              let largest = (try? SymmetricEigendecomposition(gram))?.values.last else { return 0 }
        return max(0, largest).squareRoot()
    }

    /// Every 2-D block weight (and the output head) that differs between the two models, with its norms.
    public static func changes(original: TransformerModel, edited: TransformerModel) throws -> [MatrixNormChange] {
        guard original.config.layerCount == edited.config.layerCount,
              original.config.hiddenSize == edited.config.hiddenSize else {
            throw EmendEvalError.invalidSetting(field: "edited model", expected: "the same architecture as the original",
                                                got: "\(edited.config.layerCount) layers × \(edited.config.hiddenSize)")
        }
        var out: [MatrixNormChange] = []
        let roles: [TensorRole] = [.attnQ, .attnK, .attnV, .attnOutput, .ffnGate, .ffnUp, .ffnDown]
        for l in 0..<original.config.layerCount {
            for role in roles {
                guard let w0 = original.weights.tensor(for: role, layer: l), let w = edited.weights.tensor(for: role, layer: l),
                      w0.shape == w.shape, w0.scalars != w.scalars else { continue }
                let delta = zip(w.scalars, w0.scalars).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
                out.append(MatrixNormChange(layer: l, role: role.rawValue, frobenius0: frobenius(w0), frobenius: frobenius(w),
                                            spectral0: spectral(w0), spectral: spectral(w), deltaFrobenius: delta))
            }
        }
        return out
    }
}

// MARK: - Residual share

public enum ResidualShare {
    /// Per layer in `layers`: the mean over tokens of ‖MLP output‖ / ‖block output‖ on `texts`.
    public static func measure(_ model: TransformerModel, layers: [Int], sequences: [[Int]]) throws -> [Int: Double] {
        for l in layers where l < 0 || l >= model.config.layerCount {
            throw EmendEvalError.invalidSetting(field: "layers", expected: "in 0..<\(model.config.layerCount)", got: "\(l)")
        }
        let seqs = sequences.filter { !$0.isEmpty }
        guard !seqs.isEmpty else { return [:] }
        let batch = RowBatch(seqs)
        var hooks = ForwardHooks(captureKeys: Set(layers), captureBlockOutputs: Set(layers))
        var none: [KVCache]? = nil
        _ = model.run(model.embed(batch), layers: 0..<((layers.max() ?? 0) + 1), batch: batch, caches: &none, hooks: &hooks)
        var out: [Int: Double] = [:]
        let d = model.config.hiddenSize
        for l in layers {
            guard let key = hooks.keys[l], let h = hooks.blockOutputs[l] else { continue }
            var m = model.weights.blocks[l].ffnDown.forward(key)   // [R, D]
            if let b = model.weights.blocks[l].ffnDownBias { m = m + b }
            let rows = h.shape[0]
            var sum = 0.0
            for r in 0..<rows {
                var mm = 0.0, hh = 0.0
                for j in 0..<d {
                    let a = Double(m.scalars[r * d + j]), b = Double(h.scalars[r * d + j])
                    mm += a * a; hh += b * b
                }
                sum += hh > 0 ? (mm / hh).squareRoot() : 0
            }
            out[l] = rows > 0 ? sum / Double(rows) : 0
        }
        return out
    }
}

// MARK: - Overfitting (ENCORE Table 1)

public struct OverfittingScores: Sendable, Equatable, Codable {
    /// Mean P(new | rewrite prompt) under the edited model (sequence probability, and geometric-mean token p).
    public var editedNewProbability: Double, editedNewTokenProbability: Double
    /// Mean P(true | prompt) under the unedited model over the facts it knew.
    public var originalKnownProbability: Double, originalKnownTokenProbability: Double
    public var editedFacts: Int, knownFacts: Int
}

public enum Overfitting {
    /// Both means, from the same requests scored by the edited and by the unedited model.
    public static func measure(_ requests: [EditRequest], edited: some TargetScoring, original: some TargetScoring) throws -> OverfittingScores {
        let newQ = requests.map { TextQuery(prompt: $0.filledPrompt, targets: [$0.targetNew]) }
        let trueQ = requests.compactMap { r in r.targetTrue.map { TextQuery(prompt: r.filledPrompt, targets: [$0]) } }
        let e = try edited.score(newQ, progress: nil).compactMap(\.first)
        let o = try original.score(trueQ, progress: nil).compactMap(\.first).filter(\.allCorrect)
        return aggregate(edited: e, knownByOriginal: o)
    }

    /// Means of sequence and geometric-mean token probabilities.
    public static func aggregate(edited e: [TargetScore], knownByOriginal o: [TargetScore]) -> OverfittingScores {
        func seq(_ s: TargetScore) -> Double { exp(s.tokenLogProbs.reduce(0.0) { $0 + Double($1) }) }
        func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }
        return OverfittingScores(editedNewProbability: mean(e.map(seq)), editedNewTokenProbability: mean(e.map(\.probability)),
                                 originalKnownProbability: mean(o.map(seq)), originalKnownTokenProbability: mean(o.map(\.probability)),
                                 editedFacts: e.count, knownFacts: o.count)
    }
}
