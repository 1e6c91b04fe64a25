import XCTest
import EmendCore
@testable import EmendModels

/// The model on the autograd tape: d(mean NLL)/dδ through recorded block and head ops equals central finite
/// differences of the Float64 plain-loop reference (NaiveDecoder64), for both block styles.
final class TapeModelTests: XCTestCase {
    func testTape_GradientThroughBlocksMatchesFiniteDifferences() throws {
        for c in [TransformerModelTests.llama, TransformerModelTests.gpt2] {
            let m = TransformerModel(config: c, weights: .random(c, seed: 13, std: 0.3))
            let ids = TransformerModelTests.ids, layer = 0, pos = 3
            let batch = RowBatch([ids])
            var hooks = ForwardHooks(captureBlockOutputs: [layer])
            var none: [KVCache]? = nil
            _ = m.run(m.embed(batch), layers: 0..<(layer + 1), batch: batch, caches: &none, hooks: &hooks)
            let tape = Tape()
            let delta = tape.parameter(Tensor.zeros([c.hiddenSize]), name: "delta")
            let h = Variable(constant: hooks.blockOutputs[layer]!).addingRows(delta, at: [pos])
            let logits = m.logits(m.blocks(h, layers: (layer + 1)..<c.layerCount, batch: batch))
            let targets = Array(ids.dropFirst()) + [ignoreIndex]
            let loss = crossEntropy(logits: logits, targets: targets)
            let grad = try tape.gradients(of: loss).gradient(delta)
            let ref = NaiveDecoder64(c: c, w: m.weights)
            let eps = 1e-5
            for j in 0..<c.hiddenSize {
                var e = [Double](repeating: 0, count: c.hiddenSize); e[j] = eps
                let up = ref.meanNLL(ids, delta: (layer, pos, e))
                e[j] = -eps
                let fd = (up - ref.meanNLL(ids, delta: (layer, pos, e))) / (2 * eps)
                XCTAssertEqual(Double(grad.scalars[j]), fd, accuracy: 1e-4 + 1e-3 * abs(fd), "\(c.architecture) component \(j)")
            }
            // Without a tape the same calls are plain inference.
            let plain = m.logits(m.blocks(Variable(constant: hooks.blockOutputs[layer]!), layers: (layer + 1)..<c.layerCount, batch: batch))
            XCTAssertFalse(plain.requiresGrad)
        }
    }
}
