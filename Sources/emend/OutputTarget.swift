// Where an edited model goes, checked before any work starts: an edit that runs for hours must not be lost to a
// typo in `--out`. From the path alone (before anything is loaded): not empty, the format it asks for (a `.gguf`
// file, any case, or a safetensors folder) agrees with an explicit `--format`, the folder it goes into exists and
// is writable, and it is not a folder where a file is wanted (or the reverse). Once the model is loaded: a GGUF can
// only be written from a GGUF model, and the disk has room for about the model's size. The write itself removes a
// safetensors folder it created when it fails, so a failed command leaves nothing behind.

import ArgumentParser
import EmendCore
import EmendModels
import Foundation

extension ExportDType: ExpressibleByArgument {}

/// `--export-type`, shared by the commands that write a model (`edit`, `store export`, `bench export`).
struct ExportTypeOption: ParsableArguments {
    @Option(name: .customLong("export-type"),
            help: "The type of the edited tensors: for a .gguf the replaced tensors only (keep: each in its source tensor's type; auto, the default: q5_k, or q8_0/f32 for rows its blocks cannot tile), for a safetensors folder every tensor (f32, f16 or bf16; default f32).")
    var exportType: ExportDType?

    /// A usage error, before any work, for a type the output's format cannot take (safetensors: f32, f16, bf16 only).
    func check(format: ExportFormat?) throws {
        guard let exportType else { return }
        guard let format else {
            throw ValidationError("--export-type sets the type of a written model: give --out as well")
        }
        if format == .safetensors, !ExportDType.safeTensorsTypes.contains(exportType) {
            let allowed = ExportDType.safeTensorsTypes.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("--export-type \(exportType.rawValue) is for GGUF exports: a safetensors folder takes \(allowed) (or write a .gguf file)")
        }
    }
}

struct OutputTarget {
    let path: String
    let url: URL
    let format: ExportFormat
    /// Whether something was at `path` before this command (a folder it created is removed on failure).
    let existed: Bool
    /// The type of the written tensors (`--export-type`, else the format's default).
    let dtype: ExportDType

