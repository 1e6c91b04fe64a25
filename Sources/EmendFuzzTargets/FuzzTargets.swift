// One entry point per parser of untrusted bytes, for libFuzzer (`make fuzz`, the package in Fuzz/) and for the
// replay of the committed corpora in the test suite (`EmendFuzzTests`).
//
// Each target writes the bytes where its parser reads them (a scratch folder per process, since most readers take
// a file or a folder), runs the parser and, when it accepts the input, everything a command would do next with
// the result (read every tensor, tokenize, validate). A thrown error is a correct answer to bad input; a trap, a
// sanitizer report or a hang is a finding.
//
// Input layout per target (seeds: Fuzz/corpus/<target>/, written by `EmendFuzzTests`' seed writer):
//   gguf               a .gguf file: header, metadata (config, tokenizer, chat template), tensors
//   safetensors        a .safetensors file
//   safetensors-index  model.safetensors.index.json beside two fixed valid shards
//   config             a Hugging Face config.json
//   tokenizer          a Hugging Face tokenizer.json (byte-level BPE or SentencePiece BPE)
//   requests           a requests file, read both as .json and as .jsonl
//   preset             a preset file, read as a locate-then-edit preset and as hyper-network settings
//   store-journal      a store's store.sqlite (the tensors folder empty)
//   store-tensors      a store tensor file (batch or checkpoint)
//   editor             a hyper-network editor checkpoint: u32 little-endian length n, n bytes of editor.json,
//                      then editor.safetensors

import EmendCore
import EmendEditing
import EmendModels
import Foundation

public enum FuzzTarget: String, CaseIterable, Sendable {
    case gguf, safetensors, safetensorsIndex = "safetensors-index", config, tokenizer, requests, preset
    case storeJournal = "store-journal", storeTensors = "store-tensors", editor

    /// Runs the parser on `data`. - Returns: true when the input was accepted (every step succeeded).
    @discardableResult
    public func run(_ data: Data) -> Bool {
        let dir = FuzzScratch.folder(rawValue)
        do {
            switch self {
            case .gguf: try Self.gguf(data, dir)
            case .safetensors: try Self.safetensors(data, dir)
            case .safetensorsIndex: try Self.safetensorsIndex(data, dir)
            case .config: _ = try ModelConfig(huggingFaceConfigData: data, file: "config.json")
            case .tokenizer: try Self.exercise(try TokenizerLoader.tokenizer(huggingFaceJSON: data))
            case .requests: try Self.requests(data)
            case .preset: try Self.preset(data, dir)
            case .storeJournal: try Self.storeJournal(data, dir)
            case .storeTensors: try Self.storeTensors(data, dir)
            case .editor: try Self.editor(data, dir)
            }
            return true
        } catch {
            return false
        }
    }

    // MARK: - Targets

    static func gguf(_ data: Data, _ dir: URL) throws {
        let url = try FuzzScratch.write(data, dir, "model.gguf")
        let file = try GGUFFile(url: url)
        var failure: Error?
        for info in file.tensors {
            do { _ = try file.tensor(info.name) } catch { failure = failure ?? error }
        }
        // The config, tokenizer and chat template are read independently by the loader: try each.
        do { _ = try ModelConfig(gguf: file) } catch { failure = failure ?? error }
        do { try exercise(try TokenizerLoader.tokenizer(gguf: file)) } catch { failure = failure ?? error }
        do { _ = try ChatTemplate.fromGGUF(file.metadata) } catch { failure = failure ?? error }
        if let failure { throw failure }
    }

    static func safetensors(_ data: Data, _ dir: URL) throws {
        let url = try FuzzScratch.write(data, dir, "model.safetensors")
        let file = try SafeTensorsFile(url: url)
        for name in file.names {
            _ = try file.tensor(name)
            if let info = file.info(name), info.dtype.isInteger { _ = try file.integers(name) }
        }
    }

    static func safetensorsIndex(_ data: Data, _ dir: URL) throws {
        try FuzzScratch.writeShards(dir)
        _ = try FuzzScratch.write(data, dir, SafeTensorsFolder.indexFileName)
        let folder = try SafeTensorsFolder(url: dir)
        for name in folder.names { _ = try folder.tensor(name) }
    }

