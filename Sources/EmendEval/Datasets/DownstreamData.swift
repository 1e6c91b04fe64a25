// The downstream ("general ability") data sets of the glue_eval harness (shared/spec/landscape.md §4.4 b), as
// JSON Lines in `glue_subsets/` (converted from the harness's pickles, fields unchanged), and MMLU in its
// original CSV layout (`mmlu/{dev,val,test}/<subject>_<split>.csv`, six columns, no header).
//
//   task  file                               fields                        label
//   sst2  sst2_validation_balanced.jsonl     sentence                      0 negative / 1 positive
//   mrpc  mrpc_validation_balanced.jsonl     sentence1, sentence2          0 no / 1 paraphrase
//   cola  cola_validation_balanced.jsonl     sentence                      0 unacceptable / 1 acceptable
//   rte   rte_validation_balanced.jsonl      sentence1, sentence2          0 entailment / 1 not (GLUE's coding)
//   nli   nli_rte_style.jsonl                sentence1, sentence2          "entailment" / "not_entailment"
//   mmlu  mmlu_subset.jsonl                  question, choices (4)         answer 0–3
//
// Every item is normalised to a `DownstreamItem` whose `label` is the index of the correct entry of the task's
// answer words (`DownstreamTask.labelWords`): for rte and nli that is 0 = "True" (entailment), 1 = "False".

import EmendModels
import Foundation

/// One of the six downstream probes.
public enum DownstreamTask: String, Codable, Sendable, CaseIterable {
    case sst2, mrpc, cola, rte, nli, mmlu

    /// The JSONL file under `glue_subsets/`.
    public var fileName: String {
        switch self {
        case .sst2: return "sst2_validation_balanced.jsonl"
        case .mrpc: return "mrpc_validation_balanced.jsonl"
        case .cola: return "cola_validation_balanced.jsonl"
        case .rte: return "rte_validation_balanced.jsonl"
        case .nli: return "nli_rte_style.jsonl"
        case .mmlu: return "mmlu_subset.jsonl"
        }
    }

    /// The answer words, indexed by `DownstreamItem.label`.
    public var labelWords: [String] {
        switch self {
        case .sst2: return ["negative", "positive"]
        case .mrpc, .cola: return ["No", "Yes"]
        case .rte, .nli: return ["True", "False"]
        case .mmlu: return ["A", "B", "C", "D"]
        }
    }
}

/// One test item: its text fields and the index of the correct answer word.
public struct DownstreamItem: Sendable, Equatable, Codable {
    /// The sentence, the first sentence, or the MMLU question.
    public var text: String
    /// The second sentence (mrpc, rte, nli).
    public var text2: String?
    /// The four MMLU choices.
    public var choices: [String]
    /// Index into `DownstreamTask.labelWords`.
    public var label: Int

    public init(text: String, text2: String? = nil, choices: [String] = [], label: Int) {
        self.text = text; self.text2 = text2; self.choices = choices; self.label = label
    }
}

// MARK: - Readers

public enum DownstreamData {
    /// The items of `task` from `glue_subsets/<task.fileName>` under `dataRoot` (e.g. shared/data), in file order.
    public static func load(_ task: DownstreamTask, dataRoot: URL) throws -> [DownstreamItem] {
        try load(task, file: dataRoot.appendingPathComponent("glue_subsets").appendingPathComponent(task.fileName))
    }

    /// The items of `task` from one JSONL (or JSON array) file; every record is checked.
    public static func load(_ task: DownstreamTask, file url: URL) throws -> [DownstreamItem] {
        try RecordFile.read(url) { f in item(task, &f) }
    }

    /// Parses items from bytes (tests); `file` names the source in errors.
    public static func parse(_ task: DownstreamTask, data: Data, file: String) throws -> [DownstreamItem] {
        try RecordFile.parse(try RecordFile.objects(data, file: file), file: file) { f in item(task, &f) }
    }

    static func item(_ task: DownstreamTask, _ f: inout RecordFields) -> DownstreamItem? {
        switch task {
        case .sst2, .cola:
            let s = f.string("sentence"), l = binaryLabel(&f)
            guard let s, let l else { return nil }
            return DownstreamItem(text: s, label: l)
        case .mrpc:
            let a = f.string("sentence1"), b = f.string("sentence2"), l = binaryLabel(&f)
            guard let a, let b, let l else { return nil }
            return DownstreamItem(text: a, text2: b, label: l)
        case .rte:
            // GLUE RTE: 0 = entailment ("True", word 0), 1 = not entailment ("False", word 1): same index.
            let a = f.string("sentence1"), b = f.string("sentence2"), l = binaryLabel(&f)
            guard let a, let b, let l else { return nil }
            return DownstreamItem(text: a, text2: b, label: l)
        case .nli:
            let a = f.string("sentence1"), b = f.string("sentence2"), raw = f.string("label")
            guard let a, let b, let raw else { return nil }
            switch raw {
            case "entailment": return DownstreamItem(text: a, text2: b, label: 0)
            case "not_entailment": return DownstreamItem(text: a, text2: b, label: 1)
            default: f.note("label", expected: "\"entailment\" or \"not_entailment\"", got: "'\(raw)'"); return nil
            }
        case .mmlu:
            let q = f.string("question"), c = f.strings("choices"), a = f.int("answer")
            guard let q, let c, let a else { return nil }
            guard c.count == 4 else { f.note("choices", expected: "4 strings", got: "\(c.count)"); return nil }
            guard (0...3).contains(a) else { f.note("answer", expected: "an integer in 0...3", got: "\(a)"); return nil }
            return DownstreamItem(text: q, choices: c, label: a)
        }
    }

