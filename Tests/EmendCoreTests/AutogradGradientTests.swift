// Every differentiable op, from one table (STYLE rule 18): the Float32 forward against the Float64
// naive reference in EmendTestSupport, and the tape's gradient against Float64 central differences
// of that same reference. Each case's loss is Σ y ⊙ R for a fixed random R, so every output
// element carries a distinct weight.

import XCTest
@testable import EmendCore
import EmendTestSupport

/// One op under test.
struct GradientCase {
    let name: String
    /// The op's tensor inputs; those listed in `wrt` become tape parameters, the rest constants.
    let inputs: [Tensor]
    let wrt: [Int]
    let f32: ([Variable]) -> Variable
    let f64: ([Naive64]) -> Naive64
    /// Forward: |y32 − y64| ≤ tol·(1 + |y64|). Float32 rounding is ~1e-7 relative per op; a
    /// few ops in a chain and transcendental functions stay well under 1e-4.
    var forwardTolerance: Double = 1e-4
    /// Backward: |analytic − numeric| ≤ tol·max(1, max|numeric|). Float32 gradients carry ~1e-6
    /// relative error, central differences ~1e-9; 1e-3 flags any wrong formula (errors O(1)).
    var gradientTolerance: Double = 1e-3
}

/// Runs each case and reports every failure with its parameters and max |diff|.
func checkGradientCases(_ cases: [GradientCase], file: StaticString = #filePath, line: UInt = #line) {
    var rng = SeededGenerator(seed: 99)
    for c in cases {
        let params = "\(c.name) inputs \(c.inputs.map(\.shape)) wrt \(c.wrt)"
        // Forward, no tape: against the naive reference.
        let naiveInputs = c.inputs.map(Naive64.init)
        let plain = c.f32(c.inputs.map { Variable(constant: $0) })
        XCTAssertNil(plain.tape, "\(params): constants produced a taped result", file: file, line: line)
        let want = c.f64(naiveInputs)
        guard plain.shape == want.shape else {
            XCTFail("\(params): forward shape \(plain.shape), reference \(want.shape)", file: file, line: line); continue
        }
        let got = plain.value.scalars.map(Double.init)
        let fwdErrors = zip(got, want.values).map { g, w in g == w ? 0 : Swift.abs(g - w) / (1 + Swift.abs(w)) }
        let fwdWorst = fwdErrors.map { $0.isNaN ? Double.infinity : $0 }.max() ?? 0
        XCTAssertLessThanOrEqual(fwdWorst, c.forwardTolerance,
                                 "\(params): forward max relative diff \(fwdWorst); \(firstPairs(got, want.values))",
                                 file: file, line: line)

        // Backward: tape gradient vs central differences of Σ f64(x) ⊙ R.
        let projection = Tensor.randomNormal(want.shape, using: &rng)
        let projection64 = projection.scalars.map(Double.init)
        let tape = Tape()
        let vars = c.inputs.enumerated().map { i, t in c.wrt.contains(i) ? tape.parameter(t) : Variable(constant: t) }
        let y = c.f32(vars)
        XCTAssertEqual(y.value, plain.value, "\(params): recording changed the forward value", file: file, line: line)
        let loss = (y * Variable(constant: projection)).sum()
        let grads: Gradients
        do { grads = try tape.gradients(of: loss) } catch {
            XCTFail("\(params): gradients threw \(error)", file: file, line: line); continue
        }
        for i in c.wrt {
            let numeric = centralDifferenceGradient(of: { xs in
                zip(c.f64(xs).values, projection64).reduce(0) { $0 + $1.0 * $1.1 }
            }, at: naiveInputs, wrt: i)
            let analytic = grads.gradient(vars[i]).scalars.map(Double.init)
            let (worst, at) = maxAbsDifference(analytic, numeric.values)
            let scale = Swift.max(1, numeric.values.map { Swift.abs($0) }.max() ?? 0)
            XCTAssertLessThanOrEqual(worst / scale, c.gradientTolerance,
                                     "\(params): gradient of input \(i) max |diff| \(worst) at \(at) (scale \(scale)); "
                                     + firstPairs(analytic, numeric.values), file: file, line: line)
        }
    }
}

