import XCTest
@testable import EmendEval

/// Accuracy, weighted F1 and MCC on hand-made label/prediction lists whose values are worked out below
/// (the definitions of scikit-learn's `f1_score(average='weighted')` and `matthews_corrcoef`).
final class ClassificationMetricsTests: XCTestCase {
    /// labels [0,0,1,1], predictions [0,1,1,1].
    /// class 0: tp 1, fp 0, fn 1 → F1 = 2/3; class 1: tp 2, fp 1, fn 0 → F1 = 4/5; supports 2 and 2
    /// → weighted F1 = (2·2/3 + 2·4/5)/4 = 11/15. Binary MCC = (TP·TN − FP·FN)/√(…) = (2·1 − 1·0)/√(3·2·2·1) = 1/√3.
    func testBinaryCase() {
        let y = [0, 0, 1, 1], p = [0, 1, 1, 1]
        XCTAssertEqual(ClassificationMetrics.accuracy(labels: y, predictions: p), 0.75, accuracy: 1e-12)
        XCTAssertEqual(ClassificationMetrics.weightedF1(labels: y, predictions: p), 11.0 / 15.0, accuracy: 1e-12)
        XCTAssertEqual(ClassificationMetrics.mcc(labels: y, predictions: p), 1 / 3.0.squareRoot(), accuracy: 1e-12)
    }

    /// An invalid prediction (−1) is a third class with no support. labels [0,1,1,0], predictions [0,−1,1,1]:
    /// class 0: tp 1, fp 0, fn 1 → 2/3; class 1: tp 1, fp 1, fn 1 → 1/2; class −1: support 0
    /// → weighted F1 = (2·2/3 + 2·1/2)/4 = 7/12. MCC (multiclass): c = 2, s = 4, t = (0:2, 1:2, −1:0),
    /// p = (0:1, 1:2, −1:1): (2·4 − (1·2 + 2·2))/√((16 − 6)(16 − 8)) = 2/√80.
    func testInvalidPredictionsCountAgainst() {
        let y = [0, 1, 1, 0], p = [0, -1, 1, 1]
        XCTAssertEqual(ClassificationMetrics.accuracy(labels: y, predictions: p), 0.5, accuracy: 1e-12)
        XCTAssertEqual(ClassificationMetrics.weightedF1(labels: y, predictions: p), 7.0 / 12.0, accuracy: 1e-12)
        XCTAssertEqual(ClassificationMetrics.mcc(labels: y, predictions: p), 2 / 80.0.squareRoot(), accuracy: 1e-12)
    }

    /// Four classes (MMLU-like): labels [0,1,2,3,0,1], predictions [0,1,2,0,1,1].
    /// F1: class 0: tp 1, fp 1, fn 1 → 1/2; class 1: tp 2, fp 1, fn 0 → 4/5; class 2: 1; class 3: tp 0 → 0.
    /// supports 2,2,1,1 → (2·1/2 + 2·4/5 + 1 + 0)/6 = 3.6/6 = 0.6.
    /// MCC: c = 4, s = 6, t = (2,2,1,1), p = (2,3,1,0): Σpt = 4+6+1+0 = 11, Σp² = 14, Σt² = 10
    /// → (24 − 11)/√((36 − 14)(36 − 10)) = 13/√572.
    func testFourClasses() {
        let y = [0, 1, 2, 3, 0, 1], p = [0, 1, 2, 0, 1, 1]
        XCTAssertEqual(ClassificationMetrics.accuracy(labels: y, predictions: p), 4.0 / 6.0, accuracy: 1e-12)
        XCTAssertEqual(ClassificationMetrics.weightedF1(labels: y, predictions: p), 0.6, accuracy: 1e-12)
        XCTAssertEqual(ClassificationMetrics.mcc(labels: y, predictions: p), 13 / 572.0.squareRoot(), accuracy: 1e-12)
    }

    /// Degenerate cases: a constant predictor has MCC 0 (zero denominator, sklearn's convention); a perfect one
    /// has F1 = MCC = accuracy = 1; an inverted binary one has MCC −1.
    func testDegenerateCases() {
        let y = [0, 1, 0, 1]
        XCTAssertEqual(ClassificationMetrics.mcc(labels: y, predictions: [1, 1, 1, 1]), 0)
        XCTAssertEqual(ClassificationMetrics.weightedF1(labels: y, predictions: [1, 1, 1, 1]), 2.0 / 3.0 / 2, accuracy: 1e-12)
        XCTAssertEqual(ClassificationMetrics.mcc(labels: y, predictions: y), 1, accuracy: 1e-12)
        XCTAssertEqual(ClassificationMetrics.weightedF1(labels: y, predictions: y), 1, accuracy: 1e-12)
        XCTAssertEqual(ClassificationMetrics.mcc(labels: y, predictions: [1, 0, 1, 0]), -1, accuracy: 1e-12)
    }

    /// The score record carries the invalid count and the three metrics of its predictions.
    func testScoreFromPredictions() {
        let s = DownstreamScore.from(task: "sst2", mode: "generate", labels: [0, 1, 1, 0], predictions: [0, -1, 1, 1])
        XCTAssertEqual(s.items, 4); XCTAssertEqual(s.invalid, 1)
        XCTAssertEqual(s.f1, 7.0 / 12.0, accuracy: 1e-12)
        let scores = [s, DownstreamScore(task: "mrpc", items: 4, accuracy: 1, f1: 0.25, mcc: 0, mode: "generate"),
                      DownstreamScore(task: "mrpc", items: 4, accuracy: 1, f1: 0.9, mcc: 0, mode: "loglik")]
        XCTAssertEqual(scores.meanF1(mode: "generate"), (7.0 / 12.0 + 0.25) / 2, accuracy: 1e-12)
        XCTAssertEqual(scores.meanF1(mode: "loglik"), 0.9, accuracy: 1e-12)
    }
}
