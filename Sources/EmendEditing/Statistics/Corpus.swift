// The text corpus the layer statistics are computed over. Default: the 10,033 English Wikipedia summaries
// (CC BY-SA 4.0) that `scripts/setup.sh` fetches. Accepted forms: a JSON object keyed by title whose values
// hold `extract` or `text` (the setup file), a JSON array of strings or of objects with `text`, JSONL, or plain
// text with one document per line.

import EmendCore
import EmendModels
import Foundation

/// An ordered list of documents with a content checksum.
public struct Corpus: Sendable {
    public var documents: [String]
    /// Names the source in messages and cache keys.
    public var name: String

    public init(documents: [String], name: String) {
        self.documents = documents
        self.name = name
    }

    /// Reads a corpus file (see the forms above). Documents are ordered by title (JSON objects) or file order.
    public static func load(_ url: URL) throws -> Corpus {
        let file = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EmendEditingError.unreadableFile(file: file, reason: fileErrorReason(error))
        }
        func text(_ v: Any) -> String? {
            if let s = v as? String { return s }
            if let o = v as? [String: Any] { return (o["text"] as? String) ?? (o["extract"] as? String) }
            return nil
        }
        var docs: [String] = []
        if let top = try? JSONSerialization.jsonObject(with: data) {
            if let dict = top as? [String: Any] {
                for key in dict.keys.sorted() {
                    guard let t = text(dict[key]!) else {
                        throw EmendEditingError.malformedRecord(file: file, record: docs.count, field: key,
                                                                expected: "a string or an object with 'extract' or 'text'", got: "\(type(of: dict[key]!))")
                    }
                    docs.append(t)
                }
            } else if let arr = top as? [Any] {
                for (i, v) in arr.enumerated() {
                    guard let t = text(v) else {
                        throw EmendEditingError.malformedRecord(file: file, record: i, field: "(document)",
                                                                expected: "a string or an object with 'text'", got: "\(type(of: v))")
                    }
                    docs.append(t)
                }
            }
        } else {
            // JSONL (objects with `text`, or strings), or plain text with one document per line: a file none of
            // whose lines is JSON is plain text; a mixture is an error at the first line that is not JSON.
            let lines = linesSplitAtLF(String(decoding: data, as: UTF8.self))
                .enumerated().filter { !$0.element.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
            let parsed = lines.map { (try? JSONSerialization.jsonObject(with: Data($0.element.utf8), options: [.fragmentsAllowed])).flatMap(text) }
            if parsed.allSatisfy({ $0 == nil }) {
                docs = lines.map { $0.element.trimmingCharacters(in: .whitespacesAndNewlines) }
            } else {
                for (k, (n, _)) in lines.enumerated() {
                    guard let t = parsed[k] else {
                        throw EmendEditingError.malformedRecord(file: file, record: k, field: "line \(n + 1)",
                                                                expected: "a JSON object with 'text' like the lines before it (JSONL), or a plain-text file with no JSON lines", got: "not JSON")
                    }
                    docs.append(t)
                }
            }
        }
        if docs.isEmpty {
            throw EmendEditingError.malformedRecord(file: file, record: 0, field: "(documents)", expected: "at least one document", got: "none")
        }
        return Corpus(documents: docs, name: url.lastPathComponent)
    }

    /// `count` documents drawn without replacement by a seeded shuffle (all when count ≥ the corpus size).
    public func sample(_ count: Int, seed: UInt64) -> [String] {
        var order = Array(documents.indices)
        var rng = SeededGenerator(seed: seed)
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            order.swapAt(i, j)
        }
        return order.prefix(count).map { documents[$0] }
    }

    /// A stable 64-bit FNV-1a checksum of the documents (cache keys; not cryptographic).
    public var checksum: String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for d in documents {
            for b in d.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
            h = (h ^ 0xFF) &* 0x0000_0100_0000_01B3
        }
        return String(h, radix: 16)
    }
}