    /// A 0/1 label given as a number or as the string "0"/"1" (sst2_validation_full stores strings).
    static func binaryLabel(_ f: inout RecordFields) -> Int? {
        if let s = f.dict["label"] as? String {
            if s == "0" || s == "1" { return s == "0" ? 0 : 1 }
            f.note("label", expected: "0 or 1", got: "'\(s)'"); return nil
        }
        guard let l = f.int("label") else { return nil }
        guard l == 0 || l == 1 else { f.note("label", expected: "0 or 1", got: "\(l)"); return nil }
        return l
    }
}

// MARK: - MMLU (original CSV layout)

public enum MMLUData {
    /// All items of one split (`dev`, `val` or `test`) under `mmluRoot` (shared/data/mmlu), subjects in name order.
    /// Returns (subject, item) pairs; every row of every file is checked.
    public static func load(split: String, mmluRoot: URL) throws -> [(subject: String, item: DownstreamItem)] {
        let dir = mmluRoot.appendingPathComponent(split)
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir.path) } catch {
            throw EmendEvalError.unreadableData(file: dir.path, reason: fileErrorReason(error))
        }
        let suffix = "_\(split).csv"
        var out: [(subject: String, item: DownstreamItem)] = []
        for name in names.filter({ $0.hasSuffix(suffix) }).sorted() {
            let subject = String(name.dropLast(suffix.count))
            let url = dir.appendingPathComponent(name)
            out += try parseCSV(String(decoding: try RecordFile.data(url), as: UTF8.self), file: url.path).map { (subject: subject, item: $0) }
        }
        return out
    }

    /// Rows of `question, A, B, C, D, letter` → items. Every row is checked; bad rows are reported together.
    public static func parseCSV(_ text: String, file: String) throws -> [DownstreamItem] {
        let rows = csvRows(text)
        var out: [DownstreamItem] = [], problems: [RecordProblem] = []
        for (i, r) in rows.enumerated() {
            guard r.count == 6 else {
                problems.append(RecordProblem(record: i, field: "(row)", expected: "6 columns", got: "\(r.count)")); continue
            }
            guard let label = ["A", "B", "C", "D"].firstIndex(of: r[5].trimmingCharacters(in: .whitespaces)) else {
                problems.append(RecordProblem(record: i, field: "column 6", expected: "A, B, C or D", got: "'\(r[5])'")); continue
            }
            if r[0].trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                problems.append(RecordProblem(record: i, field: "column 1", expected: "a question", got: "empty")); continue
            }
            out.append(DownstreamItem(text: r[0], choices: Array(r[1...4]), label: label))
        }
        if !problems.isEmpty { throw EmendEvalError.badRecords(file: file, problems: problems, total: rows.count) }
        return out
    }

    /// RFC 4180 rows: fields separated by commas, optionally double-quoted (quotes doubled inside, commas and
    /// newlines allowed); CRLF or LF line ends; empty lines skipped.
    static func csvRows(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = ""
        var quoted = false, atFieldStart = true
        let it = Array(text.unicodeScalars)
        var i = 0
        func endField() { row.append(field); field = ""; atFieldStart = true }
        func endRow() {
            endField()
            if !(row.count == 1 && row[0].isEmpty) { rows.append(row) }
            row = []
        }
        while i < it.count {
            let c = it[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < it.count && it[i + 1] == "\"" { field.unicodeScalars.append("\""); i += 1 } else { quoted = false }
                } else { field.unicodeScalars.append(c) }
            } else if c == "\"" && atFieldStart {
                quoted = true; atFieldStart = false
            } else if c == "," {
                endField()
            } else if c == "\n" || c == "\r" {
                if c == "\r" && i + 1 < it.count && it[i + 1] == "\n" { i += 1 }
                endRow()
            } else {
                field.unicodeScalars.append(c); atFieldStart = false
            }
            i += 1
        }
        if !field.isEmpty || !row.isEmpty { endRow() }
        return rows
    }
}