final class AutogradGradientTests: XCTestCase {
    var rng = SeededGenerator(seed: 7)
    func randn(_ shape: [Int], std: Float = 1) -> Tensor { Tensor.randomNormal(shape, std: std, using: &rng) }
    func positive(_ shape: [Int]) -> Tensor { Tensor.randomUniform(shape, low: 0.5, high: 2, using: &rng) }
    typealias N = NaiveOps64

    /// Broadcasting binary ops, scalar ops, negation and `where`, vs Float64 loops.
    func testGradient_Arithmetic() {
        checkGradientCases([
            GradientCase(name: "add [3,5]+[5]", inputs: [randn([3, 5]), randn([5])], wrt: [0, 1],
                         f32: { $0[0] + $0[1] }, f64: { N.binary($0[0], $0[1], +) }),
            GradientCase(name: "add [2,1,4]+[3,1]", inputs: [randn([2, 1, 4]), randn([3, 1])], wrt: [0, 1],
                         f32: { $0[0] + $0[1] }, f64: { N.binary($0[0], $0[1], +) }),
            GradientCase(name: "add constant rhs", inputs: [randn([2, 3]), randn([2, 3])], wrt: [0],
                         f32: { $0[0] + $0[1] }, f64: { N.binary($0[0], $0[1], +) }),
            GradientCase(name: "sub [4,1]-[1,3]", inputs: [randn([4, 1]), randn([1, 3])], wrt: [0, 1],
                         f32: { $0[0] - $0[1] }, f64: { N.binary($0[0], $0[1], -) }),
            GradientCase(name: "mul [2,3,4]*[2,1,4]", inputs: [randn([2, 3, 4]), randn([2, 1, 4])], wrt: [0, 1],
                         f32: { $0[0] * $0[1] }, f64: { N.binary($0[0], $0[1], *) }),
            GradientCase(name: "mul scalar-shaped [] * [3]", inputs: [randn([]), randn([3])], wrt: [0, 1],
                         f32: { $0[0] * $0[1] }, f64: { N.binary($0[0], $0[1], *) }),
            GradientCase(name: "div [3,4]/[4]", inputs: [randn([3, 4]), positive([4])], wrt: [0, 1],
                         f32: { $0[0] / $0[1] }, f64: { N.binary($0[0], $0[1], /) }),
            GradientCase(name: "neg", inputs: [randn([1, 5])], wrt: [0],
                         f32: { -$0[0] }, f64: { N.unary($0[0]) { -$0 } }),
            GradientCase(name: "scalar ops (x+2)*3-1, 2-x, x/4", inputs: [randn([2, 3])], wrt: [0],
                         f32: { concatenate([($0[0] + 2) * 3 - 1, 2 - $0[0], $0[0] / 4, 0.5 * $0[0]], axis: 0) },
                         f64: { x in N.concatenate([N.unary(x[0]) { ($0 + 2) * 3 - 1 }, N.unary(x[0]) { 2 - $0 },
                                                     N.unary(x[0]) { $0 / 4 }, N.unary(x[0]) { 0.5 * $0 }], axis: 0) }),
            GradientCase(name: "scalar / x", inputs: [positive([3, 2])], wrt: [0],
                         f32: { 3 / $0[0] }, f64: { N.unary($0[0]) { 3 / $0 } }),
            GradientCase(name: "where(cond [3,4], a [3,4], b [4])", inputs: [randn([3, 4]), randn([4])], wrt: [0, 1],
                         f32: { Variable.where(Self.checker([3, 4]), $0[0], $0[1]) },
                         f64: { N.where(Naive64(Self.checker([3, 4])), $0[0], $0[1]) }),
        ])
    }

