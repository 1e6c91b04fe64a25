// CounterFact in the original ROME form (`counterfact.json` / `multi_counterfact.json` of kmeng01/rome), and the
// QnA questions of `counterfact_qna.json` (unified-model-editing; the same fact asked as a question).
//
// ROME form, one object per case:
//   case_id: Int, pararel_idx: Int (optional here),
//   requested_rewrite: {prompt: "… {} …", relation_id, subject, target_new: {str, id}, target_true: {str, id}},
//   paraphrase_prompts: [String] (2), neighborhood_prompts: [String] (10), attribute_prompts: [String],
//   generation_prompts: [String]
// Each record is checked (the prompt has exactly one "{}", targets are non-empty and differ, prompt lists are
// string arrays) and converted to an `EditRequest` for the metrics; the flat EasyEdit form is read by
// `EditRequest.load` (EmendEditing).

import EmendEditing
import Foundation

/// One CounterFact case in the ROME form.
public struct CounterFactRecord: Sendable, Equatable, Codable {
    public var caseID: Int
    public var relationID: String?
    public var request: EditRequest
    public var attributePrompts: [String]
}

/// One `counterfact_qna.json` entry.
public struct CounterFactQuestion: Sendable, Equatable, Codable {
    /// The CounterFact case (0–999).
    public var caseIndex: Int
    /// The cloze prompt, subject filled in.
    public var cloze: String
    public var subject: String
    /// The new target (target_new).
    public var answer: String
    /// The fact phrased as a question.
    public var question: String
}

public enum CounterFactData {
    /// Reads the ROME form; throws `.badRecords` naming every bad record.
    public static func loadROME(_ url: URL) throws -> [CounterFactRecord] {
        try RecordFile.read(url, romeRecord)
    }

    /// Parses the ROME form from bytes (tests).
    public static func parseROME(_ data: Data, file: String) throws -> [CounterFactRecord] {
        try RecordFile.parse(try RecordFile.objects(data, file: file), file: file, romeRecord)
    }

    static func romeRecord(_ f: inout RecordFields) -> CounterFactRecord? {
        let caseID = f.int("case_id")
        guard var rw = f.object("requested_rewrite") else { return nil }
        let prompt = rw.string("prompt"), subject = rw.string("subject")
        let relation = rw.optionalString("relation_id")
        var newObj = rw.object("target_new"), trueObj = rw.object("target_true")
        let new = newObj?.string("str"), truth = trueObj?.string("str")
        if let n = newObj { rw.absorb(n) }
        if let t = trueObj { rw.absorb(t) }
        if let p = prompt, p.components(separatedBy: "{}").count != 2 {
            rw.note("prompt", expected: "a template with exactly one '{}'", got: "'\(p)'")
        }
        if let new, let truth, new == truth { rw.note("target_new.str", expected: "an object different from target_true", got: "'\(new)'") }
        f.absorb(rw)
        let para = f.strings("paraphrase_prompts"), neigh = f.strings("neighborhood_prompts")
        let attr = f.strings("attribute_prompts"), gen = f.strings("generation_prompts")
        guard let caseID, let prompt, let subject, let new, let truth, let para, let neigh, let attr, let gen,
              f.problems.isEmpty else { return nil }
        let req = EditRequest(caseID: caseID, prompt: prompt, subject: subject, targetNew: new, targetTrue: truth,
                              paraphrasePrompts: para, neighborhoodPrompts: neigh, neighborhoodTarget: truth,
                              generationPrompts: gen)
        return CounterFactRecord(caseID: caseID, relationID: relation, request: req, attributePrompts: attr)
    }

    /// Reads `counterfact_qna.json`.
    public static func loadQnA(_ url: URL) throws -> [CounterFactQuestion] {
        try RecordFile.read(url, qnaRecord)
    }

    public static func parseQnA(_ data: Data, file: String) throws -> [CounterFactQuestion] {
        try RecordFile.parse(try RecordFile.objects(data, file: file), file: file, qnaRecord)
    }

    static func qnaRecord(_ f: inout RecordFields) -> CounterFactQuestion? {
        let i = f.int("case_index"), c = f.string("question"), s = f.string("subject")
        let a = f.string("answer"), q = f.string("qna_question")
        guard let i, let c, let s, let a, let q else { return nil }
        guard i >= 0 else { f.note("case_index", expected: "a non-negative integer", got: "\(i)"); return nil }
        return CounterFactQuestion(caseIndex: i, cloze: c, subject: s, answer: a, question: q)
    }
}
