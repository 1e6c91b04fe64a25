// Pre-tokenizers: the regex that cuts text into words before BPE merges bytes inside each word.
//
// Each pre-tokenizer is data (a case of an enum with its exact regex), but the splitting is a
// hand-written scanner over Unicode scalars rather than a regex engine: Swift Regex is far too slow
// for corpora of thousands of documents. The scanner follows the regexes' leftmost-first
// alternation exactly, including the backtracking of `\s+(?!\S)` (a whitespace run followed by a
// non-space gives up its last character, which then joins the next word as ` ?\p{L}+` etc.).
// Classes are Unicode's: \p{L} general category L*, \p{N} N*, \s the White_Space property.
//
// Goals, in order: identical pieces to llama.cpp / Hugging Face for the same regex, then speed.

/// How text is cut into words before byte-level BPE, selected by GGUF `tokenizer.ggml.pre` or
/// inferred from a `tokenizer.json` `pre_tokenizer`.
public enum PreTokenizer: String, Sendable, CaseIterable, Equatable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2 = "gpt2"
    /// SmolLM / StarCoder: first split every \p{N} scalar into its own piece, then apply the GPT-2
    /// regex inside each piece (HF: Sequence[Digits(individual_digits), ByteLevel(use_regex)]).
    case smollm = "smollm"
    /// Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case llamaBPE = "llama-bpe"
    /// Qwen 2: the Llama 3 regex with `\p{N}` (one number scalar per piece) instead of `\p{N}{1,3}`.
    case qwen2 = "qwen2"

    /// The GPT-2 regex, as written in tokenizer files.
    public static let gpt2Regex =
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    /// The Llama 3 regex, as written in tokenizer files.
    public static let llama3Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// The Qwen 2 regex, as written in tokenizer files.
    public static let qwen2Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// Other GGUF `tokenizer.ggml.pre` names that llama.cpp maps to the same regexes.
    static let ggufAliases: [String: PreTokenizer] = [
        "gpt-2": .gpt2, "llama3": .llamaBPE, "llama-v3": .llamaBPE, "deepseek-r1-qwen": .qwen2,
    ]

    /// The pre-tokenizer named by GGUF `tokenizer.ggml.pre`.
    /// - Throws: `TokenizerError.unknownPreTokenizer` naming the value and the supported ones.
    public init(ggufName: String) throws {
        if let p = PreTokenizer(rawValue: ggufName) ?? Self.ggufAliases[ggufName] {
            self = p
        } else {
            throw TokenizerError.unknownPreTokenizer(
                name: ggufName, supported: Self.allCases.map(\.rawValue) + Self.ggufAliases.keys.sorted())
        }
    }

    /// Cuts `text` into pre-token words (concatenated, they give back `text`).
    public func split(_ text: String) -> [String] {
        let bytes = Array(text.utf8)
        let scanned = ScannedText(utf8: bytes[...])
        return pieces(of: scanned).map { r in
            String(decoding: bytes[scanned.byteOffsets[r.lowerBound]..<scanned.byteOffsets[r.upperBound]],
                   as: UTF8.self)
        }
    }

    /// The words of `text` as ranges of scalar indices, in order, covering `0..<text.count`.
    func pieces(of text: ScannedText) -> [Range<Int>] {
        var out: [Range<Int>] = []
        out.reserveCapacity(text.count / 4 + 1)
        let n = text.count
        switch self {
        case .gpt2:
            Self.scan(text, 0..<n, into: &out, Self.matchGPT2)
        case .smollm:
            // Step 1 isolates every number scalar; step 2 runs the GPT-2 regex on the gaps. The
            // regex never sees across a number, so `(?!\S)` treats a gap's end as end of text.
            var i = 0
            while i < n {
                if text.classes[i] & CharClass.number != 0 {
                    out.append(i..<(i + 1))
                    i += 1
                } else {
                    var j = i + 1
                    while j < n && text.classes[j] & CharClass.number == 0 { j += 1 }
                    Self.scan(text, i..<j, into: &out, Self.matchGPT2)
                    i = j
                }
            }
        case .llamaBPE:
            Self.scan(text, 0..<n, into: &out) { t, i, e in Self.matchLlama3(t, i, e, maxDigits: 3) }
        case .qwen2:
            Self.scan(text, 0..<n, into: &out) { t, i, e in Self.matchLlama3(t, i, e, maxDigits: 1) }
        }
        return out
    }

    // MARK: - Helpers

    /// Repeatedly matches at the current position until `range` is used up.
    @inline(__always)
    static func scan(_ t: ScannedText, _ range: Range<Int>, into out: inout [Range<Int>],
                     _ match: (ScannedText, Int, Int) -> Int) {
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            // Every scanner matches at least one scalar; max(1, ...) guards against a bug looping.
            let len = max(1, match(t, i, end))
            out.append(i..<(i + len))
            i += len
        }
    }
}

/// Bit flags for the character classes the regexes test. Stored one byte per scalar.
enum CharClass {
    static let letter: UInt8 = 1        // \p{L}
    static let number: UInt8 = 2        // \p{N}
    static let whitespace: UInt8 = 4    // \s (Unicode White_Space)
    static let newline: UInt8 = 8       // [\r\n]

    /// Classes of the ASCII scalars. [128]
    static let ascii: [UInt8] = (0..<128).map { v in classify(Unicode.Scalar(UInt8(v))) }

    /// The class bits of one scalar.
    @inline(__always)
    static func of(_ v: UInt32) -> UInt8 {
        if v < 128 { return ascii[Int(v)] }
        guard let s = Unicode.Scalar(v) else { return 0 }
        return classify(s)
    }

    static func classify(_ s: Unicode.Scalar) -> UInt8 {
        var c: UInt8 = 0
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            c |= letter
        case .decimalNumber, .letterNumber, .otherNumber:
            c |= number
        default:
            break
        }
        if s.properties.isWhitespace { c |= whitespace }
        if s == "\r" || s == "\n" { c |= newline }
        return c
    }
}

/// A stretch of text decoded once into scalars, their class bits and their UTF-8 byte offsets.
struct ScannedText {
    /// Scalar values. [n]
    var values: [UInt32] = []
    /// `CharClass` bits per scalar. [n]
    var classes: [UInt8] = []
    /// Byte offset of scalar i in the source bytes, relative to the slice start; last entry is the
    /// slice length. [n + 1]
    var byteOffsets: [Int] = []

    var count: Int { values.count }

    /// Decodes valid UTF-8 (bytes that came from a Swift `String`).
    init(utf8 bytes: ArraySlice<UInt8>) {
        values.reserveCapacity(bytes.count)
        classes.reserveCapacity(bytes.count)
        byteOffsets.reserveCapacity(bytes.count + 1)
        let base = bytes.startIndex
        var i = base
        let end = bytes.endIndex
        while i < end {
            let b0 = bytes[i]
            var v: UInt32
            var len: Int
            if b0 < 0x80 { v = UInt32(b0); len = 1 }
            else if b0 < 0xE0 { v = UInt32(b0 & 0x1F); len = 2 }
            else if b0 < 0xF0 { v = UInt32(b0 & 0x0F); len = 3 }
            else { v = UInt32(b0 & 0x07); len = 4 }
            len = min(len, end - i)
            var k = 1
            while k < len { v = (v << 6) | UInt32(bytes[i + k] & 0x3F); k += 1 }
            values.append(v)
            classes.append(CharClass.of(v))
            byteOffsets.append(i - base)
            i += len
        }
        byteOffsets.append(end - base)
    }
}
