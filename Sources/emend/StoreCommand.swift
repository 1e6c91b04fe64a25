// `emend store …`: create an edit store, read its journal, roll it back, export a version, verify it.
// `emend edit --store DIR …` (StoreEdit.swift) writes to it.

import ArgumentParser
import EmendCore
import EmendEditing
import EmendModels
import Foundation

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "The edit store: a durable, auditable journal of edits with versions, rollback and export.",
        discussion: """
        Examples:
          emend store init facts.store --model smollm2
          emend edit --store facts.store --requests facts.json --batch-size 100
          emend store log facts.store --subject Ferrari
          emend store show facts.store 2
          emend store rollback facts.store 1
          emend store export facts.store --format gguf --out edited.gguf
          emend store verify facts.store
          emend store queue facts.store --status refused
        """,
        subcommands: [StoreInit.self, StoreLog.self, StoreShow.self, StoreRollback.self, StoreExport.self, StoreVerify.self,
                      StoreQueue.self])
}

struct StoreInit: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create a store bound to a base model (path and SHA-256).",
        discussion: """
        Examples:
          emend store init facts.store --model smollm2
          emend store init facts.store --model path/to/model.gguf --checkpoint-every 5
        """)
    @Argument(help: "The store folder (created).") var dir: String
    @OptionGroup var modelOption: ModelOption
    @Option(name: .customLong("checkpoint-every"), help: "Write a full checkpoint every N versions.") var checkpointEvery = 10

    func validate() throws { guard checkpointEvery > 0 else { throw ValidationError("--checkpoint-every must be positive") } }

    func run() throws {
        let source = try ModelSource.resolve(modelOption.model)
        let store = try EditStore.create(at: URL(fileURLWithPath: dir), baseModel: source.url, checkpointEvery: checkpointEvery)
        let info = try store.info()
        print("created store \(dir): base \(info["base_model_path"] ?? "?") sha256 \(info["base_model_sha256"] ?? "?"), checkpoint every \(checkpointEvery) versions")
    }
}

struct StoreLog: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "List the versions and their requests.",
        discussion: """
        Examples:
          emend store log facts.store
          emend store log facts.store --subject Ferrari --all
        """)
    @Argument(help: "The store folder.") var dir: String
    @Option(help: "Only requests whose subject contains this text (any case).") var subject: String?
    @Flag(name: .customLong("all"), help: "Include rolled-back batches.") var includeRolledBack = false

    func run() throws {
        let store = try EditStore.open(at: URL(fileURLWithPath: dir), writer: false)
        let batches = try store.batches(includeRolledBack: includeRolledBack)
        let requests = Dictionary(grouping: try store.requests(subject: subject, includeRolledBack: includeRolledBack), by: \.batchID)
        print("head: version \(try store.head())")
        for b in batches {
            let rs = requests[b.id] ?? []
            if subject != nil, rs.isEmpty { continue }
            let status = b.status == "committed" ? "" : " [rolled back \(b.rolledBackAt ?? "")]"
            print("version \(b.version)\(status)  \(b.createdAt)  \(b.method)  \(b.requestCount) requests\(b.checkpointFile != nil ? "  checkpoint" : "")")
            for r in rs {
                let steps = r.searchSteps.map { " (\($0) steps)" } ?? ""
                let sup = r.supersededBy.map { " [superseded by batch \($0)]" } ?? ""
                print("  \(r.prompt.replacingOccurrences(of: "{}", with: r.subject)): \(r.targetTrue ?? "?") → \(r.targetNew)\(steps)\(sup)")
            }
        }
    }
}

struct StoreShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one version: its batch, requests, metrics and files.",
        discussion: """
        Examples:
          emend store show facts.store        (the head version)
          emend store show facts.store 2
        """)
    @Argument(help: "The store folder.") var dir: String
    @Argument(help: "The version (default: the head; 0: the base model).") var version: Int?

    func validate() throws {
        if let v = version, v < 0 { throw ValidationError("the version must be 0 or more, got \(v)") }
    }

    func run() throws {
        let store = try EditStore.open(at: URL(fileURLWithPath: dir), writer: false)
        let info = try store.info()
        let head = try store.head()
        let v = version ?? head
        print("store \(dir): base \(info["base_model_path"] ?? "?") sha256 \(info["base_model_sha256"] ?? "?"); head version \(head)")
        guard v > 0 else { print("version 0: the base model"); return }
        guard let b = try store.batches().first(where: { $0.version == v }) else {
            throw EditStoreError.noSuchVersion(store: dir, version: v, head: head)
        }
        print("version \(b.version) (batch \(b.id)), \(b.createdAt), method \(b.method), \(b.requestCount) requests")
        print("tensors: \(b.tensorFile) (\(b.tensorBytes) bytes, sha256 \(b.tensorSHA256))")
        if let c = b.checkpointFile { print("checkpoint: \(c) (sha256 \(b.checkpointSHA256 ?? "?"))") }
        print("weights sha256 \(b.weightsSHA256); state sha256 \(b.stateSHA256)")
        print("metrics: \(b.metrics)")
        print("hyper-parameters: \(b.hyperParameters)")
        for r in try store.requests().filter({ $0.batchID == b.id }) {
            print("  [\(r.position)] case \(r.caseID.map(String.init) ?? "-"): \(r.prompt.replacingOccurrences(of: "{}", with: r.subject)): \(r.targetTrue ?? "?") → \(r.targetNew); steps \(r.searchSteps.map(String.init) ?? "-"), losses \(r.losses)")
        }
    }
}

