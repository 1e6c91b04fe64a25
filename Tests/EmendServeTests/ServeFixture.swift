// The serve tests' fixture: a tiny random-weight Llama-style model (hidden 64, 4 layers, F32) with the default
// model's real tokenizer and chat template copied from its GGUF metadata, a small ENCORE preset, a corpus, an edit
// store bound to the model, and a keys file with one key per scope. (The edit store's tests have their own copy of
// the tiny model writer in their bundle; the chat template is kept here because the chat endpoint needs one.)

import EmendCore
import EmendEditing
import EmendModels
@testable import EmendServe
import EmendTestSupport
import Foundation
import XCTest

struct ServeFixture {
    let dir: URL
    var model: URL { dir.appendingPathComponent("tiny.gguf") }
    var preset: URL { dir.appendingPathComponent("tiny-preset.json") }
    var corpus: URL { dir.appendingPathComponent("corpus.json") }
    var store: URL { dir.appendingPathComponent("store") }
    var keysFile: URL { dir.appendingPathComponent("keys.txt") }
    /// One key per scope, as `emend serve keys add` made them.
    var keys: [KeyScope: String] = [:]

    /// Writes everything into a new temporary folder; throws XCTSkip without the default model (its tokenizer).
    static func make(_ name: String) throws -> ServeFixture {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-serve-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var f = ServeFixture(dir: dir)
        try writeModel(to: f.model)
        try Data(presetJSON.utf8).write(to: f.preset)
        try Data(corpusJSON.utf8).write(to: f.corpus)
        try EditStore.create(at: f.store, baseModel: f.model, checkpointEvery: 3)
        for scope in KeyScope.allCases { f.keys[scope] = try APIKeyring.addKey(to: f.keysFile, scope: scope, name: "\(scope.rawValue)-key") }
        return f
    }

    func remove() { try? FileManager.default.removeItem(at: dir) }

    /// A server configuration for this fixture (any free port, batches of `maxBatch`, short waits).
    func configuration(maxBatch: Int = 2, maxWait: Double = 0.2) -> ServeConfiguration {
        var c = ServeConfiguration(store: store, keys: keysFile)
        c.model = model.path
        c.port = 0
        c.writer.preset = preset.path
        c.writer.corpus = corpus
        c.writer.maxBatch = maxBatch
        c.writer.maxWait = maxWait
        c.generationThreads = 2
        c.maxCompletionTokens = 64
        return c
    }

    /// `count` edit requests on distinct subjects (so no duplicates), in the MEMIT form.
    static func requests(_ count: Int, from start: Int = 0) -> [[String: Any]] {
        let cities = ["Paris", "Rome", "Berlin", "Madrid", "Vienna", "Prague", "Lisbon", "Dublin", "Oslo", "Warsaw"]
        return (start..<(start + count)).map { i in
            ["case_id": i, "requested_rewrite": ["prompt": "{} is located in", "subject": "Landmark \(i)",
                                                 "target_new": ["str": cities[i % cities.count]], "target_true": ["str": "Nowhere"]]]
        }
    }

    static let hidden = 64, layers = 4, ffn = 128, heads = 4, kvHeads = 2

    static func writeModel(to url: URL, seed: UInt64 = 7) throws {
        let tokenizer = TestPaths.defaultModel
        guard TestPaths.exists(tokenizer) else { throw XCTSkip("\(tokenizer.path) not installed (run make setup): its tokenizer is needed") }
        let source = try GGUFFile(url: tokenizer)
        var metadata: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string("llama")), ("general.name", .string("emend-serve-test")),
            ("llama.block_count", .uint32(UInt32(layers))), ("llama.context_length", .uint32(256)),
            ("llama.embedding_length", .uint32(UInt32(hidden))), ("llama.feed_forward_length", .uint32(UInt32(ffn))),
            ("llama.attention.head_count", .uint32(UInt32(heads))), ("llama.attention.head_count_kv", .uint32(UInt32(kvHeads))),
            ("llama.rope.freq_base", .float32(10_000)), ("llama.attention.layer_norm_rms_epsilon", .float32(1e-5)),
        ]
        for key in source.metadataKeys where key.hasPrefix("tokenizer.") {
            if let v = source.metadata[key] { metadata.append((key, v)) }
        }
        guard let vocab = source.metadata["tokenizer.ggml.tokens"]?.array?.count else { throw XCTSkip("default model has no tokenizer.ggml.tokens") }
        var rng = SeededGenerator(seed: seed)
        func tensor(_ name: String, _ shape: [Int], scale: Float?) -> GGUFWriter.TensorData {
            let values = (0..<shape.reduce(1, *)).map { _ in scale.map { rng.nextNormal() * $0 } ?? 1 }
            return GGUFWriter.TensorData(name: name, dims: shape.reversed(), type: .f32, bytes: GGUFWriter.encode(values, as: .f32))
        }
        let dh = hidden / heads
        var tensors = [tensor("token_embd.weight", [vocab, hidden], scale: 0.5)]
        for l in 0..<layers {
            tensors += [
                tensor("blk.\(l).attn_norm.weight", [hidden], scale: nil),
                tensor("blk.\(l).attn_q.weight", [hidden, hidden], scale: 0.15),
                tensor("blk.\(l).attn_k.weight", [kvHeads * dh, hidden], scale: 0.15),
                tensor("blk.\(l).attn_v.weight", [kvHeads * dh, hidden], scale: 0.15),
                tensor("blk.\(l).attn_output.weight", [hidden, hidden], scale: 0.1),
                tensor("blk.\(l).ffn_norm.weight", [hidden], scale: nil),
                tensor("blk.\(l).ffn_gate.weight", [ffn, hidden], scale: 0.15),
                tensor("blk.\(l).ffn_up.weight", [ffn, hidden], scale: 0.15),
                tensor("blk.\(l).ffn_down.weight", [hidden, ffn], scale: 0.1),
            ]
        }
        tensors.append(tensor("output_norm.weight", [hidden], scale: nil))
        try GGUFWriter.write(metadata: metadata, tensors: tensors, to: url)
    }

    static let presetJSON = """
    {"name": "tiny-encore", "description": "ENCORE on the tiny test model", "layers": [1, 2],
     "search": {"maxSteps": 6, "learningRate": 0.5, "clampNormFactor": 0.75, "klFactor": 0.0625, "weightDecay": 0.5,
                "stopping": {"fixedSteps": {}}, "mpesCheck": "allPositions", "lossThreshold": 0.05},
     "rule": {"normConstrained": {"lambdaP": 500, "lambdaN": 20}},
     "statistics": {"sampleCount": 16, "maxTokens": 48, "seed": 1},
     "contexts": {"starts": ["The", "I"], "length": 4, "topK": 5, "seed": 0},
     "keyCache": "beforeUpdate"}
    """

    static let corpusJSON: String = {
        let docs = (0..<16).map { i in
            "Document \(i) tells of the city of Paris, the river Seine, the painter Monet and the year \(1800 + 7 * i). It was written in French and translated."
        }
        let data = try? JSONSerialization.data(withJSONObject: docs.map { ["text": $0] })
        return data.map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }()
}
