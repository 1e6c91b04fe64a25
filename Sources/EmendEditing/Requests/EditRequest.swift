// An edit request: "in prompt P about subject S, the answer is now T". Read from JSON or JSONL in two forms:
//  - MEMIT/ROME CounterFact: {"case_id", "requested_rewrite": {"prompt": "… {} …", "subject", "target_new": {"str"},
//    "target_true": {"str"}}, "paraphrase_prompts": [..], "neighborhood_prompts": [..], "generation_prompts": [..]}
//  - flat (EasyEdit counterfact-edit.json): {"case_id", "prompt" (subject filled in), "subject", "target_new",
//    "ground_truth", "rephrase_prompt", "locality_prompt", "locality_ground_truth"}: the subject is located in the
//    prompt and replaced by "{}", or the record is refused.
//  - zsRE (MEND form): {"src", "subject", "alt" or "answers", "rephrase", "loc", "loc_ans"}.

import EmendCore
import EmendModels
import Foundation

/// One fact to write into the model.
public struct EditRequest: Codable, Sendable, Equatable {
    public var caseID: Int?
    /// The prompt template, with `{}` where the subject goes.
    public var prompt: String
    public var subject: String
    /// The new object (without a leading space; one is added when tokenizing).
    public var targetNew: String
    /// The object the model knew before, for scoring (optional).
    public var targetTrue: String?
    /// Paraphrases of the prompt, subject filled in (evaluation only).
    public var paraphrasePrompts: [String] = []
    /// Prompts about other subjects sharing the true object (evaluation only).
    public var neighborhoodPrompts: [String] = []
    /// The answer of the neighbourhood prompts (the true object for CounterFact, `loc_ans` for zsRE).
    public var neighborhoodTarget: String?
    /// Free-text generation prompts (evaluation only).
    public var generationPrompts: [String] = []

    public init(caseID: Int? = nil, prompt: String, subject: String, targetNew: String, targetTrue: String? = nil,
                paraphrasePrompts: [String] = [], neighborhoodPrompts: [String] = [], neighborhoodTarget: String? = nil,
                generationPrompts: [String] = []) {
        self.caseID = caseID; self.prompt = prompt; self.subject = subject; self.targetNew = targetNew
        self.targetTrue = targetTrue; self.paraphrasePrompts = paraphrasePrompts
        self.neighborhoodPrompts = neighborhoodPrompts; self.neighborhoodTarget = neighborhoodTarget
        self.generationPrompts = generationPrompts
    }

    /// The prompt with the subject filled in.
    public var filledPrompt: String { prompt.replacingOccurrences(of: "{}", with: subject) }

    /// Checks the request can be edited; names the field that is wrong.
    public func validate(file: String = "(request)", record: Int = 0) throws {
        if targetNew.trimmingCharacters(in: .whitespaces).isEmpty { throw EmendEditingError.emptyTarget(file: file, record: record) }
        if subject.isEmpty {
            throw EmendEditingError.malformedRecord(file: file, record: record, field: "subject", expected: "a non-empty string", got: "empty")
        }
        // Evaluation prompts are scored after their last token: an empty one has none.
        for (field, prompts) in [("paraphrase_prompts", paraphrasePrompts), ("neighborhood_prompts", neighborhoodPrompts),
                                 ("generation_prompts", generationPrompts)] {
            if let k = prompts.firstIndex(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) {
                throw EmendEditingError.malformedRecord(file: file, record: record, field: "\(field)[\(k)]", expected: "a non-empty prompt", got: "empty")
            }
        }
        if prompt.components(separatedBy: "{}").count != 2 {
            throw EmendEditingError.malformedRecord(file: file, record: record, field: "prompt",
                                                    expected: "a template with exactly one '{}'", got: "'\(prompt)'")
        }
    }
}

// MARK: - Reading

