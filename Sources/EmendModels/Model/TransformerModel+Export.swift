// Export: an edited model written back to disk, either as a GGUF that differs from its source file only in
// the tensors whose values changed, or as a Hugging Face folder (config.json + safetensors) that
// `TransformerModel.load` reads back to identical weights.
//
// Goals, in order: the untouched bytes of a GGUF stay bit-identical (quantised blocks are copied, never
// re-encoded); every load-time transform is undone by the same table that applied it; writes are atomic.
// Names come from the family's tables (Families/), and every load-time step is inverted here, by the same data:
// fused tensors (GPT-2's q|k|v) are their roles' rows concatenated, then the family's `restore` undoes its
// `sanitize` (llama.cpp's Q/K row permutation in Llama/Mistral GGUFs, GPT-2's Conv1D [in, out] storage).
//
// Shape legend: V vocab, D width, F FFN width, H/Hkv heads, Dh head dim.

import EmendCore
import Foundation

// MARK: - Types

/// The file format of an export.
public enum ExportFormat: String, Sendable, CaseIterable {
    /// A copy of the source GGUF with the changed tensors replaced.
    case gguf
    /// A Hugging Face folder: `config.json` and `model.safetensors` (or shards plus an index).
    case safetensors

    /// The format a destination path asks for: a `.gguf` file (any case: `.GGUF` too), otherwise a safetensors folder.
    public init(forPath path: String) { self = path.lowercased().hasSuffix(".gguf") ? .gguf : .safetensors }
}

/// The element type of the tensors an export writes: for GGUF only the replaced tensors' (every other tensor keeps its
/// source bytes), for safetensors every tensor's (F32, F16 or BF16 only). Raw values are the CLI's `--export-type`.
public enum ExportDType: String, Sendable, CaseIterable {
    /// GGUF only: each replaced tensor in its source tensor's stored type (F32 where Emend has no quantizer for it).
    case keep
    /// GGUF only, the default: Q5_K, the smallest type whose measured edit success stays within 1 point of F32
    /// (README, "Do edits survive quantisation?"); Q8_0 for a tensor whose rows 256-element blocks cannot tile
    /// (widths that are not multiples of 256), F32 where 32-element blocks cannot either.
    case auto
    case q8_0, q6_K = "q6_k", q5_K = "q5_k", q4_K = "q4_k", q5_0, q5_1, q4_0, q4_1
    case f16, bf16, f32

    /// The type of a GGUF export's replaced tensors when none is asked for: `auto` (Q5_K where it tiles the rows).
    /// Measured by `scripts/export-survival.sh` on the default model (results/export-survival/): Q5_K keeps ENCORE's
    /// and MEMIT's edit success within 1 point of F32; Q4_K does not for ENCORE.
    public static let ggufDefault: ExportDType = .auto

    /// The types a safetensors export can write.
    public static let safeTensorsTypes: [ExportDType] = [.f32, .f16, .bf16]

    /// The type used when none is asked for: `ggufDefault` for GGUF, F32 for safetensors.
    public static func `default`(for format: ExportFormat) -> ExportDType {
        format == .gguf ? ggufDefault : .f32
    }

    /// The GGML type written; nil for `keep` (each tensor's own).
    public var ggmlType: GGMLType? {
        switch self {
        case .keep, .auto: return nil
        case .q8_0: return .q8_0
        case .q6_K: return .q6_K
        case .q5_K: return .q5_K
        case .q4_K: return .q4_K
        case .q5_0: return .q5_0
        case .q5_1: return .q5_1
        case .q4_0: return .q4_0
        case .q4_1: return .q4_1
        case .f16: return .f16
        case .bf16: return .bf16
        case .f32: return .f32
        }
    }

    var safeTensorsDType: SafeTensorsDType? {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        default: return nil
        }
    }

    /// The type a replaced GGUF tensor stored as `source` is written in: the requested one; for `keep` the
    /// source's own where it has a quantizer, else F32; for `auto` the first of Q5_K, Q8_0, F32 whose blocks tile its
    /// rows. A vector (a norm or a bias) stays F32 under a block type, as llama.cpp's quantizer keeps it: ggml's
    /// element-wise ops read those operands as F32.
    func ggufType(source: GGUFTensorInfo) -> GGMLType {
        let wanted: GGMLType
        switch self {
        case .keep: wanted = source.type.isQuantizable ? source.type : .f32
        case .auto: wanted = [GGMLType.q5_K, .q8_0].first { source.dims[0] % $0.blockSize == 0 } ?? .f32
        default: wanted = ggmlType!
        }
        return wanted.blockSize > 1 && source.dims.count < 2 ? .f32 : wanted
    }
}

