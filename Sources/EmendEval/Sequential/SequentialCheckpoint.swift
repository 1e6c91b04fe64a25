// The run's private checkpoint: exactly what the editor changes between batches, so a restarted run continues
// bit for bit. Per edited layer l:
//   blk.l.ffn_down   F32 [D, F]  the edited down-projection W (the rest of the model is the unedited file's)
//   blk.l.kp_keys.b  F64 [F, n_b] the keys of batch b, b = 0, 1, … (while `LayerEditState` keeps them as its factor)
//   blk.l.kp_gram    F64 [F, F]  Σ K Kᵀ over the batches so far (once the state is dense; v1 files always have this)
// and in the metadata the batch count and each layer's key count. A state with no keys has neither. Stored as a safetensors file (8-byte header
// length, JSON header, raw little-endian data) so any safetensors reader can open it; written by the edit store's
// `StoreTensorFile` (temporary file, fsync, rename). One file per batch count, `state/after-batch-000012.safetensors`: results.json names
// the batch count it commits, and the file before it is deleted only after that commit, so a process killed at
// any instant leaves a results.json whose checkpoint exists.
//
// Shape legend: D width, F FFN width, n_b keys in batch b.

import EmendCore
import EmendEditing
import EmendModels
import Foundation

/// The edited matrices and sequential state after some batches.
public struct SequentialCheckpoint: Sendable, Equatable {
    /// Batches applied.
    public var batches: Int
    /// The edited down-projections: layer → [D, F]
    public var weights: [Int: Tensor]
    /// The per-layer sequential state.
    public var states: [Int: LayerEditState]

    public init(batches: Int, weights: [Int: Tensor], states: [Int: LayerEditState]) {
        self.batches = batches; self.weights = weights; self.states = states
    }

    public static let folder = "state"

    /// `state/after-batch-000012.safetensors` inside a run directory.
    public static func url(in directory: URL, batches: Int) -> URL {
        let n = String(batches)
        return directory.appendingPathComponent(folder)
            .appendingPathComponent("after-batch-\(String(repeating: "0", count: max(0, 6 - n.count)))\(n).safetensors")
    }

    // MARK: - Writing

