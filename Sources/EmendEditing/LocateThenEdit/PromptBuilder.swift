// Tokenized prompts for one request (spec §1.2–§1.4): each context template wraps the request's prompt, the
// subject's last token is found by token-length arithmetic (`len(encode(prefix + subject)) − 1`, the ENCORE /
// AlphaEdit rule), and the target is appended as token ids (ids of the prompt + the target's ids minus the last).
// The target's ids are the tokens that follow the plain prompt in `prompt + " " + target`
// (`Tokenizer.promptAndTargetIDs`): " Paris" for byte-level BPE, "▁Paris" and never a lone "▁" for SentencePiece.
// Every prompt starts with BOS when the model wants one (`Tokenizer.promptIDs`).

import EmendModels

public struct PromptBuilder: Sendable {
    /// Byte-level BPE or SentencePiece.
    public let tokenizer: any Tokenizer
    /// ["{}", "<prefix>. {}", …]
    public let contexts: [String]

    public init(tokenizer: any Tokenizer, contexts: [String]) {
        self.tokenizer = tokenizer
        self.contexts = contexts
    }

    /// The ids the model reads for a prompt (BOS first when it wants one).
    func encode(_ s: String) -> [Int] { tokenizer.promptIDs(s) }

    /// The request's prompt with its subject filled in (the plain rewrite prompt).
    public func plainPrompt(_ r: EditRequest) -> String { r.prompt.replacingOccurrences(of: "{}", with: r.subject) }

    /// The new target's ids: the tokens that follow the plain prompt in `prompt + " " + target`.
    public func targetIDs(_ r: EditRequest) -> [Int] {
        tokenizer.promptAndTargetIDs(prompt: plainPrompt(r), target: r.targetNew).target
    }

    /// Ids of `template` (one "{}") filled with `subject`, and the index of the subject's last token.
    public func filled(_ template: String, subject: String) -> (ids: [Int], lookup: Int) {
        let parts = template.components(separatedBy: "{}")
        let prefix = parts[0]
        let lookup = encode(prefix + subject).count - 1
        return (encode(template.replacingOccurrences(of: "{}", with: subject)), lookup)
    }

    /// The context-wrapped templates of a request (plain first).
    public func rewriteTemplates(_ r: EditRequest) -> [String] {
        contexts.map { $0.replacingOccurrences(of: "{}", with: r.prompt) }
    }

    /// The search prompts of a request: rewrite prompts + target[:-1], and "{subject} is a".
    public func searchPrompts(_ r: EditRequest) -> SearchPrompts {
        let target = targetIDs(r)
        var rewrite: [[Int]] = [], lookups: [Int] = []
        for t in rewriteTemplates(r) {
            let (ids, look) = filled(t, subject: r.subject)
            rewrite.append(ids + target.dropLast())
            lookups.append(look)
        }
        let (kl, klLook) = filled("{} is a", subject: r.subject)
        return SearchPrompts(rewrite: rewrite, rewriteLookup: lookups, kl: kl, klLookup: klLook, target: target)
    }

    /// The key prompts of a request (no target): ids and subject-last-token index per context.
    public func keyPrompts(_ r: EditRequest) -> [(ids: [Int], lookup: Int)] {
        rewriteTemplates(r).map { filled($0, subject: r.subject) }
    }
}
