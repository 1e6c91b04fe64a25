// `emend edit --method mend|malmen --editor DIR`: edit all requests at once with a trained hyper-network editor.

import EmendCore
import EmendEditing
import EmendModels
import Foundation

enum HyperNetworkEdit {
    /// Loads the editor, checks it fits the model (before any weight changes), edits, optionally writes the model.
    static func run(_ loaded: LoadedModel, method: String, editor dir: String, requests: [EditRequest], output: OutputTarget?) throws {
        let editor = try HyperNetworkEditor.load(from: URL(fileURLWithPath: dir))
        guard editor.settings.method.rawValue == method else {
            throw EmendEditingError.invalidSettings(field: "--editor", expected: "a \(method) editor", got: "a \(editor.settings.method.rawValue) editor in \(dir)")
        }
        try editor.checkCompatible(with: loaded.model, fingerprint: try loaded.source.fingerprint())
        let facts = requests.map { TokenizedFact(EditingFact($0), tokenizer: loaded.tokenizer) }
        let t0 = Date()
        let (edited, shifts) = try editor.edit(loaded.model, edits: facts.map(\.edit))
        let seconds = Date().timeIntervalSince(t0)
        let norms = editor.settings.layers.map { String(format: "%d:%.3g", $0, shifts[$0]?.shift.norm() ?? 0) }.joined(separator: " ")
        print(String(format: "%@: %@ at once in %.2fs; ‖S‖ per layer: %@", method, counted(facts.count, "fact"), seconds, norms))
        report(loaded, facts, edited: edited)
        if let output {
            print(output.summary(try output.write(edited, tokenizer: loaded.tokenizer)))
        }
    }

    /// The fine-tuning baseline on the layers the hyper-network editors use for this model.
    static func runFineTune(_ loaded: LoadedModel, requests: [EditRequest], output: OutputTarget?) throws {
        let layers = try HyperNetworkSettings.defaults(for: loaded.model, method: .malmen).layers
        let facts = requests.map { TokenizedFact(EditingFact($0), tokenizer: loaded.tokenizer) }
        let t0 = Date()
        let (edited, ft) = try FineTuneEditor.edit(loaded.model, edits: facts.map(\.edit), settings: FineTuneSettings(layers: layers))
        print(String(format: "ft: %@ at once in %.2fs, %d steps, edit loss %.3f → %.3f (layers %@)", counted(facts.count, "fact"), Date().timeIntervalSince(t0),
                     ft.losses.count, ft.losses.first ?? 0, ft.losses.last ?? 0, "\(layers)"))
        report(loaded, facts, edited: edited)
        if let output {
            print(output.summary(try output.write(edited, tokenizer: loaded.tokenizer)))
        }
    }

    /// ES, GS, LS (spec §5.3: mean per-example answer-token accuracy) before and after.
    static func report(_ loaded: LoadedModel, _ facts: [TokenizedFact], edited: TransformerModel) {
        let b = loaded.model.factAccuracy(facts), a = edited.factAccuracy(facts)
        print(String(format: "unedited: ES %.3f GS %.3f LS %.3f\nedited:   ES %.3f GS %.3f LS %.3f  (answer-token accuracy, MALMEN's definitions)",
                     b.editSuccess, b.generalizationSuccess, b.localitySuccess, a.editSuccess, a.generalizationSuccess, a.localitySuccess))
    }
}
