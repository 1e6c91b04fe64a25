// Reading data files record by record: a JSON array or JSON Lines into objects, then typed fields read through
// a `RecordFields` that notes every problem (record index, field path, expected, got) instead of stopping at
// the first. A reader validates all records and throws `EmendEvalError.badRecords` listing the bad ones, so
// one run shows everything wrong with a file; nothing is returned from a file with a bad record.

import EmendCore
import EmendModels
import Foundation

// MARK: - Files

enum RecordFile {
    /// The bytes of `url`, or `.unreadableData`.
    static func data(_ url: URL) throws -> Data {
        do { return try Data(contentsOf: url) } catch {
            throw EmendEvalError.unreadableData(file: url.path, reason: fileErrorReason(error))
        }
    }

    /// The top-level values: the elements of a JSON array, or one value per non-empty JSONL line.
    /// A line that is not JSON is a problem of that record (its index counts non-empty lines).
    static func objects(_ data: Data, file: String) throws -> [Any] {
        if let top = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) {
            if let arr = top as? [Any] { return arr }
            return [top]
        }
        var out: [Any] = [], problems: [RecordProblem] = []
        let text = String(decoding: data, as: UTF8.self)
        for (n, line) in linesSplitAtLF(text).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            if let obj = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) { out.append(obj) } else {
                let at = JSONErrorLocation.find(in: Data(line.utf8))
                problems.append(RecordProblem(record: out.count + problems.count, field: "(line \(n + 1), column \(at?.column ?? 1))",
                                              expected: at.map { "a JSON value: \($0.expected)" } ?? "a JSON value", got: "malformed JSON"))
                out.append(NSNull())
            }
        }
        if out.isEmpty { throw EmendEvalError.unreadableData(file: file, reason: "no JSON array and no JSON lines") }
        if !problems.isEmpty { throw EmendEvalError.badRecords(file: file, problems: problems, total: out.count) }
        return out
    }

    /// Decodes every record with `make`; collects all problems and throws them together.
    static func read<T>(_ url: URL, _ make: (inout RecordFields) -> T?) throws -> [T] {
        let file = url.path
        return try parse(try objects(try data(url), file: file), file: file, make)
    }

    /// As `read`, on already parsed values.
    static func parse<T>(_ values: [Any], file: String, _ make: (inout RecordFields) -> T?) throws -> [T] {
        var out: [T] = [], problems: [RecordProblem] = []
        for (i, v) in values.enumerated() {
            var f = RecordFields(v, record: i)
            let item = f.isObject ? make(&f) : nil
            problems += f.problems
            if let item, f.problems.isEmpty { out.append(item) }
        }
        if !problems.isEmpty { throw EmendEvalError.badRecords(file: file, problems: problems, total: values.count) }
        return out
    }
}

// MARK: - Fields of one record

/// Typed access to one JSON object's fields; every failed access is noted in `problems`.
struct RecordFields {
    let dict: [String: Any]
    let record: Int
    let path: String
    private(set) var problems: [RecordProblem] = []
    let isObject: Bool

    init(_ value: Any, record: Int, path: String = "") {
        self.record = record
        self.path = path
        if let o = value as? [String: Any] { dict = o; isObject = true } else {
            dict = [:]; isObject = false
            problems.append(RecordProblem(record: record, field: path.isEmpty ? "(record)" : path, expected: "a JSON object",
                                          got: describe(value)))
        }
    }

    func name(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    mutating func note(_ key: String, expected: String, got: String) {
        problems.append(RecordProblem(record: record, field: name(key), expected: expected, got: got))
    }

    func has(_ key: String) -> Bool { dict[key] != nil && !(dict[key] is NSNull) }

    /// A string; `nonEmpty` also rejects "" and all-whitespace.
    mutating func string(_ key: String, nonEmpty: Bool = true) -> String? {
        guard let v = dict[key], !(v is NSNull) else { note(key, expected: "a string", got: "missing"); return nil }
        guard let s = v as? String else { note(key, expected: "a string", got: describe(v)); return nil }
        if nonEmpty && s.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            note(key, expected: "a non-empty string", got: "empty"); return nil
        }
        return s
    }

    /// A string when present (absent or null gives nil without a problem; a wrong type is a problem).
    mutating func optionalString(_ key: String) -> String? {
        guard has(key) else { return nil }
        return string(key, nonEmpty: false)
    }

    /// An integer (a JSON number without a fractional part).
    mutating func int(_ key: String) -> Int? {
        guard let v = dict[key], !(v is NSNull) else { note(key, expected: "an integer", got: "missing"); return nil }
        if let n = v as? NSNumber {
            let d = n.doubleValue
            if d == d.rounded(), abs(d) < 1e15 { return Int(d) }
        }
        note(key, expected: "an integer", got: describe(v)); return nil
    }

    /// An array of strings, each non-empty; `minCount` elements at least.
    mutating func strings(_ key: String, minCount: Int = 0) -> [String]? {
        guard let v = dict[key], !(v is NSNull) else {
            if minCount == 0 { return [] }
            note(key, expected: "an array of at least \(minCount) strings", got: "missing"); return nil
        }
        guard let a = v as? [Any] else { note(key, expected: "an array of strings", got: describe(v)); return nil }
        var out: [String] = []
        for (j, e) in a.enumerated() {
            guard let s = e as? String, !s.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                note("\(key)[\(j)]", expected: "a non-empty string", got: describe(e)); return nil
            }
            out.append(s)
        }
        if out.count < minCount { note(key, expected: "at least \(minCount) strings", got: "\(out.count)"); return nil }
        return out
    }

    /// A nested object, as fields of the same record.
    mutating func object(_ key: String) -> RecordFields? {
        guard let v = dict[key], !(v is NSNull) else { note(key, expected: "a JSON object", got: "missing"); return nil }
        guard v is [String: Any] else { note(key, expected: "a JSON object", got: describe(v)); return nil }
        return RecordFields(v, record: record, path: name(key))
    }

    /// An array of objects, each as fields of the same record.
    mutating func objects(_ key: String, minCount: Int = 0) -> [RecordFields]? {
        guard let v = dict[key], !(v is NSNull) else {
            if minCount == 0 { return [] }
            note(key, expected: "an array of objects", got: "missing"); return nil
        }
        guard let a = v as? [Any] else { note(key, expected: "an array of objects", got: describe(v)); return nil }
        if a.count < minCount { note(key, expected: "at least \(minCount) objects", got: "\(a.count)"); return nil }
        return a.enumerated().map { RecordFields($1, record: record, path: name("\(key)[\($0)]")) }
    }

    /// Takes over the problems of a nested reader.
    mutating func absorb(_ other: RecordFields) { problems += other.problems }
}

// MARK: - Helpers


/// A short description of a JSON value's type, for messages.
func describe(_ v: Any) -> String {
    switch v {
    case is NSNull: return "null"
    case let s as String: return s.isEmpty ? "empty" : "a string"
    case is NSNumber: return "a number"
    case is [Any]: return "an array"
    case is [String: Any]: return "an object"
    default: return "\(type(of: v))"
    }
}
