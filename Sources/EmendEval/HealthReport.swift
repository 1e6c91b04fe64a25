// `emend eval --dataset health --original M`: the model-health diagnostics of an edited model next to its
// original (see Metrics/ModelHealth.swift): norms of every changed matrix, the MLP share of the residual stream
// at the changed layers on corpus text (both models), and the overfitting measure on edit records.

import EmendEditing
import EmendModels
import EmendCore
import Foundation

/// One layer's MLP share of the residual stream, before and after editing.
public struct LayerShare: Sendable, Equatable, Codable {
    public var layer: Int
    public var original: Double
    public var edited: Double
}

public struct HealthReport: Sendable, Equatable, Codable {
    public var norms: [MatrixNormChange]
    public var residualShare: [LayerShare]
    /// Corpus sequences × tokens the shares were measured on.
    public var corpusSequences: Int, corpusTokens: Int
    public var overfitting: OverfittingScores?

    /// Lines for the plain-text table.
    public func lines() -> [String] {
        var out = ["changed matrices: \(norms.count)"]
        for n in norms {
            out.append(String(format: "  layer %2d ", n.layer) + n.role.padding(toLength: 11, withPad: " ", startingAt: 0)
                       + String(format: "‖W‖F %.3f → %.3f (×%.4f)  ‖W‖₂ %.3f → %.3f (×%.4f)  ‖ΔW‖F %.4f",
                                n.frobenius0, n.frobenius, n.frobeniusRatio, n.spectral0, n.spectral, n.spectralRatio,
                                n.deltaFrobenius))
        }
        out.append("MLP share of the residual stream (mean ‖m_l‖/‖h_l‖ over \(corpusTokens) corpus tokens):")
        for s in residualShare {
            out.append(String(format: "  layer %2d  original %.4f  edited %.4f", s.layer, s.original, s.edited))
        }
        if let o = overfitting {
            out.append(String(format: "overfitting: edited model P(new) %.4f (token-mean %.4f) over %d facts; unedited P(true) %.4f (token-mean %.4f) over %d known facts",
                              o.editedNewProbability, o.editedNewTokenProbability, o.editedFacts,
                              o.originalKnownProbability, o.originalKnownTokenProbability, o.knownFacts))
        }
        return out
    }

    /// Runs every diagnostic. `corpus` are token sequences; `requests` the edited facts (may be empty).
    public static func measure(edited: LoadedModel, original: LoadedModel, corpus: [[Int]], requests: [EditRequest],
                               tokensPerPass: Int = 2048) throws -> HealthReport {
        let norms = try MatrixNorms.changes(original: original.model, edited: edited.model)
        var layers = Array(Set(norms.map(\.layer))).sorted()
        if layers.isEmpty { layers = Array(0..<original.model.config.layerCount) }
        let a = try ResidualShare.measure(original.model, layers: layers, sequences: corpus)
        let b = try ResidualShare.measure(edited.model, layers: layers, sequences: corpus)
        let shares = layers.map { LayerShare(layer: $0, original: a[$0] ?? 0, edited: b[$0] ?? 0) }
        let over = requests.isEmpty ? nil : try Overfitting.measure(requests, edited: TargetScorer(edited, tokensPerPass: tokensPerPass),
                                                                     original: TargetScorer(original, tokensPerPass: tokensPerPass))
        return HealthReport(norms: norms, residualShare: shares, corpusSequences: corpus.count,
                            corpusTokens: corpus.reduce(0) { $0 + $1.count }, overfitting: over)
    }

    /// `count` sequences of `length` tokens from a text file's lines (WikiText headings and short lines skipped), each
    /// as the model reads it (BOS first when it wants one).
    public static func corpus(_ url: URL, tokenizer: any Tokenizer, count: Int = 16, length: Int = 128) throws -> [[Int]] {
        let text = String(decoding: try RecordFile.data(url), as: UTF8.self)
        var out: [[Int]] = []
        for line in linesSplitAtLF(text) where out.count < count {   // CRLF-safe (see Perplexity)
            let s = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if s.hasPrefix("=") { continue }
            let ids = tokenizer.promptIDs(s)
            if ids.count >= length { out.append(Array(ids.prefix(length))) }
        }
        return out
    }
}
