import XCTest
import EmendCore
import EmendModels
@testable import EmendEditing

/// `factAccuracy` (MALMEN's ES/GS/LS, the numbers `emend edit --method mend|malmen|ft` and `emend eval --dataset facts`
/// print) against an independent count: each sequence run alone through the plain forward pass, the answer tokens
/// compared with the argmax of the logits one position earlier, and the per-fact shares averaged by hand.
final class FactAccuracyTests: XCTestCase {
    func testMatchesAHandCountOnATinyModel() {
        let m = HyperNetworkTrainerTests.model
        let facts = HyperNetworkTrainerTests.facts(7, seed: 11)
        func handCount(_ seqs: [LabelledSequence]) -> Double {
            var total = 0.0
            for s in seqs {
                let logits = m.logits([s.ids])[0]                      // [T, V]
                let v = logits.shape[1]
                let pos = s.labelledPositions
                var hits = 0
                for p in pos {
                    let row = Array(logits.scalars[(p * v)..<((p + 1) * v)])
                    if row.indices.max(by: { row[$0] < row[$1] }) == s.labels[p] { hits += 1 }
                }
                total += Double(hits) / Double(pos.count)
            }
            return total / Double(seqs.count)
        }
        for miniBatch in [1, 3, 32] {
            let a = m.factAccuracy(facts, miniBatch: miniBatch)
            XCTAssertEqual(a.facts, 7)
            XCTAssertEqual(a.editSuccess, handCount(facts.map(\.edit)), accuracy: 1e-12, "mini-batch \(miniBatch)")
            XCTAssertEqual(a.generalizationSuccess, handCount(facts.map(\.equivalent)), accuracy: 1e-12)
            XCTAssertEqual(a.localitySuccess, handCount(facts.map(\.unrelated)), accuracy: 1e-12)
        }
        // A fact whose answer is the model's own argmax continuation scores 1 by construction.
        let prompt = [1, 2, 3]
        let next = { (ids: [Int]) -> Int in
            let l = m.logits([ids])[0], v = l.shape[1], last = Array(l.scalars[((ids.count - 1) * v)...])
            return last.indices.max(by: { last[$0] < last[$1] })!
        }
        let a0 = next(prompt), a1 = next(prompt + [a0])
        let own = LabelledSequence(prompt: prompt, answer: [a0, a1])
        XCTAssertEqual(m.factAccuracy([TokenizedFact(edit: own, equivalent: own, unrelated: own)]).editSuccess, 1)
    }
}
