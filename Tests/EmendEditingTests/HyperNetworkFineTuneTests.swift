import XCTest
import EmendCore
import EmendModels
@testable import EmendEditing

/// The fine-tuning baseline (FT-L): it lowers the edit loss, keeps every changed element inside the L∞ ball around
/// the original weights (the constraint's definition), and leaves every other weight untouched.
final class HyperNetworkFineTuneTests: XCTestCase {
    func testFineTuneLowersLossInsideTheConstraint() throws {
        let m = HyperNetworkTrainerTests.model
        let edits = HyperNetworkTrainerTests.facts(6, seed: 12).map(\.edit)
        var s = FineTuneSettings(layers: [1, 2])
        s.steps = 15; s.learningRate = 1e-2; s.normConstraint = 0.05; s.lmBatchSize = 4
        let (edited, report) = try FineTuneEditor.edit(m, edits: edits, settings: s)
        let after = edited.traceLayers(edits, layers: [], loss: .crossEntropy).loss
        XCTAssertLessThan(Double(after), report.losses[0] * 0.95, "loss \(report.losses[0]) → \(after)")
        for l in [1, 2] {
            let diff = edited.weights.blocks[l].ffnDown.dequantized() - m.weights.blocks[l].ffnDown.dequantized()
            XCTAssertLessThanOrEqual(diff.maxAbs(), 0.05 * (1 + 1e-6))
            XCTAssertEqual(diff.maxAbs(), 0.05, accuracy: 1e-6, "the constraint binds at lr 1e-2 × 15 steps")
        }
        XCTAssertEqual(edited.weights.blocks[0].ffnDown, m.weights.blocks[0].ffnDown)
        XCTAssertEqual(edited.weights.blocks[1].ffnUp, m.weights.blocks[1].ffnUp)
    }
}
