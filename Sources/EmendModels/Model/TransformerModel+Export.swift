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

/// The element type of the tensors an export writes (GGUF: only the replaced ones).
public enum ExportDType: String, Sendable, CaseIterable {
    case f32, f16, bf16

    var ggmlType: GGMLType {
        switch self { case .f32: return .f32; case .f16: return .f16; case .bf16: return .bf16 }
    }
    var safeTensorsDType: SafeTensorsDType {
        switch self { case .f32: return .f32; case .f16: return .f16; case .bf16: return .bf16 }
    }
}

/// What an export wrote.
public struct ExportReport: Sendable, Equatable {
    /// The files written (GGUF: one; safetensors: shards, index if any, then config.json).
    public var files: [URL]
    /// Tensors written with new values, by their name in the output (GGUF: the replaced ones; safetensors: all).
    public var writtenTensors: [String]
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
    public func export(to url: URL, format: ExportFormat, dtype: ExportDType = .f32,
                       maxShardBytes: Int = TransformerModel.defaultMaxShardBytes, tokenizer: (any Tokenizer)? = nil) throws -> ExportReport {
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
    /// dequantised values, and written (as `dtype`) only where some value differs.
    func exportGGUF(to url: URL, dtype: ExportDType) throws -> ExportReport {
        guard case .gguf(let sourceURL) = source else {
            throw EmendModelsError.exportNeedsGGUFSource(file: url.path, source: source.map { "\($0.url.path)" } ?? "memory")
        }
        let file = try GGUFFile(url: sourceURL)
        let family = try ModelFamily.of(config.architecture, file: url.path)
        var replacing: [String: Tensor] = [:]
        for (name, stored) in storedTensors(family, .gguf) {
            guard let info = file.tensorInfo(name) else {
                throw EmendModelsError.tensorNotFound(file: sourceURL.path, tensor: name)
            }
            guard info.shape == stored.shape else {
                throw EmendModelsError.replacementShapeMismatch(file: sourceURL.path, tensor: name,
                                                                expected: info.shape, got: stored.shape)
            }
            if try file.tensor(name).scalars != stored.scalars { replacing[name] = stored }
        }
        try GGUFWriter.write(from: file, replacing: replacing, as: dtype.ggmlType, to: url)
        return ExportReport(files: [url], writtenTensors: file.tensors.map(\.name).filter { replacing[$0] != nil })
    }

    /// safetensors: every weight under its HF name and layout, then `config.json`. Files of an earlier
    /// export with the same base name that this one did not write (stale shards or index) are removed.
    func exportSafeTensors(to folder: URL, dtype: ExportDType, maxShardBytes: Int) throws -> ExportReport {
        let family = try ModelFamily.of(config.architecture, file: folder.path)
        let configJSON = try config.huggingFaceConfigJSON(file: folder.appendingPathComponent("config.json").path)
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw EmendModelsError.writeFailed(file: folder.path, reason: fileErrorReason(error))
        }
        let tensors = storedTensors(family, .huggingFace).map { (name: $0.name, tensor: $0.tensor) }
        var files = try SafeTensorsWriter.writeSharded(tensors, dtype: dtype.safeTensorsDType, metadata: ["format": "pt"],
                                                       maxShardBytes: maxShardBytes, to: folder)
        let configURL = folder.appendingPathComponent("config.json")
        let out = try AtomicFileWriter(url: configURL)
        do { try out.write(Array(configJSON.utf8)); try out.commit() } catch { out.abandon(); throw error }
        files.append(configURL)
        removeStaleShards(in: folder, keeping: Set(files.map(\.lastPathComponent)))
        return ExportReport(files: files, writtenTensors: tensors.map(\.name))
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
    func storedTensors(_ family: ModelFamily, _ format: WeightFormat) -> [(name: String, tensor: Tensor)] {
        let all = family.names(format).stored
        let slots = all.filter { !$0.isPerBlock }.map { ($0, 0) }
            + (0..<config.layerCount).flatMap { l in all.filter(\.isPerBlock).map { ($0, l) } }
        return slots.compactMap { stored, l in
            let parts = stored.roles.compactMap { weights.tensor(for: $0, layer: l) }
            guard parts.count == stored.roles.count, let first = parts.first else { return nil }
            let t = parts.count == 1 ? first : concatenate(parts, axis: 0)
            return (stored.name(layer: l), family.restore(t, stored, format, config))
        }
    }
}
