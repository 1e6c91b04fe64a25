import XCTest
@testable import EmendEditing

/// Request files in their three forms, and their errors (file, record, field named).
final class EditRequestTests: XCTestCase {
    func parse(_ s: String) throws -> [EditRequest] { try EditRequest.parse(Data(s.utf8), file: "t.json") }

    func testParse_FlatFormFindsSubject() throws {
        let r = try parse(#"[{"case_id": 3, "prompt": "The mother tongue of Danielle Darrieux is", "subject": "Danielle Darrieux", "target_new": "English", "ground_truth": "French", "rephrase_prompt": "P", "locality_prompt": "L", "locality_ground_truth": "French"}]"#)
        XCTAssertEqual(r[0].prompt, "The mother tongue of {} is")
        XCTAssertEqual(r[0].targetTrue, "French")
        XCTAssertEqual(r[0].paraphrasePrompts, ["P"])
        XCTAssertEqual(r[0].neighborhoodPrompts, ["L"])
        XCTAssertEqual(r[0].caseID, 3)
    }

    func testParse_MemitFormAndJSONL() throws {
        let line = #"{"case_id": 0, "requested_rewrite": {"prompt": "The mother tongue of {} is", "subject": "Danielle Darrieux", "target_new": {"str": "English", "id": "Q1860"}, "target_true": {"str": "French"}}, "paraphrase_prompts": ["a", "b"], "neighborhood_prompts": ["n"]}"#
        let r = try parse(line + "\n" + line + "\n")
        XCTAssertEqual(r.count, 2)
        XCTAssertEqual(r[1].targetNew, "English")
        XCTAssertEqual(r[1].targetTrue, "French")
        XCTAssertEqual(r[1].paraphrasePrompts, ["a", "b"])
        // CRLF line ends ("\r\n" is one Character in Swift): the same two records.
        let crlf = try parse(line + "\r\n" + line + "\r\n")
        XCTAssertEqual(crlf.map(\.targetNew), ["English", "English"])
    }

    func testParse_ZsREForm() throws {
        let r = try parse(#"[{"subject": "Watts Humphrey", "src": "What university did Watts Humphrey attend?", "alt": "University of Michigan", "rephrase": "What university did Watts Humphrey take part in?", "loc": "nq question: who played desmond doss father in hacksaw ridge", "loc_ans": "Hugo Weaving"}]"#)
        XCTAssertEqual(r[0].prompt, "What university did {} attend?")
        XCTAssertEqual(r[0].targetNew, "University of Michigan")
        XCTAssertEqual(r[0].neighborhoodTarget, "Hugo Weaving")
    }

    func testParse_ErrorsNameRecordAndField() {
        XCTAssertThrowsError(try parse(#"[{"prompt": "Paris is nice", "subject": "Rome", "target_new": "x"}]"#)) {
            XCTAssertEqual("\($0)", "t.json: record 0: subject 'Rome' does not occur in prompt 'Paris is nice'")
        }
        XCTAssertThrowsError(try parse(#"[{"prompt": "{} is", "subject": "Rome", "target_new": ""}]"#)) {
            XCTAssertEqual("\($0)", "t.json: record 0: the new target is empty")
        }
        XCTAssertThrowsError(try parse(#"[{"prompt": "{} is", "subject": "Rome"}]"#)) {
            XCTAssertEqual("\($0)", "t.json: record 0: field 'target_new' is missing, expected a string")
        }
        XCTAssertThrowsError(try parse("{not json\n")) { XCTAssertTrue("\($0)".contains("malformed JSON"), "\($0)") }
    }

    /// No request at all ([], empty, blank lines) is an error; malformed JSON names line and column (counted by
    /// hand); an empty evaluation prompt is refused with its field.
    func testParse_EmptyMalformedAndEmptyPrompts() {
        for text in ["", "[]", "  \n\n", "\n \n"] {
            XCTAssertThrowsError(try parse(text), text.debugDescription) {
                guard case EmendEditingError.noRequests = $0 else { return XCTFail("\($0)") }
            }
        }
        let row = #"{"prompt": "{} is in", "subject": "A", "target_new": "B"}"#
        for (text, line, column) in [("[\n" + row + "\n" + row + "\n]", 3, 1), (row + "\n" + #"{"subject" "A"}"#, 2, 12), ("{\n  \"a\": [1,\n}", 3, 1)] {
            XCTAssertThrowsError(try parse(text)) {
                guard case let EmendEditingError.malformedJSON(_, l, c, _) = $0 else { return XCTFail("\($0)") }
                XCTAssertEqual([l, c], [line, column], text)
            }
        }
        XCTAssertThrowsError(try parse(#"[{"prompt": "{} is in", "subject": "A", "target_new": "B", "paraphrase_prompts": ["ok", " "]}]"#)) {
            XCTAssertTrue("\($0)".contains("paraphrase_prompts[1]"), "\($0)")
        }
    }

    /// The duplicate policy without a store: exact repeats once; a second target for a subject and relation is
    /// refused, replaces the first, is kept beside it, or is skipped.
    func testPlan_DuplicatePolicyWithinAFile() throws {
        let a = EditRequest(prompt: "{} plays", subject: "Magnus", targetNew: "chess")
        let b = EditRequest(prompt: "{} plays", subject: "magnus ", targetNew: "poker")
        let c = EditRequest(prompt: "{} plays", subject: "Hikaru", targetNew: "chess")
        XCTAssertThrowsError(try EditRequest.plan([a, a, b, c], policy: .refuse, file: "f")) {
            guard case let EmendEditingError.conflictingRequests(_, ex) = $0 else { return XCTFail("\($0)") }
            XCTAssertEqual(ex.count, 1)
        }
        let once = try EditRequest.plan([a, a, a, c], policy: .refuse, file: "f")
        XCTAssertEqual(once.requests, [a, c]); XCTAssertEqual(once.repeated, 2)
        XCTAssertEqual(try EditRequest.plan([a, b, c], policy: .replace, file: "f").requests, [b, c])
        XCTAssertEqual(try EditRequest.plan([a, b, c], policy: .keepBoth, file: "f").requests, [a, b, c])
        let skip = try EditRequest.plan([a, b, c], policy: .skip, file: "f")
        XCTAssertEqual(skip.requests, [a, c]); XCTAssertEqual(skip.dropped, 1)
    }
}
