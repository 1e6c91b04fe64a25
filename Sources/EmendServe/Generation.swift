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

/// One sequence's text as its tokens arrive (see the file's header).
final class GenerationState {
    let job: GenerationJob
    let tokenizer: any Tokenizer
    let onText: (String) -> Bool
    private var ids: [Int] = []
    private var emitted = 0          // characters of `text` already handed to onText
    private var text = ""
    private var stopped = false, cancelled = false, sawEOS = false
    private let holdBack: Int

    init(_ job: GenerationJob, tokenizer: any Tokenizer, onText: @escaping (String) -> Bool) {
        self.job = job; self.tokenizer = tokenizer; self.onText = onText
        holdBack = max(0, (job.stops.map(\.count).max() ?? 0) - 1)
    }

    /// Takes the next token; false ends the sequence (end of sequence, a stop string, max_tokens, the client left).
    func accept(_ token: Int) -> Bool {
        if token == tokenizer.eosTokenId || job.options.stopTokens.contains(token) { sawEOS = true; return false }
        ids.append(token)
        text = tokenizer.decode(ids, skipSpecial: true, continuing: true)
        if let cut = Generation.firstStop(in: text, stops: job.stops) {
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
        return !stopped && ids.count < job.maxTokens
    }

    /// Hands over what is left and reports.
    func finish() -> GenerationResult {
        if !cancelled && emitted < text.count {
            let rest = String(text.dropFirst(emitted))
            if !onText(rest) { cancelled = true }
        }
        return GenerationResult(text: text, promptTokens: job.promptIDs.count, completionTokens: ids.count + (sawEOS ? 1 : 0),
                                finishReason: (stopped || sawEOS) ? "stop" : "length", cancelled: cancelled)
    }
}

enum Generation {
    /// Runs `job` on `model`; `onText` receives each new piece of text and returns false to stop (the client left).
    static func run(_ job: GenerationJob, on model: LoadedModel, onText: (String) -> Bool) -> GenerationResult {
        withoutActuallyEscaping(onText) { onText in runBatch([(job, onText)], on: model)[0] }
    }

    /// Runs several jobs as one batch of sequences (one forward pass per step for all of them). Only greedy jobs
    /// share a batch: a sampled job's random draws would depend on its neighbours.
    static func runBatch(_ jobs: [(job: GenerationJob, onText: (String) -> Bool)], on model: LoadedModel) -> [GenerationResult] {
        guard let first = jobs.first else { return [] }
        let states = jobs.map { GenerationState($0.job, tokenizer: model.tokenizer, onText: $0.onText) }
        var options = first.job.options
        if let eos = model.tokenizer.eosTokenId { options.stopTokens.insert(eos) }
        _ = model.model.generate(jobs.map(\.job.promptIDs), maxTokens: jobs.map(\.job.maxTokens).max() ?? 1, options: options) { seq, token in
            states[seq].accept(token)
        }
        return states.map { $0.finish() }
    }

    static func firstStop(in text: String, stops: [String]) -> String.Index? {
        var best: String.Index? = nil
        for s in stops where !s.isEmpty {
            if let r = text.range(of: s), best == nil || r.lowerBound < best! { best = r.lowerBound }
        }
        return best
    }
}
