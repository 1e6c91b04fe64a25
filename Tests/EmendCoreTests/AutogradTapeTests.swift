// The tape's bookkeeping: what gets recorded, accumulation over fan-out, frozen weights, kept
// intermediates, and each error the backward pass throws.

import XCTest
@testable import EmendCore
import EmendTestSupport

final class AutogradTapeTests: XCTestCase {
    /// Ops whose inputs are all constants record nothing and return constants (no tape cost).
    func testTape_ConstantsRecordNothing() {
        let tape = Tape()
        let x = tape.parameter(Tensor([1, 2, 3]))
        let a = Variable(constant: Tensor([4, 5, 6])), w = Variable(constant: Tensor(rows: [[1, 0, 2]]))
        let y = linear((a * a + 1).silu().reshaped([1, 3]), w).softmax()
        XCTAssertNil(y.tape)
        XCTAssertFalse(y.requiresGrad)
        XCTAssertEqual(tape.count, 1, "only the parameter is on the tape")
        _ = x * a
        XCTAssertEqual(tape.count, 2)
    }

    /// Fan-out accumulates: L = Σ (x·x + 3x) has ∂L/∂x = 2x + 3, worked by hand.
    func testTape_FanOutAccumulates() throws {
        let tape = Tape()
        let x = tape.parameter(Tensor([1, -2, 0.5]))
        let loss = (x * x + x * 3).sum()
        let g = try tape.gradients(of: loss)
        XCTAssertEqual(g[x]?.scalars, [5, -1, 4])
    }

    /// A frozen (constant) weight gets no gradient; the input still does (2x2 by hand).
    func testTape_FrozenWeightGetsNoGradient() throws {
        let tape = Tape()
        let x = tape.parameter(Tensor(rows: [[1, 2]]))
        let w = Variable(constant: Tensor(rows: [[3, 4], [5, 6]]))      // [Out 2, In 2]
        let loss = linear(x, w).sum()                                  // Σ_o Σ_i x_i W_oi
        let g = try tape.gradients(of: loss)
        XCTAssertNil(g[w])
        XCTAssertEqual(g[x]?.scalars, [8, 10])                         // column sums of W
        XCTAssertEqual(g.gradient(w).scalars, [0, 0, 0, 0])
    }

    /// `keeping:` retains an intermediate's gradient; unused leaves get none; `detached` stops flow.
    func testTape_KeepingIntermediatesAndDetach() throws {
        let tape = Tape()
        let x = tape.parameter(Tensor([1, 2]))
        let unused = tape.parameter(Tensor([9]))
        let h = x * 2
        let loss = (h * h.detached).sum()                               // ∂/∂h = h (detached half), ∂/∂x = 2h
        let g = try tape.gradients(of: loss, keeping: [h])
        XCTAssertEqual(g[h]?.scalars, [2, 4])
        XCTAssertEqual(g[x]?.scalars, [4, 8])
        XCTAssertNil(g[unused])
        XCTAssertEqual(g.gradient(unused).scalars, [0])
    }

    /// Each misuse throws its own error case (STYLE rule 21) instead of crashing.
    func testTape_ErrorsAreThrown() {
        let tape = Tape()
        let x = tape.parameter(Tensor([1, 2]))
        XCTAssertThrowsError(try tape.gradients(of: x * 2)) { e in
            guard case EmendCoreError.shapeMismatch = e else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try tape.gradients(of: Variable(constant: Tensor(1)))) { e in
            guard case EmendCoreError.foreignVariable = e else { return XCTFail("\(e)") }
        }
        let other = Tape()
        XCTAssertThrowsError(try other.gradients(of: x.sum())) { e in
            guard case EmendCoreError.foreignVariable = e else { return XCTFail("\(e)") }
        }
        let opaque = tape.record(x.value, op: "argmaxLike", inputs: [x], vjp: nil)
        XCTAssertThrowsError(try tape.gradients(of: opaque.sum())) { e in
            guard case let EmendCoreError.missingVJP(op, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(op, "argmaxLike")
        }
        let wrongShape = tape.record(x.value, op: "badVJP", inputs: [x]) { g in [g.reshaped([2, 1])] }
        XCTAssertThrowsError(try tape.gradients(of: wrongShape.sum())) { e in
            guard case EmendCoreError.shapeMismatch = e else { return XCTFail("\(e)") }
            XCTAssertTrue("\(e)".contains("badVJP"), "\(e)")
        }
        let wrongCount = tape.record(x.value, op: "twoGrads", inputs: [x]) { g in [g, g] }
        XCTAssertThrowsError(try tape.gradients(of: wrongCount.sum())) { e in
            guard case EmendCoreError.missingVJP = e else { return XCTFail("\(e)") }
        }
    }

    /// The tape works as a target search uses it: fresh tape per step, Adam on δ, loss falls.
    /// Truth: minimising ‖W(h + δ) − z‖² from δ = 0 must reduce the loss (a convex problem).
    func testTape_AdamLoopReducesLoss() throws {
        var rng = SeededGenerator(seed: 5)
        let w = Variable(constant: Tensor.randomNormal([4, 3], using: &rng))
        let h = Variable(constant: Tensor.randomNormal([2, 3], using: &rng))
        let z = Variable(constant: Tensor.randomNormal([2, 4], using: &rng))
        var params = [Tensor.zeros([3])]
        var adam = Adam(learningRate: 0.05)
        var losses: [Float] = []
        for _ in 0..<60 {
            let tape = Tape()
            let delta = tape.parameter(params[0])
            let loss = (linear(h.addingRows(delta, at: [0, 1]), w) - z).squared().mean()
            losses.append(loss.value.scalar)
            try adam.step(params: &params, grads: [try tape.gradients(of: loss).gradient(delta)])
        }
        XCTAssertLessThan(losses.last ?? .infinity, 0.9 * (losses.first ?? 0), "losses \(losses.prefix(3))…\(losses.suffix(3))")
    }
}
