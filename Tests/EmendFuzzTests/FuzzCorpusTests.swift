// The fuzz targets' committed corpora (Fuzz/corpus/<target>/), replayed in seconds on every test run: each input
// libFuzzer ever kept, and each crash it found (kept as crash-*), must now end in a thrown error or a success,
// never a trap. The seeds are small valid files written by `testWriteSeeds` (EMEND_WRITE_FUZZ_SEEDS=1) through
// Emend's own writers; `testSeedsAreAccepted` checks that the targets really reach the parsers' deep paths (a
// target that rejected its own seeds would fuzz nothing).

@testable import EmendEditing
import EmendCore
import EmendFuzzTargets
import EmendModels
import EmendTestSupport
import Foundation
import XCTest

final class FuzzCorpusTests: XCTestCase {
    static let corpus = TestPaths.repoRoot.appendingPathComponent("Fuzz/corpus")

    func files(_ target: FuzzTarget) throws -> [URL] {
        let dir = Self.corpus.appendingPathComponent(target.rawValue)
        return try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") }.sorted { $0.path < $1.path }
    }

    /// Every committed input of every target runs to an answer (the process would die on a trap).
    func testReplayCommittedCorpora() throws {
        for target in FuzzTarget.allCases {
            let inputs = try files(target)
            XCTAssertGreaterThanOrEqual(inputs.count, 2, "\(target.rawValue): corpus missing (Fuzz/corpus/\(target.rawValue))")
            for url in inputs { target.run(try Data(contentsOf: url)) }
        }
    }

    /// Each target accepts its seeds: the fuzzers start from inputs that reach every step of the parser.
    func testSeedsAreAccepted() throws {
        for target in FuzzTarget.allCases {
            let seeds = try files(target).filter { $0.lastPathComponent.hasPrefix("seed-") }
            XCTAssertFalse(seeds.isEmpty, "\(target.rawValue) has no seed")
            for url in seeds {
                XCTAssertTrue(target.run(try Data(contentsOf: url)), "\(target.rawValue): seed \(url.lastPathComponent) rejected")
            }
        }
    }

    /// Regenerates the seeds (EMEND_WRITE_FUZZ_SEEDS=1 swift test --filter testWriteSeeds).
    func testWriteSeeds() throws {
        guard ProcessInfo.processInfo.environment["EMEND_WRITE_FUZZ_SEEDS"] == "1" else {
            throw XCTSkip("set EMEND_WRITE_FUZZ_SEEDS=1 to rewrite Fuzz/corpus/*/seed-*")
        }
        try FuzzSeeds.write(to: Self.corpus)
    }
}

