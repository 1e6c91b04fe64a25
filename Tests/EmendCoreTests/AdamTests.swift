// Adam against values worked out by hand from PyTorch's update rule (see Adam.swift):
//   m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²;  p ← p − lr/(1 − β1ᵗ) · m / (√v/√(1 − β2ᵗ) + eps).

import XCTest
@testable import EmendCore

final class AdamTests: XCTestCase {
    /// The defaults are torch.optim.Adam's: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.
    func testAdam_DefaultsMatchPyTorch() {
        let adam = Adam()
        XCTAssertEqual(adam.learningRate, 1e-3)
        XCTAssertEqual(adam.beta1, 0.9)
        XCTAssertEqual(adam.beta2, 0.999)
        XCTAssertEqual(adam.eps, 1e-8)
        XCTAssertEqual(adam.weightDecay, 0)
    }

    /// Three steps, lr 0.1, p₀ = [1, −2], g = [0.5, −0.1], [−0.3, 0.2], [0.2, 0.05], by hand:
    ///  t=1: m = 0.1g, v = 0.001g², bc1 = 0.1, bc2 = 0.001, so m̂ = g, v̂ = g² and
    ///       p₁ = p₀ − 0.1·g/(|g| + 1e-8) = [0.900000002, −1.90000001]
    ///  t=2: m = 0.9·m + 0.1g = [0.015, 0.011]; v = 0.999·v + 0.001g² = [0.00033975, 0.00004999];
    ///       bc1 = 0.19, bc2 = 0.001999;
    ///       p₂[0] = 0.900000002 − (0.1/0.19)·0.015/(√0.00033975/√0.001999) = 0.9 − 0.0191498 = 0.8808502
    ///       p₂[1] = −1.90000001 − (0.1/0.19)·0.011/(√0.00004999/√0.001999) = −1.9366104
    ///  t=3: m = [0.0335, 0.0149]; v = [0.00037941025, 0.00005244001]; bc1 = 0.271, bc2 = 0.002997001;
    ///       p₃ = [0.8461074, −1.9781755]
    func testAdam_ThreeStepsByHand() throws {
        var adam = Adam(learningRate: 0.1)
        var params = [Tensor([1, -2])]
        let grads: [[Float]] = [[0.5, -0.1], [-0.3, 0.2], [0.2, 0.05]]
        let expected: [[Float]] = [[0.900000002, -1.90000001], [0.8808502, -1.9366104], [0.8461074, -1.9781755]]
        for (g, want) in zip(grads, expected) {
            try adam.step(params: &params, grads: [Tensor(g)])
            // Float32 holds ~7 digits of values near 1: 2e-6 absolute.
            for (got, w) in zip(params[0].scalars, want) { XCTAssertEqual(got, w, accuracy: 2e-6, "step \(adam.stepCount)") }
        }
        XCTAssertEqual(adam.firstMoments[0].scalars[0], 0.0335, accuracy: 1e-7)
        XCTAssertEqual(adam.secondMoments[0].scalars[1], 0.00005244001, accuracy: 1e-10)
    }

    /// weight_decay adds wd·p to the gradient before the moments (L2, not AdamW). lr 0.01, wd 0.5,
    /// p₀ = 3, raw g = 0, 1, −1:
    ///  t=1: g = 0 + 0.5·3 = 1.5 → p₁ = 3 − 0.01 = 2.99 (first step moves by lr)
    ///  t=2: g = 1 + 0.5·2.99 = 2.495; m = 0.9·0.15 + 0.2495 = 0.3845; v = 0.999·0.00225 + 0.001·6.225025
    ///       = 0.008472775; p₂ = 2.99 − (0.01/0.19)·0.3845/(√0.008472775/√0.001999) = 2.9801704
    ///  t=3: g = −1 + 0.5·2.9801704 = 0.4900852 → p₃ = 2.9716165
    func testAdam_WeightDecayByHand() throws {
        var adam = Adam(learningRate: 0.01, weightDecay: 0.5)
        var params = [Tensor([3])]
        for (g, want) in zip([Float(0), 1, -1], [Float(2.99), 2.9801704, 2.9716165]) {
            try adam.step(params: &params, grads: [Tensor([g])])
            XCTAssertEqual(params[0].scalars[0], want, accuracy: 4e-6, "step \(adam.stepCount)")
        }
    }

    /// Mismatched lists or shapes throw and leave the parameters unchanged.
    func testAdam_ShapeMismatchThrows() {
        var adam = Adam()
        var params = [Tensor([1, 2])]
        XCTAssertThrowsError(try adam.step(params: &params, grads: [Tensor([1, 2, 3])]))
        XCTAssertThrowsError(try adam.step(params: &params, grads: []))
        XCTAssertEqual(params[0].scalars, [1, 2])
        XCTAssertEqual(adam.stepCount, 0)
    }
}
