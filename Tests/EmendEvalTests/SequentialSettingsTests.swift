import XCTest
import EmendEditing
@testable import EmendEval

/// The protocol's bookkeeping, against cases worked out by hand.
final class SequentialSettingsTests: XCTestCase {
    typealias F = TinySequentialFixture

    /// ENCORE's 10,000 edits / batch 100 / every 1,000: checkpoints at 0, 1000, …, 10000 (11 of them), 100 batches.
    /// 250 edits / batch 100 / every 200: batches of 100, 100, 50; checkpoints at 0, 200 and the end, 250.
    /// every 0: only before and after.
    func testCheckpointEdits_HandWorked() {
        let encore = F.settings(edits: 10_000, batch: 100, every: 1_000)
        XCTAssertEqual(encore.batchCount, 100)
        XCTAssertEqual(encore.checkpointEdits, stride(from: 0, through: 10_000, by: 1_000).map { $0 })
        let odd = F.settings(edits: 250, batch: 100, every: 200)
        XCTAssertEqual(odd.batchCount, 3)
        XCTAssertEqual((0..<3).map(odd.batchRange), [0..<100, 100..<200, 200..<250])
        XCTAssertEqual(odd.checkpointEdits, [0, 200, 250])
        XCTAssertEqual(F.settings(edits: 300, batch: 100, every: 0).checkpointEdits, [0, 300])
    }

    /// Bad numbers throw, naming the option.
    func testValidate_RejectsBadNumbers() {
        for (s, field) in [(F.settings(every: 5), "downstream-every"), (F.settings(ratio: 1.5), "eval-ratio"),
                           (F.settings(edits: 0), "edits"), (F.settings(batch: 0, every: 0), "batch")] {
            XCTAssertThrowsError(try s.validate()) { XCTAssertTrue("\($0)".contains(field), "\($0)") }
        }
    }

    /// The sample: round(ratio · n) distinct sorted indices in range; the same seed gives the same sample, another
    /// seed another; ratio 0 gives none, a tiny ratio at least one, ratio 1 all.
    func testEvaluationSample_SizeRangeAndSeed() {
        let s = SequentialPlan.evaluationSample(count: 10_000, ratio: 0.2, seed: 42)
        XCTAssertEqual(s.count, 2_000)
        XCTAssertEqual(Set(s).count, 2_000)
        XCTAssertEqual(s, s.sorted())
        XCTAssertTrue(s.allSatisfy { (0..<10_000).contains($0) })
        XCTAssertEqual(s, SequentialPlan.evaluationSample(count: 10_000, ratio: 0.2, seed: 42))
        XCTAssertNotEqual(s, SequentialPlan.evaluationSample(count: 10_000, ratio: 0.2, seed: 43))
        // Spread over the whole sequence, not a prefix: each tenth of it holds some (P(empty tenth) ≈ 0.8^1000).
        for d in 0..<10 { XCTAssertTrue(s.contains { $0 / 1_000 == d }, "tenth \(d)") }
        XCTAssertEqual(SequentialPlan.evaluationSample(count: 50, ratio: 0, seed: 1), [])
        XCTAssertEqual(SequentialPlan.evaluationSample(count: 50, ratio: 0.001, seed: 1).count, 1)
        XCTAssertEqual(SequentialPlan.evaluationSample(count: 50, ratio: 1, seed: 1), Array(0..<50))
    }

    /// Selection: the first N in file order; with unique subjects, later repeats are skipped; too few throws.
    func testSelect_FileOrderAndUniqueSubjects() throws {
        let rs = F.requests(20)                               // 14 names, so records 14…19 repeat subjects 0…5
        XCTAssertEqual(try SequentialPlan.select(rs, edits: 16, uniqueSubjects: false, file: "x").map(\.caseID), (0..<16).map { $0 })
        XCTAssertEqual(try SequentialPlan.select(rs, edits: 14, uniqueSubjects: true, file: "x").map(\.caseID), (0..<14).map { $0 })
        XCTAssertThrowsError(try SequentialPlan.select(rs, edits: 15, uniqueSubjects: true, file: "x")) {
            XCTAssertTrue("\($0)".contains("distinct subjects"), "\($0)")
        }
    }

    /// The fingerprint changes with any field of any request, and not otherwise.
    func testFingerprint_SensitiveToContent() throws {
        var rs = F.requests(5)
        let a = try SequentialPlan.fingerprint(rs)
        XCTAssertEqual(a, try SequentialPlan.fingerprint(F.requests(5)))
        rs[3].targetNew = "Nice"
        XCTAssertNotEqual(a, try SequentialPlan.fingerprint(rs))
        XCTAssertEqual(a.count, 16)
    }
}
