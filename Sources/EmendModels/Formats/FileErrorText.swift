// Sentences for Foundation's file and JSON errors. Foundation's own text on Linux is "The operation could not be
// completed. (NSCocoaErrorDomain error 512.)": it names neither the problem nor the path, so every reader and
// writer that catches a Foundation error describes it with `fileErrorReason`, and JSON readers report a parse
// failure with its line and column (`JSONErrorLocation`).

import Foundation

/// What went wrong with a file operation, in words ("no such file or directory", "permission denied", …);
/// an error that is not Foundation's keeps its own description.
public func fileErrorReason(_ error: Error) -> String {
    let ns = error as NSError
    guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return "\(error)" }
    var isDirectory: ObjCBool = false
    if let path = ns.userInfo[NSFilePathErrorKey] as? String ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path,
       FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        return "it is a folder, not a file"
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    switch CocoaError.Code(rawValue: ns.code) {
    case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or directory"
    case .fileReadNoPermission, .fileWriteNoPermission: return "permission denied"
    case .fileWriteOutOfSpace: return "no space left on device"
    case .fileWriteFileExists: return "a file of that name already exists"
    case .fileWriteVolumeReadOnly: return "the volume is read-only"
    case .fileReadTooLarge: return "the file is too large to read"
    case .fileReadCorruptFile: return "the file is damaged or in an unexpected format"
    case .fileReadInapplicableStringEncoding, .fileWriteInapplicableStringEncoding: return "the text is not valid UTF-8"
    case .fileWriteInvalidFileName: return "the file name is not valid"
    case .fileWriteUnknown: return "it could not be written (the folder may be missing or not writable)"
    case .fileReadUnknown: return "an unknown read error"
    case .propertyListReadCorrupt: return "it is not valid JSON"
    default: return "file error \(ns.code)"
    }
}

/// Where a JSON document stops being valid: 1-based line and column, found by a small scanner (Foundation's
/// error gives neither on every platform). nil when the bytes are valid JSON.
public struct JSONErrorLocation: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    /// What the scanner expected there.
    public var expected: String

    public init(line: Int, column: Int, expected: String) { self.line = line; self.column = column; self.expected = expected }

    public var description: String { "line \(line), column \(column): expected \(expected)" }

    /// Scans `data` as one JSON value; returns the first position that breaks the grammar.
    public static func find(in data: Data) -> JSONErrorLocation? {
        var scanner = JSONScanner(bytes: Array(data))
        return scanner.document()
    }
}

/// A recursive-descent JSON recogniser that only reports where the grammar breaks (the values are read by
/// JSONSerialization). Depth is capped so hostile nesting cannot exhaust the stack. Like Foundation's parser, it
/// accepts a trailing comma before `]` or `}`.
private struct JSONScanner {
    let bytes: [UInt8]
    var i = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func location(_ expected: String) -> JSONErrorLocation {
        var line = 1, column = 1
        for b in bytes[..<min(i, bytes.count)] {
            if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
        }
        return JSONErrorLocation(line: line, column: column, expected: expected)
    }

    mutating func skipSpace() { while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 } }

    mutating func document() -> JSONErrorLocation? {
        skipSpace()
        if i == bytes.count { return location("a JSON value (the file is empty)") }
        if let e = value(depth: 0) { return e }
        skipSpace()
        return i == bytes.count ? nil : location("the end of the document (one JSON value per file, or JSONL)")
    }

    mutating func literal(_ word: String) -> JSONErrorLocation? {
        for b in word.utf8 {
            guard i < bytes.count, bytes[i] == b else { return location("'\(word)'") }
            i += 1
        }
        return nil
    }

    mutating func value(depth: Int) -> JSONErrorLocation? {
        skipSpace()
        guard depth < 512 else { return location("less deeply nested arrays or objects") }
        guard i < bytes.count else { return location("a value") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return object(depth: depth)
        case UInt8(ascii: "["): return array(depth: depth)
        case UInt8(ascii: "\""): return string()
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "n"): return literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
        default: return location("a value (object, array, string, number, true, false or null)")
        }
    }

    mutating func object(depth: Int) -> JSONErrorLocation? {
        i += 1
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return nil }
        while true {
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return nil }
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return location("a quoted key") }
            if let e = string() { return e }
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return location("':' after the key") }
            i += 1
            if let e = value(depth: depth + 1) { return e }
            skipSpace()
            guard i < bytes.count else { return location("',' or '}'") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return nil }
            return location("',' or '}'")
        }
    }

    mutating func array(depth: Int) -> JSONErrorLocation? {
        i += 1
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return nil }
        while true {
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return nil }
            if let e = value(depth: depth + 1) { return e }
            skipSpace()
            guard i < bytes.count else { return location("',' or ']'") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return nil }
            return location("',' or ']'")
        }
    }

    mutating func string() -> JSONErrorLocation? {
        i += 1
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { i += 1; return nil }
            if b < 0x20 { return location("a closing quote (control character or line break inside a string)") }
            i += b == UInt8(ascii: "\\") ? 2 : 1
        }
        return location("a closing quote")
    }

    mutating func number() -> JSONErrorLocation? {
        let start = i
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        func digits(_ s: inout JSONScanner) -> Int {
            var n = 0
            while s.i < s.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(s.bytes[s.i]) { s.i += 1; n += 1 }
            return n
        }
        if digits(&self) == 0 { return location("a digit") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") { i += 1; if digits(&self) == 0 { return location("a digit after '.'") } }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            if digits(&self) == 0 { return location("a digit in the exponent") }
        }
        return i > start ? nil : location("a number")
    }
}

/// Why JSON bytes could not be decoded, in words: the line and column of a syntax error, or the path of the field
/// whose type or presence is wrong ("'search.maxSteps' is not a number"), never Swift's `DecodingError` dump.
public func jsonDecodingReason(_ error: Error, data: Data) -> String {
    if let at = JSONErrorLocation.find(in: data) { return "malformed JSON, \(at)" }
    guard let e = error as? DecodingError else { return fileErrorReason(error) }
    func path(_ c: DecodingError.Context, _ last: CodingKey? = nil) -> String {
        let keys = c.codingPath + (last.map { [$0] } ?? [])
        let p = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return p.isEmpty ? "the top level" : "'\(p.hasPrefix(".") ? String(p.dropFirst()) : p)'"
    }
    func kind(_ t: Any.Type) -> String {
        let s = "\(t)"
        if s.hasPrefix("Dictionary") { return "an object" }
        if s.hasPrefix("Array") { return "an array" }
        if s == "String" { return "a string" }
        if s == "Bool" { return "true or false" }
        if ["Int", "Int32", "Int64", "UInt64", "UInt32", "Double", "Float"].contains(s) { return "a number" }
        return s
    }
    switch e {
    case let .keyNotFound(key, c): return "\(path(c, key)) is missing"
    case let .typeMismatch(t, c): return "\(path(c)) is not \(kind(t))"
    case let .valueNotFound(t, c): return "\(path(c)) is null, expected \(kind(t))"
    case let .dataCorrupted(c): return "\(path(c)): \(c.debugDescription)"
    @unknown default: return "\(e)"
    }
}
