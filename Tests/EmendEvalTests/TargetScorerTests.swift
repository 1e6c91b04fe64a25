import XCTest
import EmendCore
import EmendModels
@testable import EmendEval

/// The batched, KV-shared, logits-only-where-needed scorer against one-sequence-at-a-time full logits.
final class TargetScorerTests: XCTestCase {
    static let llama = ModelConfig.llamaStyle(vocabSize: 29, hiddenSize: 16, intermediateSize: 24, layerCount: 2,
                                              headCount: 4, kvHeadCount: 2, maxPositions: 64, ropeBase: 10_000)
    static let gpt2 = ModelConfig.gpt2Style(vocabSize: 31, hiddenSize: 12, layerCount: 2, headCount: 3, maxPositions: 32)

    static let queries = [
        TokenQuery(prompt: [3, 7, 1], targets: [[4, 9, 2], [5]]),
        TokenQuery(prompt: [11], targets: [[0, 0], [12, 13, 14, 15]]),
        TokenQuery(prompt: [2, 2, 2, 2, 2, 6], targets: [[6]]),
        TokenQuery(prompt: [8, 20], targets: []),
        TokenQuery(prompt: [1, 5, 9, 17], targets: [[18, 1], [1, 18], [22]]),
    ]

    func model(_ c: ModelConfig, seed: UInt64 = 5) -> TransformerModel {
        TransformerModel(config: c, weights: .random(c, seed: seed, std: 0.5))
    }

    /// Reference: full logits of prompt+target in its own forward pass; log-softmax in Float64; argmax by loop.
    func reference(_ m: TransformerModel, prompt: [Int], target: [Int]) -> (logProbs: [Double], correct: [Bool]) {
        let logits = m.logits([prompt + target])[0]
        let v = m.config.vocabSize
        var lp: [Double] = [], ok: [Bool] = []
        for (j, tok) in target.enumerated() {
            let row = (0..<v).map { Double(logits.scalars[(prompt.count - 1 + j) * v + $0]) }
            let top = row.max() ?? 0
            let lse = top + log(row.reduce(0) { $0 + exp($1 - top) })
            lp.append(row[tok] - lse)
            ok.append(row.firstIndex(of: top) == tok)
        }
        return (lp, ok)
    }

    /// Batched scores (in one pass, and split into many small passes) equal per-pair full-logit scores,
    /// for RoPE (Llama-style) and learned positions (GPT-2-style), including 1-token targets.
    func testScore_BatchedEqualsOnePairAtATime() throws {
        for c in [Self.llama, Self.gpt2] {
            let m = model(c)
            for perPass in [1, 7, 4096] {
                let got = try TargetScorer(model: m, tokensPerPass: perPass) { _ in [] }.score(tokens: Self.queries)
                XCTAssertEqual(got.map(\.count), Self.queries.map(\.targets.count))
                var maxDiff = 0.0
                for (q, scores) in zip(Self.queries, got) {
                    for (t, s) in zip(q.targets, scores) {
                        let want = reference(m, prompt: q.prompt, target: t)
                        for j in t.indices { maxDiff = max(maxDiff, abs(Double(s.tokenLogProbs[j]) - want.logProbs[j])) }
                        XCTAssertEqual(s.tokenCorrect, want.correct, "\(c.architecture) perPass \(perPass) \(q.prompt) \(t)")
                        XCTAssertEqual(s.meanNLL, -want.logProbs.reduce(0, +) / Double(t.count), accuracy: 1e-4)
                    }
                }
                // Float32 forward in different batch shapes vs Float64 log-softmax: 1e-4 absolute on log-probs of O(1).
                XCTAssertLessThan(maxDiff, 1e-4, "\(c.architecture) perPass \(perPass): max |Δ log p| \(maxDiff)")
            }
        }
    }

    /// Text queries: prompt ids then the target's ids with a leading space added only when missing.
    func testTokenQuery_AddsLeadingSpaceOnce() {
        let s = TargetScorer(model: model(Self.llama)) { text in text.unicodeScalars.map { Int($0.value) % 29 } }
        let q = s.tokenQuery(TextQuery(prompt: "ab", targets: ["c", " c"]))
        let space = Int(Character(" ").unicodeScalars.first!.value) % 29
        let c = Int(Character("c").unicodeScalars.first!.value) % 29
        XCTAssertEqual(q.targets, [[space, c], [space, c]])
        XCTAssertEqual(q.prompt.count, 2)
    }

    /// Empty prompts, empty targets and ids outside the vocabulary are refused with the query named.
    func testScore_InvalidQueriesThrow() {
        let s = TargetScorer(model: model(Self.llama)) { _ in [] }
        for bad in [TokenQuery(prompt: [], targets: [[1]]), TokenQuery(prompt: [1], targets: [[]]),
                    TokenQuery(prompt: [1], targets: [[29]]), TokenQuery(prompt: [-1], targets: [[1]])] {
            XCTAssertThrowsError(try s.score(tokens: [Self.queries[0], bad])) { e in
                guard case EmendEvalError.invalidQuery(let i, _, _, _) = e else { return XCTFail("\(e)") }
                XCTAssertEqual(i, 1)
            }
        }
    }

    /// The row kernel against a direct Float64 computation; ties pick the first index.
    func testRowLogSumExpAndArgmax_MatchesFloat64() {
        let x = Tensor(shape: [3, 4], scalars: [1, 3, 3, -2, 0, 0, 0, 0, 100, -100, 99, 5])
        let (lse, arg) = rowLogSumExpAndArgmax(x)
        XCTAssertEqual(arg, [1, 0, 0])
        for r in 0..<3 {
            let row = (0..<4).map { Double(x.scalars[r * 4 + $0]) }
            let m = row.max()!
            XCTAssertEqual(Double(lse[r]), m + log(row.reduce(0) { $0 + exp($1 - m) }), accuracy: 1e-5)
        }
    }
}
