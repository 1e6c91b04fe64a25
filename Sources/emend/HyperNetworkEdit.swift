// `emend edit --method mend|malmen --editor DIR`: edit all requests at once with a trained hyper-network editor.

import EmendCore
import EmendEditing
import EmendModels
import Foundation

enum HyperNetworkEdit {
    /// Loads the editor, checks it fits the model (before any weight changes), edits, optionally writes the model.
    static func run(model name: String, method: String, editor dir: String, requests: [EditRequest], out: String?) throws {
        let editor = try HyperNetworkEditor.load(from: URL(fileURLWithPath: dir))
        guard editor.settings.method.rawValue == method else {
            throw EmendEditingError.invalidSettings(field: "--editor", expected: "a \(method) editor", got: "a \(editor.settings.method.rawValue) editor in \(dir)")
        }
        let loaded = try LoadedModel.load(name)
        try editor.checkCompatible(with: loaded.model, fingerprint: try? loaded.source.fingerprint())
        let facts = requests.map { TokenizedFact(EditingFact($0), tokenizer: loaded.tokenizer) }
        let t0 = Date()
        let (edited, shifts) = try editor.edit(loaded.model, edits: facts.map(\.edit))
        let seconds = Date().timeIntervalSince(t0)
        let norms = editor.settings.layers.map { String(format: "%d:%.3g", $0, shifts[$0]?.shift.norm() ?? 0) }.joined(separator: " ")
        print(String(format: "%@: %d facts at once in %.2fs; ‖S‖ per layer: %@", method, facts.count, seconds, norms))
        let r = try HyperNetworkTrainer.evaluate(editor, loaded.model, facts: facts, batchSize: facts.count)
        let before = (loaded.model.tokenAccuracies(facts.map(\.edit)), loaded.model.tokenAccuracies(facts.map(\.equivalent)),
                      loaded.model.tokenAccuracies(facts.map(\.unrelated)))
        func mean(_ x: [Double]) -> Double { x.isEmpty ? 0 : x.reduce(0, +) / Double(x.count) }
        print(String(format: "unedited: ES %.3f GS %.3f LS %.3f\nedited:   ES %.3f GS %.3f LS %.3f  (token accuracy, MALMEN's definitions)",
                     mean(before.0), mean(before.1), mean(before.2), r.editSuccess, r.generalizationSuccess, r.localitySuccess))
        if let out {
            let format: ExportFormat = out.hasSuffix(".gguf") ? .gguf : .safetensors
            _ = try edited.export(to: URL(fileURLWithPath: out), format: format)
            print("wrote \(out)")
        }
    }
}
