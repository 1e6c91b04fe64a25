// API keys of `emend serve`: a keys file that holds only each key's SHA-256, its scope and a name; the key itself
// is shown once, when `emend serve keys add` makes it.
//
// Keys file (UTF-8 text, one key a line; '#' starts a comment):
//   <sha256 of the key, 64 lowercase hex digits> <scope: generate | edit | admin> <name>
//
// A presented key is hashed and compared with every stored hash in constant time (the comparison does not stop at
// the first differing byte, nor at the first matching key), so the time taken does not tell how close a guess was.
// A running server reads the file again when it changes (`KeyringFile`): a key added with `emend serve keys add`
// works at once, a line deleted revokes its key; a file that no longer parses keeps the previous keys and is logged.

import Crypto
import Foundation

/// What a key may do. Each scope includes the ones before it: an edit key may generate, an admin key may edit.
public enum KeyScope: String, Sendable, CaseIterable, Comparable, Codable {
    /// Completions, chat, the models list, reading the queue and versions.
    case generate
    /// Also submit edits.
    case edit
    /// Also roll back versions and read the metrics.
    case admin

    var rank: Int { KeyScope.allCases.firstIndex(of: self) ?? 0 }
    public static func < (a: KeyScope, b: KeyScope) -> Bool { a.rank < b.rank }
}

/// One key as the server knows it (never the key itself).
public struct APIKey: Sendable, Equatable {
    /// SHA-256 of the key: 32 bytes.
    public var hash: [UInt8]
    public var scope: KeyScope
    /// A label for logs and the journal (which key submitted an edit).
    public var name: String

    public func allows(_ needed: KeyScope) -> Bool { scope >= needed }
}

/// The keys of a server, read from its keys file.
public struct APIKeyring: Sendable {
    public var keys: [APIKey]

    public init(keys: [APIKey]) { self.keys = keys }

    /// Reads a keys file; each malformed line is an error naming the file, the line and what was expected.
    public static func load(from url: URL) throws -> APIKeyring {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw ServeError.keysFile(file: url.path, line: 0, problem: "cannot be read (\(error.localizedDescription)); hint: create it with `emend serve keys add --keys \(url.path) --scope admin`")
        }
        var keys: [APIKey] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?
                .trimmingCharacters(in: .whitespaces) ?? ""
            if line.isEmpty { continue }
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard fields.count == 3 else {
                throw ServeError.keysFile(file: url.path, line: n + 1, problem: "expected '<sha256 hex> <scope> <name>', got \(fields.count) field(s)")
            }
            guard let hash = hexBytes(fields[0]), hash.count == 32 else {
                throw ServeError.keysFile(file: url.path, line: n + 1, problem: "expected a SHA-256 of 64 hex digits, got '\(fields[0].prefix(80))'")
            }
            guard let scope = KeyScope(rawValue: fields[1]) else {
                throw ServeError.keysFile(file: url.path, line: n + 1, problem: "expected a scope generate, edit or admin, got '\(fields[1].prefix(40))'")
            }
            keys.append(APIKey(hash: hash, scope: scope, name: fields[2]))
        }
        guard !keys.isEmpty else {
            throw ServeError.keysFile(file: url.path, line: 0, problem: "holds no key, so no request could be served; hint: `emend serve keys add --keys \(url.path) --scope admin`")
        }
        return APIKeyring(keys: keys)
    }

    /// The key whose hash equals the presented key's SHA-256, compared against every stored hash in constant time.
    public func match(_ presented: String) -> APIKey? {
        let digest = Array(SHA256.hash(data: Data(presented.utf8)))
        var found: APIKey? = nil
        for k in keys {
            // Every byte of every key is compared; only the final flag decides.
            var diff: UInt8 = 0
            for i in 0..<32 { diff |= digest[i] ^ (i < k.hash.count ? k.hash[i] : 0) }
            if diff == 0 && k.hash.count == 32 && found == nil { found = k }
        }
        return found
    }

    /// Makes a new random key, appends its hash to the keys file (created with mode 0600 when missing) and
    /// returns the key, which is stored nowhere.
    public static func addKey(to url: URL, scope: KeyScope, name: String) throws -> String {
        guard !name.isEmpty, !name.contains(where: { $0.isWhitespace || $0 == "#" }) else {
            throw ServeError.invalidOption(name: "--name", expected: "a label without spaces or '#'", got: "'\(name)'")
        }
        if FileManager.default.fileExists(atPath: url.path) {
            let existing = (try? load(from: url).keys.map(\.name)) ?? []
            if existing.contains(name) { throw ServeError.invalidOption(name: "--name", expected: "a name not yet in \(url.path)", got: "'\(name)'") }
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        let key = "emk_" + bytes.map { String(format: "%02x", $0) }.joined()
        let hash = SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
        let line = "\(hash) \(scope.rawValue) \(name)\n"
        let fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard fd >= 0 else { throw ServeError.keysFile(file: url.path, line: 0, problem: "cannot be written: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let header = lseek(fd, 0, SEEK_END) == 0 ? "# emend serve keys: <sha256 of the key> <scope> <name>; the keys themselves are not stored\n" : ""
        let bytesOut = Array((header + line).utf8)
        guard write(fd, bytesOut, bytesOut.count) == bytesOut.count, fsync(fd) == 0 else {
            throw ServeError.keysFile(file: url.path, line: 0, problem: "cannot be written: \(String(cString: strerror(errno)))")
        }
        return key
    }

    static func hexBytes(_ s: String) -> [UInt8]? {
        let chars = Array(s.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}

/// The keys file of a running server: the keyring it last read, read again when the file's modification time,
/// size or inode change (checked at most every `interval` seconds, one `stat` per check).
public final class KeyringFile: @unchecked Sendable {
    public let url: URL
    let interval: Double
    private let lock = NSLock()
    private var keyring: APIKeyring
    private var signature: [Int]
    private var checkedAt: Double
    /// Called with the error when a changed file does not parse (the previous keys stay in force).
    var onReloadError: @Sendable (Error) -> Void = { _ in }

    /// Reads the file once; a malformed file is an error here (the server does not start).
    public init(url: URL, interval: Double = 1) throws {
        self.url = url
        self.interval = interval
        signature = KeyringFile.signature(url)
        keyring = try APIKeyring.load(from: url)
        checkedAt = Date().timeIntervalSince1970
    }

    /// The keys in force now.
    public func current(now: Double = Date().timeIntervalSince1970) -> APIKeyring {
        lock.lock(); defer { lock.unlock() }
        guard now - checkedAt >= interval else { return keyring }
        checkedAt = now
        let sig = KeyringFile.signature(url)
        guard sig != signature else { return keyring }
        do {
            keyring = try APIKeyring.load(from: url)
            signature = sig
        } catch {
            signature = sig   // reported once per change, not on every request
            onReloadError(error)
        }
        return keyring
    }

    /// The key `presented` names in the keys in force, compared in constant time (see `APIKeyring.match`).
    public func match(_ presented: String) -> APIKey? { current().match(presented) }

    /// (modification time in ns, size, inode); empty when the file cannot be read.
    static func signature(_ url: URL) -> [Int] {
        var st = stat()
        guard stat(url.path, &st) == 0 else { return [] }
        return [Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec), Int(st.st_size), Int(st.st_ino)]
    }
}
