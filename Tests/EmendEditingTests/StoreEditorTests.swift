import EmendCore
@testable import EmendEditing
import EmendModelTestSupport
import EmendModels
import EmendTestSupport
import XCTest

/// The locate-then-edit editor through the store on the tiny model, in process: the store's snapshot equals the
/// editor's own weights and state after every batch; after a rollback to k, an editor resumed from the store and
/// given batches k+1…n ends bit-identical to the uninterrupted editor; the exported GGUF reloads to those weights.
final class StoreEditorTests: XCTestCase {
    func testStoreEditor_RollbackAndResumeReproduceTheUninterruptedEditor() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-store-editor-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try TinyModelFile.writeFixture(in: dir, requestCount: 12)
        let modelURL = dir.appendingPathComponent("tiny.gguf")
        let loaded = try LoadedModel.load(modelURL.path)
        let preset = try EditPreset.load(dir.appendingPathComponent("tiny-preset.json"))
        let corpus = try Corpus.load(dir.appendingPathComponent("corpus.json"))
        let stats = try LayerStatistics.compute(model: loaded.model, tokenizer: loaded.tokenizer, layers: preset.layers,
                                                texts: corpus.sample(preset.statistics.sampleCount, seed: 1), maxTokens: 48)
        let contexts = ContextTemplates.generate(model: loaded.model, tokenizer: loaded.tokenizer, settings: preset.contexts)
        let fresh = try LocateThenEditor(model: loaded.model, tokenizer: loaded.tokenizer, preset: preset,
                                         statistics: Dictionary(uniqueKeysWithValues: stats.map { ($0.layer, $0.c0) }), contexts: contexts)
        let requests = try EditRequest.load(from: dir.appendingPathComponent("requests.json"))
        let batches = stride(from: 0, to: requests.count, by: 2).map { Array(requests[$0..<($0 + 2)]) }   // 6 batches

        let store = try EditStore.create(at: dir.appendingPathComponent("store"), baseModel: modelURL, checkpointEvery: 4)
        var editor = fresh
        var snap = StoreSnapshot(version: 0)
        for b in batches {
            snap = try store.commit(try editor.applyForStore(b), after: snap)
            for l in preset.layers {
                XCTAssertEqual(snap.weights[EditStore.weightName(layer: l, role: .ffnDown)], editor.model.weights.blocks[l].ffnDown.dequantized())
                XCTAssertEqual(snap.states[l], editor.states[l])
            }
        }
        let final = try store.snapshot()
        XCTAssertEqual(final, snap)

        try store.rollback(to: 2)
        var resumed = try fresh.resumed(at: try store.snapshot())
        var again = try store.snapshot()
        for b in batches[2...] { again = try store.commit(try resumed.applyForStore(b), after: again) }
        XCTAssertEqual(again.weightsChecksum, final.weightsChecksum, "weights, bit for bit")
        XCTAssertEqual(again.stateChecksum, final.stateChecksum, "state, bit for bit")
        for l in preset.layers { XCTAssertEqual(resumed.model.weights.blocks[l].ffnDown, editor.model.weights.blocks[l].ffnDown) }
        XCTAssertTrue(try store.verify(baseModel: modelURL).ok)

        let out = dir.appendingPathComponent("edited.gguf")
        try store.export(base: loaded.model, to: out, format: .gguf, dtype: .f32)   // F32: the weights must read back bit for bit
        let reloaded = try TransformerModel.load(.gguf(out))
        for l in preset.layers { XCTAssertEqual(reloaded.weights.blocks[l].ffnDown, editor.model.weights.blocks[l].ffnDown) }
        XCTAssertEqual(reloaded.weights.blocks[0].ffnDown, loaded.model.weights.blocks[0].ffnDown, "unedited layer untouched")
    }
}
