import XCTest
import EmendCore
import EmendModels
@testable import EmendEditing

/// The target search on a small random Llama-style model.
final class TargetSearchTests: XCTestCase {
    static let config = ModelConfig.llamaStyle(vocabSize: 29, hiddenSize: 16, intermediateSize: 32, layerCount: 4,
                                               headCount: 4, kvHeadCount: 2, maxPositions: 64)
    /// Random weights, with a larger output head so that a bounded δ can make any token top-1.
    let model: TransformerModel = {
        var w = ModelWeights.random(config, seed: 21, std: 0.25)
        w.tokenEmbedding = WeightMatrix(w.tokenEmbedding.dequantized() * 6)
        return TransformerModel(config: config, weights: w)
    }()

    /// Three requests with different prompt lengths, subject positions and target lengths.
    func prompts() -> [SearchPrompts] {
        func request(_ body: [Int], subjectEnd: Int, target: [Int], contexts: [[Int]]) -> SearchPrompts {
            let plain = body + target.dropLast()
            var rewrite = [plain], lookups = [subjectEnd]
            for ctx in contexts { rewrite.append(ctx + plain); lookups.append(ctx.count + subjectEnd) }
            let kl = Array(body[...subjectEnd]) + [5, 6]
            return SearchPrompts(rewrite: rewrite, rewriteLookup: lookups, kl: kl, klLookup: subjectEnd, target: target)
        }
        let ctx = [[1, 2, 3], [4], [7, 8]]
        return [request([10, 11, 12, 13], subjectEnd: 1, target: [20], contexts: ctx),
                request([14, 15, 16, 17, 18, 19], subjectEnd: 3, target: [21, 22], contexts: ctx),
                request([23, 24, 9], subjectEnd: 0, target: [25, 26, 27], contexts: ctx)]
    }

    /// A Gemma-3-style model (QK-norm, post-norms, GeGLU, sliding window 3 on layers 0–2, layer 3 global): the search
    /// moves the MLP output of its layer before the post-norm.
    static let gemma: TransformerModel = {
        var c = ModelConfig.gemma3Style(vocabSize: 29, hiddenSize: 16, intermediateSize: 32, layerCount: 4, headCount: 4,
                                        kvHeadCount: 2, headDim: 4, maxPositions: 64, slidingWindow: 3)
        c.globalLayerEvery = 4
        var w = ModelWeights.random(c, seed: 23, std: 0.25)
        var rng = SeededGenerator(seed: 24)
        for l in w.blocks.indices { w.blocks[l].ffnPostNorm = Tensor.randomNormal([16], mean: 1, std: 0.3, using: &rng) }
        w.tokenEmbedding = WeightMatrix(w.tokenEmbedding.dequantized() * 2)
        return TransformerModel(config: c, weights: w)
    }()

    /// dL/dδ from the hand-written backward pass equals central differences of the loss (Float32 products, ε = 1e-2),
    /// for the Llama-style model (δ on the block output) and the Gemma-style one (δ on the MLP output, before its norm).
    func testPass_GradientMatchesFiniteDifferences() {
        checkGradient(model)
        checkGradient(Self.gemma)
    }

    func checkGradient(_ model: TransformerModel, file: StaticString = #filePath, line: UInt = #line) {
        let search = TargetSearch(model: model, layer: 1, settings: TargetSearchSettings(precision: .float32))
        let prep = search.prepare(prompts())
        let n = prep.prompts.count, d = model.config.hiddenSize
        let zero = [Tensor](repeating: Tensor.zeros([d]), count: n)
        let p0 = search.pass(prep, active: Array(0..<n), deltas: zero, klInit: [Tensor?](repeating: nil, count: n)) { _ in [] }
        let klInit: [Tensor?] = p0.map { $0.klLogProbs }
        var rng = SeededGenerator(seed: 9)
        let deltas = (0..<n).map { _ in Tensor.randomNormal([d], std: 0.5, using: &rng) }
        let res = search.pass(prep, active: Array(0..<n), deltas: deltas, klInit: klInit) { _ in Set(0..<n) }
        let eps: Float = 1e-2
        for r in 0..<n {
            XCTAssertGreaterThan(res[r].kl, 0)
            for j in 0..<d {
                var up = deltas, down = deltas
                up[r].scalars[j] += eps; down[r].scalars[j] -= eps
                let lu = search.pass(prep, active: Array(0..<n), deltas: up, klInit: klInit) { _ in [] }[r].loss
                let ld = search.pass(prep, active: Array(0..<n), deltas: down, klInit: klInit) { _ in [] }[r].loss
                let fd = (lu - ld) / (2 * eps)
                XCTAssertEqual(res[r].gradient!.scalars[j], fd, accuracy: 2e-3 + 2e-2 * abs(fd),
                               "\(model.config.architecture) request \(r) component \(j)", file: file, line: line)
            }
        }
    }

