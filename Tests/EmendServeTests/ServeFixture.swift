// The serve tests' fixture: the tiny model of EmendModelTestSupport with the default model's chat template (the chat
// endpoint needs one), its preset and corpus, an edit store bound to the model, and a keys file with one key per
// scope.

import EmendCore
import EmendEditing
import EmendModelTestSupport
import EmendModels
@testable import EmendServe
import EmendTestSupport
import Foundation
import XCTest

struct ServeFixture {
    let dir: URL
    var model: URL { dir.appendingPathComponent("tiny.gguf") }
    var preset: URL { dir.appendingPathComponent("tiny-preset.json") }
    var corpus: URL { dir.appendingPathComponent("corpus.json") }
    var store: URL { dir.appendingPathComponent("store") }
    var keysFile: URL { dir.appendingPathComponent("keys.txt") }
    /// One key per scope, as `emend serve keys add` made them.
    var keys: [KeyScope: String] = [:]

    /// Writes everything into a new temporary folder; throws XCTSkip without the default model (its tokenizer).
    static func make(_ name: String) throws -> ServeFixture {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-serve-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var f = ServeFixture(dir: dir)
        try TinyModelFile.write(to: f.model, chatTemplate: true)
        try Data(TinyModelFile.presetJSON.utf8).write(to: f.preset)
        try Data(TinyModelFile.corpusJSON.utf8).write(to: f.corpus)
        try EditStore.create(at: f.store, baseModel: f.model, checkpointEvery: 3)
        for scope in KeyScope.allCases { f.keys[scope] = try APIKeyring.addKey(to: f.keysFile, scope: scope, name: "\(scope.rawValue)-key") }
        return f
    }

    func remove() { try? FileManager.default.removeItem(at: dir) }

    /// A server configuration for this fixture (any free port, batches of `maxBatch`, short waits).
    func configuration(maxBatch: Int = 2, maxWait: Double = 0.2) -> ServeConfiguration {
        var c = ServeConfiguration(store: store, keys: keysFile)
        c.model = model.path
        c.port = 0
        c.writer.preset = preset.path
        c.writer.corpus = corpus
        c.writer.maxBatch = maxBatch
        c.writer.maxWait = maxWait
        c.generationThreads = 2
        c.maxCompletionTokens = 64
        return c
    }
}
