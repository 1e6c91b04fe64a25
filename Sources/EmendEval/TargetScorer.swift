// Teacher-forced scoring of (prompt, target) pairs: the log-probability of every target token given the
// prompt and the target tokens before it, and whether each is the model's argmax. All metrics in EmendEval
// (CounterFact ES/PS/NS and their variants, zsRE token accuracy) are functions of these numbers.
//
// Goals, in order: the same numbers as one-sequence-at-a-time full logits; few forward passes; no full
// logits. How:
//  - Ragged rows (`RowBatch`), no padding, about `tokensPerPass` rows per forward pass.
//  - Two passes per chunk. Pass A runs the prompts and keeps their keys/values (a KV cache per prompt);
//    the logits at each prompt's last row predict every target's first token. Pass B runs each target
//    minus its last token as a continuation of its prompt's (frozen, shared) cache; its rows predict the
//    target's tokens 1…T−1. A prompt with two targets (CounterFact's new and true object) is run once.
//  - Logits only at rows that predict a target token: [rows, V] with V = 49,152 for SmolLM2 is the largest
//    tensor of a pass, so the other rows skip the output head.
//
// Token concatenation, as the editors: the prompt's ids (BOS first when the model wants one), then the target's
// ids as the tokens that follow the prompt in `prompt + " " + target` (a leading space is added when missing;
// `Tokenizer.promptAndTargetIDs`), so every target is scored after the same prompt ids.
//
// Shape legend: R rows, D width, V vocab, L layers, N queries, T target tokens, M scored rows.

import EmendCore
import EmendModels
import Foundation

// MARK: - Types

/// A prompt and the targets to score after it (text).
public struct TextQuery: Sendable, Equatable {
    public var prompt: String
    /// Each scored independently after the prompt; a leading space is added when missing.
    public var targets: [String]
    public init(prompt: String, targets: [String]) { self.prompt = prompt; self.targets = targets }
}

/// A prompt and the targets to score after it (token ids).
public struct TokenQuery: Sendable, Equatable {
    /// [P] prompt ids, P ≥ 1.
    public var prompt: [Int]
    /// Per target [T] ids, T ≥ 1.
    public var targets: [[Int]]
    public init(prompt: [Int], targets: [[Int]]) { self.prompt = prompt; self.targets = targets }
}

/// The teacher-forced score of one target after one prompt.
public struct TargetScore: Sendable, Equatable, Codable {
    /// [T] log p(target[i] | prompt, target[..<i]).
    public var tokenLogProbs: [Float]
    /// [T] whether target[i] is the argmax (first index on ties) at the position that predicts it.
    public var tokenCorrect: [Bool]

    public init(tokenLogProbs: [Float], tokenCorrect: [Bool]) {
        self.tokenLogProbs = tokenLogProbs; self.tokenCorrect = tokenCorrect
    }

    /// The mean per-token negative log-likelihood (length-normalised, as the MEMIT harness).
    public var meanNLL: Double {
        tokenLogProbs.isEmpty ? 0 : -tokenLogProbs.reduce(0.0) { $0 + Double($1) } / Double(tokenLogProbs.count)
    }
    /// exp(−mean NLL): the geometric-mean token probability, ROME's "P" in `*_diff`.
    public var probability: Double { exp(-meanNLL) }
    /// Every target token is the argmax (strict accuracy, MEMIT's `*_correct`).
    public var allCorrect: Bool { tokenCorrect.allSatisfy { $0 } }
    /// The fraction of target tokens that are the argmax (zsRE / EasyEdit token accuracy).
    public var tokenAccuracy: Double {
        tokenCorrect.isEmpty ? 0 : Double(tokenCorrect.filter { $0 }.count) / Double(tokenCorrect.count)
    }
}

/// Anything that scores text queries; the metrics take one, so tests can pass a scorer with known answers.
public protocol TargetScoring {
    /// Per query, per target: its score, in the order given.
    func score(_ queries: [TextQuery], progress: ((_ done: Int, _ total: Int) -> Void)?) throws -> [[TargetScore]]
}

