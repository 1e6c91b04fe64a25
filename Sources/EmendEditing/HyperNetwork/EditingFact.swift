// One training or evaluation fact for the hyper-network editors (spec §5.1): an edit tuple (prompt, answer), an
// equivalent tuple (a paraphrase, the same answer) and an unrelated tuple (a locality prompt, its answer).
// Read from the files in ../shared/data: zsRE (MEND form: src, answers/alt, rephrase, loc, loc_ans), EasyEdit
// CounterFact (prompt, target_new, rephrase_prompt, locality_prompt, locality_ground_truth) and KnowEdit
// (prompt, target_new, portability.Subject_Aliasing, locality.Relation_Specificity).

import EmendModels
import EmendCore
import Foundation

/// A fact as text.
public struct EditingFact: Sendable, Equatable, Codable {
    public var prompt: String
    public var answer: String
    public var paraphrase: String
    public var locality: String
    public var localityAnswer: String

    public init(prompt: String, answer: String, paraphrase: String, locality: String, localityAnswer: String) {
        self.prompt = prompt; self.answer = answer; self.paraphrase = paraphrase
        self.locality = locality; self.localityAnswer = localityAnswer
    }

    /// From an edit request (for `emend edit`): the first paraphrase and neighbourhood prompt, when there are any.
    /// zsRE locality prompts get the "?" that MALMEN and MEMIT append.
    public init(_ r: EditRequest) {
        let loc = r.neighborhoodPrompts.first ?? r.filledPrompt
        self.init(prompt: r.filledPrompt, answer: r.targetNew, paraphrase: r.paraphrasePrompts.first ?? r.filledPrompt,
                  locality: loc.hasPrefix("nq question:") ? loc + "?" : loc,
                  localityAnswer: r.neighborhoodTarget ?? r.targetTrue ?? r.targetNew)
    }
}

/// A fact as token sequences.
public struct TokenizedFact: Sendable, Equatable {
    public var edit: LabelledSequence
    public var equivalent: LabelledSequence
    public var unrelated: LabelledSequence

    public init(edit: LabelledSequence, equivalent: LabelledSequence, unrelated: LabelledSequence) {
        self.edit = edit; self.equivalent = equivalent; self.unrelated = unrelated
    }

    /// Tokenised as the editors see it: each answer is the tokens that follow its prompt in
    /// `prompt + " " + answer` (spec §5.1; `Tokenizer.promptAndTargetIDs`), the prompt starts with BOS when the
    /// model wants one.
    public init(_ f: EditingFact, tokenizer: any Tokenizer) {
        func sequence(_ prompt: String, _ answer: String) -> LabelledSequence {
            let ids = tokenizer.promptAndTargetIDs(prompt: prompt, target: answer)
            return LabelledSequence(prompt: ids.prompt, answer: ids.target)
        }
        self.init(edit: sequence(f.prompt, f.answer), equivalent: sequence(f.paraphrase, f.answer),
                  unrelated: sequence(f.locality, f.localityAnswer))
    }
}

extension EditingFact {
    /// Reads facts from a JSON array (or JSONL) file in one of the forms above; records lacking a field are refused
    /// with the file, record and field named.
    public static func load(from url: URL) throws -> [EditingFact] {
        try load(from: url, skippingIncomplete: false).facts
    }

