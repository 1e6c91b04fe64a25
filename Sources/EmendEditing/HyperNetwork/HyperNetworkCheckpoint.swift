// A trained editor on disk: a folder with
//   editor.safetensors   the network's tensors (F32, names from EditorParameters.names)
//   editor.json          settings, the model it belongs to, the frozen input statistics, a format version
// and, for resuming training, resume/ with the latest editor (same two files), optimizer.safetensors (Adam's
// moments) and trainer.json (step, best validation loss, validations since the best). Every file is written to a
// temporary name and renamed. Loading checks every tensor's name and shape against the settings, so a truncated
// or foreign file is refused before any weight changes.

import EmendCore
import EmendModels
import Foundation

/// editor.json.
struct EditorDescription: Codable {
    var format: String
    var settings: HyperNetworkSettings
    var model: EditedModelShape
    var statisticsCount: Double
    var statisticsMean: [Double]
    var statisticsSumSquares: [Double]
    /// The same random token as editor.safetensors' metadata "pair": the two files were written together (a save
    /// killed between them leaves a mismatch, refused on load instead of mixing two editors).
    var pair: String?
}

/// trainer.json.
struct TrainerState: Codable {
    var step: Int
    var bestLoss: Double?
    var sinceBest: Int
    var adamSteps: Int
}

extension HyperNetworkEditor {
    static let format = "emend-hypernetwork-editor-1"

    /// Writes editor.safetensors and editor.json into `folder`.
    public func save(to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let pair = UUID().uuidString
        try SafeTensorsWriter.write(Array(zip(parameters.names, parameters.flat)).map { (name: $0.0, tensor: $0.1) },
                                    metadata: ["format": Self.format, "pair": pair], to: folder.appendingPathComponent("editor.safetensors"))
        let d = EditorDescription(format: Self.format, settings: settings, model: modelShape, statisticsCount: normalizer.count,
                                  statisticsMean: normalizer.mean, statisticsSumSquares: normalizer.sumSquares, pair: pair)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(try enc.encode(d), to: folder.appendingPathComponent("editor.json"))
    }

    /// Reads an editor saved by `save(to:)`; every tensor must be present with the shape its settings imply.
    public static func load(from folder: URL) throws -> HyperNetworkEditor {
        let jsonURL = folder.appendingPathComponent("editor.json")
        let data: Data
        do { data = try Data(contentsOf: jsonURL) } catch {
            throw EmendEditingError.unreadableFile(file: jsonURL.path, reason: "\(fileErrorReason(error)) (is this an editor folder written by `emend train`?)")
        }
        let d: EditorDescription
        do { d = try JSONDecoder().decode(EditorDescription.self, from: data) } catch {
            throw EmendEditingError.invalidJSONFile(file: jsonURL.path, expected: "the editor description written by `emend train`",
                                                    reason: jsonDecodingReason(error, data: data))
        }
        guard d.format == format else {
            throw EmendEditingError.malformedRecord(file: jsonURL.path, record: 0, field: "format", expected: format, got: d.format)
        }
        try d.settings.validate()
        let size = d.model.intermediateSize + d.model.hiddenSize
        guard d.statisticsMean.count == size, d.statisticsSumSquares.count == size else {
            throw EmendEditingError.malformedRecord(file: jsonURL.path, record: 0, field: "statisticsMean",
                                                    expected: "\(size) values (F + D)", got: "\(d.statisticsMean.count)")
        }
        let template = EditorParameters.identity(size: 1, rank: 1, blocks: d.settings.blocks, modules: d.settings.layers.count, eta: 0, seed: 0)
        let m = d.settings.layers.count, r = d.settings.rank
        let expected: [[Int]] = (0..<d.settings.blocks).map { _ in [size, r] } + (0..<d.settings.blocks).map { _ in [r, size] }
            + (0..<d.settings.blocks).map { _ in [size] } + (0..<(2 * d.settings.blocks)).map { _ in [m, size] } + [[m], [m]]
        let url = folder.appendingPathComponent("editor.safetensors")
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(url: url) } catch {
            throw EmendEditingError.unreadableFile(file: url.path, reason: "\(error)")
        }
        var tensors: [Tensor] = []
        for (name, shape) in zip(template.names, expected) {
            guard let info = file.info(name) else {
                throw EmendEditingError.malformedRecord(file: url.path, record: 0, field: name, expected: "a tensor of shape \(shape)", got: "missing")
            }
            guard info.shape == shape else {
                throw EmendEditingError.malformedRecord(file: url.path, record: 0, field: name, expected: "shape \(shape)", got: "shape \(info.shape)")
            }
            let t = try file.tensor(name)
            guard t.scalars.allSatisfy({ $0.isFinite }) else {
                throw EmendEditingError.malformedRecord(file: url.path, record: 0, field: name, expected: "finite values", got: "NaN or infinity")
            }
            tensors.append(t)
        }
        guard file.metadata["pair"] == d.pair else {
            throw EmendEditingError.malformedRecord(file: url.path, record: 0, field: "__metadata__.pair",
                                                    expected: "\(d.pair ?? "none") (written with editor.json)",
                                                    got: "\(file.metadata["pair"] ?? "none"): a save was interrupted between the two files")
        }
        var params = template
        params.flat = tensors
        var norm = RunningNormalizer(size: size)
        norm.count = d.statisticsCount; norm.mean = d.statisticsMean; norm.sumSquares = d.statisticsSumSquares
        return HyperNetworkEditor(settings: d.settings, parameters: params, normalizer: norm, modelShape: d.model)
    }
}

