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
    /// Bytes of [F, F] Float64 sums one pass over the corpus may hold (4 GiB: two layers of Llama-3-8B, F = 14,336);
    /// more layers are collected in several passes.
    public static let accumulatorBudget = 4 << 30

    /// Computes C0 for `layers` over `texts` (each tokenised and truncated to `maxTokens`), all in one pass.
    /// - progress: called with (documents done, documents total).
    public static func compute(model: TransformerModel, tokenizer: any Tokenizer, layers: [Int], texts: [String],
                               maxTokens: Int, progress: (Int, Int) -> Void = { _, _ in }) throws -> [LayerSecondMoment] {
        var out: [LayerSecondMoment] = []
        try compute(model: model, tokenizer: tokenizer, layers: layers, texts: texts, maxTokens: maxTokens, budget: Int.max,
                    progress: progress) { out.append($0) }
        return out
    }

    /// Computes C0 for `layers` over `texts` in passes of as many layers as `budget` bytes of [F, F] Float64 sums
    /// allow (at least one), handing each layer's C0 to `emit` when its pass ends, so that only one pass's sums are
    /// held. A layer's C0 is the same bit for bit whichever pass computes it: the documents, their batches and the
    /// order of the sums do not depend on the other layers.
    /// - progress: called with (documents done, documents total) counted over all passes.
    public static func compute(model: TransformerModel, tokenizer: any Tokenizer, layers: [Int], texts: [String],
                               maxTokens: Int, budget: Int, progress: (Int, Int) -> Void = { _, _ in },
                               emit: (LayerSecondMoment) throws -> Void) throws {
        let c = model.config
        for l in layers where l < 0 || l >= c.layerCount { throw EmendEditingError.layerOutOfRange(layer: l, layerCount: c.layerCount) }
        let perPass = max(1, budget / max(1, 8 * c.intermediateSize * c.intermediateSize))
        let passes = stride(from: 0, to: layers.count, by: perPass).map { Array(layers[$0..<min($0 + perPass, layers.count)]) }
        for (i, group) in passes.enumerated() {
            let base = i * texts.count, total = passes.count * texts.count
            var sums: [Int: Matrix64] = [:]
            let tokens = try sumPass(model: model, tokenizer: tokenizer, layers: group, texts: texts, maxTokens: maxTokens,
                                     into: &sums) { progress(base + $0, total) }
            for l in group {
                var c0 = sums.removeValue(forKey: l)!       // the only reference: scaled in its own buffer
                c0 *= 1 / Double(tokens)
                try emit(LayerSecondMoment(layer: l, c0: c0, tokenCount: tokens))
            }
        }
    }

    /// One pass over `texts`: Σ k kᵀ per layer in `layers` into `sums` ([F, F] each); returns the number of tokens.
    /// - progress: called with the documents done.
    static func sumPass(model: TransformerModel, tokenizer: any Tokenizer, layers: [Int], texts: [String], maxTokens: Int,
                        into sums: inout [Int: Matrix64], progress: (Int) -> Void) throws -> Int {
        let c = model.config
        guard let top = layers.max() else { return 0 }
        sums = Dictionary(uniqueKeysWithValues: layers.map { ($0, Matrix64.zeros(c.intermediateSize, c.intermediateSize)) })
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
            progress(done)
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
        return tokens
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

    /// Loads C0 for `layer`, or nil when absent or made with other settings (a damaged file is ignored). Reads the
    /// matrix straight into its own buffer (no second F×F copy).
    func load(_ key: Key) -> LayerSecondMoment? {
        guard let fh = FileHandle(forReadingAtPath: url(key).path) else { return nil }
        defer { try? fh.close() }
        guard let tokens = header(fh, key) else { return nil }
        let f = key.width
        var values = [Double](repeating: 0, count: f * f)
        let complete = values.withUnsafeMutableBytes { readFully(fh.fileDescriptor, into: $0) }
        guard complete, values.allSatisfy(\.isFinite), let m = try? Matrix64(rows: f, cols: f, scalars: values) else { return nil }
        return LayerSecondMoment(layer: key.layer, c0: m, tokenCount: tokens)
    }

    /// Whether a usable file for `key` is there (read in full and released: a damaged file is recomputed, as before).
    func isStored(_ key: Key) -> Bool { load(key) != nil }

    /// Reads the header of an open C0 file and leaves it at the matrix: the token count, or nil when the file was
    /// made with other settings or has the wrong size.
    private func header(_ fh: FileHandle, _ key: Key) -> Int? {
        guard let head = try? fh.read(upToCount: 12), head.count == 12, head.prefix(4) == Data("EMC0".utf8) else { return nil }
        let jsonLen = Int(head.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self) })
        guard let json = try? fh.read(upToCount: jsonLen), json.count == jsonLen,
              var stored = try? JSONDecoder().decode(Key.self, from: json), let tokens = stored.tokens else { return nil }
        stored.tokens = nil
        var want = key; want.tokens = nil
        let f = key.width
        guard stored == want, let size = try? fh.seekToEnd(), size == UInt64(12 + jsonLen + f * f * 8),
              (try? fh.seek(toOffset: UInt64(12 + jsonLen))) != nil else { return nil }
        return tokens
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

    /// C0 for every layer, from the cache where present, computing (and storing) the rest; all held in memory.
    public func secondMoments(model: TransformerModel, modelFingerprint: String, tokenizer: any Tokenizer, layers: [Int],
                              corpus: Corpus, settings: StatisticsSettings,
                              progress: (Int, Int) -> Void = { _, _ in }) throws -> [Int: LayerSecondMoment] {
        let cached = try prepare(model: model, modelFingerprint: modelFingerprint, tokenizer: tokenizer, layers: layers,
                                 corpus: corpus, settings: settings, progress: progress)
        return Dictionary(uniqueKeysWithValues: try layers.map { ($0, try cached.secondMoment($0)) })
    }

    /// Makes sure C0 of every layer is on disk: the missing ones are computed, as many layers per pass over the
    /// corpus as `budget` bytes of Float64 sums allow (`LayerStatistics.accumulatorBudget`), and each stored as its
    /// pass ends. Holds no C0 afterwards: the result reads them back one at a time.
    public func prepare(model: TransformerModel, modelFingerprint: String, tokenizer: any Tokenizer, layers: [Int],
                        corpus: Corpus, settings: StatisticsSettings, budget: Int = LayerStatistics.accumulatorBudget,
                        progress: (Int, Int) -> Void = { _, _ in }) throws -> CachedStatistics {
        let corpusSum = corpus.checksum
        let keys = Dictionary(uniqueKeysWithValues: layers.map { l in
            (l, Key(model: modelFingerprint, layer: l, corpus: corpusSum, samples: settings.sampleCount, maxTokens: settings.maxTokens,
                    seed: settings.seed, width: model.config.intermediateSize, tokens: nil))
        })
        let missing = layers.filter { !isStored(keys[$0]!) }
        if !missing.isEmpty {
            let texts = corpus.sample(settings.sampleCount, seed: settings.seed)
            try LayerStatistics.compute(model: model, tokenizer: tokenizer, layers: missing, texts: texts, maxTokens: settings.maxTokens,
                                        budget: budget, progress: progress) { try store($0, key: keys[$0.layer]!) }
        }
        return CachedStatistics(cache: self, keys: keys)
    }
}

