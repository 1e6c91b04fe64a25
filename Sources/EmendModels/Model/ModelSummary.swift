// A model file described without loading its weights: the config, the parameter count, the file format,
// and every tensor's storage type and size (headers only, so it is instant even for large files).
// `emend inspect` prints `lines(listTensors:)`.
//
// Shape legend: V vocab, D width, F FFN width, L layers, H/Hkv heads, Dh head dim, P max positions.

import Foundation

// MARK: - Types

/// What `emend inspect` reports about a model.
public struct ModelSummary: Sendable {
    /// One stored tensor: its name in the file, storage type ("Q4_1", "F32", …), row-major shape and bytes.
    public struct TensorEntry: Sendable, Equatable {
        public var name: String
        public var type: String
        public var shape: [Int]
        public var bytes: Int
    }

    /// Tensors of one storage type: how many, their elements and their bytes.
    public struct TypeTotal: Sendable, Equatable {
        public var type: String
        public var count: Int
        public var elements: Int
        public var bytes: Int
    }

    /// The file or folder read.
    public var path: String
    /// "GGUF v3" or "safetensors (2 shards)".
    public var format: String
    /// `general.name` of a GGUF file, when present.
    public var name: String?
    public var config: ModelConfig
    /// Parameters the model uses (tied heads counted once), from the config.
    public var parameterCount: Int
    /// Tensors in file order.
    public var tensors: [TensorEntry]
    /// Per storage type, most bytes first.
    public var typeTotals: [TypeTotal]
    /// Bytes of all tensor data.
    public var totalTensorBytes: Int { tensors.reduce(0) { $0 + $1.bytes } }
}

// MARK: - Reading

extension ModelSummary {
    /// Reads the headers of `source` (and its config) without dequantising any tensor.
    public init(_ source: ModelSource) throws {
        switch source {
        case .gguf(let url):
            let file = try GGUFFile(url: url)
            let config = try ModelConfig(gguf: file)
            let entries = file.tensors.map {
                TensorEntry(name: $0.name, type: $0.type.description, shape: $0.shape, bytes: $0.byteCount)
            }
            self.init(path: url.path, format: "GGUF v\(file.version)", name: file.metadata["general.name"]?.string,
                      config: config, parameterCount: config.parameterCount, tensors: entries,
                      typeTotals: Self.totals(entries))
        case .huggingFace(let url):
            let config = try ModelConfig(huggingFaceConfig: url.appendingPathComponent("config.json"))
            let folder = try SafeTensorsFolder(url: url)
            let entries = folder.names.compactMap { n in
                folder.info(n).map { TensorEntry(name: n, type: $0.dtype.rawValue, shape: $0.shape, bytes: $0.dataOffsets.count) }
            }
            let shards = folder.shards.count
            self.init(path: url.path, format: "safetensors (\(shards) shard\(shards == 1 ? "" : "s"))", name: nil,
                      config: config, parameterCount: config.parameterCount, tensors: entries,
                      typeTotals: Self.totals(entries))
        }
    }

    /// A shape described from a Hugging Face `config.json` alone (no weights: e.g. to plan memory for a model
    /// that will be built with random weights on a GPU).
    public init(configFile url: URL) throws {
        let config = try ModelConfig(huggingFaceConfig: url)
        self.init(path: url.path, format: "config.json only (no weights)", name: nil, config: config,
                  parameterCount: config.parameterCount, tensors: [], typeTotals: [])
    }

    static func totals(_ entries: [TensorEntry]) -> [TypeTotal] {
        var byType: [String: TypeTotal] = [:]
        for e in entries {
            var t = byType[e.type] ?? TypeTotal(type: e.type, count: 0, elements: 0, bytes: 0)
            t.count += 1; t.elements += e.shape.reduce(1, *); t.bytes += e.bytes
            byType[e.type] = t
        }
        return byType.values.sorted { ($0.bytes, $1.type) > ($1.bytes, $0.type) }
    }
}

// MARK: - Text