struct StoreRollback: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rollback",
        abstract: "Make VERSION the head (exact); later batches are kept in the journal as rolled back.",
        discussion: """
        Examples:
          emend store rollback facts.store 1
          emend store rollback facts.store 0      (back to the base model)
        """)
    @Argument(help: "The store folder.") var dir: String
    @Argument(help: "The version to return to (0: the base model).") var version: Int

    func validate() throws {
        guard version >= 0 else { throw ValidationError("the version must be 0 or more, got \(version)") }
    }

    func run() throws {
        let store = try EditStore.open(at: URL(fileURLWithPath: dir), writer: true)
        let from = try store.head()
        try store.rollback(to: version)
        print("rolled back \(dir) from version \(from) to \(version)")
    }
}

enum StoreExportFormat: String, ExpressibleByArgument, CaseIterable { case gguf, safetensors }

struct StoreExport: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Write a version of the edited model as GGUF or safetensors.",
        discussion: """
        Examples:
          emend store export facts.store --format gguf --out edited.gguf
          emend store export facts.store --version 2 \\
            --format safetensors --out edited-hf/
        """)
    @Argument(help: "The store folder.") var dir: String
    @Option(help: "gguf (a copy of the base GGUF with the edited tensors replaced) or safetensors (a Hugging Face folder).") var format: StoreExportFormat
    @Option(help: "The output .gguf file or folder.") var out: String
    @OptionGroup var exportType: ExportTypeOption
    @Option(help: "The version (default: the head; 0: the base model).") var version: Int?
    @Option(help: "The base model (default: the path recorded by `store init`).") var model: String?

    func validate() throws {
        if let v = version, v < 0 { throw ValidationError("--version must be 0 or more, got \(v)") }
        if out.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--out is empty: give a .gguf file or a folder") }
        try exportType.check(format: format == .gguf ? .gguf : .safetensors)
    }

    func run() throws {
        let output = try OutputTarget(out, explicit: format == .gguf ? .gguf : .safetensors, dtype: exportType.exportType)
        let store = try EditStore.open(at: URL(fileURLWithPath: dir), writer: false)
        let recorded = try store.info()["base_model_path"]
        let base = model ?? recorded ?? "smollm2"
        let loaded = try LoadedModel.load(base)
        try store.checkBaseModel(loaded.source.url)
        try output.check(for: loaded)
        let v = try version ?? store.head()
        let edited = try store.snapshot(at: v).applied(to: loaded.model)
        let report = try output.write(edited, tokenizer: loaded.tokenizer)
        print("exported version \(v) to \(out) (\(report.files.count) file(s), \(report.typeSummary))")
        for n in report.notes { print("note: \(n)") }
    }
}

struct StoreVerify: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify",
        abstract: "Check the store: base model and file checksums, journal-tensor consistency, every version rebuilt.",
        discussion: """
        Example:
          emend store verify facts.store
        """)
    @Argument(help: "The store folder.") var dir: String
    @Option(help: "The base model (default: the path recorded by `store init`).") var model: String?

    func run() throws {
        let store = try EditStore.open(at: URL(fileURLWithPath: dir), writer: false)
        let r = try store.verify(baseModel: try model.map { try ModelSource.resolve($0).url })
        print("head version \(r.head); \(r.batchesChecked) batches, \(r.filesChecked) files checked, \(r.versionsRebuilt) versions rebuilt")
        for n in r.notes { print("note: \(n)") }
        if !r.strayFiles.isEmpty { print("stray files (from an interrupted commit; the next writer removes them): \(r.strayFiles.joined(separator: ", "))") }
        if r.ok { print("ok"); return }
        for p in r.problems { print("problem: \(p)") }
        throw ExitCode.failure
    }
}

extension QueueStatus: ExpressibleByArgument {}

struct StoreQueue: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "queue",
        abstract: "List the edit queue of `emend serve`: each request received, its status, version or reason.",
        discussion: """
        Examples:
          emend store queue facts.store
          emend store queue facts.store --status refused --limit 20
        """)
    @Argument(help: "The store folder.") var dir: String
    @Option(help: "Only requests in this state: queued, applying, applied, refused, rolled_back.") var status: QueueStatus?
    @Option(help: "At most this many, newest first.") var limit = 100

    func validate() throws { guard limit > 0 else { throw ValidationError("--limit must be positive, got \(limit)") } }

    func run() throws {
        let store = try EditStore.open(at: URL(fileURLWithPath: dir), writer: false)
        let counts = try store.queueCounts()
        print("queue: " + QueueStatus.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)" }.joined(separator: ", "))
        for e in try store.queuedEdits(status: status, limit: limit) {
            let where_ = e.version.map { " in version \($0)" } ?? ""
            let why = e.reason.map { ": \($0)" } ?? ""
            print("  [\(e.id)] \(e.status.rawValue)\(where_)\(why)  \(e.request.filledPrompt) → \(e.request.targetNew)  (\(e.submittedBy ?? "-"), \(e.receivedAt))")
        }
    }
}
