// Generation for the OpenAI endpoints: the same decoding loop as `emend generate` (TransformerModel.generate), one
// request at a time per worker thread, with text produced token by token: stop strings cut the text (and end the
// generation) where they first appear, a partly decoded UTF-8 character or a possible start of a stop string is held
// back until the next token settles it, and each settled piece goes to `onText` at once.

import EmendModels
import Foundation

/// A validated generation request.
struct GenerationJob: Sendable {
    /// Prompt token ids (BOS and chat template applied).
    var promptIDs: [Int]
    var maxTokens: Int
    var options: SamplingOptions
    /// Stop strings: the text ends before the first one that appears.
    var stops: [String]
}

/// What a finished generation produced.
struct GenerationResult: Sendable {
    var text: String
    var promptTokens: Int
    var completionTokens: Int
    /// "stop" (end of sequence or a stop string) or "length" (max_tokens or the context's end).
    var finishReason: String
    /// The consumer went away (a closed connection) before the end.
    var cancelled: Bool
}

enum Generation {
    /// Runs `job` on `model`; `onText` receives each new piece of text and returns false to stop (the client left).
    static func run(_ job: GenerationJob, on model: LoadedModel, onText: (String) -> Bool) -> GenerationResult {
        withoutActuallyEscaping(onText) { onText in runEscaping(job, on: model, onText: onText) }
    }

    private static func runEscaping(_ job: GenerationJob, on model: LoadedModel, onText: @escaping (String) -> Bool) -> GenerationResult {
        var options = job.options
        if let eos = model.tokenizer.eosTokenId { options.stopTokens.insert(eos) }
        var ids: [Int] = []
        var emitted = 0          // characters of `text` already handed to onText
        var text = ""
        var stopped = false, cancelled = false, sawEOS = false
        let holdBack = max(0, (job.stops.map(\.count).max() ?? 0) - 1)
        _ = model.model.generate([job.promptIDs], maxTokens: job.maxTokens, options: options) { _, token in
            if let eos = model.tokenizer.eosTokenId, token == eos { sawEOS = true; return false }
            if options.stopTokens.contains(token) { sawEOS = true; return false }
            ids.append(token)
            text = model.tokenizer.decode(ids, skipSpecial: true, continuing: true)
            if let cut = firstStop(in: text, stops: job.stops) {
                text = String(text[..<cut])
                stopped = true
            }
            // Settled text: all of it at a stop; otherwise not a trailing partial character, nor what could still
            // become a stop string.
            var settled = text.count
            if !stopped {
                if text.hasSuffix("\u{FFFD}") { settled -= 1 }
                settled = max(emitted, settled - holdBack)
            }
            if settled > emitted {
                let piece = String(text.dropFirst(emitted).prefix(settled - emitted))
                emitted = settled
                if !onText(piece) { cancelled = true; return false }
            }
            return !stopped
        }
        if !cancelled && emitted < text.count {
            let rest = String(text.dropFirst(emitted))
            if !onText(rest) { cancelled = true }
        }
        let reason = (stopped || sawEOS) ? "stop" : "length"
        return GenerationResult(text: text, promptTokens: job.promptIDs.count, completionTokens: ids.count + (sawEOS ? 1 : 0),
                                finishReason: reason, cancelled: cancelled)
    }

    static func firstStop(in text: String, stops: [String]) -> String.Index? {
        var best: String.Index? = nil
        for s in stops where !s.isEmpty {
            if let r = text.range(of: s), best == nil || r.lowerBound < best! { best = r.lowerBound }
        }
        return best
    }
}