extension ModelSummary {
    /// The report as lines: file, architecture, config values, parameters, storage by type, and (when asked)
    /// every tensor.
    public func lines(listTensors: Bool = false) -> [String] {
        let c = config
        var out = ["file:          \(path)", "format:        \(format)"]
        if let name { out.append("name:          \(name)") }
        let rope = (c.ropeConvention == .interleaved ? "interleaved, " : "") + (c.rotaryDim.map { "\($0) of \(c.headDim) dims, " } ?? "")
        let local = c.slidingRopeBase.map { " global, \(Self.number($0)) local" } ?? ""
        let positions = c.positions == .learned ? "learned positions" : "RoPE (\(rope)base \(Self.number(c.ropeBase))\(local))"
        var features: [String] = []
        if let w = c.slidingWindow {
            features.append("sliding window \(w) on \((0..<c.layerCount).filter(c.isSliding).count) of \(c.layerCount) layers")
        }
        if c.qkNorm { features.append("QK-norm") }
        if c.postNorms { features.append("post-norms") }
        if c.scaleEmbeddings { features.append("embeddings ×√D") }
        let block = "\(c.norm == .rms ? "RMSNorm" : "LayerNorm"), \(positions), \(c.block == .parallel ? "parallel attention and " : "")"
            + "\(c.gatedMLP ? "gated " : "")\(c.activation.rawValue) MLP" + features.map { ", " + $0 }.joined()
        out += [
            "architecture:  \(c.architecture) (\(block))",
            "parameters:    \(Self.grouped(parameterCount)) (\(Self.millions(parameterCount)))",
            "layers:        \(c.layerCount)",
            "width:         \(c.hiddenSize)",
            "ffn width:     \(c.intermediateSize)",
            "heads:         \(c.headCount) query, \(c.kvHeadCount) key/value, head dim \(c.headDim)",
            "vocab:         \(c.vocabSize)",
            "max positions: \(c.maxPositions)",
            "norm eps:      \(Self.number(c.normEps))",
            "biases:        attention \(c.attentionBias ? "q/k/v" : "none")\(c.attentionOutputBias ? " + output" : ""), mlp \(c.mlpBias ? "yes" : "no")",
            "output head:   \(c.tiedEmbeddings ? "tied to the token embedding" : "separate")\(c.outputBias ? ", with a bias" : "")",
        ]
        if tensors.isEmpty {
            out.append("weights:       \(Self.bytes(parameterCount * 4)) as F32, \(Self.bytes(parameterCount * 2)) as BF16/F16")
        } else {
            out.append("tensors:       \(tensors.count), \(Self.bytes(totalTensorBytes))")
        }
        let width = typeTotals.map(\.type.count).max() ?? 0
        for t in typeTotals {
            let pad = String(repeating: " ", count: width - t.type.count)
            out.append("  \(t.type)\(pad)  \(String(format: "%5d", t.count)) tensors  \(Self.millions(t.elements)) elements  \(Self.bytes(t.bytes))")
        }
        if listTensors {
            let nameWidth = tensors.map(\.name.count).max() ?? 0
            let typeWidth = tensors.map(\.type.count).max() ?? 0
            let shapeWidth = tensors.map { "\($0.shape)".count }.max() ?? 0
            func padded(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
            for e in tensors {
                out.append("  \(padded(e.name, nameWidth))  \(padded(e.type, typeWidth))  \(padded("\(e.shape)", shapeWidth))  \(Self.bytes(e.bytes))")
            }
        }
        return out
    }

    static func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return out
    }
    static func millions(_ n: Int) -> String { String(format: "%.2fM", Double(n) / 1e6) }
    public static func bytes(_ n: Int) -> String {
        if n >= 1 << 30 { return String(format: "%.2f GiB", Double(n) / Double(1 << 30)) }
        return n >= 1 << 20 ? String(format: "%.2f MiB", Double(n) / Double(1 << 20)) : String(format: "%.1f KiB", Double(n) / 1024)
    }
    static func number(_ x: Float) -> String { x == x.rounded() && abs(x) < 1e9 ? String(Int(x)) : "\(x)" }
}

extension ModelConfig {
    /// Parameters the model uses: every role's expected shape, a tied head counted once.
    public var parameterCount: Int {
        var n = 0
        for role in TensorRole.allCases {
            guard let s = ModelWeights.expectedShape(role, self) else { continue }
            n += s.reduce(1, *) * (role.isPerBlock ? layerCount : 1)
        }
        return n
    }
}
