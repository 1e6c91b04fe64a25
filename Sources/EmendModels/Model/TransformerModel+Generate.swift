// Text generation with a KV cache: greedy, top-k and temperature sampling, seeded.

import EmendCore
import Foundation

/// How to pick the next token.
public struct SamplingOptions: Sendable, Equatable {
    /// 0 means greedy (argmax).
    public var temperature: Float = 0
    /// Keep only the k most likely tokens before sampling (0 = all).
    public var topK: Int = 0
    /// Nucleus sampling: keep the most likely tokens whose probabilities add up to at least `topP` (1 = all).
    public var topP: Float = 1
    public var seed: UInt64 = 0
    /// Stop after emitting any of these ids (the id is included in the output).
    public var stopTokens: Set<Int> = []

    public init(temperature: Float = 0, topK: Int = 0, seed: UInt64 = 0, stopTokens: Set<Int> = [], topP: Float = 1) {
        self.temperature = temperature; self.topK = topK; self.seed = seed; self.stopTokens = stopTokens; self.topP = topP
    }

    public static let greedy = SamplingOptions()
}

/// Picks a token from one row of logits.
public func sampleToken(_ logits: ArraySlice<Float>, options: SamplingOptions, rng: inout SeededGenerator) -> Int {
    let base = logits.startIndex
    if options.temperature <= 0 {
        var best = base
        for i in logits.indices where logits[i] > logits[best] { best = i }
        return best - base
    }
    var candidates = Array(logits.indices)
    if options.topK > 0 && options.topK < candidates.count {
        candidates.sort { logits[$0] > logits[$1] }
        candidates = Array(candidates.prefix(options.topK))
    }
    let m = candidates.map { logits[$0] }.max() ?? 0
    var weights = candidates.map { Double(Foundation.exp((logits[$0] - m) / options.temperature)) }
    if options.topP < 1 {
        // The smallest set of most likely tokens whose probability mass reaches topP (at least one token).
        let order = weights.indices.sorted { weights[$0] > weights[$1] }
        let total = weights.reduce(0, +)
        var kept = 0, mass = 0.0
        while kept < order.count, kept == 0 || mass < Double(options.topP) * total { mass += weights[order[kept]]; kept += 1 }
        candidates = order.prefix(kept).map { candidates[$0] }
        weights = order.prefix(kept).map { weights[$0] }
    }
    let total = weights.reduce(0, +)
    var u = rng.nextUniformDouble() * total
    for (i, w) in weights.enumerated() {
        u -= w
        if u < 0 { return candidates[i] - base }
    }
    return candidates[candidates.count - 1] - base
}

extension TransformerModel {
    /// Continues each prompt by up to `maxTokens` tokens, with a KV cache per sequence. Sequences are
    /// processed together (one row each per step). Returns the new tokens of each sequence.
    /// - onToken: called with (sequence, token) as soon as each token is chosen, before the next step is
    ///   computed (streaming); returning false ends that sequence there (a stop string, a closed connection).
    public func generate(_ prompts: [[Int]], maxTokens: Int, options: SamplingOptions = .greedy,
                         onToken: ((_ sequence: Int, _ token: Int) -> Bool)? = nil) -> [[Int]] {
        let kvw = config.kvHeadCount * config.headDim
        var caches: [KVCache]? = prompts.map { _ in KVCache(layers: config.layerCount, kvWidth: kvw) }
        var rng = SeededGenerator(seed: options.seed)
        var outputs = [[Int]](repeating: [], count: prompts.count)
        var done = [Bool](repeating: false, count: prompts.count)
        var pending = prompts
        for _ in 0..<maxTokens {
            let active = prompts.indices.filter { !done[$0] }
            if active.isEmpty { break }
            var activeCaches: [KVCache]? = active.map { caches![$0] }
            let batch = RowBatch(active.map { pending[$0] }, prefixes: active.map { caches![$0].count })
            var hooks = ForwardHooks()
            let h = run(embed(batch), layers: 0..<config.layerCount, batch: batch, caches: &activeCaches, hooks: &hooks)
            let last = active.indices.map { batch.row($0, pending[active[$0]].count - 1) }
            let logits = outputLogits(finalNorm(h.gatherRows(last)))
            let v = config.vocabSize
            for (ai, seq) in active.enumerated() {
                caches![seq] = activeCaches![ai]
                let tok = sampleToken(logits.scalars[(ai * v)..<((ai + 1) * v)], options: options, rng: &rng)
                outputs[seq].append(tok)
                pending[seq] = [tok]
                if options.stopTokens.contains(tok) || caches![seq].count + 1 >= config.maxPositions { done[seq] = true }
                if let onToken, !onToken(seq, tok) { done[seq] = true }
            }
        }
        return outputs
    }
}
