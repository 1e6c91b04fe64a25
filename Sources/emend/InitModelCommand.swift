// `emend init-model`: a GGUF file of a real model's shape with random weights.

import ArgumentParser
import EmendCore
import EmendModels
import Foundation

extension RandomModelType: ExpressibleByArgument {}

struct InitModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init-model", abstract: "Write a GGUF model of a real shape with random weights (no download).",
        discussion: """
        Reads a Hugging Face config.json (configs/models/ has Llama-3-8B, Llama-3.2-1B and Qwen2.5-7B) and writes a \
        Llama-family GGUF of that shape: Gaussian weights (std 0.02, from --seed), norms 1, quantised by Emend's own \
        quantizers and written tensor by tensor, so memory stays far below the file's size. The same seed gives the \
        same bytes.

        Types: q4_k_m is llama.cpp's Q4_K_M mixture (Q6_K for the output head, or the token embedding when it is \
        tied, and for attn_v and ffn_down in the first and last eighth of the layers and every third layer between; \
        Q4_K elsewhere); q8_0, bf16 and f32 use one type for every matrix. Norms and biases stay F32.

        The tokenizer is another model's (the default model's unless --tokenizer names a GGUF), its vocabulary padded \
        with unused tokens or cut to the config's vocab_size.

        Examples:
          emend init-model --config configs/models/llama-3-8b.json --type q4_k_m --seed 1 --out llama-3-8b-random.gguf
          emend init-model --config configs/models/llama-3.2-1b.json --type q8_0 --out 1b.gguf
        """)

    @Option(help: "A Hugging Face config.json of a Llama-family model (llama, mistral or qwen2).") var config: String
    @Option(help: "The tensor types (q4_k_m: llama.cpp's Q4_K_M mixture, see above).")
    var type: RandomModelType
    @Option(help: "Random seed of the weights.") var seed: UInt64 = 0
    @Option(help: "The GGUF file to write (written to a temporary file, then renamed).") var out: String
    @Option(help: "The model whose tokenizer to copy: a named model or a .gguf file.") var tokenizer: String = "smollm2"

    func validate() throws {
        guard !out.isEmpty else { throw ValidationError("--out is empty: give the path of the GGUF file to write") }
        guard !config.isEmpty else { throw ValidationError("--config is empty: give a config.json (see configs/models/)") }
    }

    func run() throws {
        let modelConfig = try ModelConfig(huggingFaceConfig: URL(fileURLWithPath: config))
        guard case let .gguf(tokenizerURL) = try ModelSource.resolve(tokenizer) else {
            throw CLIError.usage("--tokenizer \(tokenizer): a GGUF model is needed (its tokenizer.* metadata is copied)")
        }
        let tokenizerFile = try GGUFFile(url: tokenizerURL)
        let bar = ProgressBar("init-model")
        let start = Date()
        let report = try RandomModel.write(config: modelConfig, type: type, seed: seed, tokenizer: tokenizerFile,
                                           to: URL(fileURLWithPath: out)) { done, total, name, t in
            bar.update(done, total, detail: "\(name) \(t)")
        }
        let types = report.tensorsPerType.keys.sorted().map { "\($0) \(report.tensorsPerType[$0] ?? 0)" }.joined(separator: ", ")
        print("wrote \(out): \(Self.scaled(report.parameters, "parameters")), \(Self.scaled(report.bytes, "B")), tensors \(types), "
              + String(format: "in %.1f s", Date().timeIntervalSince(start)))
    }

    /// `n` with an SI prefix: "8.03 G parameters", "4.92 GB", "12.6 MB".
    static func scaled(_ n: Int, _ unit: String) -> String {
        let x = Double(n)
        let sep = unit == "B" ? "" : " "
        if x >= 1e9 { return String(format: "%.2f G", x / 1e9) + sep + unit }
        if x >= 1e6 { return String(format: "%.1f M", x / 1e6) + sep + unit }
        return String(format: "%.1f k", x / 1e3) + sep + unit
    }
}
