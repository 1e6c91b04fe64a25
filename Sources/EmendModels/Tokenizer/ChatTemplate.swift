// The ChatML chat format used by SmolLM2-Instruct (and Qwen 2), rendered natively rather than by
// a Jinja interpreter:
//
//   <|im_start|>{role}\n{content}<|im_end|>\n      for each message
//   <|im_start|>assistant\n                         when a generation prompt is asked for
//
// When the first message is not a system message, a default system message (if the template has
// one) is rendered first, exactly as SmolLM2's GGUF `tokenizer.chat_template` does.

/// One turn of a conversation.
public struct ChatMessage: Sendable, Equatable, Codable {
    /// "system", "user" or "assistant".
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: "system", content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: "user", content: content) }
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: "assistant", content: content) }
}

/// ChatML rendering, with an optional default system message.
public struct ChatTemplate: Sendable, Equatable {
    /// Inserted as the first turn when the conversation does not start with a system message.
    public var defaultSystemMessage: String?

    public init(defaultSystemMessage: String? = nil) {
        self.defaultSystemMessage = defaultSystemMessage
    }

    /// SmolLM2-Instruct's template (GGUF `tokenizer.chat_template` of SmolLM2-135M-Instruct).
    public static let smolLM2 = ChatTemplate(
        defaultSystemMessage: "You are a helpful AI assistant named SmolLM, trained by Hugging Face")

    static let start = "<|im_start|>"
    static let end = "<|im_end|>"

    /// Recognises a Jinja chat template (GGUF `tokenizer.chat_template` or `tokenizer_config.json`
    /// `chat_template`) as ChatML and extracts its default system message, if any.
    /// - Throws: `TokenizerError.unsupportedChatTemplate` when the template is not ChatML.
    public init(jinja template: String) throws {
        guard template.contains(Self.start), template.contains(Self.end) else {
            throw TokenizerError.unsupportedChatTemplate(
                reason: "the template has no \(Self.start) / \(Self.end) markers, so it is not ChatML")
        }
        self.init(defaultSystemMessage: Self.defaultSystemMessage(in: template))
    }

    /// The conversation as one prompt string (to be encoded with `parseSpecial: true`).
    /// - Parameter addGenerationPrompt: end with `<|im_start|>assistant\n` so the model answers.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var out = ""
        if let first = messages.first, first.role != "system", let system = defaultSystemMessage {
            out += Self.turn(role: "system", content: system)
        }
        for m in messages { out += Self.turn(role: m.role, content: m.content) }
        if addGenerationPrompt { out += Self.start + "assistant\n" }
        return out
    }

    // MARK: - Helpers

    static func turn(role: String, content: String) -> String {
        start + role + "\n" + content + end + "\n"
    }

    /// The literal text between `<|im_start|>system` + newline (real or written `\n`) and
    /// `<|im_end|>` in the template, skipping occurrences that splice in message content.
    static func defaultSystemMessage(in template: String) -> String? {
        for opener in [start + "system\n", start + "system\\n"] {
            var rest = template[...]
            while let open = rest.range(of: opener) {
                rest = rest[open.upperBound...]
                guard let close = rest.range(of: end) else { break }
                let body = rest[..<close.lowerBound]
                if !body.isEmpty, !body.contains(where: { "'\"{}+".contains($0) }) { return String(body) }
            }
        }
        return nil
    }
}
