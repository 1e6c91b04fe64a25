// Setting up a locate-then-edit editor for a loaded model: statistics (cached), context templates (cached),
// projectors. The CLI and the benchmarks call this; tests may build `LocateThenEditor` directly.

import EmendCore
import EmendModels
import Foundation

public enum EditingSession {
    /// The built-in preset of `method` for a model: `<family>-<method>` where a built-in family recognises the
    /// model by its shape (`ModelFamily`), otherwise an error asking for `--preset`.
    public static func defaultPresetName(method: String, model: TransformerModel) throws -> String {
        let c = model.config
        guard let family = try ModelFamily.recognise(c) else {
            throw EmendEditingError.invalidSettings(field: "--preset", expected: "a preset file for this model (no built-in preset fits \(c.architecture), \(c.layerCount) layers, width \(c.hiddenSize))", got: "none")
        }
        return "\(family.name)-\(method)"
    }

    /// Builds an editor: validates the preset, loads or computes C0 for its layers, and the context templates.
    /// - corpus: the statistics corpus (default: the setup's Wikipedia summaries).
    /// - warning: receives a sentence when the corpus has at most half the documents the preset asks for.
    public static func makeEditor(_ loaded: LoadedModel, preset: EditPreset, corpus: URL? = nil,
                                  progress: (String, Int, Int) -> Void = { _, _, _ in },
                                  warning: (String) -> Void = { _ in }) throws -> LocateThenEditor {
        try preset.validate(layerCount: loaded.model.config.layerCount)
        let fingerprint = try loaded.source.fingerprint()
        let corpusURL = corpus ?? EmendPaths.defaultCorpus
        let text = try Corpus.load(corpusURL)
        // A small corpus is legitimate (tests, quick trials), but C0 from far fewer texts than the preset asks for
        // is a noisier constraint: say so, and go on.
        let wanted = preset.statistics.sampleCount
        if text.documents.count * 2 <= wanted {
            warning("warning: the corpus \(corpusURL.path) has \(text.documents.count) document(s); preset \(preset.name) asks for \(wanted), so C0 is estimated from fewer texts than intended")
        }
        // C0 stays on disk: each layer's is read when that layer is solved (five of them are 8.2 GB at F = 14,336).
        let stats = try StatisticsCache().prepare(model: loaded.model, modelFingerprint: fingerprint, tokenizer: loaded.tokenizer,
                                                  layers: preset.layers, corpus: text, settings: preset.statistics) {
            progress("statistics", $0, $1)
        }
        let contexts = ContextTemplates.cached(model: loaded.model, fingerprint: fingerprint, tokenizer: loaded.tokenizer,
                                               settings: preset.contexts)
        return try LocateThenEditor(model: loaded.model, tokenizer: loaded.tokenizer, preset: preset,
                                    statistics: stats.provider, contexts: contexts)
    }
}
