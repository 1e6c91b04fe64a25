import XCTest
import EmendCore
@testable import EmendModels

/// The model on the autograd tape: d(mean NLL)/dδ through recorded block and head ops equals central finite
/// differences of the Float64 plain-loop reference (NaiveDecoder64), for every block style.
final class TapeModelTests: XCTestCase {
    func testTape_GradientThroughBlocksMatchesFiniteDifferences() throws {
        for c in [TransformerModelTests.llama, TransformerModelTests.gpt2, TransformerModelTests.gptj] {
            let m = TransformerModel(config: c, weights: .random(c, seed: 13, std: 0.3))
            try Self.assertTapeGradientMatchesReference(m, ids: TransformerModelTests.ids, layer: 0, pos: 3, c.architecture)
        }
    }

    /// dNLL/dδ on the tape, δ added to block `layer`'s output at `pos` and carried through the blocks above, the final
    /// norm and the head, against `NaiveDecoder64.deltaGradient` (Float32 vs Float64: abs 1e-4 + rel 1e-3); then the
    /// same calls without a tape are plain inference.
    static func assertTapeGradientMatchesReference(_ m: TransformerModel, ids: [Int], layer: Int, pos: Int, _ label: String,
                                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let c = m.config, batch = RowBatch([ids])
        var hooks = ForwardHooks(captureBlockOutputs: [layer])
        var none: [KVCache]? = nil
        _ = m.run(m.embed(batch), layers: 0..<(layer + 1), batch: batch, caches: &none, hooks: &hooks)
        let tape = Tape()
        let delta = tape.parameter(Tensor.zeros([c.hiddenSize]), name: "delta")
        let h = Variable(constant: hooks.blockOutputs[layer]!).addingRows(delta, at: [pos])
        let logits = m.logits(m.blocks(h, layers: (layer + 1)..<c.layerCount, batch: batch))
        let loss = crossEntropy(logits: logits, targets: Array(ids.dropFirst()) + [ignoreIndex])
        let grad = try tape.gradients(of: loss).gradient(delta)
        let fd = NaiveDecoder64(c: c, w: m.weights).deltaGradient(ids, layer: layer, pos: pos)
        for (j, want) in fd.enumerated() {
            XCTAssertEqual(Double(grad.scalars[j]), want, accuracy: 1e-4 + 1e-3 * abs(want), "\(label) component \(j)",
                           file: file, line: line)
        }
        let plain = m.logits(m.blocks(Variable(constant: hooks.blockOutputs[layer]!), layers: (layer + 1)..<c.layerCount, batch: batch))
        XCTAssertFalse(plain.requiresGrad, label, file: file, line: line)
    }
}
