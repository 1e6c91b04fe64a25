// `emend generate`: run a model on a prompt.

import ArgumentParser
import EmendCore
import EmendModels
import Foundation

struct ModelOption: ParsableArguments {
    @Option(name: .long, help: "A named model (smollm2, the default, or gemma3-270m: `emend models`), a .gguf file, or a Hugging Face folder.")
    var model: String = "smollm2"
}

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Continue a prompt with a model.",
        discussion: """
        Examples:
          emend generate --model smollm2 "The Eiffel Tower is located in the city of"
          emend generate --model edited.gguf --chat "What is the capital of France?"
          emend generate --model path/to/hf-folder --temperature 0.8 \\
            --top-k 40 --seed 3 "Once upon a time"
        """)

    @OptionGroup var modelOption: ModelOption
    @Flag(help: "Wrap the prompt in the model's chat template (one user turn).") var chat = false
    @Option(name: .customLong("max-tokens"), help: "New tokens at most.") var maxTokens = 64
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0
    @Option(name: .customLong("top-k"), help: "Sample from the k most likely tokens (0: all).") var topK = 0
    @Option(help: "Random seed for sampling.") var seed: UInt64 = 0
    @Argument(help: "The prompt.") var prompt: String

    func validate() throws {
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be positive") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be ≥ 0") }
        guard topK >= 0 else { throw ValidationError("--top-k must be ≥ 0") }
        guard !prompt.isEmpty else { throw ValidationError("the prompt is empty: give a text to continue") }
    }

    func run() throws {
        let loaded = try LoadedModel.load(modelOption.model)
        try loaded.checkPrompt(prompt, chat: chat, what: "the prompt")
        let text = loaded.complete([prompt], chat: chat, maxTokens: maxTokens,
                                   options: SamplingOptions(temperature: temperature, topK: topK, seed: seed))[0]
        print(chat ? text : prompt + text)
    }
}