    /// As `load(from:)`; with `skippingIncomplete`, records missing a field are counted and left out (KnowEdit has
    /// records without any locality example) instead of refusing the file.
    public static func load(from url: URL, skippingIncomplete: Bool) throws -> (facts: [EditingFact], skipped: Int) {
        let file = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw EmendEditingError.unreadableFile(file: file, reason: fileErrorReason(error)) }
        var records: [Any] = []
        if let top = try? JSONSerialization.jsonObject(with: data) {
            records = (top as? [Any]) ?? [top]
        } else {
            for (n, line) in linesSplitAtLF(String(decoding: data, as: UTF8.self)).enumerated()
                where !line.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) else {
                    // The first line not being JSON means the file is one broken JSON document, not JSONL.
                    let (bytes, offset) = records.isEmpty ? (data, 0) : (Data(line.utf8), n)
                    let at = JSONErrorLocation.find(in: bytes) ?? JSONErrorLocation(line: 1, column: 1, expected: "a JSON object")
                    throw EmendEditingError.malformedJSON(file: file, line: at.line + offset, column: at.column, expected: at.expected)
                }
                records.append(o)
            }
        }
        var facts: [EditingFact] = [], skipped = 0
        for (i, r) in records.enumerated() {
            guard let d = r as? [String: Any] else {
                throw EmendEditingError.malformedRecord(file: file, record: i, field: "(record)", expected: "a JSON object", got: "\(type(of: r))")
            }
            do {
                let f = try fact(d, file: file, index: i)
                try f.validate(file: file, record: i)
                facts.append(f)
            } catch let e as EmendEditingError {
                guard skippingIncomplete, case .malformedRecord = e else { throw e }
                skipped += 1
            }
        }
        return (facts, skipped)
    }

    /// Every prompt and answer must have some text: an empty one tokenizes to nothing, and a sequence with no prompt
    /// token has no position that predicts its answer.
    public func validate(file: String, record i: Int) throws {
        for (field, text) in [("prompt", prompt), ("answer", answer), ("paraphrase", paraphrase), ("locality prompt", locality),
                              ("locality answer", localityAnswer)]
            where text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw EmendEditingError.malformedRecord(file: file, record: i, field: field, expected: "a non-empty string", got: "empty")
        }
    }

    static func fact(_ d: [String: Any], file: String, index i: Int) throws -> EditingFact {
        func str(_ key: String) throws -> String {
            guard let s = d[key] as? String, !s.isEmpty else {
                throw EmendEditingError.malformedRecord(file: file, record: i, field: key, expected: "a non-empty string",
                                                        got: d[key] == nil ? "missing" : "\(type(of: d[key]!))")
            }
            return s
        }
        /// A KnowEdit answer: a string, a list of strings or a list of lists of aliases; the first one.
        func firstAnswer(_ v: Any?) -> String? {
            if let s = v as? String { return s }
            if let a = v as? [Any], let f = a.first { return firstAnswer(f) }
            return nil
        }
        if d["src"] != nil {   // zsRE
            let answer = try (d["answers"] as? [String])?.first ?? str("alt")
            return EditingFact(prompt: try str("src"), answer: answer, paraphrase: try str("rephrase"),
                               locality: try str("loc") + "?", localityAnswer: try str("loc_ans"))
        }
        let prompt = try str("prompt"), answer = try str("target_new")
        if d["locality_prompt"] != nil {   // EasyEdit CounterFact
            return EditingFact(prompt: prompt, answer: answer, paraphrase: (d["rephrase_prompt"] as? String) ?? prompt,
                               locality: try str("locality_prompt"), localityAnswer: try str("locality_ground_truth"))
        }
        // KnowEdit
        let alias = ((d["portability"] as? [String: Any])?["Subject_Aliasing"] as? [[String: Any]])?.first?["prompt"] as? String
        let paraphrase = (d["rephrase_prompt"] as? String) ?? alias ?? prompt
        let localities = d["locality"] as? [String: Any]
        let examples = (localities?["Relation_Specificity"] as? [[String: Any]]) ?? (localities?["Forgetfulness"] as? [[String: Any]])
        guard let loc = examples?.first,
              let lp = loc["prompt"] as? String, let la = firstAnswer(loc["ground_truth"]) else {
            throw EmendEditingError.malformedRecord(file: file, record: i, field: "locality.Relation_Specificity[0] (or Forgetfulness[0])",
                                                    expected: "a {prompt, ground_truth} locality example", got: "missing")
        }
        return EditingFact(prompt: prompt, answer: answer, paraphrase: paraphrase, locality: lp, localityAnswer: la)
    }
}
