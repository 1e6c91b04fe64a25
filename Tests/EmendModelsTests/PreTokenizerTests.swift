// Pre-tokenizer splits on hand-made strings. Every expected split was produced by Python's
// `regex` module running the same pattern (for smollm: re.split on (\p{N}) first, then the GPT-2
// pattern on each piece), i.e. a real backtracking regex engine, not this scanner.

import XCTest
@testable import EmendModels

final class PreTokenizerTests: XCTestCase {
    /// Every case equals Python `regex.findall(pattern, text)`.
    func testSplit_MatchesPythonRegex() {
        for (pre, text, expected) in Self.expectedSplits {
            XCTAssertEqual(pre.split(text), expected, "\(pre) \(text.debugDescription)")
        }
    }

    /// Unicode classes: U+00A0 is White_Space, U+200B is not (Cf), ² ½ Ⅻ ٣ are \p{N}, U+0301 is
    /// neither L nor N (Mn), 東 is \p{L}.
    func testCharClass_UnicodeCategories() {
        XCTAssertEqual(CharClass.of(0xA0), CharClass.whitespace)
        XCTAssertEqual(CharClass.of(0x200B), 0)
        for v: UInt32 in [0xB2, 0xBD, 0x216B, 0x663, 0xFF11] { XCTAssertEqual(CharClass.of(v), CharClass.number, "\(v)") }
        XCTAssertEqual(CharClass.of(0x301), 0)
        XCTAssertEqual(CharClass.of(0x6771), CharClass.letter)
        XCTAssertEqual(CharClass.of(0x0A), CharClass.whitespace | CharClass.newline)
        XCTAssertEqual(CharClass.of(0x85), CharClass.whitespace)
    }

