import EmendCore
import XCTest
import EmendEditing
@testable import EmendEval

/// The dispatch helpers behind `emend eval`: which reader an edit file goes through, record selection, and
/// CRLF-safe line splitting (hand-made files).
final class EvalRunsTests: XCTestCase {
    func write(_ text: String, _ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("emend-evalruns-\(name)")
        try Data(text.utf8).write(to: url)
        return url
    }

    /// A ROME-form file goes through the checking reader: a bad second record is reported by index, where
    /// `EditRequest.load` alone would have stopped at it; the flat form still reads through EditRequest.load.
    func testEditRecordsPicksTheReader() throws {
        let good = """
        {"case_id": 3, "requested_rewrite": {"prompt": "{} plays", "subject": "X", "target_new": {"str": "jazz"},
          "target_true": {"str": "rock"}}, "paraphrase_prompts": ["p"], "neighborhood_prompts": ["n"]}
        """
        let bad = #"{"case_id": 4, "requested_rewrite": {"prompt": "{} plays", "subject": "Y", "target_new": {"str": "a"}, "target_true": {"str": "a"}}}"#
        let rome = try write("[" + good + "]", "rome.json")
        XCTAssertEqual(try EvalRuns.editRecords(rome).map(\.caseID), [3])
        let mixed = try write("[" + good + "," + bad + "]", "rome-bad.json")
        XCTAssertThrowsError(try EvalRuns.editRecords(mixed)) { error in
            guard case let EmendEvalError.badRecords(_, problems, total) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(total, 2); XCTAssertEqual(problems.map(\.record), [1])
        }
        let flat = try write(#"[{"case_id": 9, "prompt": "Z plays", "subject": "Z", "target_new": "jazz", "ground_truth": "rock"}]"#, "flat.json")
        XCTAssertEqual(try EvalRuns.editRecords(flat).first?.prompt, "{} plays")
    }

    /// Records are an inclusive range; outside the file is refused with the file's count.
    func testSelect() throws {
        let (items, first) = try EvalRuns.select(Array(0..<10), 2...4, file: "f")
        XCTAssertEqual(items, [2, 3, 4]); XCTAssertEqual(first, 2)
        XCTAssertEqual(try EvalRuns.select(Array(0..<3), nil, file: "f").items, [0, 1, 2])
        XCTAssertThrowsError(try EvalRuns.select(Array(0..<3), 1...3, file: "f"))
    }

    /// "\r\n" is one Character in Swift, so splitting must be on the LF scalar; joining with "\n" restores the text.
    func testLinesSplitAtLF() {
        let text = " = Title = \r\n para one \r\n\r\n para two"
        let lines = linesSplitAtLF(text)
        XCTAssertEqual(lines, [" = Title = \r", " para one \r", "\r", " para two"])
        XCTAssertEqual(lines.joined(separator: "\n"), text)
    }
}
