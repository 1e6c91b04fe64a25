// Tokenized prompts for one request (spec §1.2–§1.4): each context template wraps the request's prompt, the
// subject's last token is found by token-length arithmetic (`len(encode(prefix + subject)) − 1`, the ENCORE /
// AlphaEdit rule), and the target is appended as token ids (ids of the prompt + ids of " target" minus the last).

import EmendModels

public struct PromptBuilder: Sendable {
    public let tokenizer: BPETokenizer
    /// ["{}", "<prefix>. {}", …]
    public let contexts: [String]

    public init(tokenizer: BPETokenizer, contexts: [String]) {
        self.tokenizer = tokenizer
        self.contexts = contexts
    }

    func encode(_ s: String) -> [Int] { tokenizer.encode(s, parseSpecial: false) }

    /// The target's ids, with a leading space added when missing.
    public func targetIDs(_ target: String) -> [Int] { encode(target.hasPrefix(" ") ? target : " " + target) }

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
        let target = targetIDs(r.targetNew)
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
