import Crypto
@testable import EmendServe
import Foundation
import XCTest

/// The keys file and key matching. Independent truths: SHA-256 from swift-crypto computed here, the file format
/// written by hand, and the scope order of the issue (an edit or admin key may also generate).
final class APIKeysTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-keys-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func sha(_ s: String) -> String { SHA256.hash(data: Data(s.utf8)).map { String(format: "%02x", $0) }.joined() }

    /// `addKey` stores only the SHA-256 of the key it returns (mode 0600), the key matches with its scope, and a key
    /// one character off does not.
    func testAddKey_StoresOnlyTheHash() throws {
        let file = dir.appendingPathComponent("keys.txt")
        let key = try APIKeyring.addKey(to: file, scope: .edit, name: "alice")
        let text = try String(contentsOf: file, encoding: .utf8)
        XCTAssertFalse(text.contains(key), "the key itself is not stored")
        XCTAssertTrue(text.contains("\(sha(key)) edit alice"), text)
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        let ring = try APIKeyring.load(from: file)
        XCTAssertEqual(ring.match(key)?.name, "alice")
        XCTAssertNil(ring.match(String(key.dropLast()) + (key.last == "0" ? "1" : "0")))
        XCTAssertNil(ring.match(""))
        XCTAssertThrowsError(try APIKeyring.addKey(to: file, scope: .admin, name: "alice"), "names are unique")
        XCTAssertThrowsError(try APIKeyring.addKey(to: file, scope: .admin, name: "two words"))
    }

    /// A running server's keys follow the file: a key added with `addKey` matches at the next check, a deleted line
    /// stops matching, and a file made malformed keeps the previous keys (and reports the error once). Truth: the
    /// file contents written here by hand and through `addKey`.
    func testKeyringFile_FollowsTheFile() throws {
        let file = dir.appendingPathComponent("keys.txt")
        let alice = try APIKeyring.addKey(to: file, scope: .edit, name: "alice")
        let ring = try KeyringFile(url: file, interval: 0)
        let errors = ErrorLog()
        ring.onReloadError = { errors.add($0) }
        XCTAssertEqual(ring.match(alice)?.name, "alice")
        let bob = try APIKeyring.addKey(to: file, scope: .generate, name: "bob")
        XCTAssertEqual(ring.match(bob)?.scope, .generate, "a key added while serving works at once")
        let kept = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").filter { !$0.contains(" alice") }
        try (kept.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        XCTAssertNil(ring.match(alice), "a deleted line revokes its key")
        XCTAssertEqual(ring.match(bob)?.name, "bob")
        try (kept.joined(separator: "\n") + "\nnot-a-hash admin mallory\n").write(to: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(ring.match(bob)?.name, "bob", "a malformed file keeps the keys in force")
        XCTAssertEqual(ring.match(bob)?.name, "bob")
        XCTAssertEqual(errors.count, 1, "the bad file is reported once, not on every request")
    }

    /// Scope order: generate < edit < admin.
    func testScopes_Order() {
        let k = { (s: KeyScope) in APIKey(hash: [], scope: s, name: "k") }
        XCTAssertTrue(k(.edit).allows(.generate))
        XCTAssertTrue(k(.admin).allows(.edit))
        XCTAssertFalse(k(.generate).allows(.edit))
        XCTAssertFalse(k(.edit).allows(.admin))
    }

    /// The catalogue of bad keys files: each is refused with the line and what was expected.
    func testLoad_BadFilesNameTheLine() throws {
        let good = sha("k")
        let cases: [(String, String, String)] = [
            ("empty", "", "holds no key"),
            ("comments only", "# nothing\n", "holds no key"),
            ("two fields", "\(good) edit\n", "line 1: expected '<sha256 hex> <scope> <name>', got 2 field(s)"),
            ("short hash", "abcd edit k\n", "line 1: expected a SHA-256 of 64 hex digits"),
            ("not hex", String(repeating: "z", count: 64) + " edit k\n", "line 1: expected a SHA-256 of 64 hex digits"),
            ("bad scope", "# header\n\(good) root k\n", "line 2: expected a scope generate, edit or admin, got 'root'"),
        ]
        for (name, text, expected) in cases {
            let f = dir.appendingPathComponent("\(name).txt")
            try Data(text.utf8).write(to: f)
            XCTAssertThrowsError(try APIKeyring.load(from: f), name) { e in
                XCTAssertTrue("\(e)".contains(expected), "\(name): \(e)")
            }
        }
        XCTAssertThrowsError(try APIKeyring.load(from: dir.appendingPathComponent("missing.txt"))) { e in
            XCTAssertTrue("\(e)".contains("cannot be read"), "\(e)")
        }
    }

    /// Matching compares every byte of every stored hash: the time for a presented key whose hash differs from a
    /// stored one in the first byte and for the right key are printed side by side (a measurement for the README,
    /// asserted only loosely: a shared machine is noisy).
    func testMatch_TimeDoesNotDependOnTheGuess() throws {
        let file = dir.appendingPathComponent("keys.txt")
        var keys: [String] = []
        for i in 0..<4 { keys.append(try APIKeyring.addKey(to: file, scope: .generate, name: "k\(i)")) }
        let ring = try APIKeyring.load(from: file)
        let wrong = "emk_" + String(repeating: "0", count: 64)
        func time(_ key: String) -> Double {
            var best = Double.infinity
            for _ in 0..<5 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                var found = 0
                for _ in 0..<20_000 where ring.match(key) != nil { found += 1 }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 20_000)
                XCTAssertEqual(found, key == wrong ? 0 : 20_000)
            }
            return best
        }
        let good = time(keys[3]), bad = time(wrong)
        print(String(format: "key match: right key %.0f ns, wrong key %.0f ns (ratio %.2f)", good, bad, bad / good))
        XCTAssertLessThan(max(good, bad) / min(good, bad), 3)
    }
}

/// Errors collected from a callback on any thread.
final class ErrorLog: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [Error] = []
    func add(_ e: Error) { lock.lock(); errors.append(e); lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return errors.count }
}