    static func requests(_ data: Data) throws {
        var failure: Error?
        for file in ["requests.json", "requests.jsonl"] {
            do {
                let requests = try EditRequest.parse(data, file: file)
                _ = try EditRequest.plan(requests, policy: .keepBoth, file: file)
            } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }

    static func preset(_ data: Data, _ dir: URL) throws {
        let url = try FuzzScratch.write(data, dir, "preset.json")
        // A preset file is one kind or the other: accepted when either reader takes it.
        var failure: Error?, accepted = false
        do { try EditPreset.load(url).validate(layerCount: 30); accepted = true } catch { failure = error }
        for method in HyperNetworkMethod.allCases {
            do { try HyperNetworkSettings.preset(url.path, method: method).validate(); accepted = true } catch { failure = failure ?? error }
        }
        if !accepted, let failure { throw failure }
    }

    static func storeJournal(_ data: Data, _ dir: URL) throws {
        let fm = FileManager.default
        for suffix in ["", "-wal", "-shm"] { try? fm.removeItem(atPath: dir.appendingPathComponent("store.sqlite").path + suffix) }
        try? fm.createDirectory(at: dir.appendingPathComponent("tensors"), withIntermediateDirectories: true)
        _ = try FuzzScratch.write(data, dir, "store.sqlite")
        let store = try EditStore.open(at: dir, writer: false)
        _ = try store.info()
        _ = try store.head()
        _ = try store.checkpointInterval()
        _ = try store.batches(includeRolledBack: true)
        _ = try store.requests(includeRolledBack: true)
        _ = try store.verify()
    }

    static func storeTensors(_ data: Data, _ dir: URL) throws {
        let url = try FuzzScratch.write(data, dir, "batch.safetensors")
        _ = try StoreTensorFile.read(url, sha256: nil)
    }

    static func editor(_ data: Data, _ dir: URL) throws {
        guard data.count >= 4 else { throw FuzzInputTooShort() }
        let n = Int(data[data.startIndex]) | Int(data[data.startIndex + 1]) << 8 | Int(data[data.startIndex + 2]) << 16
            | Int(data[data.startIndex + 3]) << 24
        let rest = data.dropFirst(4)
        guard n <= rest.count else { throw FuzzInputTooShort() }
        _ = try FuzzScratch.write(Data(rest.prefix(n)), dir, "editor.json")
        _ = try FuzzScratch.write(Data(rest.dropFirst(n)), dir, "editor.safetensors")
        _ = try HyperNetworkEditor.load(from: dir)
    }

    /// What a command does with a tokenizer (either kind): encode text with special tokens and plain, decode both,
    /// build a prompt and its target.
    static func exercise(_ t: any Tokenizer) throws {
        for text in ["Hello world, the Eiffel Tower is in Paris.", " <|im_start|>user\n\u{1F600} x\r\n\t  <s>", ""] {
            let ids = t.encode(text)
            _ = t.decode(ids)
            _ = t.decode(t.encode(text, parseSpecial: false), skipSpecial: true)
        }
        _ = t.promptAndTargetIDs(prompt: "The Eiffel Tower is in", target: "Rome")
    }
}

struct FuzzInputTooShort: Error {}

/// Per-process scratch folders for the targets that read files.
enum FuzzScratch {
    nonisolated(unsafe) static var root: URL = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let url = URL(fileURLWithPath: base).appendingPathComponent("emend-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: FuzzScratch.root) }
        return url
    }()
    nonisolated(unsafe) static var shardsWritten = false

    static func folder(_ name: String) -> URL {
        let url = root.appendingPathComponent(name)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func write(_ data: Data, _ dir: URL, _ name: String) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try data.write(to: url)
        return url
    }

    /// Two small valid shards the fuzzed index may name: model-00001-of-00002.safetensors, model-00002-of-00002.safetensors.
    static func writeShards(_ dir: URL) throws {
        guard !shardsWritten else { return }
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]), b = Tensor(shape: [4], scalars: [1, -1, 0.5, 2])
        try SafeTensorsWriter.write([(name: "model.embed_tokens.weight", tensor: a)], to: dir.appendingPathComponent("model-00001-of-00002.safetensors"))
        try SafeTensorsWriter.write([(name: "model.norm.weight", tensor: b), (name: "lm_head.weight", tensor: a)],
                                    dtype: .bf16, to: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        shardsWritten = true
    }
}
