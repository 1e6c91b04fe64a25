// `emend tokenize`: the ids and pieces a model's tokenizer gives a text, for finding out why a fact will not
// edit (a target that starts with a stray space token, a subject cut in an unexpected place).

import ArgumentParser
import EmendModels
import Foundation

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize", abstract: "Show the token ids and pieces a model's tokenizer gives a text.",
        discussion: """
        Prints one token a line: its id, a tab, and its piece as the vocabulary stores it (Ġ or ▁ for a space, \
        <0x0A> for a byte; control characters are shown as escapes such as \\r). The text is encoded as Emend encodes prompts: \
        control tokens written in it ("<s>", "<|im_end|>") are plain text, and no BOS is added. With --json, \
        standard output is exactly one JSON object: {"ids": [...], "pieces": [...]}.

        Examples:
          emend tokenize --model smollm2 "The Eiffel Tower is located in"
          emend tokenize --model path/to/tokenizer.json --json "Danielle Darrieux"
          emend tokenize --model vocab-only.gguf -- "-42 degrees"
        """)

    @Option(name: .long, help: "A named model (smollm2, gemma3-270m: `emend models`), a .gguf file (a vocabulary-only one is enough), a Hugging Face folder, or a tokenizer.json.")
    var model: String = "smollm2"
    @Flag(help: "Print one JSON object {\"ids\": [...], \"pieces\": [...]} instead of one token a line.") var json = false
    @Argument(help: "The text to tokenize.") var text: String

    func run() throws {
        let tokenizer = try TokenizerLoader.load(model)
        let ids = tokenizer.encode(text, parseSpecial: false)
        let pieces = ids.map { tokenizer.tokenString($0) ?? "" }
        if json {
            let data = try JSONSerialization.data(withJSONObject: ["ids": ids, "pieces": pieces],
                                                  options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else {
            for (id, piece) in zip(ids, pieces) { print("\(id)\t\(Self.visible(piece))") }
        }
    }

    /// `piece` with control characters written as Swift escapes (`\r`, `\u{1}`), so each token stays on
    /// one line.
    static func visible(_ piece: String) -> String {
        piece.unicodeScalars.map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: false) : String($0) }
            .joined()
    }
}