/// C0 files of one model, corpus and settings, all on disk (`StatisticsCache.prepare`).
public struct CachedStatistics: Sendable {
    public let cache: StatisticsCache
    let keys: [Int: StatisticsCache.Key]

    /// The layers, ascending.
    public var layers: [Int] { keys.keys.sorted() }

    /// C0 of `layer` and its token count, read from disk.
    /// - Throws: `statisticsMismatch` when the file has gone or changed since `prepare`.
    public func secondMoment(_ layer: Int) throws -> LayerSecondMoment {
        guard let key = keys[layer] else {
            throw EmendEditingError.invalidSettings(field: "statistics layer", expected: "one of \(layers)", got: "\(layer)")
        }
        guard let s = cache.load(key) else {
            throw EmendEditingError.statisticsMismatch(file: cache.url(key).path, reason: "missing or damaged since it was prepared")
        }
        return s
    }

    /// C0 read from disk when a layer is solved, and released after.
    public var provider: StatisticsProvider {
        StatisticsProvider(layers: layers) { try secondMoment($0).c0 }
    }
}

/// Reads `buffer.count` bytes from `fd` into `buffer`; false on an error or an early end of file.
private func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
    guard let base = buffer.baseAddress else { return true }
    var done = 0
    while done < buffer.count {
        let n = read(fd, base + done, buffer.count - done)
        if n < 0, errno == EINTR { continue }
        if n <= 0 { return false }
        done += n
    }
    return true
}