    /// The regex strings are the ones tokenizer files carry (checked by the tokenizer.json mapping).
    func testRegex_Strings() {
        XCTAssertTrue(PreTokenizer.llama3Regex.contains(#"\p{N}{1,3}"#))
        XCTAssertEqual(PreTokenizer.qwen2Regex, PreTokenizer.llama3Regex.replacingOccurrences(of: #"\p{N}{1,3}"#, with: #"\p{N}"#))
    }

    static let expectedSplits: [(PreTokenizer, String, [String])] = [
        (.gpt2, "Hello world", ["Hello", " world"]),
        (.gpt2, "I'm DON'T they'd've 'S x'Ll", ["I", "'m", " DON", "'", "T", " they", "'d", "'ve", " '", "S", " x", "'", "Ll"]),
        (.gpt2, "  leading", [" ", " leading"]),
        (.gpt2, "trailing  ", ["trailing", "  "]),
        (.gpt2, "a  b", ["a", " ", " b"]),
        (.gpt2, "x\n\ny", ["x", "\n", "\n", "y"]),
        (.gpt2, "\t\tindent", ["\t", "\t", "indent"]),
        (.gpt2, "1234567 abc12", ["1234567", " abc", "12"]),
        (.gpt2, "x² + ½", ["x", "²", " +", " ½"]),
        (.gpt2, "foo!!bar ?? baz", ["foo", "!!", "bar", " ??", " baz"]),
        (.gpt2, "line\r\n  next", ["line", "\r\n ", " next"]),
        (.gpt2, "  \n  \n", ["  \n  \n"]),
        (.gpt2, "¿Dónde? ¡Sí!", ["¿", "Dónde", "?", " ¡", "Sí", "!"]),
        (.gpt2, "emoji 😀😃 ok", ["emoji", " 😀😃", " ok"]),
        (.gpt2, "zero\u{200B}width", ["zero", "\u{200B}", "width"]),
        (.gpt2, "nbsp\u{A0}x", ["nbsp", "\u{A0}", "x"]),
        (.gpt2, "ab 12345.6\n", ["ab", " 12345", ".", "6", "\n"]),
        (.gpt2, " \n\tz", [" \n", "\t", "z"]),
        (.smollm, "Hello world", ["Hello", " world"]),
        (.smollm, "I'm DON'T they'd've 'S x'Ll", ["I", "'m", " DON", "'", "T", " they", "'d", "'ve", " '", "S", " x", "'", "Ll"]),
        (.smollm, "  leading", [" ", " leading"]),
        (.smollm, "trailing  ", ["trailing", "  "]),
        (.smollm, "a  b", ["a", " ", " b"]),
        (.smollm, "x\n\ny", ["x", "\n", "\n", "y"]),
        (.smollm, "\t\tindent", ["\t", "\t", "indent"]),
        (.smollm, "1234567 abc12", ["1", "2", "3", "4", "5", "6", "7", " abc", "1", "2"]),
        (.smollm, "x² + ½", ["x", "²", " +", " ", "½"]),
        (.smollm, "foo!!bar ?? baz", ["foo", "!!", "bar", " ??", " baz"]),
        (.smollm, "line\r\n  next", ["line", "\r\n ", " next"]),
        (.smollm, "  \n  \n", ["  \n  \n"]),
        (.smollm, "¿Dónde? ¡Sí!", ["¿", "Dónde", "?", " ¡", "Sí", "!"]),
        (.smollm, "emoji 😀😃 ok", ["emoji", " 😀😃", " ok"]),
        (.smollm, "zero\u{200B}width", ["zero", "\u{200B}", "width"]),
        (.smollm, "nbsp\u{A0}x", ["nbsp", "\u{A0}", "x"]),
        (.smollm, "ab 12345.6\n", ["ab", " ", "1", "2", "3", "4", "5", ".", "6", "\n"]),
        (.smollm, " \n\tz", [" \n", "\t", "z"]),
        (.llamaBPE, "Hello world", ["Hello", " world"]),
        (.llamaBPE, "I'm DON'T they'd've 'S x'Ll", ["I", "'m", " DON", "'T", " they", "'d", "'ve", " '", "S", " x", "'Ll"]),
        (.llamaBPE, "  leading", [" ", " leading"]),
        (.llamaBPE, "trailing  ", ["trailing", "  "]),
        (.llamaBPE, "a  b", ["a", " ", " b"]),
        (.llamaBPE, "x\n\ny", ["x", "\n\n", "y"]),
        (.llamaBPE, "\t\tindent", ["\t", "\tindent"]),
        (.llamaBPE, "1234567 abc12", ["123", "456", "7", " abc", "12"]),
        (.llamaBPE, "x² + ½", ["x", "²", " +", " ", "½"]),
        (.llamaBPE, "foo!!bar ?? baz", ["foo", "!!", "bar", " ??", " baz"]),
        (.llamaBPE, "line\r\n  next", ["line", "\r\n", " ", " next"]),
        (.llamaBPE, "  \n  \n", ["  \n  \n"]),
        (.llamaBPE, "¿Dónde? ¡Sí!", ["¿Dónde", "?", " ¡", "Sí", "!"]),
        (.llamaBPE, "emoji 😀😃 ok", ["emoji", " 😀😃", " ok"]),
        (.llamaBPE, "zero\u{200B}width", ["zero", "\u{200B}width"]),
        (.llamaBPE, "nbsp\u{A0}x", ["nbsp", "\u{A0}x"]),
        (.llamaBPE, "ab 12345.6\n", ["ab", " ", "123", "45", ".", "6", "\n"]),
        (.llamaBPE, " \n\tz", [" \n", "\tz"]),
        (.qwen2, "Hello world", ["Hello", " world"]),
        (.qwen2, "I'm DON'T they'd've 'S x'Ll", ["I", "'m", " DON", "'T", " they", "'d", "'ve", " '", "S", " x", "'Ll"]),
        (.qwen2, "  leading", [" ", " leading"]),
        (.qwen2, "trailing  ", ["trailing", "  "]),
        (.qwen2, "a  b", ["a", " ", " b"]),
        (.qwen2, "x\n\ny", ["x", "\n\n", "y"]),
        (.qwen2, "\t\tindent", ["\t", "\tindent"]),
        (.qwen2, "1234567 abc12", ["1", "2", "3", "4", "5", "6", "7", " abc", "1", "2"]),
        (.qwen2, "x² + ½", ["x", "²", " +", " ", "½"]),
        (.qwen2, "foo!!bar ?? baz", ["foo", "!!", "bar", " ??", " baz"]),
        (.qwen2, "line\r\n  next", ["line", "\r\n", " ", " next"]),
        (.qwen2, "  \n  \n", ["  \n  \n"]),
        (.qwen2, "¿Dónde? ¡Sí!", ["¿Dónde", "?", " ¡", "Sí", "!"]),
        (.qwen2, "emoji 😀😃 ok", ["emoji", " 😀😃", " ok"]),
        (.qwen2, "zero\u{200B}width", ["zero", "\u{200B}width"]),
        (.qwen2, "nbsp\u{A0}x", ["nbsp", "\u{A0}x"]),
        (.qwen2, "ab 12345.6\n", ["ab", " ", "1", "2", "3", "4", "5", ".", "6", "\n"]),
        (.qwen2, " \n\tz", [" \n", "\tz"]),
    ]
}
