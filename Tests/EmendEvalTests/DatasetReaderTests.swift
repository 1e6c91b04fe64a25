import XCTest
import EmendEditing
import EmendTestSupport
@testable import EmendEval

/// The data readers: every bad record is reported with its index (hand-made files), and the shared copies
/// parse completely with the record counts and label balance their SOURCE.md files state.
final class DatasetReaderTests: XCTestCase {
    var data: URL { TestPaths.shared.appendingPathComponent("data") }

    func requireData() throws {
        guard TestPaths.exists(data.appendingPathComponent("glue_subsets")) else { throw XCTSkip("no shared/data beside the repository") }
    }

    func problems(_ body: () throws -> Void) -> [RecordProblem] {
        do { try body() } catch let EmendEvalError.badRecords(_, problems, _) { return problems } catch { XCTFail("\(error)") }
        return []
    }

    /// A JSONL file with three bad records among five: each is named with its index and field; nothing returned.
    func testBadRecordsAreListedWithTheirIndex() {
        let text = """
        {"sentence": "good one", "label": 1}
        {"sentence": "no label"}
        {"sentence": "", "label": 0}
        {"sentence": "fine", "label": 0}
        {"sentence": "bad label", "label": 2}
        """
        let p = problems { _ = try DownstreamData.parse(.sst2, data: Data(text.utf8), file: "t.jsonl") }
        XCTAssertEqual(p.map(\.record), [1, 2, 4])
        XCTAssertEqual(p.map(\.field), ["label", "sentence", "label"])
        XCTAssertEqual(p[0].got, "missing")
        let msg = "\(EmendEvalError.badRecords(file: "t.jsonl", problems: p, total: 5))"
        XCTAssertTrue(msg.contains("3 of 5 records") && msg.contains("record 4"), msg)
    }

