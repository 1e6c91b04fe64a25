// Where tests find the shared fixtures (`<repo>/../shared`) and the named models (the model cache).

import Foundation

public enum TestPaths {
    /// The repository root, found from this file's location.
    public static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `../shared` beside the repository (fixtures, golden data, data sets), or `$EMEND_SHARED`.
    public static var shared: URL {
        if let s = ProcessInfo.processInfo.environment["EMEND_SHARED"], !s.isEmpty { return URL(fileURLWithPath: s) }
        return repoRoot.deletingLastPathComponent().appendingPathComponent("shared")
    }

    /// The golden reference folder of the default model.
    public static var golden: URL { shared.appendingPathComponent("golden/smollm2-135m-instruct-q4_1") }

    /// The model cache, `$EMEND_HOME/models` (default `~/.cache/emend/models`). The file names below are those of
    /// the table of named models (EmendModels' NamedModel+Table.swift; NamedModelTests checks they agree).
    public static var models: URL {
        let home = ProcessInfo.processInfo.environment["EMEND_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/emend")
        return home.appendingPathComponent("models")
    }

    /// The default model file (`smollm2`), as `scripts/setup.sh` and `emend pull smollm2` install it.
    public static var defaultModel: URL { models.appendingPathComponent("SmolLM2-135M-Instruct.Q4_1.gguf") }

    /// Gemma-3-270M (`gemma3-270m`, GGUF Q4_K_M), as `emend pull gemma3-270m` and `make test`'s set-up install it.
    public static var gemmaModel: URL { models.appendingPathComponent("gemma-3-270m-q4_k_m.gguf") }

    /// What a test that needs Gemma skips with: `guard exists(gemmaModel) else { throw XCTSkip(gemmaMissing) }`.
    public static var gemmaMissing: String {
        "Gemma-3-270M is not in the model cache (\(gemmaModel.path)); fetch it with `emend pull gemma3-270m` "
            + "(or `make test`, whose set-up fetches it) to run this test"
    }

    public static func exists(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.path) }
}
