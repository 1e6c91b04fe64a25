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
}