/// Small valid inputs for each target, written with Emend's own writers.
enum FuzzSeeds {
    static func write(to root: URL) throws {
        let fm = FileManager.default
        let work = fm.temporaryDirectory.appendingPathComponent("emend-fuzz-seeds-\(getpid())")
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: work) }
        func put(_ target: FuzzTarget, _ name: String, _ data: Data) throws {
            let dir = root.appendingPathComponent(target.rawValue)
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
            try data.write(to: dir.appendingPathComponent("seed-\(name)"))
        }
        func text(_ s: String) -> Data { Data(s.utf8) }

        // GGUF: a 2-layer llama-style model (D 8, F 16) with a byte-level vocabulary, in f32, f16 and bf16.
        let model = work.appendingPathComponent("tiny.gguf")
        try writeTinyGGUF(model, weightType: .f32)
        try put(.gguf, "llama-f32.gguf", try Data(contentsOf: model))
        let half = work.appendingPathComponent("tiny-f16.gguf")
        try writeTinyGGUF(half, weightType: .f16, architecture: "qwen2")
        try put(.gguf, "qwen2-f16.gguf", try Data(contentsOf: half))

        let spmModel = work.appendingPathComponent("tiny-spm.gguf")
        try writeTinyGGUF(spmModel, weightType: .bf16, sentencePiece: true)
        try put(.gguf, "llama-spm-bf16.gguf", try Data(contentsOf: spmModel))

        // Tokenizer: the GGUF's tokenizer exported as tokenizer.json.
        let tokenizer = try BPETokenizer(gguf: try GGUFFile(url: model))
        try put(.tokenizer, "byte-level.json", try tokenizer.huggingFaceJSON())
        let spm = try TokenizerLoader.tokenizer(gguf: try GGUFFile(url: spmModel))
        try put(.tokenizer, "sentencepiece-metaspace.json", try XCTUnwrap(spm as? SentencePieceTokenizer).huggingFaceJSON())
        var llama2 = try XCTUnwrap(JSONSerialization.jsonObject(with: try XCTUnwrap(spm as? SentencePieceTokenizer).huggingFaceJSON()) as? [String: Any])
        llama2["pre_tokenizer"] = NSNull()
        llama2["normalizer"] = ["type": "Sequence", "normalizers": [
            ["type": "Prepend", "prepend": "▁"], ["type": "Replace", "pattern": ["String": " "], "content": "▁"]]]
        try put(.tokenizer, "sentencepiece-prepend-replace.json", try JSONSerialization.data(withJSONObject: llama2, options: [.sortedKeys]))
        try put(.tokenizer, "minimal.json", text("""
        {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3}, "merges": ["a b"]},
         "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
         "added_tokens": [{"id": 4, "content": "<|endoftext|>", "special": true}]}
        """))

        // Safetensors: every float and integer dtype Emend reads.
        let a = Tensor(shape: [2, 3], scalars: [1, -2, 3.5, 0, 1e-3, -7])
        let st = work.appendingPathComponent("a.safetensors")
        try SafeTensorsWriter.write([(name: "w", tensor: a), (name: "b", tensor: Tensor(shape: [3], scalars: [1, 2, 3]))], to: st)
        try put(.safetensors, "f32.safetensors", try Data(contentsOf: st))
        try SafeTensorsWriter.write([(name: "model.layers.0.mlp.down_proj.weight", tensor: a)], dtype: .bf16, to: st)
        try put(.safetensors, "bf16.safetensors", try Data(contentsOf: st))
        try SafeTensorsWriter.write([(name: "h", tensor: a)], dtype: .f16, to: st)
        try put(.safetensors, "f16.safetensors", try Data(contentsOf: st))
        try put(.safetensors, "i64.safetensors", rawSafeTensors(name: "ids", dtype: "I64", shape: [3], bytes: [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255]))

        // Sharded index naming the two fixed shards the target writes.
        try put(.safetensorsIndex, "two-shards.json", text("""
        {"metadata": {"total_size": 80}, "weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors",
         "model.norm.weight": "model-00002-of-00002.safetensors", "lm_head.weight": "model-00002-of-00002.safetensors"}}
        """))
        try put(.safetensorsIndex, "one-shard.json", text("""
        {"weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors"}}
        """))

        // config.json: each family Emend reads.
        try put(.config, "llama.json", text("""
        {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536,
         "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3, "rms_norm_eps": 1e-05,
         "rope_theta": 100000, "vocab_size": 49152, "max_position_embeddings": 8192, "tie_word_embeddings": true,
         "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2}
        """))
        try put(.config, "qwen2.json", text("""
        {"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "vocab_size": 300, "tie_word_embeddings": false}
        """))
        try put(.config, "gpt2.json", text("""
        {"model_type": "gpt2", "n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 128, "vocab_size": 300,
         "layer_norm_epsilon": 1e-05, "activation_function": "gelu_new"}
        """))
        try put(.config, "gptj.json", text("""
        {"model_type": "gptj", "n_embd": 64, "n_layer": 2, "n_head": 4, "rotary_dim": 8, "n_inner": null, "n_positions": 128,
         "vocab_size": 300, "layer_norm_epsilon": 1e-05, "activation_function": "gelu_new", "tie_word_embeddings": false}
        """))

        // Requests: every accepted form.
        try put(.requests, "array.json", text("""
        [{"prompt": "{} is located in", "subject": "The Eiffel Tower", "target_new": "Rome", "target_true": "Paris",
          "paraphrase_prompts": ["Where is the Eiffel Tower? It is in"], "neighborhood_prompts": ["The Louvre is in"]},
         {"prompt": "The capital of France is", "subject": "France", "target_new": "Lyon"}]
        """))
        try put(.requests, "counterfact.json", text("""
        [{"case_id": 7, "requested_rewrite": {"prompt": "{}, which is located in", "subject": "Danielle Darrieux",
          "target_new": {"str": "English"}, "target_true": {"str": "French"}},
          "paraphrase_prompts": ["Danielle Darrieux speaks"], "neighborhood_prompts": ["Léon Blum speaks"]}]
        """))
        try put(.requests, "lines.jsonl", text("""
        {"prompt": "{} plays the", "subject": "Miles Davis", "target_new": "piano"}
        {"prompt": "{} was born in", "subject": "Ada Lovelace", "target_new": "Paris"}

        """))
        try put(.requests, "object.json", text(#"{"prompt": "{} speaks", "subject": "Émile Zola", "target_new": "German"}"#))

        // Presets: the built-in ones, locate-then-edit and hyper-network.
        let presets = try XCTUnwrap(EditPreset.builtInDirectory)
        for name in ["smollm2-135m-encore", "smollm2-135m-memit", "smollm2-135m-alphaedit", "smollm2-135m-emmet"] {
            try put(.preset, "\(name).json", try Data(contentsOf: presets.appendingPathComponent("\(name).json")))
        }
        let hyper = try XCTUnwrap(HyperNetworkSettings.presetDirectory)
        for file in try fm.contentsOfDirectory(atPath: hyper.path) where file.hasSuffix(".json") {
            try put(.preset, "hypernetwork-\(file)", try Data(contentsOf: hyper.appendingPathComponent(file)))
        }

        // Store: a store on the tiny model with two committed batches (the second checkpointed).
        let emptyDir = work.appendingPathComponent("empty-store")
        let empty = try EditStore.create(at: emptyDir, baseModel: model)
        try empty.journal.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try put(.storeJournal, "empty.sqlite", try Data(contentsOf: emptyDir.appendingPathComponent("store.sqlite")))
        let storeDir = work.appendingPathComponent("store")
        let store = try EditStore.create(at: storeDir, baseModel: model, checkpointEvery: 2)
        var snapshot = try store.snapshot()
        for (k, subject) in ["Paris", "Rome"].enumerated() {
            let request = EditRequest(prompt: "{} is the capital of", subject: subject, targetNew: "Spain")
            let w = Tensor(shape: [8, 16], generator: { Float($0 % 7) * 0.1 + Float(k) })
            let keys = try Matrix64(rows: 16, cols: 2, scalars: (0..<32).map { Double($0) * 0.01 })
            let batch = StoreBatch(method: "encore", hyperParameters: "{}", requests: [StoredRequest(request: request, searchSteps: 3, losses: [1, 0.5])],
                                   weights: [EditStore.weightName(layer: 1, role: .ffnDown): w], stateKeys: [1: keys], metrics: ["es": 1])
            snapshot = try store.commit(batch, after: snapshot)
        }
        let journal = storeDir.appendingPathComponent("store.sqlite")
        _ = try store.verify()
        try store.journal.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }   // all in store.sqlite
        try put(.storeJournal, "two-batches.sqlite", try Data(contentsOf: journal))
        let tensorFiles = try fm.contentsOfDirectory(at: storeDir.appendingPathComponent("tensors"), includingPropertiesForKeys: nil)
        for f in tensorFiles.sorted(by: { $0.path < $1.path }) {
            try put(.storeTensors, f.lastPathComponent, try Data(contentsOf: f))
        }

        // Editor checkpoints: MALMEN (rank 2, layer 1) and MEND (rank 1, layers 0-1) on the tiny model.
        let tiny = try TransformerModel.load(.gguf(model))
        for (method, rank, layers) in [(HyperNetworkMethod.malmen, 2, [1]), (.mend, 1, [0, 1])] {
            var settings = HyperNetworkSettings(method: method, layers: layers)
            settings.rank = rank
            settings.blocks = 1
            let editor = try HyperNetworkEditor(settings: settings, model: tiny)
            let folder = work.appendingPathComponent("editor-\(method.rawValue)")
            try editor.save(to: folder)
            let json = try Data(contentsOf: folder.appendingPathComponent("editor.json"))
            var packed = Data([UInt8(json.count & 0xFF), UInt8(json.count >> 8 & 0xFF), UInt8(json.count >> 16 & 0xFF), 0])
            packed += json
            packed += try Data(contentsOf: folder.appendingPathComponent("editor.safetensors"))
            try put(.editor, "\(method.rawValue)-rank\(rank)", packed)
        }
    }

    /// A safetensors file from raw parts (for dtypes the writer does not produce).
    static func rawSafeTensors(name: String, dtype: String, shape: [Int], bytes: [UInt8]) -> Data {
        var header = #"{"\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[0,\#(bytes.count)]}}"#
        while header.utf8.count % 8 != 0 { header += " " }
        var n = UInt64(header.utf8.count).littleEndian
        var out = Data(bytes: &n, count: 8)
        out += Data(header.utf8)
        out += Data(bytes)
        return out
    }

    /// A 2-layer model (D 8, F 16, 2 heads, 1 KV head) with a byte-level vocabulary of the 256 bytes, 8 merges and
    /// two special tokens and a chat template, or (`sentencePiece`) a Llama-2-style vocabulary: <unk>, <s>, </s>, the
    /// 256 byte pieces, then scored pieces.
    static func writeTinyGGUF(_ url: URL, weightType: GGMLType, architecture arch: String = "llama", sentencePiece: Bool = false) throws {
        let d = 8, f = 16, layers = 2, heads = 2, kvHeads = 1
        var tokens = (0..<256).map { ByteLevel.encode([UInt8($0)]) }
        let merges = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "Ġ P", "a r"]
        for m in merges { tokens.append(m.replacingOccurrences(of: " ", with: "")) }
        tokens += ["<|im_start|>", "<|im_end|>"]
        let types: [GGUFValue] = tokens.indices.map { .int32($0 >= tokens.count - 2 ? 3 : 1) }
        var tokenizer: [(key: String, value: GGUFValue)] = [
            ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string(arch == "qwen2" ? "qwen2" : "smollm")),
            ("tokenizer.ggml.tokens", .array(tokens.map { .string($0) })), ("tokenizer.ggml.token_type", .array(types)),
            ("tokenizer.ggml.merges", .array(merges.map { .string($0) })),
            ("tokenizer.ggml.bos_token_id", .uint32(UInt32(tokens.count - 2))), ("tokenizer.ggml.eos_token_id", .uint32(UInt32(tokens.count - 1))),
        ]
        if sentencePiece {
            let pieces: [(String, Float)] = [("▁", -1), ("e", -2), ("t", -2), ("h", -3), ("▁t", -4), ("he", -5), ("▁the", -6),
                                             ("in", -7), ("▁P", -8), ("ar", -9), ("is", -10), ("▁▁", -1e9)]
            tokens = ["<unk>", "<s>", "</s>"] + (0..<256).map { String(format: "<0x%02X>", $0) } + pieces.map(\.0)
            let codes: [Int32] = [2, 3, 3] + [Int32](repeating: 6, count: 256) + pieces.map { _ in 1 }
            tokenizer = [
                ("tokenizer.ggml.model", .string("llama")), ("tokenizer.ggml.tokens", .array(tokens.map { .string($0) })),
                ("tokenizer.ggml.scores", .array(([0, 0, 0] + [Float](repeating: 0, count: 256) + pieces.map(\.1)).map { .float32($0) })),
                ("tokenizer.ggml.token_type", .array(codes.map { .int32($0) })),
                ("tokenizer.ggml.bos_token_id", .uint32(1)), ("tokenizer.ggml.eos_token_id", .uint32(2)),
                ("tokenizer.ggml.unknown_token_id", .uint32(0)), ("tokenizer.ggml.add_bos_token", .bool(true)),
                ("tokenizer.ggml.add_space_prefix", .bool(true)),
            ]
        }
        let metadata: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string(arch)), ("general.name", .string("emend-fuzz-seed")),
            ("\(arch).block_count", .uint32(UInt32(layers))), ("\(arch).context_length", .uint32(64)),
            ("\(arch).embedding_length", .uint32(UInt32(d))), ("\(arch).feed_forward_length", .uint32(UInt32(f))),
            ("\(arch).attention.head_count", .uint32(UInt32(heads))), ("\(arch).attention.head_count_kv", .uint32(UInt32(kvHeads))),
            ("\(arch).rope.freq_base", .float32(10_000)), ("\(arch).attention.layer_norm_rms_epsilon", .float32(1e-5)),
            ("tokenizer.chat_template", .string("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")),
        ] + tokenizer
        var rng = SeededGenerator(seed: 3)
        func tensor(_ name: String, _ shape: [Int], norm: Bool = false) -> GGUFWriter.TensorData {
            let n = shape.reduce(1, *)
            let values = (0..<n).map { _ in norm ? 1 : rng.nextNormal() * 0.2 }
            let type: GGMLType = norm ? .f32 : weightType
            return GGUFWriter.TensorData(name: name, dims: shape.reversed(), type: type, bytes: GGUFWriter.encode(values, as: type))
        }
        let dh = d / heads
        var t = [tensor("token_embd.weight", [tokens.count, d])]
        for l in 0..<layers {
            t += [tensor("blk.\(l).attn_norm.weight", [d], norm: true), tensor("blk.\(l).attn_q.weight", [d, d]),
                  tensor("blk.\(l).attn_k.weight", [kvHeads * dh, d]), tensor("blk.\(l).attn_v.weight", [kvHeads * dh, d]),
                  tensor("blk.\(l).attn_output.weight", [d, d]), tensor("blk.\(l).ffn_norm.weight", [d], norm: true),
                  tensor("blk.\(l).ffn_gate.weight", [f, d]), tensor("blk.\(l).ffn_up.weight", [f, d]), tensor("blk.\(l).ffn_down.weight", [d, f])]
            if arch == "qwen2" {
                t += [tensor("blk.\(l).attn_q.bias", [d], norm: true), tensor("blk.\(l).attn_k.bias", [kvHeads * dh], norm: true),
                      tensor("blk.\(l).attn_v.bias", [kvHeads * dh], norm: true)]
            }
        }
        t.append(tensor("output_norm.weight", [d], norm: true))
        try GGUFWriter.write(metadata: metadata, tensors: t, to: url)
    }
}
