import Foundation
import EmendTestSupport

/// Runs the release `emend` binary for the CLI tests: one worker thread, its own EMEND_HOME, stdout and stderr
/// together, optionally SIGKILLed after `killAfter` seconds.
enum EmendProcess {
    static var binary: URL { TestPaths.repoRoot.appendingPathComponent(".build/release/emend") }

    struct Result { var status: Int32; var killed: Bool; var output: String }

    static func run(_ args: [String], env extra: [String: String] = [:], home: URL, killAfter: Double? = nil,
                    cwd: URL? = nil) throws -> Result {
        let p = Process()
        p.executableURL = binary
        if let cwd { p.currentDirectoryURL = cwd }
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["EMEND_HOME"] = home.path
        env["EMEND_THREADS"] = "1"
        for (k, v) in extra { env[k] = v }
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe; p.standardError = pipe
        try p.run()
        if let t = killAfter {
            let pid = p.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + t) { kill(pid, SIGKILL) }
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, killed: p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL,
                      output: String(decoding: data, as: UTF8.self))
    }
}