    /// bfloat16 products (the default where the CPU has them) follow the Float32 search closely: the same steps per
    /// request, and the gradient of the first step within bfloat16's error (relative L2 < 3e-2) of the Float32 one,
    /// which the finite-difference test above checks independently.
    func testRun_BFloat16FollowsFloat32() {
        let settings = TargetSearchSettings(maxSteps: 8, stopping: .mostProbable(extraSteps: 1))
        var f32 = settings, bf16 = settings
        f32.precision = .float32; bf16.precision = .bfloat16
        let all = prompts()
        let a = TargetSearch(model: model, layer: 1, settings: f32), b = TargetSearch(model: model, layer: 1, settings: bf16)
        let (pa, pb) = (a.prepare(all), b.prepare(all))
        let n = all.count, d = Self.config.hiddenSize
        var rng = SeededGenerator(seed: 5)
        let deltas = (0..<n).map { _ in Tensor.randomNormal([d], std: 0.5, using: &rng) }
        let klInit = a.pass(pa, active: Array(0..<n), deltas: deltas, klInit: [Tensor?](repeating: nil, count: n)) { _ in [] }.map { Optional($0.klLogProbs) }
        let ga = a.pass(pa, active: Array(0..<n), deltas: deltas, klInit: klInit) { _ in Set(0..<n) }
        let gb = b.pass(pb, active: Array(0..<n), deltas: deltas, klInit: klInit) { _ in Set(0..<n) }
        for r in 0..<n {
            let diff = (ga[r].gradient! - gb[r].gradient!).norm(), size = ga[r].gradient!.norm()
            XCTAssertLessThan(diff / size, 3e-2, "request \(r): bfloat16 gradient off by \(diff / size)")
            XCTAssertEqual(ga[r].loss, gb[r].loss, accuracy: 2e-2 * max(1, abs(ga[r].loss)), "request \(r) loss")
        }
        XCTAssertEqual(a.run(all).steps, b.run(all).steps)
    }

    /// Requests searched together give the same targets, steps and losses as each searched alone (Float32 products:
    /// in bfloat16, oneDNN's accumulation order depends on the row count, so batching moves results by ~1e-3).
    func testRun_BatchedEqualsOneAtATime() {
        let search = TargetSearch(model: model, layer: 1, settings: TargetSearchSettings(maxSteps: 8, stopping: .mostProbable(extraSteps: 1),
                                                                                   precision: .float32))
        let all = prompts()
        let batched = search.run(all)
        for (i, p) in all.enumerated() {
            let single = search.run([p])
            XCTAssertEqual(batched.steps[i], single.steps[0])
            XCTAssertEqual(batched.mostProbableTrace[i], single.mostProbableTrace[0])
            for (a, b) in zip(batched.targets[i].scalars, single.targets[0].scalars) { XCTAssertEqual(a, b, accuracy: 1e-4) }
            for (a, b) in zip(batched.losses[i], single.losses[0]) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        }
    }

    /// A batch larger than `requestsPerChunk` is searched chunk by chunk (2 + 1 here) and gives the one-chunk result:
    /// requests are independent, so only the peak memory changes.
    func testRun_ChunkedEqualsOneChunk() {
        var search = TargetSearch(model: model, layer: 1, settings: TargetSearchSettings(maxSteps: 8, stopping: .mostProbable(extraSteps: 1),
                                                                                   precision: .float32))
        let whole = search.run(prompts())
        search.requestsPerChunk = 2
        let chunked = search.run(prompts())
        XCTAssertEqual(chunked.targets.shape, whole.targets.shape)
        XCTAssertEqual(chunked.initial.shape, whole.initial.shape)
        XCTAssertEqual(chunked.steps, whole.steps)
        XCTAssertEqual(chunked.forwardPasses, whole.forwardPasses)
        XCTAssertEqual(chunked.mostProbableTrace, whole.mostProbableTrace)
        for (a, b) in zip(chunked.targets.scalars, whole.targets.scalars) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        for (a, b) in zip(chunked.initial.scalars, whole.initial.scalars) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        for (x, y) in zip(chunked.losses, whole.losses) { for (a, b) in zip(x, y) { XCTAssertEqual(a, b, accuracy: 1e-4) } }
    }

