// A one-line progress bar on standard error, with rate and ETA; silent when stderr is not a terminal except
// for a line every 10 %.

import Foundation

final class ProgressBar: @unchecked Sendable {
    let label: String
    let start = Date()
    var lastDecile = -1
    let interactive = isatty(2) != 0

    init(_ label: String) { self.label = label }

    func update(_ done: Int, _ total: Int, detail: String = "") {
        let frac = total > 0 ? Double(done) / Double(total) : 1
        let elapsed = Date().timeIntervalSince(start)
        let eta = frac > 0 ? elapsed / frac - elapsed : 0
        let width = 30
        let filled = Int(frac * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line = String(format: "%@ [%@] %d/%d  %.0fs elapsed, ETA %.0fs %@", label, bar, done, total, elapsed, eta, detail)
        if interactive {
            FileHandle.standardError.write(("\r" + line + (done >= total ? "\n" : "")).data(using: .utf8)!)
        } else {
            let decile = Int(frac * 10)
            if decile != lastDecile { lastDecile = decile; FileHandle.standardError.write((line + "\n").data(using: .utf8)!) }
        }
    }
}

/// Prints to standard error.
func note(_ s: String) { FileHandle.standardError.write((s + "\n").data(using: .utf8)!) }
