// The `emend` command: subcommands parse their arguments and call one library function each.

import ArgumentParser
import EmendCore
import Foundation

@main
struct Emend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emend",
        abstract: "Correct the facts a transformer language model has memorised, by editing its weights.",
        discussion: """
        Exit status: 0 success, 1 a runtime error (a file that cannot be read or written, a request or model that \
        is refused), 64 a usage error (an option missing, out of range or in conflict with another). A failed \
        command leaves no new or half-written file behind.

        Examples:
          emend generate --model smollm2 "The Eiffel Tower is located in the city of"
          emend edit --requests facts.json --out edited.gguf
          emend edit --help        (the requests file format)
          emend tokenize --model smollm2 --json " Paris"
          emend pull gemma3-270m   (the named models: emend models)
        """,
        subcommands: [GenerateCommand.self, EditCommand.self, EvalCommand.self, BenchCommand.self, TrainCommand.self,
                      StatsCommand.self, InspectCommand.self, TokenizeCommand.self, InitModelCommand.self, StoreCommand.self, ServeCommand.self, PullCommand.self, ModelsCommand.self,
                      EnvCommand.self, DevicesCommand.self])

    /// Standard output is line-buffered even when it is a file, so a long run's log shows each batch as it ends;
    /// with `$EMEND_THREADS` set, OpenBLAS uses that many threads too (otherwise its own default, or
    /// `$OPENBLAS_NUM_THREADS`).
    static func main() {
        lineBufferStandardOutput()
        if ProcessInfo.processInfo.environment["EMEND_THREADS"] != nil { setBLASThreads(emendThreadCount) }
        var command: ParsableCommand.Type = Emend.self
        do {
            let args = try NegativeNumbers.joined(Array(CommandLine.arguments.dropFirst()))
            var parsed = try parseAsRoot(args)
            command = type(of: parsed)
            try parsed.run()
        } catch {
            ExitCodes.exit(with: error, command: command)
        }
    }

    /// `emend --version`. (A root `version:` would add `--version` to every subcommand's help, beside
    /// `store export --version N`.)
    @Flag(help: "Show the version.") var version = false

    func run() throws {
        guard version else { throw CleanExit.helpRequest(self) }
        print(Self.versionString)
    }

    static let versionString = "0.1.0"
}

struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env", abstract: "Print the environment Emend runs in.",
        discussion: """
        Example:
          EMEND_THREADS=2 emend env
        """)

    func run() throws {
        let home = ProcessInfo.processInfo.environment["EMEND_HOME"] ?? (NSHomeDirectory() + "/.cache/emend")
        print("emend \(Emend.versionString)")
        print("threads:    \(emendThreadCount)")
        print("EMEND_HOME: \(home)")
    }
}
