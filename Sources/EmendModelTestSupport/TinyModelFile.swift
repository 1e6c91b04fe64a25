// A tiny random-weight Llama-style model file for the tests of the edit store, the command line and the server:
// hidden 64, 4 layers, FFN 128, F32, with the default model's real tokenizer (and, on request, its chat template)
// copied from its GGUF metadata, so `emend` loads, edits and serves it like any model; beside it a small ENCORE
// preset, a corpus and edit requests. (A target of its own, not EmendTestSupport, because it needs EmendModels'
// GGUF reader and writer and EmendTestSupport depends on EmendCore only.)

import EmendCore
import EmendModels
import EmendTestSupport
import Foundation
import XCTest

public enum TinyModelFile {
    public static let hidden = 64, layers = 4, ffn = 128, heads = 4, kvHeads = 2

    /// Writes the tiny model to `url` (weights from `seed`); throws XCTSkip without the default model. With
    /// `embeddingRows`, the token embedding (and `llama.vocab_size`) has that many rows instead of one per token.
    /// `tokenizer` is the GGUF whose `tokenizer.*` keys are copied (the default model's byte-level BPE, or a
    /// vocabulary-only GGUF such as Mistral's SentencePiece one); its chat template too when `chatTemplate`.
    public static func write(to url: URL, seed: UInt64 = 7, embeddingRows: Int? = nil,
                             tokenizer: URL = TestPaths.defaultModel, chatTemplate: Bool = false) throws {
        guard TestPaths.exists(tokenizer) else { throw XCTSkip("\(tokenizer.path) not installed (run make setup): its tokenizer is needed") }
        let source = try GGUFFile(url: tokenizer)
        var metadata: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string("llama")), ("general.name", .string("emend-tiny-test")),
            ("llama.block_count", .uint32(UInt32(layers))), ("llama.context_length", .uint32(256)),
            ("llama.embedding_length", .uint32(UInt32(hidden))), ("llama.feed_forward_length", .uint32(UInt32(ffn))),
            ("llama.attention.head_count", .uint32(UInt32(heads))), ("llama.attention.head_count_kv", .uint32(UInt32(kvHeads))),
            ("llama.rope.freq_base", .float32(10_000)), ("llama.attention.layer_norm_rms_epsilon", .float32(1e-5)),
        ]
        for key in source.metadataKeys where key.hasPrefix("tokenizer.") && (chatTemplate || !key.hasPrefix("tokenizer.chat_template")) {
            if let v = source.metadata[key] { metadata.append((key, v)) }
        }
        guard let tokens = source.metadata["tokenizer.ggml.tokens"]?.array?.count else {
            throw XCTSkip("default model has no tokenizer.ggml.tokens")
        }
        let vocab = embeddingRows ?? tokens
        if let embeddingRows { metadata.append(("llama.vocab_size", .uint32(UInt32(embeddingRows)))) }
        var rng = SeededGenerator(seed: seed)
        func tensor(_ name: String, _ shape: [Int], scale: Float?) -> GGUFWriter.TensorData {
            let n = shape.reduce(1, *)
            let values = (0..<n).map { _ in scale.map { rng.nextNormal() * $0 } ?? 1 }
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

    /// A small ENCORE preset for the tiny model: layers 1-2, 6 search steps, C0 from 16 documents, 2 contexts.
    public static let presetJSON = """
    {"name": "tiny-encore", "description": "ENCORE on the tiny test model", "layers": [1, 2],
     "search": {"maxSteps": 6, "learningRate": 0.5, "clampNormFactor": 0.75, "klFactor": 0.0625, "weightDecay": 0.5,
                "stopping": {"fixedSteps": {}}, "mpesCheck": "allPositions", "lossThreshold": 0.05},
     "rule": {"normConstrained": {"lambdaP": 500, "lambdaN": 20}},
     "statistics": {"sampleCount": 16, "maxTokens": 48, "seed": 1},
     "contexts": {"starts": ["The", "I"], "length": 4, "topK": 5, "seed": 0},
     "keyCache": "beforeUpdate"}
    """

    /// Sixteen short corpus documents for the tiny model's statistics.
    public static let corpusJSON: String = {
        let docs = (0..<16).map { i in
            "Document \(i) tells of the city of Paris, the river Seine, the painter Monet and the year \(1800 + 7 * i). It was written in French and translated."
        }
        let data = try? JSONSerialization.data(withJSONObject: docs.map { ["text": $0] })
        return data.map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }()

    /// Writes model, preset, corpus and `count` requests into `dir`: tiny.gguf, tiny-preset.json, corpus.json,
    /// requests.json (distinct subjects, so no duplicates).
    public static func writeFixture(in dir: URL, requestCount count: Int) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try write(to: dir.appendingPathComponent("tiny.gguf"))
        try Data(presetJSON.utf8).write(to: dir.appendingPathComponent("tiny-preset.json"))
        try Data(corpusJSON.utf8).write(to: dir.appendingPathComponent("corpus.json"))
        try JSONSerialization.data(withJSONObject: requests(count)).write(to: dir.appendingPathComponent("requests.json"))
    }

    /// `count` edit requests on distinct subjects (so no duplicates), in the MEMIT form, numbered from `start`.
    public static func requests(_ count: Int, from start: Int = 0) -> [[String: Any]] {
        let cities = ["Paris", "Rome", "Berlin", "Madrid", "Vienna", "Prague", "Lisbon", "Dublin", "Oslo", "Warsaw"]
        return (start..<(start + count)).map { i in
            ["case_id": i, "requested_rewrite": ["prompt": "{} is located in", "subject": "Landmark \(i)",
                                                 "target_new": ["str": cities[i % cities.count]], "target_true": ["str": "Nowhere"]]]
        }
    }
}
