// A tiny random Llama-style model with a byte-level tokenizer (256 single-byte tokens, no merges), a preset, an
// editor and synthetic CounterFact-style requests: enough for the sequential protocol to run in well under a second
// per batch, with every piece (search, keys, solves, scoring) the real path.

import EmendCore
import EmendEditing
import EmendEval
import EmendModels
import Foundation

enum TinySequentialFixture {
    static let config = ModelConfig.llamaStyle(vocabSize: 256, hiddenSize: 16, intermediateSize: 24, layerCount: 3,
                                               headCount: 4, kvHeadCount: 2, maxPositions: 128)

    static func tokenizer() throws -> BPETokenizer {
        let tokens = (0..<256).map { String(ByteLevel.scalarForByte[$0]) }
        return try BPETokenizer(tokens: tokens, tokenTypes: Array(repeating: .normal, count: 256), merges: [], preTokenizer: .gpt2)
    }

    static func loaded() throws -> LoadedModel {
        let model = TransformerModel(config: config, weights: .random(config, seed: 11, std: 0.3))
        return LoadedModel(model: model, tokenizer: try tokenizer(), chatTemplate: nil, source: .gguf(URL(fileURLWithPath: "/nonexistent/tiny.gguf")))
    }

    static let preset = EditPreset(name: "tiny-encore", layers: [0, 1],
                                   search: TargetSearchSettings(maxSteps: 4, learningRate: 0.3, stopping: .mostProbable(extraSteps: 1)),
                                   rule: .normConstrained(lambdaP: 2, lambdaN: 0.5), contexts: .none)

    /// A fresh editor; C0 from a few sentences through the tiny model.
    static func editor(_ m: LoadedModel) throws -> LocateThenEditor {
        let texts = ["The quick brown fox jumps over the lazy dog.", "Paris is the capital of France.",
                     "Numbers: 1, 2, 3, 4, 5, 6, 7, 8, 9.", "A tiny model for a tiny test of a long protocol."]
        let stats = try LayerStatistics.compute(model: m.model, tokenizer: m.tokenizer, layers: preset.layers, texts: texts, maxTokens: 64)
        var c0: [Int: Matrix64] = [:]
        for s in stats {
            var c = s.c0
            try c.addDiagonal(0.1)     // keep it well conditioned: a handful of tokens do not span F = 24
            c0[s.layer] = c
        }
        return try LocateThenEditor(model: m.model, tokenizer: m.tokenizer, preset: preset, statistics: c0, contexts: ["{}", "So: {}"])
    }

    static let names = ["Ada", "Bob", "Cyd", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jon", "Kim", "Lou", "Max", "Ned"]
    static let cities = ["Paris", "Rome", "Oslo", "Lima", "Kyiv", "Doha", "Bern"]

    /// `n` requests "{} lives in" → a city, each with one paraphrase and one neighbourhood prompt.
    static func requests(_ n: Int) -> [EditRequest] {
        (0..<n).map { i in
            let name = names[i % names.count]
            return EditRequest(caseID: i, prompt: "{} lives in", subject: name, targetNew: cities[i % cities.count],
                               targetTrue: cities[(i + 2) % cities.count], paraphrasePrompts: ["The home town of \(name) is"],
                               neighborhoodPrompts: ["\(names[(i + 5) % names.count]) lives in"],
                               neighborhoodTarget: cities[(i + 3) % cities.count])
        }
    }

    static func settings(edits: Int = 12, batch: Int = 3, every: Int = 6, ratio: Double = 0.5, downstream: String = "norm probe") -> SequentialSettings {
        SequentialSettings(method: "encore", preset: preset, model: "tiny", modelFingerprint: "0", recordsFile: "(synthetic)",
                           recordsFingerprint: (try? SequentialPlan.fingerprint(requests(edits))) ?? "", edits: edits, batchSize: batch,
                           downstreamEvery: every, evalRatio: ratio, evalSeed: 7, downstream: downstream)
    }

    /// A deterministic probe: two "tasks" whose scores are functions of the edited weights only.
    static func probe(description: String = "norm probe", failAt: Int? = nil, calls: CallCounter? = nil) -> CheckpointProbe {
        CheckpointProbe(description: description) { m, progress in
            let w1 = Double(m.model.weights.blocks[0].ffnDown.dequantized().norm()), w2 = Double(m.model.weights.blocks[1].ffnDown.dequantized().norm())
            calls?.count += 1
            if let f = failAt, calls?.count == f { throw CocoaError(.userCancelled) }   // a crash during a checkpoint
            progress?("a", 1, 2); progress?("b", 2, 2)
            return ["a": ["f1": 1 / (1 + w1), "accuracy": 0.5], "b": ["f1": 1 / (1 + w2)]]
        }
    }

    final class CallCounter: @unchecked Sendable { var count = 0 }

    static func temporaryDirectory(_ name: String) throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("emend-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}
