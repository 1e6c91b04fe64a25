import XCTest
@testable import EmendEditing

/// Reading training facts from the three file forms in ../shared/data (hand-written records in each form; the
/// expected fields are read off the records themselves).
final class HyperNetworkFactsTests: XCTestCase {
    func write(_ json: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("emend-facts-\(UUID().uuidString).json")
        try json.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func testThreeFormsAndRefusals() throws {
        let zsre = try write(#"[{"subject": "X", "src": "What is X?", "rephrase": "X is what?", "alt": "b", "answers": ["a"], "loc": "nq question: who", "loc_ans": "me"}]"#)
        let cf = try write(#"[{"prompt": "P", "target_new": "T", "subject": "S", "rephrase_prompt": "R", "locality_prompt": "L", "locality_ground_truth": "G"}]"#)
        let ke = try write(#"[{"prompt": "P", "target_new": "T", "subject": "S", "locality": {"Forgetfulness": [{"prompt": "F", "ground_truth": [["g1", "g2"]]}]}},"#
                           + #" {"prompt": "Q", "target_new": "U", "subject": "S", "locality": {}}]"#)
        defer { for u in [zsre, cf, ke] { try? FileManager.default.removeItem(at: u) } }
        XCTAssertEqual(try EditingFact.load(from: zsre), [EditingFact(prompt: "What is X?", answer: "a", paraphrase: "X is what?", locality: "nq question: who?", localityAnswer: "me")])
        XCTAssertEqual(try EditingFact.load(from: cf), [EditingFact(prompt: "P", answer: "T", paraphrase: "R", locality: "L", localityAnswer: "G")])
        XCTAssertThrowsError(try EditingFact.load(from: ke)) { e in
            XCTAssertTrue("\(e)".contains("record 1") && "\(e)".contains("locality"), "\(e)")
        }
        let (facts, skipped) = try EditingFact.load(from: ke, skippingIncomplete: true)
        XCTAssertEqual(skipped, 1)
        XCTAssertEqual(facts, [EditingFact(prompt: "P", answer: "T", paraphrase: "P", locality: "F", localityAnswer: "g1")])
    }
}
