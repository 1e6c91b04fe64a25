// Layer statistics C0: the uncentred second moment of the MLP down-projection inputs (the keys) over a text
// corpus, C0 = Σ k kᵀ / (number of tokens), one [F, F] matrix per edited layer (locate-then-edit spec §1.5).
// Every non-padding token of every document counts; documents are truncated to `maxTokens`. The forward pass
// stops at the highest layer asked for. Accumulated in Float64; cached on disk, keyed by the model's
// fingerprint, the layer, the corpus checksum, the sample count and the truncation length.

import EmendCore
import EmendModels
import Foundation

/// Which texts, how many, how long.
public struct StatisticsSettings: Sendable, Equatable, Codable {
    /// Documents drawn from the corpus (MEMIT: `mom2_n_samples`).
    public var sampleCount: Int = 2_000
    /// Tokens kept per document.
    public var maxTokens: Int = 512
    /// The shuffle that picks the documents.
    public var seed: UInt64 = 1
    public init(sampleCount: Int = 2_000, maxTokens: Int = 512, seed: UInt64 = 1) {
        self.sampleCount = sampleCount; self.maxTokens = maxTokens; self.seed = seed
    }
}

/// C0 of one layer and how it was made.
public struct LayerSecondMoment: Sendable {
    public var layer: Int
    /// Σ k kᵀ / tokenCount: [F, F]
    public var c0: Matrix64
    public var tokenCount: Int
}

public enum LayerStatistics {
    /// Computes C0 for `layers` over `texts` (each tokenised and truncated to `maxTokens`).
    /// - progress: called with (documents done, documents total).
    public static func compute(model: TransformerModel, tokenizer: any Tokenizer, layers: [Int], texts: [String],
                               maxTokens: Int, progress: (Int, Int) -> Void = { _, _ in }) throws -> [LayerSecondMoment] {
        let c = model.config
        for l in layers where l < 0 || l >= c.layerCount { throw EmendEditingError.layerOutOfRange(layer: l, layerCount: c.layerCount) }
        guard let top = layers.max() else { return [] }
        var sums = Dictionary(uniqueKeysWithValues: layers.map { ($0, Matrix64.zeros(c.intermediateSize, c.intermediateSize)) })
        var tokens = 0
        // Documents in batches of about 4k tokens: one ragged forward pass each.
        var pending: [[Int]] = []
        var pendingTokens = 0
        var done = 0
        func flush() throws {
            if pending.isEmpty { return }
            var hooks = ForwardHooks(captureKeys: Set(layers))
            var none: [KVCache]? = nil
            let batch = RowBatch(pending)
            _ = model.run(model.embed(batch), layers: 0..<(top + 1), batch: batch, caches: &none, hooks: &hooks)
            for l in layers { try gramAccumulate(hooks.keys[l]!, into: &sums[l]!) }
            tokens += batch.rowCount
            done += pending.count
            progress(done, texts.count)
            pending = []; pendingTokens = 0
        }
        for text in texts {
            let plain = tokenizer.encode(text, parseSpecial: false)
            if plain.isEmpty { done += 1; continue }
            // As the model reads text: BOS first when it wants one.
            let ids = Array(tokenizer.withBOS(plain).prefix(min(maxTokens, c.maxPositions)))
            pending.append(ids); pendingTokens += ids.count
            if pendingTokens >= 4_096 { try flush() }
        }
        try flush()
        guard tokens > 0 else {
            throw EmendEditingError.invalidSettings(field: "statistics corpus", expected: "at least one token", got: "0 tokens")
        }
        return layers.map { LayerSecondMoment(layer: $0, c0: sums[$0]! * (1 / Double(tokens)), tokenCount: tokens) }
    }
}

// MARK: - Disk cache

/// C0 files: "EMC0" magic, UInt32 version, UInt32 JSON length, JSON key, then F·F little-endian Float64.
public struct StatisticsCache: Sendable {
    public var directory: URL

    public init(directory: URL = EmendPaths.cache.appendingPathComponent("stats")) { self.directory = directory }

    struct Key: Codable, Equatable {
        var model: String, layer: Int, corpus: String, samples: Int, maxTokens: Int, seed: UInt64, width: Int, tokens: Int?
    }

    func url(_ k: Key) -> URL {
        directory.appendingPathComponent(k.model).appendingPathComponent(
            "layer\(k.layer)-\(k.corpus)-n\(k.samples)-t\(k.maxTokens)-s\(k.seed).c0")
    }

    /// Loads C0 for `layer`, or nil when absent or made with other settings (a damaged file is ignored).
    func load(_ key: Key) -> LayerSecondMoment? {
        guard let data = try? Data(contentsOf: url(key)), data.count > 12,
              data.prefix(4) == Data("EMC0".utf8) else { return nil }
        let jsonLen = Int(data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self) })
        guard data.count >= 12 + jsonLen,
              var stored = try? JSONDecoder().decode(Key.self, from: data.subdata(in: 12..<(12 + jsonLen))),
              let tokens = stored.tokens else { return nil }
        stored.tokens = nil
        var want = key; want.tokens = nil
        let f = key.width
        guard stored == want, data.count == 12 + jsonLen + f * f * 8 else { return nil }
        var values = [Double](repeating: 0, count: f * f)
        _ = values.withUnsafeMutableBytes { data.copyBytes(to: $0, from: (12 + jsonLen)..<data.count) }
        guard values.allSatisfy(\.isFinite), let m = try? Matrix64(rows: f, cols: f, scalars: values) else { return nil }
        return LayerSecondMoment(layer: key.layer, c0: m, tokenCount: tokens)
    }

    func store(_ s: LayerSecondMoment, key: Key) throws {
        var k = key; k.tokens = s.tokenCount
        let json = try JSONEncoder().encode(k)
        var data = Data("EMC0".utf8)
        withUnsafeBytes(of: UInt32(1).littleEndian) { data.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        s.c0.scalars.withUnsafeBytes { data.append(contentsOf: $0) }
        try writeAtomically(data, to: url(key))
    }

    /// C0 for every layer, from the cache where present, computing (and storing) the rest in one pass.
    public func secondMoments(model: TransformerModel, modelFingerprint: String, tokenizer: any Tokenizer, layers: [Int],
                              corpus: Corpus, settings: StatisticsSettings,
                              progress: (Int, Int) -> Void = { _, _ in }) throws -> [Int: LayerSecondMoment] {
        let corpusSum = corpus.checksum
        func key(_ l: Int) -> Key {
            Key(model: modelFingerprint, layer: l, corpus: corpusSum, samples: settings.sampleCount, maxTokens: settings.maxTokens,
                seed: settings.seed, width: model.config.intermediateSize, tokens: nil)
        }
        var out: [Int: LayerSecondMoment] = [:]
        for l in layers { if let s = load(key(l)) { out[l] = s } }
        let missing = layers.filter { out[$0] == nil }
        if !missing.isEmpty {
            let texts = corpus.sample(settings.sampleCount, seed: settings.seed)
            for s in try LayerStatistics.compute(model: model, tokenizer: tokenizer, layers: missing, texts: texts,
                                                 maxTokens: settings.maxTokens, progress: progress) {
                try store(s, key: key(s.layer))
                out[s.layer] = s
            }
        }
        return out
    }
}