/// What an export wrote.
public struct ExportReport: Sendable, Equatable {
    /// The files written (GGUF: one; safetensors: shards, index if any, then config.json).
    public var files: [URL]
    /// Tensors written with new values, by their name in the output (GGUF: the replaced ones; safetensors: all).
    public var writtenTensors: [String]
    /// The type each of `writtenTensors` was stored as, in the same order.
    public var writtenTypes: [GGMLType] = []
    /// Sentences about types other than the one asked for (`keep` falling back to F32, vectors kept F32).
    public var notes: [String] = []

    /// "3 tensors as Q4_K", "5 tensors as Q4_1 (3), F32 (2)", or "no tensors changed".
    public var typeSummary: String {
        guard !writtenTensors.isEmpty else { return "no tensors changed" }
        var order: [GGMLType] = [], counts: [GGMLType: Int] = [:]
        for t in writtenTypes {
            if counts[t] == nil { order.append(t) }
            counts[t, default: 0] += 1
        }
        let noun = writtenTensors.count == 1 ? "tensor" : "tensors"
        if order.count == 1 { return "\(writtenTensors.count) \(noun) as \(order[0])" }
        return "\(writtenTensors.count) \(noun) as " + order.map { "\($0) (\(counts[$0]!))" }.joined(separator: ", ")
    }
}

// MARK: - Export

extension TransformerModel {
    /// HF's default shard size is 5 GB; 2 GiB keeps every shard under the 32-bit limits of older tools.
    public static let defaultMaxShardBytes = 2 << 30

    /// Writes the model to `url`: a `.gguf` file (`format: .gguf`, needs a GGUF source) or a folder
    /// (`format: .safetensors`, created if missing, shards above `maxShardBytes`). With `tokenizer`, a safetensors
    /// folder also gets its tokenizer files, so it loads back as a model on its own (a GGUF carries its tokenizer
    /// already): a Hugging Face source's own `tokenizer.json` and `tokenizer_config.json` are copied; a GGUF
    /// source's tokenizer is written out, with its chat template.
    @discardableResult
    /// `dtype` (default: `ExportDType.default(for: format)`) is the type of the written tensors: for GGUF the replaced
    /// ones, for safetensors all (F32, F16 or BF16 only). Every replaced tensor's rows are checked against the type's
    /// blocks before anything is written.
    public func export(to url: URL, format: ExportFormat, dtype: ExportDType? = nil,
                       maxShardBytes: Int = TransformerModel.defaultMaxShardBytes, tokenizer: (any Tokenizer)? = nil) throws -> ExportReport {
        let dtype = dtype ?? .default(for: format)
        switch format {
        case .gguf: return try exportGGUF(to: url, dtype: dtype)
        case .safetensors:
            var report = try exportSafeTensors(to: url, dtype: dtype, maxShardBytes: maxShardBytes)
            if let tokenizer { report.files += try writeTokenizerFiles(tokenizer, to: url) }
            return report
        }
    }

