// Prompts, few-shot examples and answer parsing of the six downstream probes, as the glue_eval harness writes
// them (jianghoucheng/AlphaEdit `glue_eval/*_eval.py`; shared/spec/locate-then-edit.md §6.3). "⏎" is a newline.
//
//   task  question                                                              shot answer  gen  parse (first hit)
//   sst2  "Review :<s>⏎Sentiment :"  (no space after "Review :", as the harness)  " positive"   3   positive, negative
//   mrpc  "Are the sentences paraphrases of each other.⏎Sentence 1: <a>⏎          " Yes"        3   yes, no
//          Sentence 2: <b>⏎Answer:"
//   cola  "Is this sentence linguistically acceptable?⏎Sentence: <s>⏎Answer: "    " Yes"       10   yes, no
//   rte   "<a>⏎question: <b> True or False?⏎answer:"                              " True"       3   false, true
//   nli   "<a> entails the <b> True or False? Answer:"                             " True"       3   true, false
//   mmlu  "Question: <q>⏎(A) <a>⏎(B) <b>⏎(C) <c>⏎(D) <d>⏎Answer:"                  " A"         10   leading letter
//
// A few-shot example is the question followed by " <answer word>⏎"; shots are prepended in pool order.
// Parsing looks at the text after the last occurrence of the question's final marker ("Sentiment :",
// "Answer:", "answer:") in the continuation, or the whole continuation, lower-cased, and takes the first
// label word found as a substring (so "no" also matches "not", as in the harness). Differences from the
// harness, on purpose:
//  - RTE: the harness pairs "True" with GLUE label 1, which is *not_entailment*; here "True" is entailment.
//  - MMLU: the harness looks for "a⏎" … "d⏎" anywhere in the continuation; here the answer is the letter
//    that opens the trimmed continuation ("B", "(B)", "B.", "B) …"), else invalid.

import Foundation

extension DownstreamTask {
    /// The test prompt of an item (no answer).
    public func question(_ item: DownstreamItem) -> String {
        let a = item.text, b = item.text2 ?? ""
        switch self {
        case .sst2: return "Review :" + a + "\nSentiment :"
        case .mrpc: return "Are the sentences paraphrases of each other.\nSentence 1: \(a)\nSentence 2: \(b)\nAnswer:"
        case .cola: return "Is this sentence linguistically acceptable?\nSentence: \(a)\nAnswer: "
        case .rte: return "\(a)\nquestion: \(b) True or False?\nanswer:"
        case .nli: return "\(a) entails the \(b) True or False? Answer:"
        case .mmlu:
            let letters = ["A", "B", "C", "D"]
            let opts = item.choices.enumerated().map { "(\(letters[$0])) \($1)\n" }.joined()
            return "Question: \(a)\n" + opts + "Answer:"
        }
    }

    /// A worked example for few-shot prompts: the question and its answer word, then a newline.
    public func shot(_ item: DownstreamItem) -> String {
        let word = labelWords[item.label]
        switch self {
        case .sst2: return "Review : \(item.text)\nSentiment : \(word)\n"   // the harness's shots have the space
        case .cola: return question(item) + word + "\n"                      // the question ends in "Answer: "
        default: return question(item) + " " + word + "\n"
        }
    }

    /// New tokens generated per item (the harness's `gen_len`).
    public var generationLength: Int {
        switch self {
        case .cola, .mmlu: return 10
        default: return 3
        }
    }

    /// The marker the question ends with; text after its last occurrence in a continuation is the answer.
    var answerMarker: String {
        switch self {
        case .sst2: return "Sentiment :"
        case .mrpc, .cola, .nli, .mmlu: return "Answer:"
        case .rte: return "answer:"
        }
    }

    /// The label index named by a generated continuation, or −1 when none is.
    public func parse(_ continuation: String) -> Int {
        var text = continuation
        if let r = text.range(of: answerMarker, options: .backwards) { text = String(text[r.upperBound...]) }
        let lower = text.lowercased().trimmingCharacters(in: .whitespacesAndNewlines)
        switch self {
        case .sst2: return lower.contains("positive") ? 1 : lower.contains("negative") ? 0 : -1
        case .mrpc, .cola: return lower.contains("yes") ? 1 : lower.contains("no") ? 0 : -1
        case .rte: return lower.contains("false") ? 1 : lower.contains("true") ? 0 : -1
        case .nli: return lower.contains("true") ? 0 : lower.contains("false") ? 1 : -1
        case .mmlu:
            var s = Substring(lower)
            if s.hasPrefix("(") { s = s.dropFirst() }
            guard let c = s.first, let i = ["a", "b", "c", "d"].firstIndex(of: String(c)) else { return -1 }
            if let next = s.dropFirst().first, next.isLetter { return -1 }   // "about", "because": not a letter answer
            return i
        }
    }
}
