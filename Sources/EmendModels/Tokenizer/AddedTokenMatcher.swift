// Finding control and user-defined tokens ("<|im_start|>", "<repo_name>", ...) written literally in
// text. They are matched as whole strings before pre-tokenization, so BPE never splits them.
//
// Rule: scan left to right; at each byte, the longest added token that starts there wins
// (leftmost-longest, like Hugging Face's added-vocabulary matcher). Control tokens are matched only
// when the caller asks for it (llama.cpp `parse_special`); user-defined tokens always are.

/// One stretch of encoder input: either an added token or plain text for BPE.
enum InputSegment {
    /// An added token recognised in the text.
    case token(Int32)
    /// A byte range of plain text.
    case text(Range<Int>)
}

/// Leftmost-longest matcher for the added (control and user-defined) tokens of a vocabulary.
struct AddedTokenMatcher: Sendable {
    struct Candidate: Sendable {
        var bytes: [UInt8]
        var id: Int32
        var isControl: Bool
    }

    /// Candidates by first byte, longest first. [256][*]
    private let byFirstByte: [[Candidate]]

    /// Builds the matcher from (text, id, isControl) triples; empty texts are ignored.
    init(_ tokens: [(text: String, id: Int, isControl: Bool)]) {
        var table = [[Candidate]](repeating: [], count: 256)
        for t in tokens where !t.text.isEmpty {
            let bytes = Array(t.text.utf8)
            table[Int(bytes[0])].append(Candidate(bytes: bytes, id: Int32(t.id), isControl: t.isControl))
        }
        for b in 0..<256 { table[b].sort { $0.bytes.count > $1.bytes.count } }
        byFirstByte = table
    }

    /// Cuts `bytes` into added tokens and plain-text ranges, in order.
    /// - Parameter includeControl: match control tokens too (otherwise they stay plain text).
    func segments(_ bytes: [UInt8], includeControl: Bool) -> [InputSegment] {
        var out: [InputSegment] = []
        var plainStart = 0
        var i = 0
        let n = bytes.count
        while i < n {
            var matched: Candidate? = nil
            for c in byFirstByte[Int(bytes[i])] where includeControl || !c.isControl {
                if c.bytes.count <= n - i && Self.hasPrefix(bytes, at: i, c.bytes) { matched = c; break }
            }
            if let m = matched {
                if plainStart < i { out.append(.text(plainStart..<i)) }
                out.append(.token(m.id))
                i += m.bytes.count
                plainStart = i
            } else {
                i += 1
            }
        }
        if plainStart < n { out.append(.text(plainStart..<n)) }
        return out
    }

    /// The ids of `bytes`: added tokens as their ids, each plain stretch through `plain`, in order.
    func encode(_ bytes: [UInt8], includeControl: Bool, plain: (ArraySlice<UInt8>, inout [Int]) -> Void) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(bytes.count / 3 + 1)
        for segment in segments(bytes, includeControl: includeControl) {
            switch segment {
            case let .token(id): out.append(Int(id))
            case let .text(range): plain(bytes[range], &out)
            }
        }
        return out
    }

    @inline(__always)
    private static func hasPrefix(_ bytes: [UInt8], at i: Int, _ p: [UInt8]) -> Bool {
        for k in 0..<p.count where bytes[i + k] != p[k] { return false }
        return true
    }
}