/// Scores queries with a transformer by teacher forcing, in few ragged forward passes.
public struct TargetScorer: TargetScoring, Sendable {
    public var model: TransformerModel
    /// A text query → its ids (the editors' encoding).
    public var tokenize: @Sendable (TextQuery) -> TokenQuery
    /// About this many rows (prompt tokens plus target tokens but the last) per forward pass.
    public var tokensPerPass: Int

    /// A scorer with a plain text → ids function: the prompt's ids, and each target's ids with a leading space
    /// (encoded on its own).
    public init(model: TransformerModel, tokensPerPass: Int = 2048, encode: @escaping @Sendable (String) -> [Int]) {
        self.init(model: model, tokensPerPass: tokensPerPass) { q in
            TokenQuery(prompt: encode(q.prompt), targets: q.targets.map { encode($0.hasPrefix(" ") ? $0 : " " + $0) })
        }
    }

    /// A scorer that tokenizes each query with `tokenize`.
    public init(model: TransformerModel, tokensPerPass: Int = 2048, tokenize: @escaping @Sendable (TextQuery) -> TokenQuery) {
        self.model = model; self.tokensPerPass = max(1, tokensPerPass); self.tokenize = tokenize
    }

    /// A scorer for a loaded model with its tokenizer, tokenizing as the editors do (special tokens are not
    /// parsed; `Tokenizer.promptAndTargetIDs`).
    public init(_ loaded: LoadedModel, tokensPerPass: Int = 2048) {
        let tokenizer = loaded.tokenizer
        self.init(model: loaded.model, tokensPerPass: tokensPerPass) { q in
            TokenQuery(prompt: tokenizer.promptIDs(q.prompt),
                       targets: q.targets.map { tokenizer.promptAndTargetIDs(prompt: q.prompt, target: $0).target })
        }
    }

    /// The ids of a text query: prompt ids, and each target's ids as they follow the prompt.
    public func tokenQuery(_ q: TextQuery) -> TokenQuery { tokenize(q) }

