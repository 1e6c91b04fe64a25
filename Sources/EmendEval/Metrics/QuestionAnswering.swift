// Free-generation checks: ask a question, generate greedily, and test whether the answer names an expected
// string. Teacher-forced scores overstate editing (shared/spec/landscape.md §2.1); these ask the model the way
// a user would.
//   chat check  the question form of each edited fact (CounterFact: `counterfact_qna.json`), through the
//               model's chat template (plain "Question: …\nAnswer:" when it has none); success when the answer
//               names the new target. Also counted: answers that name the old (true) target.
//   continuation  the realistic check for a base model: each edit prompt and each of its paraphrases is continued
//               greedily as plain text (no chat template); success when the continuation names the new target,
//               counted per prompt. Also counted: continuations naming the old target.
//   MQuAKE      the three multi-hop questions of each case; a case is answered when any of its questions'
//               answers names the post-edit answer or one of its aliases (MQuAKE's multi-hop accuracy), and
//               separately the pre-edit answer.
// "Names" = case-insensitive match of the whole expected string on word boundaries (letters and digits around
// it are not part of the match).

import EmendEditing
import EmendModels
import Foundation

/// One question with the strings that count as the expected answer (and, optionally, as the old answer).
public struct AnswerCheckItem: Sendable, Equatable, Codable {
    public var question: String
    public var expected: [String]
    public var old: [String]
    public init(question: String, expected: [String], old: [String] = []) {
        self.question = question; self.expected = expected; self.old = old
    }
}

/// Rates of answers naming the expected (new) and the old strings, ×100.
public struct AnswerCheckScores: Sendable, Equatable, Codable {
    public var items: Int
    /// % of items (cases) whose answer names an expected string.
    public var newRate: Double
    /// % of items whose answer names an old string (0 when no item has one).
    public var oldRate: Double
    /// A few answers, for reading.
    public var examples: [String]
}

public enum QuestionAnswering {
    /// Whether `text` contains `phrase` on word boundaries, ignoring case.
    public static func names(_ text: String, _ phrase: String) -> Bool {
        let hay = text.lowercased(), needle = phrase.lowercased().trimmingCharacters(in: .whitespacesAndNewlines)
        guard !needle.isEmpty else { return false }
        var from = hay.startIndex
        while let r = hay.range(of: needle, range: from..<hay.endIndex) {
            let before = r.lowerBound == hay.startIndex ? nil : hay[hay.index(before: r.lowerBound)]
            let after = r.upperBound == hay.endIndex ? nil : hay[r.upperBound]
            let boundary = { (c: Character?) in c.map { !($0.isLetter || $0.isNumber) } ?? true }
            if boundary(before) && boundary(after) { return true }
            from = hay.index(after: r.lowerBound)
        }
        return false
    }

    /// Greedy answers to questions, through the chat template when the model has one.
    public static func ask(_ model: LoadedModel, _ questions: [String], maxTokens: Int = 24, batchSize: Int = 16,
                           progress: ((Int, Int) -> Void)? = nil) -> [String] {
        let chat = model.chatTemplate != nil
        let prompts = chat ? questions : questions.map { "Question: \($0)\nAnswer:" }
        var out: [String] = []
        var start = 0
        while start < prompts.count {
            let end = min(prompts.count, start + max(1, batchSize))
            out += model.complete(Array(prompts[start..<end]), chat: chat, maxTokens: maxTokens)
            start = end
            progress?(start, prompts.count)
        }
        return out
    }

    /// The realistic chat check on single questions.
    public static func chatCheck(_ model: LoadedModel, items: [AnswerCheckItem], maxTokens: Int = 24,
                                 progress: ((Int, Int) -> Void)? = nil) -> AnswerCheckScores {
        let answers = ask(model, items.map(\.question), maxTokens: maxTokens, progress: progress)
        return score(groups: items.indices.map { [$0] }, items: items, answers: answers)
    }

    /// The prompts of the continuation check: each request's filled prompt, then its paraphrases, each expecting the
    /// new target (and, where the request has one, naming the old).
    public static func continuationItems(_ requests: [EditRequest]) -> [AnswerCheckItem] {
        requests.flatMap { r in
            ([r.filledPrompt] + r.paraphrasePrompts).map {
                AnswerCheckItem(question: $0, expected: [r.targetNew], old: r.targetTrue.map { [$0] } ?? [])
            }
        }
    }

    /// The continuation check: greedy continuations of `items`' prompts as plain text, one item per prompt.
    public static func continuationCheck(_ model: LoadedModel, items: [AnswerCheckItem], maxTokens: Int = 24, batchSize: Int = 16,
                                         progress: ((Int, Int) -> Void)? = nil) -> AnswerCheckScores {
        var answers: [String] = []
        var start = 0
        while start < items.count {
            let end = min(items.count, start + max(1, batchSize))
            answers += model.complete(items[start..<end].map(\.question), chat: false, maxTokens: maxTokens)
            start = end
            progress?(start, items.count)
        }
        return score(groups: items.indices.map { [$0] }, items: items, answers: answers)
    }

    /// MQuAKE multi-hop accuracy: per case, all its questions are asked; any hit counts.
    public static func multiHop(_ model: LoadedModel, cases: [MQuAKECase], maxTokens: Int = 24,
                                progress: ((Int, Int) -> Void)? = nil) -> AnswerCheckScores {
        var items: [AnswerCheckItem] = [], groups: [[Int]] = []
        for c in cases {
            groups.append(Array(items.count..<(items.count + c.questions.count)))
            items += c.questions.map { AnswerCheckItem(question: $0, expected: c.newAnswers, old: c.oldAnswers) }
        }
        let answers = ask(model, items.map(\.question), maxTokens: maxTokens, progress: progress)
        return score(groups: groups, items: items, answers: answers)
    }

    /// Rates over groups of items: a group hits when any of its answers names one of its expected strings.
    public static func score(groups: [[Int]], items: [AnswerCheckItem], answers: [String]) -> AnswerCheckScores {
        func hit(_ g: [Int], _ pick: (AnswerCheckItem) -> [String]) -> Bool {
            g.contains { i in pick(items[i]).contains { names(answers[i], $0) } }
        }
        let n = Double(max(1, groups.count))
        let newHits = groups.filter { hit($0, \.expected) }.count
        let oldHits = groups.filter { hit($0, \.old) }.count
        let examples = zip(items, answers).prefix(3).map { "\($0.question) → \($1.trimmingCharacters(in: .whitespacesAndNewlines))" }
        return AnswerCheckScores(items: groups.count, newRate: 100 * Double(newHits) / n, oldRate: 100 * Double(oldHits) / n,
                                 examples: Array(examples))
    }
}
