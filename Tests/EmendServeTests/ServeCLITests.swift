import Crypto
import EmendEditing
import EmendTestSupport
import Foundation
import XCTest

/// `emend serve` and `emend serve keys add` as a user runs them: the key is the last word of the output and its
/// SHA-256 (computed here) is what the file holds; bad options are usage errors (64); a missing keys file, a folder
/// that is not a store and a store another server writes are runtime errors (1) that name the file or the holder.
final class ServeCLITests: XCTestCase {
    func run(_ args: [String], home: URL) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = ServeProcess.binary
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["EMEND_HOME"] = home.path
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe; p.standardError = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, out)
    }

    func testServeCLI_KeysAndRefusals() throws {
        guard TestPaths.exists(ServeProcess.binary) else { throw XCTSkip("\(ServeProcess.binary.path) not built") }
        let f = try ServeFixture.make("cli")
        defer { f.remove() }
        let home = f.dir.appendingPathComponent("home")
        let keys = f.dir.appendingPathComponent("new-keys.txt")

        let added = try run(["serve", "keys", "add", "--keys", keys.path, "--scope", "generate"], home: home)
        XCTAssertEqual(added.status, 0, added.output)
        let key = try XCTUnwrap(added.output.split(whereSeparator: \.isWhitespace).last.map(String.init))
        XCTAssertTrue(key.hasPrefix("emk_"), added.output)
        let sha = SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
        XCTAssertTrue(try String(contentsOf: keys, encoding: .utf8).contains("\(sha) generate generate-1"))

        XCTAssertEqual(try run(["serve", "keys", "add", "--keys", keys.path, "--scope", "root"], home: home).status, 64)
        XCTAssertEqual(try run(["serve", "--store", f.store.path, "--keys", keys.path, "--max-wait", "31"], home: home).status, 64)
        XCTAssertEqual(try run(["serve", "--store", f.store.path, "--keys", keys.path, "--port", "70000"], home: home).status, 64)

        let missing = try run(["serve", "--store", f.store.path, "--keys", f.dir.appendingPathComponent("none.txt").path,
                               "--model", f.model.path], home: home)
        XCTAssertEqual(missing.status, 1, missing.output)
        XCTAssertTrue(missing.output.contains("none.txt") && missing.output.contains("cannot be read"), missing.output)
        let notStore = try run(["serve", "--store", f.dir.path, "--keys", keys.path], home: home)
        XCTAssertEqual(notStore.status, 1, notStore.output)
        XCTAssertTrue(notStore.output.contains("is not an edit store"), notStore.output)

        let server = try ServeProcess(["--store", f.store.path, "--keys", f.keysFile.path, "--model", f.model.path,
                                       "--preset", f.preset.path, "--corpus", f.corpus.path, "--port", "0"], home: home)
        XCTAssertNotNil(server.waitForPort(), server.output)
        let second = try run(["serve", "--store", f.store.path, "--keys", f.keysFile.path, "--model", f.model.path, "--port", "0"], home: home)
        XCTAssertEqual(second.status, 1, second.output)
        XCTAssertTrue(second.output.contains("being written by another process"), second.output)
        server.kill(SIGTERM)
        XCTAssertFalse(server.wait())
        XCTAssertEqual(server.process.terminationStatus, 0, server.output)
    }
}
