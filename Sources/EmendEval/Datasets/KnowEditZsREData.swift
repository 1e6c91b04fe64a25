// KnowEdit's ZsRE test set (`knowedit/ZsRE-test-all.json`, zjunlp/KnowEdit), one object per case:
//   subject, prompt (a question naming the subject), target_new, ground_truth: [String], rephrase_prompt,
//   cond (optional), locality: {Relation_Specificity: [{prompt, ground_truth: [String]}]},
//   portability: {Reasoning | Subject_Aliasing | Logical_Generalization: [{prompt, ground_truth: String}]} (optional)
// Every record is checked; `editRequest` turns a record into an `EditRequest` whose neighbourhood is the
// locality prompts that share the first locality answer (EditRequest carries one neighbourhood answer).

import EmendEditing
import Foundation

/// A prompt with its expected answer(s).
public struct PromptAnswer: Sendable, Equatable, Codable {
    public var prompt: String
    public var answers: [String]
}

/// One KnowEdit ZsRE case.
public struct KnowEditZsRERecord: Sendable, Equatable, Codable {
    public var subject: String
    public var prompt: String
    public var targetNew: String
    public var groundTruth: [String]
    public var rephrase: String
    public var locality: [PromptAnswer]
    /// Portability kind ("Reasoning", …) → its prompts.
    public var portability: [String: [PromptAnswer]]

    /// The record as an edit request (the subject must occur in the prompt).
    public func editRequest(caseID: Int, file: String = "(KnowEdit)") throws -> EditRequest {
        guard let r = prompt.range(of: subject) else {
            throw EmendEvalError.badRecords(file: file, problems: [RecordProblem(record: caseID, field: "prompt",
                expected: "a prompt containing the subject '\(subject)'", got: "'\(prompt)'")], total: 1)
        }
        let answer = locality.first?.answers.first
        return EditRequest(caseID: caseID, prompt: prompt.replacingCharacters(in: r, with: "{}"), subject: subject,
                           targetNew: targetNew, targetTrue: groundTruth.first, paraphrasePrompts: [rephrase],
                           neighborhoodPrompts: locality.filter { $0.answers.first == answer }.map(\.prompt),
                           neighborhoodTarget: answer)
    }
}

public enum KnowEditZsREData {
    public static func load(_ url: URL) throws -> [KnowEditZsRERecord] { try RecordFile.read(url, record) }

    public static func parse(_ data: Data, file: String) throws -> [KnowEditZsRERecord] {
        try RecordFile.parse(try RecordFile.objects(data, file: file), file: file, record)
    }

    static func record(_ f: inout RecordFields) -> KnowEditZsRERecord? {
        let subject = f.string("subject"), prompt = f.string("prompt"), target = f.string("target_new")
        let truth = f.strings("ground_truth", minCount: 1), rephrase = f.string("rephrase_prompt")
        var locality: [PromptAnswer] = []
        if var loc = f.object("locality") {
            for var e in loc.objects("Relation_Specificity", minCount: 1) ?? [] {
                let p = e.string("prompt"), a = e.strings("ground_truth", minCount: 1)
                loc.absorb(e)
                if let p, let a { locality.append(PromptAnswer(prompt: p, answers: a)) }
            }
            f.absorb(loc)
        }
        var portability: [String: [PromptAnswer]] = [:]
        if f.has("portability"), var port = f.object("portability") {
            for key in port.dict.keys.sorted() {
                for var e in port.objects(key, minCount: 1) ?? [] {
                    let p = e.string("prompt")
                    // Portability answers are strings in this file; a list is accepted too.
                    let a: [String]? = e.dict["ground_truth"] is [Any] ? e.strings("ground_truth", minCount: 1)
                                                                        : e.string("ground_truth").map { [$0] }
                    port.absorb(e)
                    if let p, let a { portability[key, default: []].append(PromptAnswer(prompt: p, answers: a)) }
                }
            }
            f.absorb(port)
        }
        guard let subject, let prompt, let target, let truth, let rephrase, f.problems.isEmpty else { return nil }
        return KnowEditZsRERecord(subject: subject, prompt: prompt, targetNew: target, groundTruth: truth, rephrase: rephrase,
                                  locality: locality, portability: portability)
    }
}
