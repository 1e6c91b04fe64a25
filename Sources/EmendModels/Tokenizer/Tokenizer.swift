// The one interface the rest of Emend uses for text <-> token ids, and the helpers that turn text into what
// the model reads. Two tokenizers stand behind it:
//   - `BPETokenizer`: byte-level BPE (GPT-2, SmolLM2, Llama 3, Qwen 2), merges ranked by a merge list;
//   - `SentencePieceTokenizer`: SentencePiece BPE (Llama 2, Mistral), merges ranked by per-piece scores, with
//     byte fallback and the dummy space prefix.
// `TokenizerLoader` picks the kind from the file (GGUF `tokenizer.ggml.model`, `tokenizer.json`'s model).
//
// BOS: `encode` never adds it. A model that wants BOS before every sequence says so (`addsBOS`), and every
// place that builds the model's input from text (generation, the editors' prompts and targets, evaluation,
// layer statistics, perplexity) goes through `promptIDs` / `withBOS` / `promptAndTargetIDs` below.
//
// Shape legend: V vocabulary size.

import Foundation

/// The kind of each vocabulary entry, with GGUF `tokenizer.ggml.token_type` codes.
public enum TokenType: Int, Sendable, Equatable {
    case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

/// Ids of the special tokens a model is trained with; nil when the tokenizer has none.
public struct SpecialTokenIds: Sendable, Equatable {
    public var bos: Int?
    public var eos: Int?
    public var pad: Int?
    public var unk: Int?
    public init(bos: Int? = nil, eos: Int? = nil, pad: Int? = nil, unk: Int? = nil) {
        self.bos = bos; self.eos = eos; self.pad = pad; self.unk = unk
    }

    /// Throws when an id does not index a vocabulary of `vocabularySize` tokens.
    func validate(vocabularySize: Int, source: String) throws {
        for (name, id) in [("bos", bos), ("eos", eos), ("pad", pad), ("unk", unk)] {
            if let id, !(0..<vocabularySize).contains(id) {
                throw TokenizerError.specialTokenOutOfRange(source: source, name: name, id: id,
                                                            vocabularySize: vocabularySize)
            }
        }
    }
}

/// Text <-> token ids for one model.
public protocol Tokenizer: Sendable {
    /// Number of entries in the vocabulary (V).
    var vocabularySize: Int { get }
    /// bos / eos / pad / unk ids.
    var specialTokenIds: SpecialTokenIds { get }
    /// Whether the model expects BOS in front of every sequence it reads (GGUF `tokenizer.ggml.add_bos_token`,
    /// the `tokenizer.json` post-processor or `tokenizer_config.json`'s `add_bos_token`). `encode` never adds it.
    var addsBOS: Bool { get }

    /// Token ids of `text`; no BOS or EOS is added.
    /// - Parameters:
    ///   - parseSpecial: recognise control tokens written in the text as single ids; when false they are
    ///     tokenized as plain text. User-defined tokens always match.
    ///   - continuing: the text directly continues earlier text, so no dummy space prefix is added
    ///     (SentencePiece); byte-level BPE ignores it.
    func encode(_ text: String, parseSpecial: Bool, continuing: Bool) -> [Int]

    /// The text of `ids`; invalid UTF-8 and ids outside the vocabulary decode to U+FFFD.
    /// - Parameters:
    ///   - skipSpecial: leave control tokens out (HF `skip_special_tokens=True`).
    ///   - continuing: the ids follow earlier tokens of the same text, so a leading space is kept. A whole
    ///     sequence (false) drops the one space SentencePiece's dummy prefix added, as sentencepiece does.
    func decode(_ ids: [Int], skipSpecial: Bool, continuing: Bool) -> String

    /// The vocabulary entry of `id` as the tokenizer stores it ("Ġworld", "▁world", "<0x0A>"), or nil when
    /// out of range.
    func tokenString(_ id: Int) -> String?

    /// Writes the tokenizer as Hugging Face `tokenizer.json` + `tokenizer_config.json` into `folder`.
    /// - Returns: the URLs written.
    func writeHuggingFaceFiles(to folder: URL, chatTemplate: String?) throws -> [URL]
}

extension Tokenizer {
    public var bosTokenId: Int? { specialTokenIds.bos }
    public var eosTokenId: Int? { specialTokenIds.eos }
    public var padTokenId: Int? { specialTokenIds.pad }
    public var unkTokenId: Int? { specialTokenIds.unk }

    /// Token ids of `text` as a whole text; no BOS or EOS is added.
    public func encode(_ text: String, parseSpecial: Bool = true) -> [Int] {
        encode(text, parseSpecial: parseSpecial, continuing: false)
    }

    /// The text of `ids` as a whole sequence.
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        decode(ids, skipSpecial: skipSpecial, continuing: false)
    }

    /// Writes `tokenizer.json` + `tokenizer_config.json` without a chat template.
    public func writeHuggingFaceFiles(to folder: URL) throws -> [URL] {
        try writeHuggingFaceFiles(to: folder, chatTemplate: nil)
    }

    // MARK: - What the model reads

    /// `ids` as the model reads a sequence: BOS first when the tokenizer asks for it and has one.
    public func withBOS(_ ids: [Int]) -> [Int] {
        guard addsBOS, let bos = bosTokenId else { return ids }
        return [bos] + ids
    }

    /// The ids the model reads for a plain-text prompt: BOS when wanted, then the text with control tokens
    /// read as plain text. Generation, editing and evaluation all build their prompts here.
    public func promptIDs(_ text: String) -> [Int] {
        withBOS(encode(text, parseSpecial: false, continuing: false))
    }

    /// A prompt and a target answer as the model reads them one after the other.
    ///
    /// `prompt` is `promptIDs(prompt)`; `target` is the tokens that follow the prompt's in the encoding of
    /// `prompt + " " + target` (the space is added unless the target starts with one). So the target never
    /// starts with a lone "▁" that a separate encoding of " Paris" would give a SentencePiece tokenizer (its
    /// dummy prefix plus the space), and with byte-level BPE it is the encoding of " Paris". In the rare case
    /// where joining the texts changes the prompt's own last tokens, the target is the separate encoding of
    /// " target" as text that continues the prompt.
    public func promptAndTargetIDs(prompt: String, target: String) -> (prompt: [Int], target: [Int]) {
        let spaced = target.hasPrefix(" ") ? target : " " + target
        let head = encode(prompt, parseSpecial: false, continuing: false)
        let whole = encode(prompt + spaced, parseSpecial: false, continuing: false)
        let tail: [Int]
        if whole.count > head.count && whole.starts(with: head) {
            tail = Array(whole[head.count...])
        } else {
            tail = encode(spaced, parseSpecial: false, continuing: true)
        }
        return (withBOS(head), tail)
    }
}