    /// Checks what the path alone can tell. `option` names the flag in messages; `explicit` is a `--format` given.
    init(_ path: String, option: String = "--out", explicit: ExportFormat? = nil, dtype: ExportDType? = nil) throws {
        guard !path.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw CLIError.usage("\(option) is empty: give a .gguf file (GGUF) or a folder (safetensors)")
        }
        let implied = ExportFormat(forPath: path)
        if let explicit, explicit != implied {
            throw CLIError.usage(explicit == .safetensors
                ? "--format safetensors writes a folder, but \(option) \(path) ends in .gguf: give a folder name, or --format gguf"
                : "--format gguf writes a .gguf file, but \(option) \(path) does not end in .gguf: add the extension, or use --format safetensors")
        }
        self.path = path
        self.url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath).standardizedFileURL
        self.format = explicit ?? implied
        self.dtype = dtype ?? .default(for: explicit ?? implied)
        let fm = FileManager.default
        var isDir: ObjCBool = false
        existed = fm.fileExists(atPath: url.path, isDirectory: &isDir)
        if existed {
            if format == .gguf && isDir.boolValue {
                throw CLIError.usage("\(option) \(path) is a folder; a GGUF model is written to a .gguf file")
            }
            if format == .safetensors && !isDir.boolValue {
                throw CLIError.usage("\(option) \(path) is a file; a safetensors model is written to a folder (or end the name in .gguf for GGUF)")
            }
        }
        // The folder that must exist and be writable: the file's folder (GGUF, or a new safetensors folder), or the
        // existing safetensors folder itself.
        let dir = existed && format == .safetensors ? url : url.deletingLastPathComponent()
        var dirIsDir: ObjCBool = false
        guard fm.fileExists(atPath: dir.path, isDirectory: &dirIsDir), dirIsDir.boolValue else {
            throw CLIError.runtime("\(option) \(path): the folder \(dir.path) does not exist (create it first); nothing was edited")
        }
        // access() answers yes to root for any folder: a probe file also catches read-only and special file systems.
        let probe = dir.appendingPathComponent(".emend-write-check-\(getpid())")
        let fd = access(dir.path, W_OK) == 0 ? open(probe.path, O_WRONLY | O_CREAT | O_EXCL, 0o600) : -1
        guard fd >= 0 else {
            throw CLIError.runtime("\(option) \(path): the folder \(dir.path) is not writable; nothing was edited")
        }
        close(fd)
        unlink(probe.path)
        if existed && format == .gguf && access(url.path, W_OK) != 0 {
            throw CLIError.runtime("\(option) \(path) exists and is not writable; nothing was edited")
        }
    }

    /// Checks what needs the loaded model: the format fits its source, the export type's blocks tile the rows of
    /// the matrices every editor changes (the MLP down-projections, rows of F values), and the disk has room.
    func check(for loaded: LoadedModel) throws {
        if format == .gguf, case .huggingFace = loaded.source {
            throw CLIError.usage("--out \(path): a GGUF can only be written from a GGUF model, and \(loaded.source.url.path) is a Hugging Face folder; give a folder for safetensors")
        }
        let f = loaded.model.config.intermediateSize
        if format == .gguf, let type = dtype.ggmlType, f % type.blockSize != 0 {
            let fitting = ExportDType.allCases.filter { $0.ggmlType.map { f % $0.blockSize == 0 } ?? true }.map(\.rawValue)
            throw CLIError.runtime("--export-type \(dtype.rawValue): the edited ffn_down.weight tensors have rows of \(f) values, which \(type) blocks of \(type.blockSize) cannot tile; this model takes \(fitting.joined(separator: ", ")); nothing was edited")
        }
        // GGUF: a copy of the source file (edited tensors replaced); safetensors: every weight in Float32.
        let needed: Int64
        switch format {
        case .gguf:
            let size = (try? FileManager.default.attributesOfItem(atPath: loaded.source.url.path)[.size] as? NSNumber)?.int64Value ?? 0
            needed = size
        case .safetensors:
            needed = Int64(loaded.model.config.parameterCount) * 4
        }
        let dir = existed && format == .safetensors ? url : url.deletingLastPathComponent()
        // $EMEND_ASSUME_FREE_BYTES stands in for the file system's answer (the tests use it to play a full disk).
        var fs = statvfs()
        let assumed = ProcessInfo.processInfo.environment["EMEND_ASSUME_FREE_BYTES"].flatMap { Int64($0) }
        if assumed != nil || statvfs(dir.path, &fs) == 0 {
            let free = assumed ?? Int64(fs.f_bavail) * Int64(fs.f_frsize)
            if free < needed {
                throw CLIError.runtime(String(format: "--out %@: the output needs about %.0f MB and %@ has %.0f MB free; nothing was edited",
                                              path, Double(needed) / 1e6, dir.path, Double(free) / 1e6))
            }
        }
    }

    /// Writes `model` (with its tokenizer beside a safetensors export); on failure removes a folder this command
    /// created (GGUF and safetensors files are written to a temporary name and renamed, so they never appear half-written).
    @discardableResult
    func write(_ model: TransformerModel, tokenizer: any Tokenizer) throws -> ExportReport {
        do {
            return try model.export(to: url, format: format, dtype: dtype, tokenizer: tokenizer)
        } catch {
            if !existed, format == .safetensors { try? FileManager.default.removeItem(at: url) }
            throw error
        }
    }

    /// The summary line of a write: "wrote PATH (3 tensors as Q4_K)", then the report's notes.
    func summary(_ report: ExportReport) -> String {
        let what = format == .gguf ? "edited: \(report.typeSummary)" : report.typeSummary
        return (["wrote \(path) (\(what))"] + report.notes.map { "note: \($0)" }).joined(separator: "\n")
    }
}