    public func score(_ queries: [TextQuery], progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> [[TargetScore]] {
        try score(tokens: queries.map(tokenQuery), progress: progress)
    }

    /// Per query, per target: its score. Throws when a prompt or target is empty or an id is outside [0, V).
    public func score(tokens queries: [TokenQuery], progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> [[TargetScore]] {
        try validate(queries)
        var out: [[TargetScore]] = []
        out.reserveCapacity(queries.count)
        var start = 0
        while start < queries.count {
            var end = start, rows = 0
            while end < queries.count {
                let q = queries[end]
                let cost = q.prompt.count + q.targets.reduce(0) { $0 + $1.count - 1 }
                if end > start && rows + cost > tokensPerPass { break }
                rows += cost
                end += 1
            }
            out += scoreChunk(queries[start..<end])
            start = end
            progress?(start, queries.count)
        }
        return out
    }

    func validate(_ queries: [TokenQuery]) throws {
        let v = model.config.vocabSize
        for (i, q) in queries.enumerated() {
            if q.prompt.isEmpty {
                throw EmendEvalError.invalidQuery(query: i, field: "prompt", expected: "at least one token", got: "empty")
            }
            for (k, t) in q.targets.enumerated() where t.isEmpty {
                throw EmendEvalError.invalidQuery(query: i, field: "target \(k)", expected: "at least one token", got: "empty")
            }
            for id in q.prompt + q.targets.joined() where id < 0 || id >= v {
                throw EmendEvalError.invalidQuery(query: i, field: "token id", expected: "in 0..<\(v)", got: "\(id)")
            }
        }
    }

    // MARK: - Forward

    /// One chunk: pass A over the prompts (filling a KV cache each), pass B over the targets' continuations.
    func scoreChunk(_ chunk: ArraySlice<TokenQuery>) -> [[TargetScore]] {
        let qs = Array(chunk)
        let c = model.config
        let layers = 0..<c.layerCount
        var hooks = ForwardHooks()

        // Pass A: prompts; the last row of prompt n predicts token 0 of each of its targets.
        let prompts = qs.map(\.prompt)
        let batchA = RowBatch(prompts)
        var caches: [KVCache]? = Array(repeating: KVCache(layers: c.layerCount, kvWidth: c.kvHeadCount * c.headDim),
                                       count: qs.count)
        let hiddenA = model.run(model.embed(batchA), layers: layers, batch: batchA, caches: &caches, hooks: &hooks)  // [R, D]
        let lastRows = prompts.indices.map { batchA.row($0, prompts[$0].count - 1) }
        let logitsA = model.outputLogits(model.finalNorm(hiddenA.gatherRows(lastRows)))                      // [N, V]
        let statsA = rowLogSumExpAndArgmax(logitsA)
        let promptCaches = caches ?? []

        // Pass B: target[0..<T−1] of every target with T ≥ 2, continuing its prompt's frozen cache.
        var sequences: [[Int]] = [], prefixes: [Int] = [], continued: [KVCache] = []
        var segmentOf = qs.map { [Int?](repeating: nil, count: $0.targets.count) }
        for (n, q) in qs.enumerated() {
            for (k, t) in q.targets.enumerated() where t.count > 1 {
                segmentOf[n][k] = sequences.count
                sequences.append(Array(t.dropLast()))
                prefixes.append(q.prompt.count)
                continued.append(promptCaches[n])
            }
        }
        var batchB = RowBatch([])
        var logitsB = Tensor.zeros([0, c.vocabSize])                                                           // [M, V]
        if !sequences.isEmpty {
            batchB = RowBatch(sequences, prefixes: prefixes)
            var cachesB: [KVCache]? = continued
            let hiddenB = model.run(model.embed(batchB), layers: layers, batch: batchB, caches: &cachesB, hooks: &hooks,
                                    appendToCache: false)
            logitsB = model.outputLogits(model.finalNorm(hiddenB))
        }
        let statsB = rowLogSumExpAndArgmax(logitsB)

        // Gather: token 0 from pass A's row n, token j ≥ 1 from pass B's row j−1 of the target's segment.
        let v = c.vocabSize
        return qs.enumerated().map { n, q in
            q.targets.enumerated().map { k, t in
                var logProbs = [Float](repeating: 0, count: t.count)
                var correct = [Bool](repeating: false, count: t.count)
                logProbs[0] = logitsA.scalars[n * v + t[0]] - statsA.logSumExp[n]
                correct[0] = statsA.argmax[n] == t[0]
                if let s = segmentOf[n][k] {
                    for j in 1..<t.count {
                        let r = batchB.row(s, j - 1)
                        logProbs[j] = logitsB.scalars[r * v + t[j]] - statsB.logSumExp[r]
                        correct[j] = statsB.argmax[r] == t[j]
                    }
                }
                return TargetScore(tokenLogProbs: logProbs, tokenCorrect: correct)
            }
        }
    }
}

// MARK: - Helpers

/// Per row of logits [M, V]: log Σⱼ exp(xⱼ) (max-shifted, summed in Float64) and the argmax (first on ties).
/// - Returns: logSumExp [M], argmax [M]
func rowLogSumExpAndArgmax(_ logits: Tensor) -> (logSumExp: [Float], argmax: [Int]) {
    let m = logits.shape.count == 2 ? logits.shape[0] : 0
    let v = logits.shape.count == 2 ? logits.shape[1] : 0
    var lse = [Float](repeating: 0, count: m)
    var arg = [Int](repeating: 0, count: m)
    guard m > 0, v > 0 else { return (lse, arg) }
    logits.scalars.withUnsafeBufferPointer { pl in
        lse.withUnsafeMutableBufferPointer { ps in
            arg.withUnsafeMutableBufferPointer { pa in
                guard let l0 = pl.baseAddress, let s0 = ps.baseAddress, let a0 = pa.baseAddress else { return }
                let src = SendableConstPointer(l0), dstL = SendablePointer(s0), dstA = SendablePointer(a0)
                parallelRanges(m, grain: 8) { range in
                    for r in range {
                        let row = src.base + r * v
                        var best = 0
                        var top = row[0]
                        for j in 1..<v where row[j] > top { top = row[j]; best = j }
                        var sum: Double = 0
                        for j in 0..<v { sum += Double(expf(row[j] - top)) }
                        dstL.base[r] = top + Float(log(sum))
                        dstA.base[r] = best
                    }
                }
            }
        }
    }
    return (lse, arg)
}
