// A model ready for text: weights, tokenizer and chat template, loaded from one argument
// (`smollm2`, a `.gguf` file, or a Hugging Face folder).

import EmendCore
import Foundation

public struct LoadedModel: Sendable {
    public var model: TransformerModel
    /// Byte-level BPE or SentencePiece, as the model file says.
    public var tokenizer: any Tokenizer
    /// The chat template, when the model has one Emend can render (ChatML).
    public var chatTemplate: ChatTemplate?
    public var source: ModelSource

    public init(model: TransformerModel, tokenizer: any Tokenizer, chatTemplate: ChatTemplate?, source: ModelSource) {
        self.model = model; self.tokenizer = tokenizer; self.chatTemplate = chatTemplate; self.source = source
    }

    /// Loads weights and tokenizer; see `ModelSource.resolve` for the accepted names. A tokenizer with more tokens
    /// than the embedding has rows is refused here, so no token id can index past the table.
    public static func load(_ name: String) throws -> LoadedModel {
        let loaded = try loadUnchecked(name)
        let v = loaded.model.config.vocabSize, n = loaded.tokenizer.vocabularySize
        guard n <= v else {
            throw EmendModelsError.invalidConfig(file: loaded.source.url.path, field: "tokenizer vocabulary",
                                                 expected: "at most \(v) tokens (the rows of the token embedding)", got: "\(n) tokens")
        }
        return loaded
    }

    /// Throws for a prompt the model cannot continue: one that tokenizes to no token at all (an empty string),
    /// or one that leaves no room in the context window. `what` names it in the message ("the prompt", "--probe 2").
    public func checkPrompt(_ text: String, chat: Bool = false, what: String) throws {
        let n = promptIDs(text, chat: chat).count
        guard n > 0 else { throw EmendModelsError.invalidPrompt(what: what, expected: "at least one token", got: "empty") }
        let limit = model.config.maxPositions
        guard n < limit else {
            throw EmendModelsError.invalidPrompt(what: what, expected: "fewer than \(limit) tokens (the model's context)", got: "\(n) tokens long")
        }
    }

    static func loadUnchecked(_ name: String) throws -> LoadedModel {
        let source = try ModelSource.resolve(name)
        let model = try TransformerModel.load(source)
        switch source {
        case .gguf(let url):
            let file = try GGUFFile(url: url)
            return LoadedModel(model: model, tokenizer: try TokenizerLoader.tokenizer(gguf: file),
                               chatTemplate: (try? ChatTemplate.fromGGUF(file.metadata)) ?? nil, source: source)
        case .huggingFace(let dir):
            var template: ChatTemplate? = nil
            if let data = try? Data(contentsOf: dir.appendingPathComponent("tokenizer_config.json")),
               let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
               let jinja = obj["chat_template"] as? String {
                template = try? ChatTemplate(jinja: jinja)
            }
            return LoadedModel(model: model, tokenizer: try TokenizerLoader.tokenizer(huggingFaceDirectory: dir),
                               chatTemplate: template, source: source)
        }
    }

    /// Token ids of a prompt as the model reads it (BOS first when the tokenizer asks for it); with `chat`,
    /// wrapped as one user turn plus the generation prompt.
    public func promptIDs(_ text: String, chat: Bool) -> [Int] {
        if chat, let t = chatTemplate {
            return tokenizer.withBOS(tokenizer.encode(t.render([.user(text)], addGenerationPrompt: true), parseSpecial: true))
        }
        return tokenizer.promptIDs(text)
    }

    /// Generates a continuation of each prompt and decodes it as text that follows the prompt (so its leading
    /// space is kept), stopping at the end-of-sequence token.
    public func complete(_ prompts: [String], chat: Bool = false, maxTokens: Int, options: SamplingOptions = .greedy) -> [String] {
        var opts = options
        if let eos = tokenizer.eosTokenId { opts.stopTokens.insert(eos) }
        let out = model.generate(prompts.map { promptIDs($0, chat: chat) }, maxTokens: maxTokens, options: opts)
        return out.map { tokenizer.decode($0, skipSpecial: true, continuing: true) }
    }
}
