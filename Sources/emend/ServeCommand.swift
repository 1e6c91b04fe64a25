// `emend serve`: parse, start EmendServer, wait for SIGTERM. `emend serve keys add`: make an API key.

import ArgumentParser
import EmendEditing
import EmendServe
import Foundation
import Logging

extension KeyScope: ExpressibleByArgument {}

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve",
        abstract: "Serve a store's model over an OpenAI-compatible HTTP API, and take edits while it runs.",
        discussion: """
        The server answers with the store's current version; edits posted to \
        /v1/edits are journalled as queued before they are acknowledged (202), \
        applied in batches by one writer, and visible once their batch commits. \
        A killed server loses no acknowledged edit and applies none twice.

        Every /v1 request needs 'Authorization: Bearer <key>', a key from the \
        keys file (scopes: generate < edit < admin). The dashboard is at /.

        Examples:
          emend serve keys add --keys keys.txt --scope admin
          emend store init facts.store --model smollm2
          emend serve --store facts.store --keys keys.txt --port 8080
          curl -H "Authorization: Bearer $KEY" localhost:8080/v1/completions \\
            -d '{"prompt": "The Eiffel Tower is located in the city of"}'
        """,
        subcommands: [ServeRun.self, ServeKeysCommand.self], defaultSubcommand: ServeRun.self)
}

/// `emend serve [run] --store …`: the server itself (the default subcommand, so `run` may be left out).
struct ServeRun: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Start the server (the default: `emend serve --store …`).")

    @Option(help: "The edit store to serve and edit (create one with `emend store init`).") var store: String
    @Option(help: "The base model (default: the path the store recorded).") var model: String?
    @Option(help: "Address to listen on (loopback by default; 0.0.0.0 exposes the server to the network).") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port, printed at start).") var port = 8080
    @Option(help: "The keys file (`emend serve keys add` writes it).") var keys: String
    @Option(help: "The editing method: encore, memit, alphaedit or emmet.") var method = "encore"
    @Option(help: "A built-in preset name or a preset .json file (default: the model's preset for the method).") var preset: String?
    @Option(help: "Statistics corpus for the editor (default: the setup's).") var corpus: String?
    @Option(name: .customLong("max-batch"), help: "Requests per edit batch at most.") var maxBatch = 16
    @Option(name: .customLong("max-wait"), help: "Seconds (0 to 30) the oldest queued edit waits before a smaller batch starts.") var maxWait: Double = 10
    @Option(name: .customLong("on-duplicate"), help: "An edit that re-edits a subject and relation already edited: refuse (default), replace, keep-both or skip.")
    var onDuplicate: DuplicatePolicy = .refuse
    @Option(name: .customLong("model-id"), help: "The model id /v1/models lists (default: emend-<model file name>).") var modelID: String?
    @Option(name: .customLong("cors-origin"), help: "Allow browser calls from this origin (default: no CORS).") var corsOrigin: String?
    @Option(name: .customLong("generation-threads"), help: "Threads that generate.") var generationThreads = 2
    @Option(name: .customLong("generation-batch"), help: "Greedy requests waiting on the same version generated together, at most (1: one at a time).")
    var generationBatch = 8
    @Option(name: .customLong("max-body-bytes"), help: "Request bodies larger than this are refused (413).") var maxBodyBytes = 1 << 20
    @Option(name: .customLong("max-prompt-tokens"), help: "Longer prompts are refused (413).") var maxPromptTokens = 4096
    @Option(name: .customLong("max-completion-tokens"), help: "Larger max_tokens are refused (400).") var maxCompletionTokens = 1024
    @Option(name: .customLong("rate-limit"), help: "Requests per minute per key (0: no limit).") var rateLimit = 600
    @Flag(name: .customLong("no-dashboard"), help: "Do not serve the dashboard at /.") var noDashboard = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535, got \(port)") }
        guard maxBatch > 0 else { throw ValidationError("--max-batch must be positive, got \(maxBatch)") }
        guard maxWait >= 0, maxWait <= 30 else { throw ValidationError("--max-wait must be 0 to 30 seconds, got \(maxWait)") }
        guard ["encore", "memit", "alphaedit", "emmet"].contains(method) else {
            throw ValidationError("--method must be encore, memit, alphaedit or emmet (the locate-then-edit methods), got \(method)")
        }
        guard generationThreads > 0, generationBatch > 0 else { throw ValidationError("--generation-threads and --generation-batch must be positive") }
        guard maxBodyBytes >= 64, maxPromptTokens > 0, maxCompletionTokens > 0, rateLimit >= 0 else {
            throw ValidationError("--max-body-bytes must be ≥ 64, --max-prompt-tokens and --max-completion-tokens positive, --rate-limit ≥ 0")
        }
    }

    func run() throws {
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
            return h
        }
        var c = ServeConfiguration(store: URL(fileURLWithPath: store), keys: URL(fileURLWithPath: keys))
        c.model = model; c.host = host; c.port = port
        c.writer.method = method; c.writer.preset = preset; c.writer.corpus = corpus.map { URL(fileURLWithPath: $0) }
        c.writer.maxBatch = maxBatch; c.writer.maxWait = maxWait; c.writer.onDuplicate = onDuplicate
        c.modelID = modelID; c.corsOrigin = corsOrigin; c.generationThreads = generationThreads; c.generationBatch = generationBatch
        c.maxBodyBytes = maxBodyBytes; c.maxPromptTokens = maxPromptTokens; c.maxCompletionTokens = maxCompletionTokens
        c.requestsPerMinute = rateLimit; c.dashboard = !noDashboard
        let server = try EmendServer(c)
        let host = self.host
        let outcome = ServeOutcome()
        Task.detached {
            do {
                try await server.run { port in print("listening on http://\(host):\(port)") }
            } catch { outcome.error = error }
            outcome.done.signal()
        }
        outcome.done.wait()
        if let e = outcome.error { throw e }
        // The server has stopped and its writer will commit nothing more. Leave now, without running exit-time
        // destructors while the server task, the writer and BLAS threads are still being torn down (that race
        // aborted the process after a clean stop); every commit is already durable in the journal.
        fflush(nil)
        _exit(0)
    }
}

/// The server task's end, handed back to the synchronous command.
final class ServeOutcome: @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    var error: Error?
}

struct ServeKeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keys", abstract: "Manage the API keys of `emend serve`.",
                                                    subcommands: [ServeKeysAdd.self])
}

struct ServeKeysAdd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add",
        abstract: "Make a new API key and add its SHA-256 to the keys file; the key is printed once, as the last word.",
        discussion: """
        Examples:
          emend serve keys add --keys keys.txt --scope admin
          emend serve keys add --keys keys.txt --scope generate --name reader
        """)
    @Option(help: "The keys file (created, mode 0600, when missing).") var keys: String
    @Option(help: "generate (completions and reads), edit (also submit edits) or admin (also roll back, metrics).") var scope: KeyScope
    @Option(help: "A label for the key, without spaces (default: <scope>-<n>).") var name: String?

    func run() throws {
        let url = URL(fileURLWithPath: keys)
        let count = (try? APIKeyring.load(from: url).keys.count) ?? 0
        let label = name ?? "\(scope.rawValue)-\(count + 1)"
        let key = try APIKeyring.addKey(to: url, scope: scope, name: label)
        print("added key '\(label)' (scope \(scope.rawValue)) to \(keys); it is not stored, so keep it now: \(key)")
    }
}
