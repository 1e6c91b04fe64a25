// Where tests find the shared fixtures (`<repo>/../shared`) and the default model (setup's cache).

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

    /// The default model file, as `scripts/setup.sh` installs it.
    public static var defaultModel: URL {
        let home = ProcessInfo.processInfo.environment["EMEND_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/emend")
        return home.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
    }

    public static func exists(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.path) }
}
