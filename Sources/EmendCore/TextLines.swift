// Splitting text files into lines the same way everywhere.

/// The lines of a text split at every LF scalar, CR kept (a "\r\n" pair is one Character, so splitting by
/// Character would not see it; WikiText-2 raw and some JSONL files have CRLF ends). Joining with "\n" gives the
/// text back exactly; callers that trim whitespace drop the CR.
public func linesSplitAtLF(_ text: String) -> [String] {
    text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { String(String.UnicodeScalarView($0)) }
}
