import EmendCore
@testable import EmendEditing
import EmendModelTestSupport
import EmendModels
import EmendTestSupport
import XCTest

/// MALMEN (an untrained, identity-initialised editor: its shifts are the regularised least-squares solve of the raw
/// value gradients, so they are non-zero) and the fine-tuning baseline through the store on the tiny model: after
/// every batch the store's snapshot equals the editor's model; rollback to k then batches k+1…n give the same
/// checksum as the uninterrupted run; verify passes.
final class StoreHyperNetworkTests: XCTestCase {
    func testMALMENAndFineTuneThroughTheStore_RollbackReproduces() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-store-hn-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try TinyModelFile.writeFixture(in: dir, requestCount: 6)
        let modelURL = dir.appendingPathComponent("tiny.gguf")
        let loaded = try LoadedModel.load(modelURL.path)
        let requests = try EditRequest.load(from: dir.appendingPathComponent("requests.json"))
        let batches = stride(from: 0, to: requests.count, by: 2).map { Array(requests[$0..<($0 + 2)]) }   // 3 batches
        let settings = try HyperNetworkSettings.defaults(for: loaded.model, method: .malmen)
        let malmen = try HyperNetworkEditor(settings: settings, model: loaded.model)

        for useFineTune in [false, true] {
            let store = try EditStore.create(at: dir.appendingPathComponent("store-\(useFineTune)"), baseModel: modelURL, checkpointEvery: 2)
            func step(_ model: TransformerModel, _ b: [EditRequest]) throws -> (model: TransformerModel, batch: StoreBatch) {
                useFineTune
                    ? try FineTuneEditor.editForStore(model, requests: b, tokenizer: loaded.tokenizer, settings: FineTuneSettings(layers: settings.layers))
                    : try malmen.editForStore(model, requests: b, tokenizer: loaded.tokenizer, editorChecksum: "test")
            }
            var model = loaded.model
            var snap = StoreSnapshot(version: 0)
            for b in batches {
                let (edited, batch) = try step(model, b)
                snap = try store.commit(batch, after: snap)
                model = edited
                for l in settings.layers {
                    XCTAssertEqual(snap.weights[EditStore.weightName(layer: l, role: .ffnDown)], model.weights.blocks[l].ffnDown.dequantized())
                }
            }
            let l = settings.layers[settings.layers.count - 1]
            XCTAssertNotEqual(model.weights.blocks[l].ffnDown, loaded.model.weights.blocks[l].ffnDown, "the edits changed the weights")
            XCTAssertTrue(snap.states.isEmpty, "no sequential state for these editors")
            let final = try store.snapshot()

            try store.rollback(to: 1)
            var again = try store.snapshot()
            var m = try again.applied(to: loaded.model)
            for b in batches[1...] {
                let (edited, batch) = try step(m, b)
                again = try store.commit(batch, after: again)
                m = edited
            }
            XCTAssertEqual(again.weightsChecksum, final.weightsChecksum, "rollback then redo: same weights, bit for bit")
            XCTAssertTrue(try store.verify(baseModel: modelURL).ok)
            XCTAssertEqual(try store.batches().last?.method, useFineTune ? "ft" : "malmen")
        }
    }
}
