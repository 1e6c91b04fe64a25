import XCTest
import EmendCore
import EmendEditing
import EmendModels
import EmendTestSupport
@testable import EmendEval

/// Perplexity windows and values, generation entropy, word tokens and answer matching, against hand-worked
/// cases and an independent full-logits computation on a tiny random model.
final class GenerationMetricsTests: XCTestCase {
    /// n = 10, window 4, stride 2: windows [0,4) [2,6) [4,8) [6,10) score positions 1–3, 4–5, 6–7, 8–9:
    /// every position but the first exactly once. stride = window = 4: [0,4) [4,8) [8,10) score 1–3, 5–7, 9.
    func testWindows() {
        let w = Perplexity.windows(count: 10, window: 4, stride: 2)
        XCTAssertEqual(w.map(\.start), [0, 2, 4, 6]); XCTAssertEqual(w.map(\.end), [4, 6, 8, 10])
        XCTAssertEqual(w.map(\.firstScored), [1, 4, 6, 8])
        let d = Perplexity.windows(count: 10, window: 4, stride: 4)
        XCTAssertEqual(d.map(\.firstScored), [1, 5, 9]); XCTAssertEqual(d.map(\.end), [4, 8, 10])
        XCTAssertEqual(d.reduce(0) { $0 + $1.end - $1.firstScored }, 7)
    }

    static let config = ModelConfig.llamaStyle(vocabSize: 23, hiddenSize: 16, intermediateSize: 24, layerCount: 2,
                                               headCount: 4, kvHeadCount: 2, maxPositions: 64, ropeBase: 10_000)

    /// Reference NLL of token p given ids[start..<p], from a full-logits pass over ids[start..<end] (Float64).
    func nll(_ m: TransformerModel, _ ids: [Int], start: Int, end: Int, p: Int) -> Double {
        let logits = m.logits([Array(ids[start..<end])])[0]
        let v = m.config.vocabSize, r = p - start - 1
        let row = (0..<v).map { Double(logits.scalars[r * v + $0]) }
        let top = row.max() ?? 0
        return top + log(row.reduce(0) { $0 + exp($1 - top) }) - row[ids[p]]
    }

    /// The strided perplexity equals exp of the mean of per-token NLLs computed window by window from full
    /// logits, for overlapping and disjoint windows, with one or several windows per pass.
    func testPerplexityMatchesFullLogits() throws {
        let m = TransformerModel(config: Self.config, weights: .random(Self.config, seed: 9, std: 0.5))
        var rng = SeededGenerator(seed: 4)
        let ids = (0..<37).map { _ in Int.random(in: 0..<23, using: &rng) }
        for (window, stride, perPass) in [(8, 3, 1), (8, 8, 2), (40, 40, 1), (16, 5, 3)] {
            var sum = 0.0, n = 0
            for w in Perplexity.windows(count: ids.count, window: window, stride: stride) {
                for p in w.firstScored..<w.end { sum += nll(m, ids, start: w.start, end: w.end, p: p); n += 1 }
            }
            let got = try Perplexity.evaluate(m, ids: ids, window: window, stride: stride, windowsPerPass: perPass)
            // Overlapping windows score every token but the first; disjoint ones also skip each window's first.
            if stride < window || window >= ids.count { XCTAssertEqual(got.scoredTokens, ids.count - 1) }
            XCTAssertEqual(got.scoredTokens, n)
            XCTAssertEqual(got.meanNLL, sum / Double(n), accuracy: 1e-4, "window \(window) stride \(stride)")
            XCTAssertEqual(got.perplexity, exp(sum / Double(n)), accuracy: 1e-3 * exp(sum / Double(n)))
        }
        XCTAssertThrowsError(try Perplexity.evaluate(m, ids: ids, window: 128, stride: 64))   // beyond the context
    }

    /// Tokens of a text in blocks of lines equal the per-block encodings concatenated; maxTokens truncates.
    func testTokensInBlocks() {
        let text = "a b\nc\n\nd e f\n"
        let enc: (String) -> [Int] = { $0.unicodeScalars.map { Int($0.value) } }
        XCTAssertEqual(Perplexity.tokens(of: text, encode: enc, maxTokens: nil, linesPerBlock: 2), enc(text))
        XCTAssertEqual(Perplexity.tokens(of: text, encode: enc, maxTokens: 5, linesPerBlock: 1), Array(enc(text).prefix(5)))
        // CRLF line ends (WikiText-2 raw): blocks still split at lines and rejoin to the same text.
        let crlf = "a b\r\nc\r\n\r\nd\r\n"
        var blocks: [String] = []
        XCTAssertEqual(Perplexity.tokens(of: crlf, encode: { blocks.append($0); return enc($0) }, maxTokens: nil, linesPerBlock: 1), enc(crlf))
        XCTAssertEqual(blocks.count, 5)
    }

    /// "a b a b": bigrams ab, ba, ab → H₂ = H(2/3, 1/3) = log₂3 − 2/3; trigrams aba, bab → H₃ = 1;
    /// GE = (2/3·H₂ + 4/3·H₃)/2. A text of one repeated word has H₂ = H₃ = 0.
    func testWeightedEntropy() {
        let h2 = log2(3.0) - 2.0 / 3.0
        XCTAssertEqual(GenerationEntropy.ngramEntropy(["a", "b", "a", "b"], n: 2), h2, accuracy: 1e-12)
        XCTAssertEqual(GenerationEntropy.ngramEntropy(["a", "b", "a", "b"], n: 3), 1, accuracy: 1e-12)
        XCTAssertEqual(GenerationEntropy.weightedEntropy("a b a b"), (2.0 / 3 * h2 + 4.0 / 3) / 2, accuracy: 1e-12)
        XCTAssertEqual(GenerationEntropy.weightedEntropy("the the the the the"), 0)
        XCTAssertEqual(GenerationEntropy.ngramEntropy(["x"], n: 2), 0)
        XCTAssertEqual(GenerationEntropy.score(["a b a b", "the the the"]), 100 * (2.0 / 3 * h2 + 4.0 / 3) / 4, accuracy: 1e-9)
    }