    /// The tokenizer files of a safetensors export (see `export`).
    func writeTokenizerFiles(_ tokenizer: any Tokenizer, to folder: URL) throws -> [URL] {
        switch source {
        case .huggingFace(let dir) where dir.standardizedFileURL != folder.standardizedFileURL
                && FileManager.default.fileExists(atPath: dir.appendingPathComponent("tokenizer.json").path):
            var written: [URL] = []
            for name in ["tokenizer.json", "tokenizer_config.json"] {
                let from = dir.appendingPathComponent(name), to = folder.appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: from.path) else { continue }
                let bytes: Data
                do { bytes = try Data(contentsOf: from) } catch {
                    throw EmendModelsError.fileUnreadable(file: from.path, reason: fileErrorReason(error))
                }
                let out = try AtomicFileWriter(url: to)
                do { try out.write(Array(bytes)); try out.commit() } catch { out.abandon(); throw error }
                written.append(to)
            }
            return written
        case .huggingFace:
            return []   // exported into its own folder: its tokenizer files are already there
        case .gguf(let url):
            let template = (try? GGUFFile(url: url))?.metadata["tokenizer.chat_template"]?.string
            return try tokenizer.writeHuggingFaceFiles(to: folder, chatTemplate: template)
        case nil:
            return try tokenizer.writeHuggingFaceFiles(to: folder)
        }
    }

    /// GGUF: each stored tensor is rebuilt in its llama.cpp name and storage order, compared with the source's
    /// dequantised values, and written (as `dtype.ggufType(source:)`) only where some value differs.
    func exportGGUF(to url: URL, dtype: ExportDType) throws -> ExportReport {
        guard case .gguf(let sourceURL) = source else {
            throw EmendModelsError.exportNeedsGGUFSource(file: url.path, source: source.map { "\($0.url.path)" } ?? "memory")
        }
        let file = try GGUFFile(url: sourceURL)
        let family = try ModelFamily.of(config.architecture, file: url.path)
        var replacing: [String: Tensor] = [:], types: [String: GGMLType] = [:]
        var fellBack: [GGMLType: Int] = [:], vectors = 0
        for (name, stored) in storedTensors(family, .gguf, changedOnly: true) {
            guard let info = file.tensorInfo(name) else {
                throw EmendModelsError.tensorNotFound(file: sourceURL.path, tensor: name)
            }
            guard info.shape == stored.shape else {
                throw EmendModelsError.replacementShapeMismatch(file: sourceURL.path, tensor: name,
                                                                expected: info.shape, got: stored.shape)
            }
            guard try file.tensor(name).scalars != stored.scalars else { continue }
            let type = dtype.ggufType(source: info)
            if dtype == .keep, !info.type.isQuantizable { fellBack[info.type, default: 0] += 1 }
            if let wanted = dtype.ggmlType, wanted != type { vectors += 1 }
            replacing[name] = stored
            types[name] = type
        }
        try GGUFWriter.write(from: file, replacing: replacing, types: types, to: url)
        let written = file.tensors.map(\.name).filter { replacing[$0] != nil }
        var notes = fellBack.keys.sorted { $0.rawValue < $1.rawValue }.map {
            "keep: \(fellBack[$0]!) replaced tensor(s) stored as \($0) written as F32 (Emend has no \($0) quantizer)"
        }
        if vectors > 0 { notes.append("\(vectors) replaced vector(s) (norms, biases) written as F32, as llama.cpp keeps them") }
        return ExportReport(files: [url], writtenTensors: written, writtenTypes: written.map { types[$0]! }, notes: notes)
    }

    /// safetensors: every weight under its HF name and layout, then `config.json`. Files of an earlier
    /// export with the same base name that this one did not write (stale shards or index) are removed.
    func exportSafeTensors(to folder: URL, dtype: ExportDType, maxShardBytes: Int) throws -> ExportReport {
        let family = try ModelFamily.of(config.architecture, file: folder.path)
        guard let stDType = dtype.safeTensorsDType else {
            throw EmendModelsError.unsupportedOutputType(file: folder.path, type: dtype.rawValue,
                                                         allowed: ExportDType.safeTensorsTypes.map(\.rawValue))
        }
        let configJSON = try config.huggingFaceConfigJSON(file: folder.appendingPathComponent("config.json").path)
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw EmendModelsError.writeFailed(file: folder.path, reason: fileErrorReason(error))
        }
        let tensors = storedTensors(family, .huggingFace).map { (name: $0.name, tensor: $0.tensor) }
        var files = try SafeTensorsWriter.writeSharded(tensors, dtype: stDType, metadata: ["format": "pt"],
                                                       maxShardBytes: maxShardBytes, to: folder)
        let configURL = folder.appendingPathComponent("config.json")
        let out = try AtomicFileWriter(url: configURL)
        do { try out.write(Array(configJSON.utf8)); try out.commit() } catch { out.abandon(); throw error }
        files.append(configURL)
        removeStaleShards(in: folder, keeping: Set(files.map(\.lastPathComponent)))
        return ExportReport(files: files, writtenTensors: tensors.map(\.name),
                            writtenTypes: tensors.map { _ in dtype.ggmlType ?? .f32 })
    }

    private func removeStaleShards(in folder: URL, keeping: Set<String>) {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: folder.path) else { return }
        for e in entries where !keeping.contains(e) && e.hasPrefix("model")
            && (e.hasSuffix(".safetensors") || e == SafeTensorsFolder.indexFileName) {
            try? fm.removeItem(at: folder.appendingPathComponent(e))
        }
    }
}

// MARK: - Helpers

extension TransformerModel {
    /// Every weight as `family` stores it in `format`: (file name, tensor in the file's layout), model-level tensors
    /// first, then block by block; a fused tensor is its roles' rows concatenated, then `restore`d. Tensors the
    /// model has none of (a tied head, absent biases) are left out.
    /// - changedOnly: leave out tensors whose matrices are all still in their stored blocks: an edit makes a matrix
    ///   Float32, so those are the source file's own (GGUF export copies them from it without reading them).
    func storedTensors(_ family: ModelFamily, _ format: WeightFormat, changedOnly: Bool = false) -> [(name: String, tensor: Tensor)] {
        let all = family.names(format).stored
        let slots = all.filter { !$0.isPerBlock }.map { ($0, 0) }
            + (0..<config.layerCount).flatMap { l in all.filter(\.isPerBlock).map { ($0, l) } }
        return slots.compactMap { stored, l in
            let parts = stored.roles.compactMap { weights.weight(for: $0, layer: l) }
            guard parts.count == stored.roles.count, !parts.isEmpty else { return nil }
            if changedOnly, parts.allSatisfy({ if case .matrix(let m) = $0 { return m.isStored } else { return false } }) {
                return nil
            }
            let dense = parts.map(\.dense)
            var t = family.restore(dense.count == 1 ? dense[0] : concatenate(dense, axis: 0), stored, format, config)
            if let order = family.rowOrder(stored, format, config) { t = rowsReordered(t, inversePermutation(order)) }
            return (stored.name(layer: l), t)
        }
    }
}
