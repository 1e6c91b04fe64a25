// `emend models`: the named models (NamedModel's table), their sizes and licences, and what the model cache holds.

import ArgumentParser
import EmendModels
import Foundation

struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "List the named models, their sizes and licences, and whether each is in the model cache.",
        discussion: """
        State: verified (in the cache, SHA-256 checked), unverified (in the cache, changed or not checked since: \
        `emend pull NAME` checks it) or absent (`emend pull NAME` fetches it). With --json, standard output is exactly \
        one JSON object: {"cache": PATH, "models": [{"name", "aliases", "file", "path", "bytes", "sha256", \
        "description", "licence", "packages", "state"}]}.

        Examples:
          emend models
          emend models --json
        """)

    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func run() throws {
        let models = try NamedModel.all()
        if json {
            let entries: [[String: Any]] = models.map { m in
                ["name": m.name, "aliases": m.aliases, "file": m.file, "path": m.url.path, "bytes": m.bytes, "sha256": m.sha256,
                 "description": m.description, "licence": m.licence, "packages": m.parts.map(\.requirement),
                 "state": m.cacheState.rawValue]
            }
            let data = try JSONSerialization.data(withJSONObject: ["cache": EmendPaths.models.path, "models": entries],
                                                  options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        let width = models.map(\.name.count).max() ?? 0
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
        print("\(pad("name", width))       size  \(pad("state", 10))  description")
        for m in models {
            let size = NamedModel.megabytes(m.bytes)
            print("\(pad(m.name, width))  \(String(repeating: " ", count: max(0, 9 - size.count)))\(size)  \(pad(m.cacheState.rawValue, 10))  \(m.description)")
            print("\(pad("", width))  licence: \(m.licence)")
        }
        print("cache: \(EmendPaths.models.path) (`emend pull NAME` fetches a model, or checks one that is unverified)")
    }
}
