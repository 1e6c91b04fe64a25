// `emend inspect <model>`: what a model file holds, read from its headers (ModelSummary does the work).

import ArgumentParser
import EmendModels
import Foundation

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a model: architecture, config, parameter count, file format and tensor storage.")

    @Argument(help: "A .gguf file, a Hugging Face folder (config.json + safetensors), or 'smollm2' for the default model.")
    var model: String = "smollm2"

    @Flag(name: .long, help: "List every tensor with its storage type, shape and size.")
    var tensors = false

    func run() throws {
        let summary = try ModelSummary(ModelSource.resolve(model))
        for line in summary.lines(listTensors: tensors) { print(line) }
    }
}
