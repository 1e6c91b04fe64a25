// The hand-written matchers behind `PreTokenizer`: each returns the length (in scalars) of the
// regex match starting at scalar i, trying the alternatives in the regex's order (leftmost-first,
// like Oniguruma / PCRE / Python `regex`). `end` is the end of the current piece: lookaheads
// treat it as end of text.

extension PreTokenizer {
    // MARK: - GPT-2

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` at i.
    static func matchGPT2(_ t: ScannedText, _ i: Int, _ end: Int) -> Int {
        let contraction = matchContraction(t, i, end, caseInsensitive: false)
        if contraction > 0 { return contraction }
        // The optional leading ASCII space of the next three alternatives.
        let j = t.values[i] == 0x20 && i + 1 < end ? i + 1 : i
        let cj = t.classes[j]
        if cj & CharClass.letter != 0 { return run(t, from: j, end, CharClass.letter) - i }
        if cj & CharClass.number != 0 { return run(t, from: j, end, CharClass.number) - i }
        if cj & (CharClass.letter | CharClass.number | CharClass.whitespace) == 0 {
            return runOfOther(t, from: j, end) - i
        }
        return matchWhitespace(t, i, end)
    }

    // MARK: - Llama 3 and Qwen 2

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+` at i.
    static func matchLlama3(_ t: ScannedText, _ i: Int, _ end: Int, maxDigits: Int) -> Int {
        let contraction = matchContraction(t, i, end, caseInsensitive: true)
        if contraction > 0 { return contraction }
        let ci = t.classes[i]
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if ci & CharClass.letter != 0 { return run(t, from: i, end, CharClass.letter) - i }
        if ci & (CharClass.newline | CharClass.number) == 0, i + 1 < end,
           t.classes[i + 1] & CharClass.letter != 0 {
            return run(t, from: i + 1, end, CharClass.letter) - i
        }
        // \p{N}{1,maxDigits}
        if ci & CharClass.number != 0 {
            return min(run(t, from: i, end, CharClass.number) - i, maxDigits)
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        let j = t.values[i] == 0x20 && i + 1 < end ? i + 1 : i
        if t.classes[j] & (CharClass.letter | CharClass.number | CharClass.whitespace) == 0 {
            let k = runOfOther(t, from: j, end)
            return run(t, from: k, end, CharClass.newline) - i
        }
        // \s*[\r\n]+ : the whitespace run up to and including its last \r or \n.
        if ci & CharClass.whitespace != 0 {
            let k = run(t, from: i, end, CharClass.whitespace)
            var last = k - 1
            while last >= i && t.classes[last] & CharClass.newline == 0 { last -= 1 }
            if last >= i { return last + 1 - i }
        }
        return matchWhitespace(t, i, end)
    }

    // MARK: - Shared alternatives

    /// `'s|'t|'re|'ve|'m|'ll|'d` (optionally case-insensitive) at i, or 0.
    @inline(__always)
    static func matchContraction(_ t: ScannedText, _ i: Int, _ end: Int, caseInsensitive: Bool) -> Int {
        guard t.values[i] == 0x27, i + 1 < end else { return 0 }  // '
        // Setting bit 0x20 lower-cases an ASCII letter and maps no other scalar onto one.
        let fold: UInt32 = caseInsensitive ? 0x20 : 0
        let a = t.values[i + 1] | fold
        if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { return 2 }  // s t m d
        guard i + 2 < end else { return 0 }
        let b = t.values[i + 2] | fold
        if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return 3 }  // re ve ll
        return 0
    }

    /// `\s+(?!\S)|\s+` at i (i is whitespace when this is reached).
    @inline(__always)
    static func matchWhitespace(_ t: ScannedText, _ i: Int, _ end: Int) -> Int {
        let k = run(t, from: i, end, CharClass.whitespace)
        if k == i { return 1 }  // not whitespace: cannot happen after the earlier alternatives
        // Followed by a non-space: `\s+(?!\S)` backtracks one scalar if that leaves at least one.
        if k < end && k - i >= 2 { return k - 1 - i }
        return k - i
    }

    /// The end of the run of scalars having any bit of `mask`, starting at `from`.
    @inline(__always)
    static func run(_ t: ScannedText, from: Int, _ end: Int, _ mask: UInt8) -> Int {
        var k = from
        while k < end && t.classes[k] & mask != 0 { k += 1 }
        return k
    }

    /// The end of the run of `[^\s\p{L}\p{N}]` scalars starting at `from`.
    @inline(__always)
    static func runOfOther(_ t: ScannedText, from: Int, _ end: Int) -> Int {
        let mask = CharClass.letter | CharClass.number | CharClass.whitespace
        var k = from
        while k < end && t.classes[k] & mask == 0 { k += 1 }
        return k
    }
}
