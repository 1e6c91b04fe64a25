// Context templates (locate-then-edit spec §1.2): the plain prompt "{}" plus short random prefixes sampled from
// the unedited model, so that an edit holds in more than one context. MEMIT's recipe: one sample each from
// "The", "Therefore", "Because", "I", "You", top-5 sampling, 10 tokens including the start word; braces in a
// sample become spaces; each template is "<sample>. {}". Seeded, and cached per model on disk.

import EmendCore
import EmendModels
import Foundation

/// How the context prefixes are made.
public struct ContextTemplateSettings: Sendable, Equatable, Codable {
    public var starts: [String] = ["The", "Therefore", "Because", "I", "You"]
    /// Total tokens per sample, the start word included (MEMIT's `max_out_len`).
    public var length: Int = 10
    public var topK: Int = 5
    public var seed: UInt64 = 0
    public init(starts: [String] = ["The", "Therefore", "Because", "I", "You"], length: Int = 10, topK: Int = 5, seed: UInt64 = 0) {
        self.starts = starts; self.length = length; self.topK = topK; self.seed = seed
    }
    /// No prefixes: only the plain prompt.
    public static let none = ContextTemplateSettings(starts: [], length: 0)
}

public enum ContextTemplates {
    /// ["{}", "<sample 1>. {}", …] sampled from `model`.
    public static func generate(model: TransformerModel, tokenizer: any Tokenizer, settings: ContextTemplateSettings) -> [String] {
        if settings.starts.isEmpty { return ["{}"] }
        let starts = settings.starts.map { tokenizer.encode($0, parseSpecial: false) }
        var templates = ["{}"]
        for (i, start) in starts.enumerated() {
            // One seeded stream per start word, so a template does not depend on the others. The model reads
            // BOS first when it wants one; the length counts text tokens only.
            let p = tokenizer.withBOS(start)
            let options = SamplingOptions(temperature: 1, topK: settings.topK, seed: settings.seed &+ UInt64(i) &* 7919)
            let new = model.generate([p], maxTokens: max(0, settings.length - start.count), options: options)[0]
            let text = tokenizer.decode(p + new, skipSpecial: true)
                .replacingOccurrences(of: "{", with: " ").replacingOccurrences(of: "}", with: " ")
            templates.append(text + ". {}")
        }
        return templates
    }

    /// Templates from the cache (`<cache>/templates/<fingerprint>.json`), generating and storing them when absent.
    public static func cached(model: TransformerModel, fingerprint: String, tokenizer: any Tokenizer,
                              settings: ContextTemplateSettings,
                              directory: URL = EmendPaths.cache.appendingPathComponent("templates")) -> [String] {
        struct Entry: Codable { var settings: ContextTemplateSettings; var templates: [String] }
        let url = directory.appendingPathComponent("\(fingerprint).json")
        if let data = try? Data(contentsOf: url), let entries = try? JSONDecoder().decode([Entry].self, from: data),
           let hit = entries.first(where: { $0.settings == settings }) {
            return hit.templates
        }
        let templates = generate(model: model, tokenizer: tokenizer, settings: settings)
        var entries = (try? JSONDecoder().decode([Entry].self, from: Data(contentsOf: url))) ?? []
        entries.append(Entry(settings: settings, templates: templates))
        if let data = try? JSONEncoder().encode(entries) { try? writeAtomically(data, to: url) }
        return templates
    }
}
