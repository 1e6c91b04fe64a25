// Progress on standard error: a one-line bar with rate and ETA for long phases (silent off a terminal except for a
// line every 10 %), and the target search's per-iteration report (SearchProgressReporter: bar, lines or JSON lines).

import ArgumentParser
import EmendEditing
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

// MARK: - Progress of the target search

/// How progress goes to standard error: `auto` is a bar on a terminal and plain lines otherwise.
enum ProgressStyle: String, ExpressibleByArgument, CaseIterable {
    case auto, bar, lines, json, none
}

/// Reports the target search of each batch (step, requests still searching, elapsed, ETA) in the chosen style.
/// The search calls `update` from its loop; all formatting is here. A batch larger than the search's chunk is
/// searched chunk after chunk, each starting again at step 1, so chunks are counted here.
final class SearchProgressReporter: @unchecked Sendable {
    let style: ProgressStyle
    private let lock = NSLock()
    private var batch = 0, batches = 0, batchSize = 0, chunk = 0, chunks = 1
    private var start = Date(), chunkStart = Date(), lastLine = Date.distantPast

    init(style: ProgressStyle) {
        self.style = style == .auto ? (isatty(2) != 0 ? .bar : .lines) : style
    }

    var quiet: Bool { style == .none }

    /// Starts the search of batch `index` (0-based) of `total`, holding `size` requests searched `perChunk` at a time.
    func beginBatch(_ index: Int, of total: Int, size: Int, perChunk: Int = 128) {
        lock.lock(); defer { lock.unlock() }
        batch = index + 1; batches = total; batchSize = size; chunk = 0
        chunks = max(1, (size + perChunk - 1) / max(1, perChunk))
        start = Date(); lastLine = .distantPast
    }

    /// A callback for `LocateThenEditor.searchProgress` (nil when quiet).
    var callback: (@Sendable (TargetSearchProgress) -> Void)? {
        if quiet { return nil }
        return { @Sendable [self] p in self.update(p) }
    }

    func update(_ p: TargetSearchProgress) {
        lock.lock(); defer { lock.unlock() }
        let now = Date()
        if p.step == 1 { chunk += 1; chunkStart = now }
        let elapsed = now.timeIntervalSince(start)
        // ETA as an upper bound: the steps left to the cap in this chunk and in every chunk still to come, at the
        // mean time per step so far (early stopping usually ends sooner).
        let perStep = now.timeIntervalSince(chunkStart) / Double(max(1, p.step))
        let stepsLeft = (p.active == 0 ? 0 : p.maxSteps - p.step) + (chunks - chunk) * p.maxSteps
        let eta = perStep * Double(stepsLeft)
        let done = p.active == 0 || p.step == p.maxSteps
        let chunkText = chunks > 1 ? " (chunk \(chunk)/\(chunks))" : ""
        let text = String(format: "search batch %d/%d%@: step %d/%d, %d of %d requests still searching, %.1fs elapsed, ETA ≤ %.0fs",
                          batch, batches, chunkText, p.step, p.maxSteps, p.active, p.requests, elapsed, eta)
        switch style {
        case .bar:
            let width = 20
            let filled = min(width, Int(Double(width) * Double(p.step) / Double(max(1, p.maxSteps))))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let finished = done && chunk == chunks
            FileHandle.standardError.write(Data(("\r[\(bar)] " + text + "\u{1B}[K" + (finished ? "\n" : "")).utf8))
        case .lines:
            guard p.step == 1 || done || now.timeIntervalSince(lastLine) >= 5 else { return }
            lastLine = now
            FileHandle.standardError.write(Data((text + "\n").utf8))
        case .json:
            let fields: [String] = ["\"event\":\"search\"", "\"batch\":\(batch)", "\"batches\":\(batches)", "\"chunk\":\(chunk)",
                                    "\"chunks\":\(chunks)", "\"step\":\(p.step)", "\"max_steps\":\(p.maxSteps)",
                                    "\"active\":\(p.active)", "\"requests\":\(p.requests)",
                                    String(format: "\"elapsed_s\":%.3f", elapsed), String(format: "\"eta_s\":%.3f", eta)]
            FileHandle.standardError.write(Data(("{" + fields.joined(separator: ",") + "}\n").utf8))
        case .auto, .none: break
        }
    }

    /// A progress callback for other long phases (the statistics pass), in the same style.
    func phase(_ label: String) -> (Int, Int) -> Void {
        switch style {
        case .none: return { _, _ in }
        case .json:
            return { done, total in
                FileHandle.standardError.write(Data("{\"event\":\"\(label)\",\"done\":\(done),\"total\":\(total)}\n".utf8))
            }
        default:
            let bar = ProgressBar(label)
            return { done, total in bar.update(done, total) }
        }
    }

    /// Prints a note (a warning, a plan) unless quiet; in JSON mode as an event.
    func note(_ s: String) {
        switch style {
        case .none: return
        case .json:
            let escaped = s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            FileHandle.standardError.write(Data("{\"event\":\"note\",\"text\":\"\(escaped)\"}\n".utf8))
        default: FileHandle.standardError.write(Data((s + "\n").utf8))
        }
    }
}
