// `emend serve`: one process that answers with the store's current version of the model (OpenAI-compatible API)
// and takes corrections (the edit queue), on Hummingbird 2. Starting it: open the store as its one writer, load the
// base model and check it is the store's, rebuild the head version, read the keys, start the writer thread, then
// listen. SIGTERM or SIGINT: stop accepting, finish the requests in flight, then stop the writer (a commit under way
// is finished; a batch being edited is abandoned and redone at the next start).

import EmendEditing
import EmendModels
import Foundation
import Hummingbird
import HummingbirdAuth
import Logging
import Metrics
import Prometheus

/// Everything `emend serve` is started with.
public struct ServeConfiguration: Sendable {
    public var store: URL
    /// The base model (default: the path the store recorded).
    public var model: String?
    public var host = "127.0.0.1"
    /// 0: any free port (the one chosen is reported to `onListening`).
    public var port = 8080
    public var keys: URL
    public var writer = WriterSettings()
    /// The id /v1/models lists; the same across versions (default: "emend-" + the model file's name).
    public var modelID: String?
    /// The origin allowed to call the API from a browser (nil: no CORS headers at all).
    public var corsOrigin: String?
    /// Threads that generate (default: 2).
    public var generationThreads = 2
    /// Greedy requests waiting on the same version generated together, at most (1: one at a time).
    public var generationBatch = 8
    public var maxBodyBytes = 1 << 20
    public var maxPromptTokens = 4096
    public var maxCompletionTokens = 1024
    public var maxEditsPerPost = 1000
    public var requestsPerMinute = 600
    public var dashboard = true

    public init(store: URL, keys: URL) { self.store = store; self.keys = keys }

    var limits: ServeLimits {
        ServeLimits(maxBodyBytes: maxBodyBytes, maxPromptTokens: maxPromptTokens, maxCompletionTokens: maxCompletionTokens,
                    maxEditsPerPost: maxEditsPerPost, requestsPerMinute: requestsPerMinute)
    }
}

public final class EmendServer: @unchecked Sendable {
    public let configuration: ServeConfiguration
    let store: EditStore
    let versions: ModelVersions
    let keyring: KeyringFile
    let writer: EditWriter
    let scheduler: GenerationScheduler
    let limiter: RateLimiter
    let limits: ServeLimits
    let modelID: String
    let logger: Logger
    let registry: PrometheusCollectorRegistry
    let started = Date()

    /// Opens the store as its writer, loads the model and the keys, and starts the writer thread.
    public init(_ configuration: ServeConfiguration, logger: Logger = Logger(label: "emend.serve")) throws {
        self.configuration = configuration
        self.logger = logger
        for (name, value, low) in [("--port", configuration.port, 0), ("--max-batch", configuration.writer.maxBatch, 1),
                                   ("--generation-threads", configuration.generationThreads, 1), ("--generation-batch", configuration.generationBatch, 1), ("--max-body-bytes", configuration.maxBodyBytes, 64),
                                   ("--max-prompt-tokens", configuration.maxPromptTokens, 1), ("--max-completion-tokens", configuration.maxCompletionTokens, 1),
                                   ("--max-edits-per-post", configuration.maxEditsPerPost, 1), ("--rate-limit", configuration.requestsPerMinute, 0)] where value < low {
            throw ServeError.invalidOption(name: name, expected: "at least \(low)", got: "\(value)")
        }
        guard configuration.port <= 65535 else { throw ServeError.invalidOption(name: "--port", expected: "0...65535", got: "\(configuration.port)") }
        guard configuration.writer.maxWait >= 0, configuration.writer.maxWait <= 30 else {
            throw ServeError.invalidOption(name: "--max-wait", expected: "0 to 30 seconds", got: "\(configuration.writer.maxWait)")
        }
        guard ["encore", "memit", "alphaedit", "emmet"].contains(configuration.writer.method) else {
            throw ServeError.invalidOption(name: "--method", expected: "encore, memit, alphaedit or emmet (the locate-then-edit methods)", got: configuration.writer.method)
        }
        keyring = try KeyringFile(url: configuration.keys)
        keyring.onReloadError = { [logger] error in logger.error("keys file changed but not reloaded, the previous keys stay: \(error)") }
        store = try EditStore.open(at: configuration.store, writer: true, faults: .fromEnvironment())
        let recorded = try store.info()["base_model_path"]
        let base = try LoadedModel.load(configuration.model ?? recorded ?? "smollm2")
        try store.checkBaseModel(base.source.url)
        try store.checkFiles()
        let snapshot = try store.snapshot()
        var current = base
        current.model = try snapshot.applied(to: base.model)
        versions = ModelVersions(base: base, current: ServedModel(version: snapshot.version, loaded: current))
        modelID = configuration.modelID ?? "emend-" + base.source.url.deletingPathExtension().lastPathComponent
        limits = configuration.limits
        limiter = RateLimiter(perMinute: configuration.requestsPerMinute)
        scheduler = GenerationScheduler(threads: configuration.generationThreads, maxBatch: configuration.generationBatch)
        registry = EmendServer.bootstrapMetrics()
        writer = EditWriter(store: store, versions: versions, settings: configuration.writer, logger: logger)
        writer.start()
        logger.info("store \(configuration.store.path) at version \(snapshot.version); model \(modelID)")
    }