    /// Unary maps, including large |x| for the saturating ones, vs Float64 closed forms.
    func testGradient_Unary() {
        let wide = Tensor(shape: [2, 4], scalars: [-30, -8, -2.5, -0.3, 0.2, 1.7, 9, 30])
        checkGradientCases([
            GradientCase(name: "exp", inputs: [randn([3, 4])], wrt: [0], f32: { $0[0].exp() }, f64: { N.unary($0[0], Foundation.exp) }),
            GradientCase(name: "log", inputs: [positive([5])], wrt: [0], f32: { $0[0].log() }, f64: { N.unary($0[0], Foundation.log) }),
            GradientCase(name: "tanh", inputs: [randn([2, 3], std: 2)], wrt: [0], f32: { $0[0].tanh() }, f64: { N.unary($0[0], Foundation.tanh) }),
            GradientCase(name: "tanh wide", inputs: [wide], wrt: [0], f32: { $0[0].tanh() }, f64: { N.unary($0[0], Foundation.tanh) }),
            GradientCase(name: "sigmoid wide", inputs: [wide], wrt: [0], f32: { $0[0].sigmoid() }, f64: { N.unary($0[0], N.sigmoid) }),
            GradientCase(name: "silu", inputs: [randn([3, 3], std: 3)], wrt: [0], f32: { $0[0].silu() }, f64: { N.unary($0[0], N.silu) }),
            GradientCase(name: "silu wide", inputs: [wide], wrt: [0], f32: { $0[0].silu() }, f64: { N.unary($0[0], N.silu) }),
            GradientCase(name: "geluTanh wide", inputs: [wide], wrt: [0], f32: { $0[0].geluTanh() }, f64: { N.unary($0[0], N.geluTanh) }),
            GradientCase(name: "geluErf wide", inputs: [wide], wrt: [0], f32: { $0[0].geluErf() }, f64: { N.unary($0[0], N.geluErf) }),
            GradientCase(name: "sqrt", inputs: [positive([4, 1])], wrt: [0], f32: { $0[0].sqrt() }, f64: { N.unary($0[0]) { $0.squareRoot() } }),
            GradientCase(name: "squared", inputs: [randn([7])], wrt: [0], f32: { $0[0].squared() }, f64: { N.unary($0[0]) { $0 * $0 } }),
            GradientCase(name: "relu away from 0", inputs: [wide], wrt: [0], f32: { $0[0].relu() }, f64: { N.unary($0[0]) { Swift.max($0, 0) } }),
        ])
    }

    /// Sums, means and max over an axis or everything, incl. size-1 axes, vs Float64 loops.
    func testGradient_Reductions() {
        let x = randn([3, 4, 5])
        var cases: [GradientCase] = []
        for axis in [0, 1, -1] {
            for keep in [false, true] {
                cases.append(GradientCase(name: "sum axis \(axis) keep \(keep)", inputs: [x], wrt: [0],
                                          f32: { $0[0].sum(axis: axis, keepDims: keep) }, f64: { N.sum($0[0], axis: axis, keepDims: keep) }))
                cases.append(GradientCase(name: "mean axis \(axis) keep \(keep)", inputs: [x], wrt: [0],
                                          f32: { $0[0].mean(axis: axis, keepDims: keep) }, f64: { N.mean($0[0], axis: axis, keepDims: keep) }))
                cases.append(GradientCase(name: "max axis \(axis) keep \(keep)", inputs: [x], wrt: [0],
                                          f32: { $0[0].max(axis: axis, keepDims: keep) }, f64: { N.max($0[0], axis: axis, keepDims: keep) }))
            }
        }
        cases += [
            GradientCase(name: "sum size-1 axis", inputs: [randn([3, 1, 4])], wrt: [0],
                         f32: { $0[0].sum(axis: 1) }, f64: { N.sum($0[0], axis: 1) }),
            GradientCase(name: "max size-1 axis", inputs: [randn([3, 1])], wrt: [0],
                         f32: { $0[0].max(axis: 1) }, f64: { N.max($0[0], axis: 1) }),
            GradientCase(name: "sum all", inputs: [randn([2, 3, 2])], wrt: [0], f32: { $0[0].sum() }, f64: { N.sumAll($0[0]) }),
            GradientCase(name: "mean all", inputs: [randn([5, 1])], wrt: [0], f32: { $0[0].mean() }, f64: { N.meanAll($0[0]) }),
        ]
        checkGradientCases(cases)
    }