    /// Treebank-style word tokens (what nltk.word_tokenize gives for these sentences, except that NLTK writes
    /// opening and closing double quotes as `` and '' where Emend keeps the quote character).
    func testWordTokens() {
        XCTAssertEqual(GenerationEntropy.wordTokens("I don't know, John's dog (a poodle) costs $1,000."),
                       ["I", "do", "n't", "know", ",", "John", "'s", "dog", "(", "a", "poodle", ")", "costs", "$", "1,000", "."])
        XCTAssertEqual(GenerationEntropy.wordTokens("He said \"yes!\" Then he left..."),
                       ["He", "said", "\"", "yes", "!", "\"", "Then", "he", "left", "..."])
        XCTAssertEqual(GenerationEntropy.wordTokens("The U.S. army"), ["The", "U.S.", "army"])
    }

    /// Word-boundary, case-insensitive naming; a group hits when any member's answer names an expected string.
    func testAnswerMatching() {
        XCTAssertTrue(QuestionAnswering.names("He speaks English.", "english"))
        XCTAssertFalse(QuestionAnswering.names("An Englishman.", "English"))
        XCTAssertTrue(QuestionAnswering.names("Born in New York City", "New York"))
        XCTAssertFalse(QuestionAnswering.names("anything", " "))
        let items = [AnswerCheckItem(question: "q1", expected: ["Paris"], old: ["Rome"]),
                     AnswerCheckItem(question: "q2", expected: ["Paris"], old: ["Rome"]),
                     AnswerCheckItem(question: "q3", expected: ["Oslo"], old: ["Bergen"])]
        let s = QuestionAnswering.score(groups: [[0, 1], [2]], items: items, answers: ["Rome.", "It is Paris", "Bergen"])
        XCTAssertEqual(s.items, 2)
        XCTAssertEqual(s.newRate, 50); XCTAssertEqual(s.oldRate, 100)
    }

    /// The continuation check's prompts: each record's prompt with its subject, then its paraphrases, all expecting
    /// the new target and naming the old one where the record has it.
    func testContinuationItems_PromptThenParaphrases() {
        let a = EditRequest(prompt: "{} is located in", subject: "The Eiffel Tower", targetNew: "Rome", targetTrue: "Paris",
                            paraphrasePrompts: ["Where is the Eiffel Tower? It is in"])
        let b = EditRequest(prompt: "{} was made by", subject: "Apple A5", targetNew: "Google")
        let items = QuestionAnswering.continuationItems([a, b])
        XCTAssertEqual(items.map(\.question), ["The Eiffel Tower is located in", "Where is the Eiffel Tower? It is in", "Apple A5 was made by"])
        XCTAssertEqual(items.map(\.expected), [["Rome"], ["Rome"], ["Google"]])
        XCTAssertEqual(items.map(\.old), [["Paris"], ["Paris"], []])
    }

    /// On SmolLM2 (skipped when not installed): the continuation check continues the plain prompt, not a chat turn.
    /// Independent path: the greedy tokens of `TransformerModel.generate` on the tokenizer's prompt ids, decoded;
    /// a word of that text is named (100 %), a word it lacks is not (0 %).
    func testContinuationCheck_ScoresPlainGreedyContinuations() throws {
        guard TestPaths.exists(TestPaths.defaultModel) else { throw XCTSkip("no \(TestPaths.defaultModel.path)") }
        let m = try LoadedModel.load(TestPaths.defaultModel.path)
        let prompt = "The Eiffel Tower is located in the city of"
        let ids = m.model.generate([m.tokenizer.promptIDs(prompt)], maxTokens: 6)[0]
        let text = m.tokenizer.decode(ids, skipSpecial: true, continuing: true)
        let word = try XCTUnwrap(text.split(whereSeparator: { !$0.isLetter }).first.map(String.init), text)
        let hit = QuestionAnswering.continuationCheck(m, items: [AnswerCheckItem(question: prompt, expected: [word], old: ["Zyzzyva"])], maxTokens: 6)
        XCTAssertEqual(hit.newRate, 100, text)
        XCTAssertEqual(hit.oldRate, 0)
    }

    /// On SmolLM2 (skipped when not installed): batched greedy generation with a total-length budget per prompt
    /// gives, for each prompt, the prompt plus exactly what `complete` generates for it alone with its own
    /// budget (maxLength − prompt tokens).
    func testBatchedGenerationRespectsEachBudget() throws {
        guard TestPaths.exists(TestPaths.defaultModel) else { throw XCTSkip("no \(TestPaths.defaultModel.path)") }
        let m = try LoadedModel.load(TestPaths.defaultModel.path)
        let prompts = ["The capital of France is", "Water boils at", "My favourite book about the history of Rome is"]
        let maxLength = 12
        let got = GenerationEntropy.generate(m, prompts: prompts, maxLength: maxLength, topK: 0, batchSize: 3)
        for (p, text) in zip(prompts, got) {
            let budget = maxLength - m.promptIDs(p, chat: false).count
            XCTAssertEqual(text, p + (m.complete([p], maxTokens: budget).first ?? "?"), p)
        }
    }
}
