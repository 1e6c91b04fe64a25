// Edit success, generalisation success and locality success as the MALMEN paper defines them (spec §5.3): for each
// fact, the share of answer tokens the model predicts (argmax, teacher forced) after the edit prompt, after the
// paraphrase and after the unrelated prompt; each a mean over facts. The same numbers score every editor
// (`emend edit --method mend|malmen|ft` prints them; `emend eval --dataset facts` scores any model file), so the
// hyper-network editors and the locate-then-edit editors are compared on one definition.

import EmendModels

/// ES / GS / LS over a set of facts, fractions in [0, 1].
public struct FactAccuracy: Sendable, Equatable, Codable {
    public var facts: Int
    public var editSuccess: Double
    public var generalizationSuccess: Double
    public var localitySuccess: Double

    public init(facts: Int, editSuccess: Double, generalizationSuccess: Double, localitySuccess: Double) {
        self.facts = facts; self.editSuccess = editSuccess
        self.generalizationSuccess = generalizationSuccess; self.localitySuccess = localitySuccess
    }
}

extension TransformerModel {
    /// ES, GS and LS of `facts`, scored in LM mini-batches of `miniBatch` sequences (the result does not depend on it).
    public func factAccuracy(_ facts: [TokenizedFact], miniBatch: Int = 32) -> FactAccuracy {
        func mean(_ seqs: [LabelledSequence]) -> Double {
            let step = max(1, miniBatch)
            let all = stride(from: 0, to: seqs.count, by: step).flatMap {
                tokenAccuracies(Array(seqs[$0..<min($0 + step, seqs.count)]))
            }
            return all.isEmpty ? 0 : all.reduce(0, +) / Double(all.count)
        }
        return FactAccuracy(facts: facts.count, editSuccess: mean(facts.map(\.edit)),
                            generalizationSuccess: mean(facts.map(\.equivalent)), localitySuccess: mean(facts.map(\.unrelated)))
    }
}
