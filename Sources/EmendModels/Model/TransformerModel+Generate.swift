// Text generation with a KV cache: greedy, top-k and temperature sampling, seeded.

import EmendCore
import Foundation

/// How to pick the next token.
public struct SamplingOptions: Sendable, Equatable {
    /// 0 means greedy (argmax).
    public var temperature: Float = 0
    /// Keep only the k most likely tokens before sampling (0 = all).
    public var topK: Int = 0
    public var seed: UInt64 = 0
    /// Stop after emitting any of these ids (the id is included in the output).
    public var stopTokens: Set<Int> = []

    public init(temperature: Float = 0, topK: Int = 0, seed: UInt64 = 0, stopTokens: Set<Int> = []) {
        self.temperature = temperature; self.topK = topK; self.seed = seed; self.stopTokens = stopTokens
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
    let weights = candidates.map { Double(Foundation.exp((logits[$0] - m) / options.temperature)) }
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
    public func generate(_ prompts: [[Int]], maxTokens: Int, options: SamplingOptions = .greedy) -> [[Int]] {
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
            }
        }
        return outputs
    }
}
