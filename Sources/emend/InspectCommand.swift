// `emend inspect <model>`: what a model file holds, read from its headers (ModelSummary does the work).

import ArgumentParser
import EmendModels
import Foundation

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a model: architecture, config, parameter count, file format and tensor storage.",
        discussion: """
        Examples:
          emend inspect smollm2
          emend inspect path/to/model.gguf --tensors
        """)

    @Argument(help: "A .gguf file, a Hugging Face folder (config.json + safetensors), a bare config.json (shape only), or a named model (smollm2, gemma3-270m: `emend models`).")
    var model: String = "smollm2"

    @Flag(name: .long, help: "List every tensor with its storage type, shape and size.")
    var tensors = false

    func run() throws {
        let summary = model.hasSuffix(".json")
            ? try ModelSummary(configFile: URL(fileURLWithPath: model))
            : try ModelSummary(ModelSource.resolve(model))
        for line in summary.lines(listTensors: tensors) { print(line) }
        // What a locate-then-edit run adds per edited layer: C0 and Kp Kpᵀ, both F×F in Float64.
        let f = summary.config.intermediateSize
        print("edit state:    \(ModelSummary.bytes(2 * f * f * 8)) per edited layer (C0 and Kp Kpᵀ, \(f)×\(f) Float64 each)")
    }
}
