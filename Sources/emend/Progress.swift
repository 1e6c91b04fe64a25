// A one-line progress bar on standard error, with rate and ETA; silent when stderr is not a terminal except
// for a line every 10 %.

import Foundation

final class ProgressBar: @unchecked Sendable {
    let label: String
    let start = Date()
    var lastDecile = -1
    let interactive = isatty(2) != 0
    /// Work already done before this process started (a resumed run): the ETA uses only this session's rate.
    let initial: Int

    init(_ label: String, initial: Int = 0) { self.label = label; self.initial = initial }

    func update(_ done: Int, _ total: Int, detail: String = "") {
        let frac = total > 0 ? Double(done) / Double(total) : 1
        let elapsed = Date().timeIntervalSince(start)
        let here = done - initial, left = total - done
        let eta = here > 0 ? elapsed / Double(here) * Double(left) : 0
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
