// The byte <-> printable-character table of GPT-2 byte-level BPE.
//
// Byte-level BPE never sees raw bytes: every byte 0...255 is first replaced by one printable
// Unicode scalar, so that vocabulary and merge files are plain text. Bytes that are already
// visible Latin-1 characters ('!'...'~', '¡'...'¬', '®'...'ÿ', 188 of them) stand for themselves;
// the other 68 (controls, space, DEL, NBSP, soft hyphen...) are sent, in increasing byte order, to
// U+0100, U+0101, ... . So the space byte 0x20 becomes "Ġ" (U+0120) and '\n' becomes "Ċ" (U+010A).

/// GPT-2's reversible byte <-> scalar table.
public enum ByteLevel {
    /// `scalar[b]` is the printable scalar that stands for byte `b`. [256]
    public static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if isSelfMapped(UInt8(b)) {
                table[b] = Unicode.Scalar(UInt8(b))
            } else {
                // 256 + n stays below U+0144, always a valid scalar.
                table[b] = Unicode.Scalar(next) ?? " "
                next += 1
            }
        }
        return table
    }()

    /// The byte a printable scalar stands for, or nil when the scalar is not in the table.
    @inline(__always)
    public static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = scalar.value
        if v < 256 { return isSelfMapped(UInt8(v)) ? UInt8(v) : nil }
        if v < 256 + 68 { return byteForShiftedScalar[Int(v - 256)] }
        return nil
    }

    /// The byte-level string of some raw bytes (what a vocabulary entry looks like).
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(scalarForByte[Int(b)]) }
        return String(s)
    }

    /// The raw bytes of a byte-level string; scalars outside the table contribute their own UTF-8.
    public static func decode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for s in text.unicodeScalars {
            if let b = byte(for: s) { out.append(b) } else { out.append(contentsOf: String(s).utf8) }
        }
        return out
    }

    // MARK: - Helpers

    /// Bytes that are printable Latin-1 and so represent themselves.
    @inline(__always)
    static func isSelfMapped(_ b: UInt8) -> Bool {
        (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
    }

    /// Inverse of the shifted part of the table: index v - 256 -> byte. [68]
    private static let byteForShiftedScalar: [UInt8] = {
        var out: [UInt8] = []
        for b in 0..<256 where !isSelfMapped(UInt8(b)) { out.append(UInt8(b)) }
        return out
    }()
}
