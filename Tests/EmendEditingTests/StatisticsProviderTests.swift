import EmendCore
@testable import EmendEditing
import EmendModelTestSupport
import EmendModels
import EmendTestSupport
import XCTest

/// C0 on demand from the statistics cache against C0 held in memory, on the tiny model: statistics collected one
/// layer per pass equal those of one pass bit for bit, and an editor reading C0 from disk at each solve makes the
/// same edit, bit for bit, as one given the dictionary.
final class StatisticsProviderTests: XCTestCase {
    func testCachedProvider_SameEditAsInMemoryStatistics() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-stats-provider-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try TinyModelFile.writeFixture(in: dir, requestCount: 4)
        let loaded = try LoadedModel.load(dir.appendingPathComponent("tiny.gguf").path)
        let preset = try EditPreset.load(dir.appendingPathComponent("tiny-preset.json"))
        let corpus = try Corpus.load(dir.appendingPathComponent("corpus.json"))
        let settings = preset.statistics
        // The truth: one pass over the corpus with every layer's sum held at once (the code before passes existed).
        let stats = try LayerStatistics.compute(model: loaded.model, tokenizer: loaded.tokenizer, layers: preset.layers,
                                                texts: corpus.sample(settings.sampleCount, seed: settings.seed), maxTokens: settings.maxTokens)
        // A budget below one [F, F] sum: one layer per pass, each written to the cache as its pass ends.
        var passes = 0
        let cached = try StatisticsCache(directory: dir.appendingPathComponent("stats")).prepare(
            model: loaded.model, modelFingerprint: "tiny", tokenizer: loaded.tokenizer, layers: preset.layers, corpus: corpus,
            settings: settings, budget: 1) { done, total in if done == total { passes += 1 } }
        XCTAssertEqual(passes, 1, "progress reaches its total once, at the end of the last pass")
        for s in stats {
            let read = try cached.secondMoment(s.layer)
            XCTAssertEqual(read.c0, s.c0, "layer \(s.layer): C0 from its own pass and the disk, bit for bit")
            XCTAssertEqual(read.tokenCount, s.tokenCount)
        }

        let contexts = ContextTemplates.generate(model: loaded.model, tokenizer: loaded.tokenizer, settings: preset.contexts)
        var inMemory = try LocateThenEditor(model: loaded.model, tokenizer: loaded.tokenizer, preset: preset,
                                            statistics: Dictionary(uniqueKeysWithValues: stats.map { ($0.layer, $0.c0) }), contexts: contexts)
        var onDemand = try LocateThenEditor(model: loaded.model, tokenizer: loaded.tokenizer, preset: preset,
                                            statistics: cached.provider, contexts: contexts)
        XCTAssertNil(onDemand.statistics.resident)
        let requests = try EditRequest.load(from: dir.appendingPathComponent("requests.json"))
        for batch in [Array(requests[0..<2]), Array(requests[2...])] {
            _ = try inMemory.apply(batch)
            _ = try onDemand.apply(batch)
        }
        for l in preset.layers {
            XCTAssertEqual(onDemand.model.weights.blocks[l].ffnDown, inMemory.model.weights.blocks[l].ffnDown, "layer \(l)")
            XCTAssertEqual(onDemand.states[l], inMemory.states[l])
        }
        // A C0 file that has gone since `prepare` fails the batch by name and changes nothing.
        try FileManager.default.removeItem(at: dir.appendingPathComponent("stats"))
        let before = onDemand.model.weights.blocks[preset.layers[0]].ffnDown
        XCTAssertThrowsError(try onDemand.apply(Array(requests[0..<1]))) { XCTAssertTrue("\($0)".contains("cached statistics"), "\($0)") }
        XCTAssertEqual(onDemand.model.weights.blocks[preset.layers[0]].ffnDown, before)
    }
}