    /// matmul in all transpose combinations, batched, with a shared 2-D right operand, and linear,
    /// vs the Float64 triple loop.
    func testGradient_Matmul() {
        var cases: [GradientCase] = []
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (m, k, n) = (5, 3, 4)
            let a2 = randn(ta ? [k, m] : [m, k]), b2 = randn(tb ? [n, k] : [k, n])
            cases.append(GradientCase(name: "matmul 2-D tA \(ta) tB \(tb)", inputs: [a2, b2], wrt: [0, 1],
                                      f32: { matmul($0[0], $0[1], transposeA: ta, transposeB: tb) },
                                      f64: { N.matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }))
            let a3 = randn([2, 3] + (ta ? [k, m] : [m, k])), b3 = randn([2, 3] + (tb ? [n, k] : [k, n]))
            cases.append(GradientCase(name: "matmul batched tA \(ta) tB \(tb)", inputs: [a3, b3], wrt: [0, 1],
                                      f32: { matmul($0[0], $0[1], transposeA: ta, transposeB: tb) },
                                      f64: { N.matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }))
            let aShared = randn([2] + (ta ? [k, m] : [m, k]))
            cases.append(GradientCase(name: "matmul shared 2-D rhs tA \(ta) tB \(tb)", inputs: [aShared, b2], wrt: [0, 1],
                                      f32: { matmul($0[0], $0[1], transposeA: ta, transposeB: tb) },
                                      f64: { N.matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }))
        }
        cases += [
            GradientCase(name: "matmul inner 1", inputs: [randn([3, 1]), randn([1, 2])], wrt: [0, 1],
                         f32: { matmul($0[0], $0[1]) }, f64: { N.matmul($0[0], $0[1]) }),
            GradientCase(name: "matmul frozen rhs", inputs: [randn([2, 3, 4]), randn([4, 2])], wrt: [0],
                         f32: { matmul($0[0], $0[1]) }, f64: { N.matmul($0[0], $0[1]) }),
            GradientCase(name: "linear [2,3,5]·W[4,5]ᵀ + b", inputs: [randn([2, 3, 5]), randn([4, 5]), randn([4])], wrt: [0, 1, 2],
                         f32: { linear($0[0], $0[1], bias: $0[2]) }, f64: { N.linear($0[0], $0[1], bias: $0[2]) }),
            GradientCase(name: "linear [1,5] no bias", inputs: [randn([1, 5]), randn([3, 5])], wrt: [0, 1],
                         f32: { linear($0[0], $0[1]) }, f64: { N.linear($0[0], $0[1]) }),
            GradientCase(name: "linear frozen weight and bias", inputs: [randn([4, 3]), randn([2, 3]), randn([2])], wrt: [0],
                         f32: { linear($0[0], $0[1], bias: $0[2]) }, f64: { N.linear($0[0], $0[1], bias: $0[2]) }),
        ]
        checkGradientCases(cases)
    }

    /// reshape, permute, transpose, slice, concatenate, stack, broadcast, vs Float64 index loops.
    func testGradient_Shape() {
        let x = randn([2, 3, 4])
        checkGradientCases([
            GradientCase(name: "reshape", inputs: [x], wrt: [0], f32: { $0[0].reshaped([4, -1]) }, f64: { N.reshape($0[0], [4, 6]) }),
            GradientCase(name: "permute [2,0,1]", inputs: [x], wrt: [0], f32: { $0[0].permuted([2, 0, 1]) }, f64: { N.permute($0[0], [2, 0, 1]) }),
            GradientCase(name: "transpose (0,1)", inputs: [x], wrt: [0], f32: { $0[0].transposed(0, 1) }, f64: { N.permute($0[0], [1, 0, 2]) }),
            GradientCase(name: "slice axis 1 1..<3", inputs: [x], wrt: [0], f32: { $0[0].sliced(axis: 1, 1..<3) }, f64: { N.slice($0[0], axis: 1, 1..<3) }),
            GradientCase(name: "slice last axis 3..<4", inputs: [x], wrt: [0], f32: { $0[0].sliced(axis: -1, 3..<4) }, f64: { N.slice($0[0], axis: -1, 3..<4) }),
            GradientCase(name: "concatenate axis 1, middle constant", inputs: [randn([2, 1, 3]), randn([2, 2, 3]), randn([2, 3, 3])], wrt: [0, 2],
                         f32: { concatenate($0, axis: 1) }, f64: { N.concatenate($0, axis: 1) }),
            GradientCase(name: "stack", inputs: [randn([3]), randn([3])], wrt: [0, 1],
                         f32: { stack($0) }, f64: { N.concatenate($0.map { N.reshape($0, [1, 3]) }, axis: 0) }),
            GradientCase(name: "broadcasted [3,1] → [2,3,4]", inputs: [randn([3, 1])], wrt: [0],
                         f32: { $0[0].broadcasted(to: [2, 3, 4]) }, f64: { N.binary(Naive64(Tensor.zeros([2, 3, 4])), $0[0]) { $1 } }),
        ])
    }

    /// gatherRows (embedding), addingRows (the edit intervention), pickingColumns, vs Float64 loops.
    func testGradient_Rows() {
        checkGradientCases([
            GradientCase(name: "gatherRows repeated ids", inputs: [randn([5, 3])], wrt: [0],
                         f32: { $0[0].gatherRows([4, 0, 4, 2]) }, f64: { N.gatherRows($0[0], [4, 0, 4, 2]) }),
            GradientCase(name: "addingRows shared δ into [2,3,4] rows [1,4,4]", inputs: [randn([2, 3, 4]), randn([4])], wrt: [0, 1],
                         f32: { $0[0].addingRows($0[1], at: [1, 4, 4]) }, f64: { N.addingRows($0[0], $0[1], rows: [1, 4, 4]) }),
            GradientCase(name: "addingRows δ only (activation constant)", inputs: [randn([5, 3]), randn([3])], wrt: [1],
                         f32: { $0[0].addingRows($0[1], at: [0, 4]) }, f64: { N.addingRows($0[0], $0[1], rows: [0, 4]) }),
            GradientCase(name: "addingRows one δ per row", inputs: [randn([4, 3]), randn([2, 3])], wrt: [0, 1],
                         f32: { $0[0].addingRows($0[1], at: [3, 1]) }, f64: { N.addingRows($0[0], $0[1], rows: [3, 1]) }),
            GradientCase(name: "pickingColumns", inputs: [randn([3, 5])], wrt: [0],
                         f32: { $0[0].pickingColumns([4, 0, 4]) }, f64: { N.pickColumns($0[0], [4, 0, 4]) }),
        ])
    }

    /// softmax / logSoftmax on ordinary, extreme, size-1 and masked rows, vs Float64 formulas.
    func testGradient_Softmax() {
        let extreme = Tensor(rows: [[80, -80, 0, 79.5], [1e-3, 0, -1e-3, 0], [-60, -61, -59, -200]])
        let causal = causalMask(queries: 3)
        checkGradientCases([
            GradientCase(name: "softmax [3,7]", inputs: [randn([3, 7], std: 2)], wrt: [0], f32: { $0[0].softmax() }, f64: { N.softmax($0[0]) }),
            GradientCase(name: "softmax extreme", inputs: [extreme], wrt: [0], f32: { $0[0].softmax() }, f64: { N.softmax($0[0]) }),
            GradientCase(name: "softmax size-1 axis", inputs: [randn([4, 1])], wrt: [0], f32: { $0[0].softmax() }, f64: { N.softmax($0[0]) }),
            GradientCase(name: "logSoftmax [2,3,5]", inputs: [randn([2, 3, 5], std: 3)], wrt: [0], f32: { $0[0].logSoftmax() }, f64: { N.logSoftmax($0[0]) }),
            GradientCase(name: "logSoftmax extreme", inputs: [extreme], wrt: [0], f32: { $0[0].logSoftmax() }, f64: { N.logSoftmax($0[0]) }),
            GradientCase(name: "masked softmax [2,3,3] + causal", inputs: [randn([2, 3, 3])], wrt: [0],
                         f32: { $0[0].addingMask(causal).softmax() },
                         f64: { N.softmax(N.binary($0[0], Naive64(causal), +)) }),
        ])
    }

    /// Fused RMSNorm and LayerNorm (input, weight and bias gradients) vs the Float64 formulas.
    func testGradient_Norms() {
        checkGradientCases([
            GradientCase(name: "rmsNorm [3,5]", inputs: [randn([3, 5]), positive([5])], wrt: [0, 1],
                         f32: { $0[0].rmsNormed(weight: $0[1], eps: 1e-5) }, f64: { N.rmsNorm($0[0], weight: $0[1], eps: 1e-5) }),
            GradientCase(name: "rmsNorm [2,1,7] frozen weight", inputs: [randn([2, 1, 7]), positive([7])], wrt: [0],
                         f32: { $0[0].rmsNormed(weight: $0[1], eps: 1e-6) }, f64: { N.rmsNorm($0[0], weight: $0[1], eps: 1e-6) }),
            GradientCase(name: "rmsNorm D=1", inputs: [randn([4, 1]), positive([1])], wrt: [0, 1],
                         f32: { $0[0].rmsNormed(weight: $0[1], eps: 1e-2) }, f64: { N.rmsNorm($0[0], weight: $0[1], eps: 1e-2) }),
            GradientCase(name: "layerNorm [3,6] + bias", inputs: [randn([3, 6], std: 2), randn([6]), randn([6])], wrt: [0, 1, 2],
                         f32: { $0[0].layerNormed(weight: $0[1], bias: $0[2], eps: 1e-5) },
                         f64: { N.layerNorm($0[0], weight: $0[1], bias: $0[2], eps: 1e-5) }),
            GradientCase(name: "layerNorm [2,2,3] no bias", inputs: [randn([2, 2, 3]), randn([3])], wrt: [0, 1],
                         f32: { $0[0].layerNormed(weight: $0[1], bias: nil, eps: 1e-5) },
                         f64: { N.layerNorm($0[0], weight: $0[1], bias: nil, eps: 1e-5) }),
        ])
    }

    /// RoPE in both conventions and GQA head repetition vs Float64 rotation and index loops.
    func testGradient_Attention() {
        let x = randn([2, 3, 2, 4])
        checkGradientCases([
            GradientCase(name: "rope halfSplit", inputs: [x], wrt: [0],
                         f32: { rope($0[0], positions: [0, 5, 7], base: 10_000, convention: .halfSplit) },
                         f64: { N.rope($0[0], positions: [0, 5, 7], base: 10_000, convention: .halfSplit) }),
            GradientCase(name: "rope interleaved", inputs: [randn([3, 1, 6])], wrt: [0],
                         f32: { rope($0[0], positions: [2, 3, 40], base: 500, convention: .interleaved) },
                         f64: { N.rope($0[0], positions: [2, 3, 40], base: 500, convention: .interleaved) }),
            GradientCase(name: "repeatedKVHeads ×3", inputs: [randn([2, 2, 3, 2])], wrt: [0],
                         f32: { $0[0].repeatedKVHeads(groups: 3) }, f64: { N.repeatKVHeads($0[0], groups: 3) }),
            GradientCase(name: "repeatedKVHeads ×1", inputs: [randn([1, 2, 2, 2])], wrt: [0],
                         f32: { $0[0].repeatedKVHeads(groups: 1) }, f64: { N.repeatKVHeads($0[0], groups: 1) }),
        ])
    }

    /// Cross-entropy (with ignored rows, rank 3, all ignored, extreme logits) and KL, vs Float64.
    func testGradient_Losses() {
        let extreme = Tensor(rows: [[60, -60, 0, 59], [-70, 3, -70, -70]])
        let p = randn([3, 5]).logSoftmax(), q = randn([3, 5]).logSoftmax()
        checkGradientCases([
            GradientCase(name: "crossEntropy [4,6] one ignored", inputs: [randn([4, 6], std: 2)], wrt: [0],
                         f32: { crossEntropy(logits: $0[0], targets: [5, ignoreIndex, 0, 2]) },
                         f64: { N.crossEntropy($0[0], targets: [5, ignoreIndex, 0, 2]) }),
            GradientCase(name: "crossEntropy rank 3", inputs: [randn([2, 3, 4])], wrt: [0],
                         f32: { crossEntropy(logits: $0[0], targets: [0, 1, 2, 3, 3, 1]) },
                         f64: { N.crossEntropy($0[0], targets: [0, 1, 2, 3, 3, 1]) }),
            GradientCase(name: "crossEntropy all ignored", inputs: [randn([2, 3])], wrt: [0],
                         f32: { crossEntropy(logits: $0[0], targets: [ignoreIndex, ignoreIndex]) },
                         f64: { N.crossEntropy($0[0], targets: [ignoreIndex, ignoreIndex]) }),
            GradientCase(name: "crossEntropy extreme", inputs: [extreme], wrt: [0],
                         f32: { crossEntropy(logits: $0[0], targets: [1, 1]) },
                         f64: { N.crossEntropy($0[0], targets: [1, 1]) }),
            GradientCase(name: "KL(P‖Q) both", inputs: [p, q], wrt: [0, 1],
                         f32: { klDivergence(logP: $0[0], logQ: $0[1]) }, f64: { N.klDivergence(logP: $0[0], logQ: $0[1]) }),
            GradientCase(name: "KL of logSoftmax, Q frozen", inputs: [randn([2, 4]), randn([2, 4])], wrt: [0],
                         f32: { klDivergence(logP: $0[0].logSoftmax(), logQ: $0[1].logSoftmax()) },
                         f64: { N.klDivergence(logP: N.logSoftmax($0[0]), logQ: N.logSoftmax($0[1])) }),
        ])
    }

    /// Empty tensors (a zero extent) flow through forward and backward without crashing, and
    /// agree with the reference (which has nothing to compare, or sums of nothing = 0).
    func testGradient_EmptyShapes() {
        checkGradientCases([
            GradientCase(name: "add [0,3]+[3]", inputs: [randn([0, 3]), randn([3])], wrt: [0, 1],
                         f32: { $0[0] + $0[1] }, f64: { N.binary($0[0], $0[1], +) }),
            GradientCase(name: "sum axis 0 of [0,3]", inputs: [randn([0, 3])], wrt: [0],
                         f32: { $0[0].sum(axis: 0) }, f64: { N.sum($0[0], axis: 0) }),
            GradientCase(name: "softmax [0,4]", inputs: [randn([0, 4])], wrt: [0],
                         f32: { $0[0].softmax() }, f64: { N.softmax($0[0]) }),
            GradientCase(name: "matmul [0,3]·[3,2]", inputs: [randn([0, 3]), randn([3, 2])], wrt: [0, 1],
                         f32: { matmul($0[0], $0[1]) }, f64: { N.matmul($0[0], $0[1]) }),
            GradientCase(name: "linear [0,4]", inputs: [randn([0, 4]), randn([2, 4])], wrt: [0, 1],
                         f32: { linear($0[0], $0[1]) }, f64: { N.linear($0[0], $0[1]) }),
            GradientCase(name: "rmsNorm [0,4]", inputs: [randn([0, 4]), positive([4])], wrt: [0, 1],
                         f32: { $0[0].rmsNormed(weight: $0[1], eps: 1e-5) }, f64: { N.rmsNorm($0[0], weight: $0[1], eps: 1e-5) }),
        ])
    }

    // MARK: - Helpers

    /// A 0/1 checkerboard condition tensor.
    static func checker(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape) { Float(($0 / shape[shape.count - 1] + $0) % 2) }
    }
}