extension HyperNetworkTrainer {
    /// Writes the resumable state into `folder`/resume.
    /// The files are written into `resume.tmp`, then swapped in by two renames (`resume` → `resume.old`,
    /// `resume.tmp` → `resume`), so a kill at any instant leaves one complete set: never new parameters beside an old
    /// step count, which would replay steps on resume.
    public func saveState(to folder: URL) throws {
        let fm = FileManager.default
        let final = folder.appendingPathComponent("resume"), old = folder.appendingPathComponent("resume.old")
        let dir = folder.appendingPathComponent("resume.tmp")
        try? fm.removeItem(at: dir)
        try editor.save(to: dir)
        let moments = optimizer.firstMoments.enumerated().map { (name: "m.\($0.offset)", tensor: $0.element) }
            + optimizer.secondMoments.enumerated().map { (name: "v.\($0.offset)", tensor: $0.element) }
        try SafeTensorsWriter.write(moments, to: dir.appendingPathComponent("optimizer.safetensors"))
        let s = TrainerState(step: step, bestLoss: bestLoss.isFinite ? bestLoss : nil, sinceBest: sinceBest, adamSteps: optimizer.stepCount)
        try writeAtomically(try JSONEncoder().encode(s), to: dir.appendingPathComponent("trainer.json"))
        if fm.fileExists(atPath: final.path) {       // else resume.old (if any) is the last complete set: keep it
            try? fm.removeItem(at: old)
            try fm.moveItem(at: final, to: old)
        }
        try fm.moveItem(at: dir, to: final)
        try? fm.removeItem(at: old)
    }

    /// The trainer saved in `folder`/resume, or nil when there is none.
    public static func resume(from folder: URL) throws -> HyperNetworkTrainer? {
        var dir = folder.appendingPathComponent("resume")
        let old = folder.appendingPathComponent("resume.old")
        // Killed between the two renames of `saveState`: the previous complete set is in resume.old.
        if !FileManager.default.fileExists(atPath: dir.path), FileManager.default.fileExists(atPath: old.path) { dir = old }
        let stateURL = dir.appendingPathComponent("trainer.json")
        guard FileManager.default.fileExists(atPath: stateURL.path) else { return nil }
        let editor = try HyperNetworkEditor.load(from: dir)
        let s: TrainerState
        do { s = try JSONDecoder().decode(TrainerState.self, from: try Data(contentsOf: stateURL)) } catch {
            throw EmendEditingError.malformedRecord(file: stateURL.path, record: 0, field: "(trainer state)", expected: "the JSON written by `emend train`", got: "\(error)")
        }
        var t = HyperNetworkTrainer(editor: editor)
        t.step = s.step; t.bestLoss = s.bestLoss ?? .infinity; t.sinceBest = s.sinceBest
        if s.adamSteps > 0 {
            let url = dir.appendingPathComponent("optimizer.safetensors")
            let file = try SafeTensorsFile(url: url)
            let shapes = editor.parameters.flat.map(\.shape)
            var m: [Tensor] = [], v: [Tensor] = []
            for (i, shape) in shapes.enumerated() {
                for (prefix, name) in [("m", "m.\(i)"), ("v", "v.\(i)")] {
                    guard let info = file.info(name), info.shape == shape else {
                        throw EmendEditingError.malformedRecord(file: url.path, record: 0, field: name, expected: "shape \(shape)", got: "\(file.info(name)?.shape.description ?? "missing")")
                    }
                    if prefix == "m" { m.append(try file.tensor(name)) } else { v.append(try file.tensor(name)) }
                }
            }
            t.optimizer = Adam(learningRate: editor.settings.metaLearningRate, stepCount: s.adamSteps, firstMoments: m, secondMoments: v)
        }
        return t
    }
}