    /// Writes the checkpoint atomically into `directory/state/`.
    public func write(to directory: URL) throws {
        var metadata = ["format": "emend.sequential-state.v2", "batches": String(batches)]
        var tensors: [(name: String, tensor: StoreTensor)] = []
        for l in weights.keys.sorted() {
            guard let w = weights[l], let s = states[l] else {
                throw EmendEvalError.invalidRun(file: directory.path, field: "checkpoint layer \(l)", expected: "weights and state", got: "one of them missing")
            }
            metadata["edit_count.\(l)"] = String(s.editCount)
            tensors += [("blk.\(l).ffn_down", .f32(w))] + Self.stateTensors(s, layer: l)
        }
        let url = Self.url(in: directory, batches: batches)
        do { try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true) } catch {
            throw EmendEvalError.invalidRun(file: url.path, field: "(folder)", expected: "a writable folder", got: fileErrorReason(error))
        }
        try StoreTensorFile.write(tensors, metadata: metadata, to: url)
    }

    /// A factored state as its key blocks, a dense or empty one as its Gram.
    static func stateTensors(_ s: LayerEditState, layer l: Int) -> [(name: String, tensor: StoreTensor)] {
        guard let blocks = s.keyBlocks, !blocks.isEmpty else { return [("blk.\(l).kp_gram", .f64(s.previousKeysGram))] }
        return blocks.enumerated().map { ("blk.\(l).kp_keys.\($0.offset)", .f64($0.element)) }
    }

    /// `model` with this checkpoint's edited matrices in place.
    public func applied(to model: TransformerModel) -> TransformerModel {
        var m = model
        for (l, w) in weights { m.weights.blocks[l].ffnDown = WeightMatrix(w) }
        return m
    }

    // MARK: - Reading

    /// Reads the checkpoint after `batches` batches, checking it holds `layers` with the shapes of `config`.
    public static func read(from directory: URL, batches: Int, layers: [Int], config: ModelConfig) throws -> SequentialCheckpoint {
        let url = url(in: directory, batches: batches)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw EmendEvalError.invalidRun(file: url.path, field: "(file)", expected: "the checkpoint after batch \(batches) (results.json says so)",
                                            got: "no such file")
        }
        let file = try SafeTensorsFile(url: url)
        func bad(_ field: String, _ expected: String, _ got: String) -> EmendEvalError {
            .invalidRun(file: url.path, field: field, expected: expected, got: got)
        }
        guard file.metadata["batches"] == String(batches) else { throw bad("__metadata__.batches", "\(batches)", file.metadata["batches"] ?? "missing") }
        let d = config.hiddenSize, f = config.intermediateSize
        var weights: [Int: Tensor] = [:], states: [Int: LayerEditState] = [:]
        for l in layers {
            let wName = "blk.\(l).ffn_down"
            guard let wi = file.info(wName), wi.dtype == .f32, wi.shape == [d, f] else {
                throw bad(wName, "F32 [\(d), \(f)]", file.info(wName).map { "\($0.dtype.rawValue) \($0.shape)" } ?? "missing")
            }
            guard let countText = file.metadata["edit_count.\(l)"], let count = Int(countText), count >= 0 else {
                throw bad("__metadata__.edit_count.\(l)", "a non-negative integer", file.metadata["edit_count.\(l)"] ?? "missing")
            }
            weights[l] = try file.tensor(wName)
            var state = try readState(file, layer: l, width: f, bad: bad)
            guard state.editCount == count || !state.isFactored else {
                throw bad("blk.\(l).kp_keys.*", "\(count) keys (edit_count.\(l))", "\(state.editCount)")
            }
            state.editCount = count
            states[l] = state
        }
        return SequentialCheckpoint(batches: batches, weights: weights, states: states)
    }

    /// Layer l's state: its Gram `blk.l.kp_gram` [F, F] when present (v1 files, dense states), else its key blocks
    /// `blk.l.kp_keys.0, 1, …` [F, n_b] (none: no keys yet).
    static func readState(_ file: SafeTensorsFile, layer l: Int, width f: Int,
                          bad: (String, String, String) -> EmendEvalError) throws -> LayerEditState {
        func matrix(_ name: String, rows: Int) throws -> Matrix64 {
            guard let info = file.info(name), info.dtype == .f64, info.shape.count == 2, info.shape[0] == rows else {
                throw bad(name, "F64 [\(rows), …]", file.info(name).map { "\($0.dtype.rawValue) \($0.shape)" } ?? "missing")
            }
            let raw = try file.rawBytes(name)
            var values = [Double](repeating: 0, count: rows * info.shape[1])
            values.withUnsafeMutableBytes { dst in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw.prefix(dst.count))) }
            return try Matrix64(rows: rows, cols: info.shape[1], scalars: values)
        }
        let gName = "blk.\(l).kp_gram"
        if let gi = file.info(gName) {
            guard gi.shape == [f, f] else { throw bad(gName, "F64 [\(f), \(f)]", "\(gi.dtype.rawValue) \(gi.shape)") }
            var state = LayerEditState(width: f)
            state.previousKeysGram = try matrix(gName, rows: f)
            return state
        }
        var blocks: [Matrix64] = []
        while file.info("blk.\(l).kp_keys.\(blocks.count)") != nil { blocks.append(try matrix("blk.\(l).kp_keys.\(blocks.count)", rows: f)) }
        return try LayerEditState(width: f, keyBlocks: blocks)
    }

    /// Deletes every checkpoint file in `directory/state/` except the one after `keep` batches.
    public static func prune(in directory: URL, keep: Int) {
        let dir = directory.appendingPathComponent(folder)
        let keepName = url(in: directory, batches: keep).lastPathComponent
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return }
        for n in names where n.hasPrefix("after-batch-") && n != keepName {
            try? FileManager.default.removeItem(at: dir.appendingPathComponent(n))
        }
    }
}

// MARK: - The edited model of a run

extension SequentialCheckpoint {
    /// The model after the last finished batch of the run in `directory`: `base` (the run's model: `fingerprint` must
    /// be the one the run recorded) with the checkpoint's matrices in place. Nil when no batch has finished.
    public static func editedModel(of results: SequentialResults, in directory: URL, base: TransformerModel,
                                   fingerprint: String) throws -> (model: TransformerModel, batches: Int)? {
        guard fingerprint == results.settings.modelFingerprint else {
            throw EmendEvalError.invalidRun(file: directory.appendingPathComponent(SequentialResults.fileName).path, field: "settings.modelFingerprint",
                                            expected: "the model given (\(fingerprint))", got: results.settings.modelFingerprint)
        }
        guard let done = results.batches.last?.batch else { return nil }
        let layers = results.settings.preset.layers
        return (try read(from: directory, batches: done, layers: layers, config: base.config).applied(to: base), done)
    }
}
