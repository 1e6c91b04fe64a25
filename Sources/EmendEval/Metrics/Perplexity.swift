// Perplexity of a text with a sliding window (the Hugging Face "strided" recipe): the token stream is cut
// into windows of `window` tokens starting every `stride` tokens; each window scores only the tokens not
// scored by the previous one (the last `end − previousEnd`), each with up to `window − 1` tokens of context.
// The stream's first token is never scored. perplexity = exp(Σ NLL / scored tokens), NLL in nats.
// stride == window gives disjoint windows (less context per token, fewer passes); stride < window overlaps.
//
// Tokenisation: the text is encoded in blocks of whole lines (`linesPerBlock`) whose ids are concatenated,
// so a long file need not be encoded at once and `maxTokens` can stop early; a line boundary is a whitespace
// boundary, where the byte-level pre-tokeniser splits anyway (a SentencePiece block after the first is encoded
// as a continuation, without the dummy space prefix). The stream starts with BOS when the model wants one (the
// Hugging Face recipe's one BOS for the whole text), so the text's first token is scored too.
//
// Shape legend: W window, R rows, V vocab.

import EmendCore
import EmendModels
import Foundation

/// The result of one perplexity run.
public struct PerplexityResult: Sendable, Equatable, Codable {
    public var perplexity: Double
    /// Mean NLL per scored token, nats.
    public var meanNLL: Double
    public var scoredTokens: Int
    public var totalTokens: Int
    public var window: Int
    public var stride: Int
    public var file: String
}

public enum Perplexity {
    /// The token ids of a text file, encoded in blocks of lines, stopping once `maxTokens` are collected.
    public static func tokens(of url: URL, tokenizer: any Tokenizer, maxTokens: Int? = nil, linesPerBlock: Int = 64) throws -> [Int] {
        let text = String(decoding: try RecordFile.data(url), as: UTF8.self)
        var first = true
        let ids = tokens(of: text, encode: { block in
            defer { first = false }
            return tokenizer.encode(block, parseSpecial: false, continuing: !first)
        }, maxTokens: maxTokens, linesPerBlock: linesPerBlock)
        let stream = tokenizer.withBOS(ids)
        return maxTokens.map { Array(stream.prefix($0)) } ?? stream
    }

    static func tokens(of text: String, encode: (String) -> [Int], maxTokens: Int?, linesPerBlock: Int) -> [Int] {
        var ids: [Int] = []
        let lines = linesSplitAtLF(text)
        var i = 0
        while i < lines.count {
            let j = min(lines.count, i + max(1, linesPerBlock))
            var block = lines[i..<j].joined(separator: "\n")
            if j < lines.count { block += "\n" }
            ids += encode(block)
            i = j
            if let m = maxTokens, ids.count >= m { return Array(ids.prefix(m)) }
        }
        return ids
    }

    /// The windows: (start, end, first scored position) per window, positions in the stream.
    public static func windows(count n: Int, window: Int, stride: Int) -> [(start: Int, end: Int, firstScored: Int)] {
        guard n > 1, window > 1, stride > 0 else { return [] }
        var out: [(start: Int, end: Int, firstScored: Int)] = []
        var previousEnd = 0, start = 0
        while previousEnd < n {
            let end = min(start + window, n)
            out.append((start, end, max(previousEnd, start + 1, 1)))
            previousEnd = end
            start += stride
        }
        return out.filter { $0.firstScored < $0.end }
    }

    /// Perplexity of `ids` under `model`; windows are run `windowsPerPass` at a time.
    public static func evaluate(_ model: TransformerModel, ids: [Int], window: Int = 1024, stride: Int = 512,
                                windowsPerPass: Int = 2, file: String = "(tokens)",
                                progress: ((Int, Int) -> Void)? = nil) throws -> PerplexityResult {
        guard window > 1, stride > 0, stride <= window else {
            throw EmendEvalError.invalidSetting(field: "window/stride", expected: "window > 1 and 0 < stride ≤ window",
                                                got: "window \(window), stride \(stride)")
        }
        guard window <= model.config.maxPositions else {
            throw EmendEvalError.invalidSetting(field: "window", expected: "≤ \(model.config.maxPositions) (the model's context)",
                                                got: "\(window)")
        }
        guard ids.count > 1 else {
            throw EmendEvalError.invalidSetting(field: "text", expected: "at least 2 tokens", got: "\(ids.count)")
        }
        let wins = windows(count: ids.count, window: window, stride: stride)
        var total = 0.0, scored = 0
        var k = 0
        while k < wins.count {
            let group = Array(wins[k..<min(wins.count, k + max(1, windowsPerPass))])
            let seqs = group.map { Array(ids[$0.start..<$0.end]) }
            let batch = RowBatch(seqs)
            var hooks = ForwardHooks()
            var none: [KVCache]? = nil
            let h = model.run(model.embed(batch), layers: 0..<model.config.layerCount, batch: batch, caches: &none, hooks: &hooks)
            // Row predicting stream position p of window w: its local position p − start − 1.
            var rows: [Int] = [], targets: [Int] = []
            for (w, win) in group.enumerated() {
                for p in win.firstScored..<win.end {
                    rows.append(batch.row(w, p - win.start - 1))
                    targets.append(ids[p])
                }
            }
            let logits = model.outputLogits(model.finalNorm(h.gatherRows(rows)))   // [R, V]
            let (lse, _) = rowLogSumExpAndArgmax(logits)
            let v = model.config.vocabSize
            for (r, t) in targets.enumerated() { total += Double(lse[r] - logits.scalars[r * v + t]) }
            scored += targets.count
            k += group.count
            progress?(k, wins.count)
        }
        let mean = total / Double(max(1, scored))
        return PerplexityResult(perplexity: exp(mean), meanNLL: mean, scoredTokens: scored, totalTokens: ids.count,
                                window: window, stride: stride, file: file)
    }
}
