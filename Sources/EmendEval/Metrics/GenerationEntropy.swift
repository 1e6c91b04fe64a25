// Generation entropy ("fluency", GE) as the ROME/MEMIT harness computes it (shared/spec/locate-then-edit.md §6.1):
// per generated text, Hn = −Σ f·log₂ f over the frequency distribution of its word n-grams, and
//   GE(text) = mean(2/3·H₂, 4/3·H₃) = H₂/3 + 2·H₃/3;
// averaged over texts and reported ×100 (≈600 for a fluent model, far lower for a repetitive one).
// Words come from `wordTokens`, a Penn-Treebank-style tokeniser approximating `nltk.word_tokenize`: punctuation
// split from words (commas and colons kept inside numbers), clitics split ("do" "n't", "John" "'s"), a final
// period split when it ends a sentence (end of text or before a capitalised word) and the word has no other
// period, quotes and brackets split. A text with fewer than n words has Hn = 0.

import EmendModels
import Foundation

public enum GenerationEntropy {
    /// Base-2 entropy of the n-gram frequency distribution of `tokens`; 0 when there is no n-gram.
    public static func ngramEntropy(_ tokens: [String], n: Int) -> Double {
        guard n > 0, tokens.count >= n else { return 0 }
        var counts: [[String]: Int] = [:]
        for i in 0...(tokens.count - n) { counts[Array(tokens[i..<(i + n)]), default: 0] += 1 }
        let total = Double(tokens.count - n + 1)
        return -counts.values.reduce(0.0) { acc, c in
            let f = Double(c) / total
            return acc + f * log2(f)
        }
    }

    /// mean(2/3·H₂, 4/3·H₃) of one text (not ×100).
    public static func weightedEntropy(_ text: String) -> Double {
        let w = wordTokens(text)
        return (2.0 / 3.0 * ngramEntropy(w, n: 2) + 4.0 / 3.0 * ngramEntropy(w, n: 3)) / 2
    }

    /// The mean weighted entropy of texts, ×100 (the papers' GE).
    public static func score(_ texts: [String]) -> Double {
        texts.isEmpty ? 0 : 100 * texts.map(weightedEntropy).reduce(0, +) / Double(texts.count)
    }

    /// Generates from each prompt (top-k sampling with `topK` > 0, else greedy) up to `maxLength` tokens in all
    /// (prompt included, as the harness's `max_out_len`), and returns prompt + continuation texts. Prompts run
    /// `batchSize` at a time; one seeded generator per batch, so texts depend on the seed and the batching.
    public static func generate(_ model: LoadedModel, prompts: [String], maxLength: Int = 100, topK: Int = 5,
                                seed: UInt64 = 0, batchSize: Int = 8, progress: ((Int, Int) -> Void)? = nil) -> [String] {
        var opts = topK > 0 ? SamplingOptions(temperature: 1, topK: topK, seed: seed) : SamplingOptions.greedy
        if let eos = model.tokenizer.eosTokenId { opts.stopTokens.insert(eos) }
        var out: [String] = []
        var start = 0
        while start < prompts.count {
            let end = min(prompts.count, start + max(1, batchSize))
            let ids = prompts[start..<end].map { model.promptIDs($0, chat: false) }
            let budgets = ids.map { max(1, maxLength - $0.count) }
            opts.seed = seed &+ UInt64(start)
            let gen = model.model.generate(ids, maxTokens: budgets.max() ?? 1, options: opts)
            for (j, g) in gen.enumerated() {
                let continuation = model.tokenizer.decode(Array(g.prefix(budgets[j])), skipSpecial: true, continuing: true)
                out.append(prompts[start + j] + continuation)
            }
            start = end
            progress?(start, prompts.count)
        }
        return out
    }

    // MARK: - Word tokens

    static let clitics = ["n't", "'s", "'re", "'ve", "'ll", "'d", "'m"]
    static let splitAlways: Set<Character> = ["?", "!", ";", "(", ")", "[", "]", "{", "}", "<", ">", "\"", "`", "#", "$", "%", "&", "@", "*", "|"]

    /// Penn-Treebank-style word tokens of a text (see the header).
    public static func wordTokens(_ text: String) -> [String] {
        let raw = text.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        var out: [String] = []
        for (wi, word) in raw.enumerated() {
            let nextCapital = wi + 1 < raw.count ? (raw[wi + 1].first?.isUppercase ?? false) : true
            out += splitWord(word, sentenceEndFollows: nextCapital)
        }
        return out
    }

    static func splitWord(_ word: String, sentenceEndFollows: Bool) -> [String] {
        var chars = Array(word)
        var front: [String] = [], back: [String] = []
        // Leading punctuation.
        while let c = chars.first, splitAlways.contains(c) || c == "'" && chars.count > 1 && !chars[1].isLetter {
            front.append(String(c)); chars.removeFirst()
        }
        // Trailing punctuation (repeat: "word)." → "word" ")" ".").
        var changed = true
        while changed, !chars.isEmpty {
            changed = false
            guard let c = chars.last else { break }
            if splitAlways.contains(c) || c == "," || c == ":" || c == "'" && chars.count > 1 && chars[chars.count - 2] != "s" {
                back.insert(String(c), at: 0); chars.removeLast(); changed = true
            } else if c == "." {
                if chars.count >= 3 && chars.suffix(3) == [".", ".", "."] {
                    back.insert("...", at: 0); chars.removeLast(3); changed = true
                } else if chars.count > 1, sentenceEndFollows || !back.isEmpty, !chars.dropLast().contains(".") {
                    back.insert(".", at: 0); chars.removeLast(); changed = true
                } else if chars.count == 1 {
                    back.insert(".", at: 0); chars.removeLast(); changed = true
                }
            }
        }
        var core = String(chars)
        // Clitics.
        var clitic: String? = nil
        let lower = core.lowercased()
        for c in clitics where lower.hasSuffix(c) && lower.count > c.count {
            clitic = String(core.suffix(c.count)); core = String(core.dropLast(c.count)); break
        }
        // Inner commas/colons not between digits split the word.
        var pieces: [String] = []
        var cur = ""
        let cs = Array(core)
        for (i, c) in cs.enumerated() {
            if c == "," || c == ":" || splitAlways.contains(c) {
                let digitBefore = i > 0 && cs[i - 1].isNumber, digitAfter = i + 1 < cs.count && cs[i + 1].isNumber
                if (c == "," || c == ":") && digitBefore && digitAfter { cur.append(c); continue }
                if !cur.isEmpty { pieces.append(cur) }
                pieces.append(String(c)); cur = ""
            } else { cur.append(c) }
        }
        if !cur.isEmpty { pieces.append(cur) }
        return front + pieces + (clitic.map { [$0] } ?? []) + back
    }
}
