import XCTest
import EmendCore
import EmendModels
import EmendTestSupport
@testable import EmendEditing

/// The editor network (spec §4.3, §4.7) and the heads that turn its output into shifts (MEND: summed rank-1 shifts;
/// MALMEN: value differences + least squares).
final class HyperNetworkEditorNetworkTests: XCTestCase {
    static let config = ModelConfig.llamaStyle(vocabSize: 40, hiddenSize: 8, intermediateSize: 12, layerCount: 3,
                                               headCount: 2, kvHeadCount: 1)

    func editor(_ method: HyperNetworkMethod) throws -> HyperNetworkEditor {
        let model = TransformerModel(config: Self.config, weights: .random(Self.config, seed: 1))
        var s = HyperNetworkSettings(method: method, layers: [1, 2])
        s.rank = 5; s.chunkTokens = 4; s.initialEta = 0.3
        return try HyperNetworkEditor(settings: s, model: model)
    }

    func caches(seed: UInt64) -> [Int: TokenCache] {
        var rng = SeededGenerator(seed: seed)
        var out: [Int: TokenCache] = [:]
        for l in [1, 2] {
            var c = TokenCache()
            for n in [3, 4] {   // two mini-batches, so chunks straddle them
                c.keys.append(Tensor.randomNormal([n, 12], using: &rng))
                c.valueGradients.append(Tensor.randomNormal([n, 8], using: &rng))
            }
            out[l] = c
        }
        return out
    }

    /// Identity initialisation (B = 0, scale 1, shift 0): the network returns its normalised input exactly.
    func testIdentityAtInitialisation() throws {
        var e = try editor(.malmen)
        let c = caches(seed: 2)[1]!
        e.normalizer.update(concatenate([c.keys[0], c.valueGradients[0]], axis: 1))
        var none: EditorTrace? = nil
        let (pu, pd) = e.pseudo(0, keys: c.keys[1], values: c.valueGradients[1], trace: &none)
        let want = e.normalizer.apply(concatenate([c.keys[1], c.valueGradients[1]], axis: 1))
        XCTAssertEqual(concatenate([pu, pd], axis: 1), want)
    }

    /// The ReLU-derivative-at-zero detail: at initialisation every pre-activation is exactly 0, and B must still get a
    /// gradient (derivative 1 at 0); with a strict ReLU (derivative 0 at 0) it would be exactly zero forever.
    func testIdentityInitialisationStillLearns() throws {
        let e = try editor(.malmen)
        let cs = caches(seed: 3)
        let shifts = try e.shifts(cs)
        var rng = SeededGenerator(seed: 4)
        let g = [1: Tensor.randomNormal([12, 8], using: &rng), 2: Tensor.randomNormal([12, 8], using: &rng)]
        var grads = e.parameters.zeros()
        try e.backward(caches: cs, shifts: shifts, metaGradients: g, into: &grads)
        XCTAssertGreaterThan(grads.b[1].norm(), 0)
        XCTAssertGreaterThan(grads.bias[0].norm(), 0)
    }

    /// The whole chain (normaliser, two blocks, head, and for MALMEN the solve) against central finite differences of
    /// L = Σ_l ⟨G_l, S_l⟩ with respect to a sample of every kind of parameter, for MEND and MALMEN.
    func testBackwardMatchesFiniteDifferences() throws {
        for method in HyperNetworkMethod.allCases {
            var e = try editor(method)
            var rng = SeededGenerator(seed: 9)
            // Move away from the identity so that every path carries gradient and no pre-activation sits at a kink.
            var p = e.parameters
            p.b = p.b.map { Tensor.randomNormal($0.shape, std: 0.3, using: &rng) }
            p.bias = p.bias.map { Tensor.randomNormal($0.shape, std: 0.3, using: &rng) }
            p.scale = p.scale.map { $0 + Tensor.randomNormal($0.shape, std: 0.2, using: &rng) }
            p.shift = p.shift.map { Tensor.randomNormal($0.shape, std: 0.2, using: &rng) }
            p.a = p.a.map { $0 * 0.3 }
            p.logLambda = Tensor([0.2, -0.4])
            e.parameters = p
            let cs = caches(seed: 10)
            for (_, c) in cs { for i in c.keys.indices { e.normalizer.update(concatenate([c.keys[i], c.valueGradients[i]], axis: 1)) } }
            let g = [1: Tensor.randomNormal([12, 8], using: &rng), 2: Tensor.randomNormal([12, 8], using: &rng)]
            func loss(_ q: EditorParameters) -> Double {
                var f = e
                f.parameters = q
                let s = try! f.shifts(cs)
                var total = 0.0
                for l in [1, 2] { for (a, b) in zip(s[l]!.shift.scalars, g[l]!.scalars) { total += Double(a) * Double(b) } }
                return total
            }
            var grads = e.parameters.zeros()
            try e.backward(caches: cs, shifts: try e.shifts(cs), metaGradients: g, into: &grads)
            let flat = e.parameters.flat, gflat = grads.flat
            let names = e.parameters.names
            for k in flat.indices {
                if method == .mend && names[k] == "log_lambda" { XCTAssertEqual(gflat[k].norm(), 0); continue }
                for i in Set([0, flat[k].count / 2, flat[k].count - 1]) {
                    let h: Float = 2e-3   // small enough not to cross a ReLU kink, large enough for Float32 noise
                    var up = flat, down = flat
                    up[k].scalars[i] += h; down[k].scalars[i] -= h
                    var pu = e.parameters, pd = e.parameters
                    pu.flat = up; pd.flat = down
                    let fd = (loss(pu) - loss(pd)) / Double(2 * h)
                    let got = Double(gflat[k].scalars[i])
                    XCTAssertEqual(got, fd, accuracy: 2e-2 * max(1, abs(fd)), "\(method) \(names[k])[\(i)]")
                }
            }
        }
    }

    /// MEND's shift equals the sum of per-token rank-1 shifts −η ũ_j δ̃_jᵀ (spec §8 test f), computed here one token at
    /// a time, and does not depend on the chunk size.
    func testMendShiftIsSumOfRankOneShifts() throws {
        var e = try editor(.mend)
        let cs = caches(seed: 11)
        let s = try e.shifts(cs)[1]!.shift
        var want = Tensor.zeros([12, 8])
        let k = concatenate(cs[1]!.keys, axis: 0), v = concatenate(cs[1]!.valueGradients, axis: 0)
        var none: EditorTrace? = nil
        for j in 0..<k.dim(0) {
            let (pu, pd) = e.pseudo(0, keys: k.rows(j..<(j + 1)), values: v.rows(j..<(j + 1)), trace: &none)
            want += matmul(pu, pd, transposeA: true) * (-e.parameters.eta.scalars[0])
        }
        XCTAssertLessThan((s - want).maxAbs(), 1e-5)
        e.settings.chunkTokens = 100
        XCTAssertLessThan((try e.shifts(cs)[1]!.shift - s).maxAbs(), 1e-5)
    }
}
