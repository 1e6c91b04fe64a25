// The `emend` command: subcommands parse their arguments and call one library function each.

import ArgumentParser
import EmendCore
import Foundation

@main
struct Emend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emend",
        abstract: "Correct the facts a transformer language model has memorised, by editing its weights.",
        version: "0.1.0",
        subcommands: [GenerateCommand.self, EditCommand.self, EvalCommand.self, BenchCommand.self, TrainCommand.self,
                      StatsCommand.self, InspectCommand.self, StoreCommand.self, EnvCommand.self, DevicesCommand.self])

    /// Standard output is line-buffered even when it is a file, so a long run's log shows each batch as it ends;
    /// with `$EMEND_THREADS` set, OpenBLAS uses that many threads too (otherwise its own default, or
    /// `$OPENBLAS_NUM_THREADS`).
    static func main() {
        lineBufferStandardOutput()
        if ProcessInfo.processInfo.environment["EMEND_THREADS"] != nil { setBLASThreads(emendThreadCount) }
        main(nil)
    }
}

struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env", abstract: "Print the environment Emend runs in.")

    func run() throws {
        let home = ProcessInfo.processInfo.environment["EMEND_HOME"] ?? (NSHomeDirectory() + "/.cache/emend")
        print("emend 0.1.0")
        print("threads:    \(emendThreadCount)")
        print("EMEND_HOME: \(home)")
    }
}
