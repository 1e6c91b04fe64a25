// How `emend` ends: exit 0 on success, 1 for a runtime error (a file that cannot be read or written, a model or
// request the library refuses), 64 (EX_USAGE, ArgumentParser's ValidationError) for a command line that asks
// for something impossible. Every message is one sentence on standard error; Foundation's own error text
// ("NSCocoaErrorDomain error 512") never reaches the user.

import ArgumentParser
import EmendModels
import Foundation

/// An error the CLI raises itself, after `validate()`: a usage error (exit 64) or a runtime error (exit 1).
enum CLIError: Error, CustomStringConvertible {
    /// The arguments contradict each other or the files they name (exit 64).
    case usage(String)
    /// The command is right but the world is not (a missing folder, no space left; exit 1).
    case runtime(String)

    var description: String {
        switch self { case .usage(let s), .runtime(let s): return s }
    }
}

enum ExitCodes {
    static let usage: Int32 = 64

    /// Prints `error` as one sentence and exits with its code.
    static func exit(with error: Error, command: ParsableCommand.Type) -> Never {
        switch error {
        case CLIError.usage(let message):
            let path = commandPath(of: command)
            FileHandle.standardError.write(Data("Error: \(message)\nSee 'emend \(path.isEmpty ? "" : path + " ")--help'.\n".utf8))
            Emend.exit(withError: ExitCode(usage))
        case CLIError.runtime(let message):
            FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
            Emend.exit(withError: ExitCode.failure)
        default:
            let ns = error as NSError
            if ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain {
                let path = (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
                let message = path.map { "\($0): \(fileErrorReason(error))" } ?? fileErrorReason(error)
                FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
                Emend.exit(withError: ExitCode.failure)
            }
            command.exit(withError: error)
        }
    }

    static func commandPath(of command: ParsableCommand.Type) -> String {
        if command == Emend.self { return "" }
        let name = command.configuration.commandName ?? ""
        for parent in [StoreCommand.self, BenchCommand.self] as [ParsableCommand.Type]
            where parent.configuration.subcommands.contains(where: { ObjectIdentifier($0) == ObjectIdentifier(command) }) {
            return "\(parent.configuration.commandName ?? "") \(name)"
        }
        return name
    }
}

/// "1 fact", "2 facts".
func counted(_ n: Int, _ noun: String, plural: String? = nil) -> String {
    "\(n) \(n == 1 ? noun : plural ?? noun + "s")"
}

/// The verb agreeing with a count: "1 request repeats", "2 requests repeat".
func agreeing(_ n: Int, _ singular: String, _ plural: String) -> String { n == 1 ? singular : plural }

// MARK: - Negative numbers

/// ArgumentParser reads `--show -2` as the option `--show` without a value followed by an unknown option `-2`
/// ("Missing value"). Before parsing, a negative number after an option that takes a value is joined to it
/// (`--show=-2`), so the command's own validation can say what range is allowed; a negative number anywhere
/// else (a version, a count given as an argument) is a usage error saying so.
enum NegativeNumbers {
    /// Long names of the flags (options without a value), which must not swallow the next argument.
    static let flags: Set<String> = ["--chat", "--json", "--all", "--unique-subjects", "--tensors", "--quiet", "--dry-run",
                                     "--help", "-h", "--version"]

    static func isNegativeNumber(_ s: String) -> Bool { s.count > 1 && s.hasPrefix("-") && Double(s) != nil }

    static func joined(_ args: [String]) throws -> [String] {
        var out: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "--" { out += args[i...]; break }
            if a.hasPrefix("--"), !a.contains("="), !flags.contains(a), i + 1 < args.count, isNegativeNumber(args[i + 1]) {
                out.append("\(a)=\(args[i + 1])")
                i += 2
                continue
            }
            if isNegativeNumber(a) {
                throw CLIError.usage("'\(a)' reads as an option: a negative number is not accepted here (a version or count is 0 or more; for a prompt that starts with '-', put -- before it)")
            }
            out.append(a)
            i += 1
        }
        return out
    }
}