    /// NLI labels are strings; MMLU needs four choices and an answer in 0...3; items are normalised so that
    /// label indexes the task's answer words (NLI "entailment" → "True", index 0).
    func testNLIAndMMLUFields() throws {
        let nli = try DownstreamData.parse(.nli, data: Data(#"[{"sentence1":"a","sentence2":"b","label":"entailment"},{"sentence1":"c","sentence2":"d","label":"not_entailment"}]"#.utf8), file: "n")
        XCTAssertEqual(nli.map(\.label), [0, 1])
        XCTAssertEqual(DownstreamTask.nli.labelWords[nli[0].label], "True")
        let bad = problems { _ = try DownstreamData.parse(.mmlu, data: Data("""
            {"question":"q","choices":["a","b","c"],"answer":0}
            {"question":"q","choices":["a","b","c","d"],"answer":4}
            {"question":"q","choices":["a","b","c","d"],"answer":3}
            """.utf8), file: "m") }
        XCTAssertEqual(bad.map(\.record), [0, 1])
        XCTAssertEqual(bad.map(\.field), ["choices", "answer"])
    }

    /// RFC 4180 CSV: quoted commas, doubled quotes and a newline inside a field; a bad letter and a short row
    /// are both reported.
    func testMMLUCSV() throws {
        let csv = "\"What is 1,000 + 1?\",1001,\"say \"\"hi\"\"\",\"two\nlines\",4,A\r\nplain,a,b,c,d,D\n"
        let items = try MMLUData.parseCSV(csv, file: "x.csv")
        XCTAssertEqual(items.count, 2)
        XCTAssertEqual(items[0].text, "What is 1,000 + 1?")
        XCTAssertEqual(items[0].choices, ["1001", "say \"hi\"", "two\nlines", "4"])
        XCTAssertEqual(items.map(\.label), [0, 3])
        let p = problems { _ = try MMLUData.parseCSV("q,a,b,c,d,E\nq,a,b\nq,a,b,c,d,B\n", file: "y.csv") }
        XCTAssertEqual(p.map(\.record), [0, 1])
    }

    /// The original ROME CounterFact form: a good record becomes an EditRequest with all prompt lists; a record
    /// whose prompt lacks "{}" and whose target_new has no "str" is reported with both problems.
    func testCounterFactROMEForm() throws {
        let json = """
        [{"case_id": 0, "pararel_idx": 2796, "requested_rewrite": {"prompt": "The mother tongue of {} is",
          "relation_id": "P103", "target_new": {"str": "English", "id": "Q1860"}, "target_true": {"str": "French", "id": "Q150"},
          "subject": "Danielle Darrieux"}, "paraphrase_prompts": ["p1", "p2"], "neighborhood_prompts": ["n1", "n2", "n3"],
          "attribute_prompts": ["a1"], "generation_prompts": ["g1", "g2"]},
         {"case_id": 1, "requested_rewrite": {"prompt": "no placeholder", "subject": "X", "target_new": {"id": "Q1"},
          "target_true": {"str": "Y"}}, "paraphrase_prompts": [], "neighborhood_prompts": []}]
        """
        let p = problems { _ = try CounterFactData.parseROME(Data(json.utf8), file: "cf.json") }
        XCTAssertEqual(Set(p.map(\.record)), [1])
        XCTAssertEqual(Set(p.map(\.field)), ["requested_rewrite.target_new.str", "requested_rewrite.prompt"])
    }

    /// The same first record alone parses into the request the metrics use.
    func testCounterFactROMERecord() throws {
        let json = """
        {"case_id": 7, "requested_rewrite": {"prompt": "The mother tongue of {} is", "relation_id": "P103",
          "target_new": {"str": "English"}, "target_true": {"str": "French"}, "subject": "Danielle Darrieux"},
          "paraphrase_prompts": ["p1", "p2"], "neighborhood_prompts": ["n1"], "attribute_prompts": [], "generation_prompts": ["g1"]}
        """
        let r = try CounterFactData.parseROME(Data(json.utf8), file: "cf.json")
        XCTAssertEqual(r.count, 1)
        XCTAssertEqual(r[0].caseID, 7); XCTAssertEqual(r[0].relationID, "P103")
        XCTAssertEqual(r[0].request.filledPrompt, "The mother tongue of Danielle Darrieux is")
        XCTAssertEqual(r[0].request.targetTrue, "French"); XCTAssertEqual(r[0].request.neighborhoodTarget, "French")
        XCTAssertEqual(r[0].request.paraphrasePrompts, ["p1", "p2"]); XCTAssertEqual(r[0].request.generationPrompts, ["g1"])
    }

    /// The shared GLUE/MMLU subsets: counts and class balance as glue_subsets/SOURCE.md states them.
    func testSharedDownstreamFiles() throws {
        try requireData()
        let expected: [(DownstreamTask, Int, [Int: Int]?)] = [
            (.sst2, 856, [0: 428, 1: 428]), (.mrpc, 258, [0: 129, 1: 129]), (.cola, 644, [0: 322, 1: 322]),
            (.rte, 262, [0: 131, 1: 131]), (.nli, 2489, nil), (.mmlu, 1516, [0: 379, 1: 379, 2: 379, 3: 379])]
        for (task, count, balance) in expected {
            let items = try DownstreamData.load(task, dataRoot: data)
            XCTAssertEqual(items.count, count, task.rawValue)
            if let balance { XCTAssertEqual(Dictionary(grouping: items, by: \.label).mapValues(\.count), balance, task.rawValue) }
        }
        let dev = try MMLUData.load(split: "dev", mmluRoot: data.appendingPathComponent("mmlu"))
        XCTAssertEqual(dev.count, 285); XCTAssertEqual(Set(dev.map(\.subject)).count, 57)
    }

    /// KnowEdit ZsRE (1,301), MQuAKE (354; 277/72/5 cases with 1/2/3 edits) and the CounterFact QnA (1,000).
    func testSharedEditFiles() throws {
        try requireData()
        let ke = try KnowEditZsREData.load(data.appendingPathComponent("knowedit/ZsRE-test-all.json"))
        XCTAssertEqual(ke.count, 1301)
        XCTAssertTrue(ke.allSatisfy { !$0.locality.isEmpty })
        let req = try ke[0].editRequest(caseID: 0)
        XCTAssertEqual(req.filledPrompt, ke[0].prompt)
        let mq = try MQuAKEData.load(data.appendingPathComponent("mquake/MQuAKE-CF-AKEW-354.json"))
        XCTAssertEqual(mq.count, 354)
        XCTAssertEqual(Dictionary(grouping: mq, by: \.edits.count).mapValues(\.count), [1: 277, 2: 72, 3: 5])
        XCTAssertTrue(mq.allSatisfy { $0.questions.count == 3 })
        let qna = try CounterFactData.loadQnA(data.appendingPathComponent("counterfact_easyedit/counterfact_qna.json"))
        XCTAssertEqual(qna.map(\.caseIndex), Array(0..<1000))
    }
}