    // MARK: - Metrics

    private static let metricsLock = NSLock()
    nonisolated(unsafe) private static var metricsRegistry: PrometheusCollectorRegistry?

    /// swift-metrics → Prometheus, once per process.
    static func bootstrapMetrics() -> PrometheusCollectorRegistry {
        metricsLock.lock(); defer { metricsLock.unlock() }
        if let r = metricsRegistry { return r }
        let r = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: r))
        metricsRegistry = r
        return r
    }

    // MARK: - The application

    /// The router with every route and middleware.
    func makeRouter() -> Router<ServeContext> {
        let router = Router(context: ServeContext.self)
        router.add(middleware: OpenAIErrorMiddleware(logger: logger))
        if let origin = configuration.corsOrigin {
            router.add(middleware: CORSMiddleware(allowOrigin: .custom(origin),
                                                  allowHeaders: [.accept, .authorization, .contentType, .origin],
                                                  allowMethods: [.get, .post, .options]))
        }
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: LogRequestsMiddleware(.info))
        router.add(middleware: APIKeyAuthenticator(keyring: keyring))
        addOpenAIRoutes(router)
        addEditRoutes(router)
        if configuration.dashboard { addDashboardRoutes(router) }
        router.get("/health") { _, _ in
            jsonResponse(["status": "ok", "version": self.versions.current.version])
        }
        router.get("/metrics") { _, context in
            _ = try context.authorize(.admin, limiter: self.limiter)
            self.updateGauges()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: self.registry.emitToString())))
        }
        return router
    }

    func updateGauges() {
        let counts = (try? store.queueCounts()) ?? [:]
        Gauge(label: "emend_queue_queued").record(counts[.queued] ?? 0)
        Gauge(label: "emend_served_version").record(versions.current.version)
    }

    /// The Hummingbird application; `onListening` gets the bound port.
    public func makeApplication(onListening: @escaping @Sendable (Int) -> Void = { _ in }) -> some ApplicationProtocol {
        Application(router: makeRouter(),
                    configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "emend"),
                    onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
                    logger: logger)
    }

    /// Serves until SIGTERM or SIGINT, then stops the writer (see the file's header).
    public func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let app = makeApplication(onListening: onListening)
        do {
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch {
            shutdown()
            throw error
        }
        shutdown()
        logger.info("stopped")
    }

    /// Stops the writer: returns once no commit is under way and none will start.
    public func shutdown() { writer.shutdown() }
}

// MARK: - JSON

func jsonData(_ value: Any) -> Data {
    (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
}

func jsonResponse(_ value: Any, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    var h = headers
    h[.contentType] = "application/json"
    return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: jsonData(value))))
}
