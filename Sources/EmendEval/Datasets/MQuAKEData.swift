// MQuAKE (Zhong et al. 2023) cases in the original record form (`mquake/MQuAKE-CF-AKEW-354.json` keeps it,
// plus AKEW's extra fields, which are ignored):
//   case_id, requested_rewrite: [{prompt "… {} …", relation_id, subject, target_new {str}, target_true {str},
//   question}], questions: [String] (3 multi-hop phrasings), answer, answer_alias: [String], new_answer,
//   new_answer_alias: [String], single_hops / new_single_hops: [{question, cloze, answer, answer_alias}]
// Every record is checked; `editRequests` gives the case's edits as `EditRequest`s.

import EmendEditing
import Foundation

/// One MQuAKE case.
public struct MQuAKECase: Sendable, Equatable, Codable {
    public var caseID: Int
    /// The facts to edit (1–4 per case).
    public var edits: [EditRequest]
    /// Multi-hop questions (three phrasings of the same chain).
    public var questions: [String]
    /// The answer before editing, and its aliases.
    public var answer: String
    public var answerAliases: [String]
    /// The answer after all edits, and its aliases.
    public var newAnswer: String
    public var newAnswerAliases: [String]

    /// Every accepted string for the post-edit answer.
    public var newAnswers: [String] { [newAnswer] + newAnswerAliases }
    /// Every accepted string for the pre-edit answer.
    public var oldAnswers: [String] { [answer] + answerAliases }
}

public enum MQuAKEData {
    public static func load(_ url: URL) throws -> [MQuAKECase] { try RecordFile.read(url, record) }

    public static func parse(_ data: Data, file: String) throws -> [MQuAKECase] {
        try RecordFile.parse(try RecordFile.objects(data, file: file), file: file, record)
    }

    static func record(_ f: inout RecordFields) -> MQuAKECase? {
        let caseID = f.int("case_id")
        var edits: [EditRequest] = []
        for var rw in f.objects("requested_rewrite", minCount: 1) ?? [] {
            let prompt = rw.string("prompt"), subject = rw.string("subject")
            var n = rw.object("target_new"), t = rw.object("target_true")
            let new = n?.string("str"), truth = t?.string("str")
            if let x = n { rw.absorb(x) }
            if let x = t { rw.absorb(x) }
            if let p = prompt, p.components(separatedBy: "{}").count != 2 {
                rw.note("prompt", expected: "a template with exactly one '{}'", got: "'\(p)'")
            }
            f.absorb(rw)
            if let prompt, let subject, let new, let truth {
                edits.append(EditRequest(caseID: caseID, prompt: prompt, subject: subject, targetNew: new, targetTrue: truth))
            }
        }
        let questions = f.strings("questions", minCount: 1)
        let answer = f.string("answer"), newAnswer = f.string("new_answer")
        let aliases = f.strings("answer_alias"), newAliases = f.strings("new_answer_alias")
        guard let caseID, let questions, let answer, let newAnswer, let aliases, let newAliases, f.problems.isEmpty else {
            return nil
        }
        return MQuAKECase(caseID: caseID, edits: edits, questions: questions, answer: answer, answerAliases: aliases,
                          newAnswer: newAnswer, newAnswerAliases: newAliases)
    }
}
