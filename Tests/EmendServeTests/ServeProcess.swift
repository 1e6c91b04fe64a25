// A child `emend serve` process for the tests that kill it: started with its own EMEND_HOME and one BLAS thread,
// its output collected, its port read from the "listening on" line; plus a small blocking HTTP client.

import EmendTestSupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

final class ServeProcess: @unchecked Sendable {
    static var binary: URL { TestPaths.repoRoot.appendingPathComponent(".build/release/emend") }

    let process = Process()
    private let lock = NSLock()
    private var buffer = Data()
    private(set) var port: Int?

    var output: String { lock.lock(); defer { lock.unlock() }; return String(decoding: buffer, as: UTF8.self) }

    init(_ args: [String], home: URL, env extra: [String: String] = [:]) throws {
        process.executableURL = ServeProcess.binary
        process.arguments = ["serve"] + args
        var env = ProcessInfo.processInfo.environment
        env["EMEND_HOME"] = home.path
        env["EMEND_THREADS"] = "1"
        env["LOG_LEVEL"] = "notice"
        for (k, v) in extra { env[k] = v }
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe; process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock(); self.buffer.append(d); self.lock.unlock()
        }
        try process.run()
    }

    /// Waits for the "listening on http://host:port" line; nil when the process ended first or `timeout` passed.
    func waitForPort(timeout: Double = 120) -> Int? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if let r = output.range(of: #"listening on http://[^:]+:(\d+)"#, options: .regularExpression) {
                let digits = output[r].split(separator: ":").last.map(String.init) ?? ""
                port = Int(digits)
                return port
            }
            if !process.isRunning { return nil }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }

    func kill(_ signal: Int32) { if process.isRunning { Foundation.kill(process.processIdentifier, signal) } }

    /// Waits for the exit; true when it was killed by SIGKILL.
    @discardableResult
    func wait(timeout: Double = 120) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        return process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL
    }
}

/// Blocking HTTP for the tests: status and body (nil status when the connection failed).
enum HTTP {
    static func request(_ method: String, _ url: String, key: String?, body: Any? = nil, timeout: Double = 60) -> (status: Int?, body: Data) {
        guard let u = URL(string: url) else { return (nil, Data()) }
        var r = URLRequest(url: u, timeoutInterval: timeout)
        r.httpMethod = method
        if let key { r.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        if let body {
            r.httpBody = body as? Data ?? (try? JSONSerialization.data(withJSONObject: body))
            r.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let done = DispatchSemaphore(value: 0)
        let result = ResultBox()
        URLSession.shared.dataTask(with: r) { data, response, _ in
            result.status = (response as? HTTPURLResponse)?.statusCode
            result.data = data ?? Data()
            done.signal()
        }.resume()
        done.wait()
        return (result.status, result.data)
    }

    static func json(_ data: Data) -> [String: Any] { (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:] }

    private final class ResultBox: @unchecked Sendable { var status: Int?; var data = Data() }
}