extension EditRequest {
    /// Reads requests from a JSON array, a single JSON object, or JSONL (one object per line).
    public static func load(from url: URL) throws -> [EditRequest] {
        let file = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EmendEditingError.unreadableFile(file: file, reason: fileErrorReason(error))
        }
        return try parse(data, file: file)
    }

    /// Parses requests from JSON/JSONL bytes; `file` names the source in errors. A file with no request (empty,
    /// `[]`, blank lines) is an error; malformed JSON is reported with its line and column.
    public static func parse(_ data: Data, file: String) throws -> [EditRequest] {
        var objects: [Any] = []
        let isSpace: (UInt8) -> Bool = { [0x20, 0x09, 0x0A, 0x0D].contains($0) }
        let first = data.first(where: { !isSpace($0) })
        guard first != nil else { throw EmendEditingError.noRequests(file: file) }
        func malformed(_ bytes: Data, lineOffset: Int) -> EmendEditingError {
            let at = JSONErrorLocation.find(in: bytes)
                ?? JSONErrorLocation(line: 1, column: 1, expected: "a JSON array or object of requests")
            return .malformedJSON(file: file, line: at.line + lineOffset, column: at.column, expected: at.expected)
        }
        if let top = try? JSONSerialization.jsonObject(with: data) {
            if let arr = top as? [Any] { objects = arr } else { objects = [top] }
        } else if first == UInt8(ascii: "[") {
            throw malformed(data, lineOffset: 0)
        } else {
            // JSONL: one object per line. If even the first line is not JSON, the file is read as one (broken)
            // JSON document, so a pretty-printed object gets the position of its real error.
            let text = String(decoding: data, as: UTF8.self)
            for (n, line) in linesSplitAtLF(text).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed.isEmpty { continue }
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) else {
                    if objects.isEmpty { throw malformed(data, lineOffset: 0) }
                    throw malformed(Data(line.utf8), lineOffset: n)
                }
                objects.append(obj)
            }
        }
        if objects.isEmpty { throw EmendEditingError.noRequests(file: file) }
        return try objects.enumerated().map { i, obj in
            guard let dict = obj as? [String: Any] else {
                throw EmendEditingError.malformedRecord(file: file, record: i, field: "(record)", expected: "a JSON object", got: "\(type(of: obj))")
            }
            let r = try fromRecord(dict, file: file, index: i)
            try r.validate(file: file, record: i)
            return r
        }
    }

    static func fromRecord(_ d: [String: Any], file: String, index i: Int) throws -> EditRequest {
        func str(_ obj: [String: Any], _ key: String, _ path: String) throws -> String {
            guard let v = obj[key] else {
                throw EmendEditingError.malformedRecord(file: file, record: i, field: path, expected: "a string", got: "missing")
            }
            if let s = v as? String { return s }
            if let o = v as? [String: Any], let s = o["str"] as? String { return s }
            throw EmendEditingError.malformedRecord(file: file, record: i, field: path, expected: "a string", got: "\(type(of: v))")
        }
        func strings(_ key: String) -> [String] {
            if let a = d[key] as? [String] { return a }
            if let s = d[key] as? String, !s.isEmpty { return [s] }
            return []
        }
        let caseID = (d["case_id"] as? Int) ?? (d["case_index"] as? Int)
        if let rw = d["requested_rewrite"] as? [String: Any] {
            let subject = try str(rw, "subject", "requested_rewrite.subject")
            var prompt = try str(rw, "prompt", "requested_rewrite.prompt")
            if !prompt.contains("{}") { prompt = try templated(prompt, subject: subject, file: file, index: i) }
            return EditRequest(caseID: caseID, prompt: prompt, subject: subject,
                               targetNew: try str(rw, "target_new", "requested_rewrite.target_new.str"),
                               targetTrue: try? str(rw, "target_true", "requested_rewrite.target_true.str"),
                               paraphrasePrompts: strings("paraphrase_prompts"),
                               neighborhoodPrompts: strings("neighborhood_prompts"),
                               neighborhoodTarget: try? str(rw, "target_true", ""),
                               generationPrompts: strings("generation_prompts"))
        }
        if d["src"] != nil {   // zsRE, MEND form
            let subject = try str(d, "subject", "subject")
            let src = try str(d, "src", "src")
            let target: String
            if let answers = d["answers"] as? [String], let first = answers.first { target = first } else { target = try str(d, "alt", "alt") }
            // MEND files carry no case id; number records by position, as MEMIT's loader does.
            return EditRequest(caseID: caseID ?? i, prompt: try templated(src, subject: subject, file: file, index: i),
                               subject: subject, targetNew: target, targetTrue: nil,
                               paraphrasePrompts: strings("rephrase"), neighborhoodPrompts: strings("loc"),
                               neighborhoodTarget: d["loc_ans"] as? String)
        }
        let subject = try str(d, "subject", "subject")
        let raw = try str(d, "prompt", "prompt")
        let prompt = raw.contains("{}") ? raw : try templated(raw, subject: subject, file: file, index: i)
        return EditRequest(caseID: caseID, prompt: prompt, subject: subject, targetNew: try str(d, "target_new", "target_new"),
                           targetTrue: (d["ground_truth"] as? String) ?? (try? str(d, "target_true", "target_true")),
                           paraphrasePrompts: strings("rephrase_prompt") + strings("paraphrase_prompts"),
                           neighborhoodPrompts: strings("locality_prompt") + strings("neighborhood_prompts"),
                           neighborhoodTarget: (d["locality_ground_truth"] as? String) ?? (d["ground_truth"] as? String),
                           generationPrompts: strings("generation_prompts"))
    }

    /// Replaces the first occurrence of the subject in a filled prompt by "{}".
    static func templated(_ filled: String, subject: String, file: String, index: Int) throws -> String {
        guard let r = filled.range(of: subject) else {
            throw EmendEditingError.subjectNotInPrompt(file: file, record: index, subject: subject, prompt: filled)
        }
        return filled.replacingCharacters(in: r, with: "{}")
    }
}