    /// MPES stops exactly when the condition has held k+1 times (cumulative, not consecutive), with no step on that
    /// pass; without early stopping the search runs to the cap and the last pass never steps.
    func testRun_MostProbableStopsAfterKPlusOneHits() {
        let all = prompts()
        for k in [0, 1, 3] {
            let s = TargetSearch(model: model, layer: 2, settings: TargetSearchSettings(maxSteps: 40, learningRate: 0.5, clampNormFactor: 4,
                                                                                       stopping: .mostProbable(extraSteps: k)))
            // Prompts that end at the subject, so δ lands on the row that predicts the target.
            let direct = [SearchPrompts(rewrite: [[10, 11], [1, 2, 10, 11], [4, 10, 11]], rewriteLookup: [1, 3, 2], kl: [10, 11, 5], klLookup: 1, target: [20]),
                          SearchPrompts(rewrite: [[14, 15, 16], [7, 14, 15, 16], [1, 14, 15, 16]], rewriteLookup: [2, 3, 3], kl: [14, 15, 16, 6], klLookup: 2, target: [21]),
                          SearchPrompts(rewrite: [[23, 24, 25], [8, 23, 24, 25]], rewriteLookup: [1, 2], kl: [23, 24, 5], klLookup: 1, target: [25, 26])]
            let res = s.run(direct)
            for r in direct.indices {
                let trace = res.mostProbableTrace[r]
                var hits = 0, expectedPasses: Int? = nil
                for (i, t) in trace.enumerated() where t { hits += 1; if hits == k + 1 { expectedPasses = i + 1; break } }
                let lossStop = res.losses[r].firstIndex { $0 < 5e-2 }.map { $0 + 1 }
                let want = [expectedPasses, lossStop, 40].compactMap { $0 }.min()!
                XCTAssertEqual(res.forwardPasses[r], want, "k \(k) request \(r) trace \(trace)")
                XCTAssertEqual(res.steps[r], res.forwardPasses[r] - 1)
                if r < 2 { XCTAssertNotNil(expectedPasses, "k \(k) request \(r): the target never became top-1; losses \(res.losses[r])") }
            }
        }
        let fixed = TargetSearch(model: model, layer: 2, settings: TargetSearchSettings(maxSteps: 6)).run(all)
        for r in all.indices where (fixed.losses[r].min() ?? 1) >= 5e-2 {
            XCTAssertEqual(fixed.forwardPasses[r], 6); XCTAssertEqual(fixed.steps[r], 5)
        }
    }

    /// The clamp keeps ‖δ‖ ≤ clampNormFactor·‖h0‖.
    func testRun_ClampBoundsDelta() {
        let s = TargetSearch(model: model, layer: 1, settings: TargetSearchSettings(maxSteps: 10, learningRate: 5, clampNormFactor: 0.1))
        let res = s.run(prompts())
        for r in 0..<3 {
            let delta = (res.targets[r] - res.initial[r]).norm()
            XCTAssertLessThanOrEqual(delta, 0.1 * res.initial[r].norm() * 1.0001)
        }
    }

    /// With an MLP post-norm, the search's z is residual + n(u0 + δ): a block output the down-projection can reach.
    /// Independent check: the residual comes from a plain forward pass (not the search), and z − residual is n of
    /// the MLP output that `mlpOutputs` finds for it, which holds only for branch values n can produce.
    func testRun_PostNormTargetsAreReachable() {
        let m = Self.gemma, layer = 1
        let s = TargetSearch(model: m, layer: layer, settings: TargetSearchSettings(maxSteps: 6, learningRate: 0.5, precision: .float32))
        let ps = prompts()
        let res = s.run(ps)
        var hooks = ForwardHooks(captureMLPOutputs: [layer])
        var none: [KVCache]? = nil
        let plain = ps.map { Array($0.rewrite[0][...$0.rewriteLookup[0]]) }
        let batch = RowBatch(plain)
        _ = m.run(m.embed(batch), layers: 0..<(layer + 1), batch: batch, caches: &none, hooks: &hooks)
        let last = plain.indices.map { batch.row($0, plain[$0].count - 1) }
        let residual = hooks.mlpOutputs[layer]!.residual.gatherRows(last), u0 = hooks.mlpOutputs[layer]!.output.gatherRows(last)
        for r in 0..<3 {
            XCTAssertGreaterThan((res.targets[r] - res.initial[r]).norm(), 1e-3, "the search moved request \(r)")
            let branch = res.targets.rows(r..<(r + 1)) - residual.rows(r..<(r + 1))
            let u = m.mlpOutputs(layer, reaching: branch, from: u0.rows(r..<(r + 1)))
            XCTAssertLessThan((m.mlpBranch(layer, u) - branch).maxAbs(), 1e-4 * max(1, branch.maxAbs()), "request \(r)")
        }
    }
}
