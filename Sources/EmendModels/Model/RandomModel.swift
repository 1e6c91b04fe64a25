// A GGUF model file of a real model's shape with random weights (`emend init-model`), so that memory and speed
// at 7–8B can be measured without a download. Weights are Gaussian (std 0.02, seeded), norms are 1, biases
// Gaussian; 2-D tensors are quantised by Emend's own quantizers (GGUFQuantize.swift) and written one piece at a
// time (GGUFWriter's streaming mode), so peak memory is one piece (≈ 8M values), never the model.
//
// Determinism: the values of tensor i, rows [16g, 16g + 16) come from SeededGenerator(seed, i, g) alone, so the
// file's bytes depend on the seed, the config, the type and the tokenizer only (not on the thread count).
//
// Shape legend: V vocab, D width, F FFN width, L layers, H heads, Hkv key/value heads, Dh head dim.

import EmendCore
import Foundation

// MARK: - Types

/// The tensor types of a random model file, as llama.cpp's `llama-quantize` names its mixtures.
public enum RandomModelType: String, CaseIterable, Sendable {
    /// llama.cpp's Q4_K_M mixture: Q6_K for the output head (the token embedding when tied), and for attn_v and
    /// ffn_down in the layers where llama.cpp's `use_more_bits(l, L)` holds (the first and last eighth of
    /// the layers, and every third one between); Q4_K for every other matrix.
    case q4_k_m
    /// Q8_0 for every matrix.
    case q8_0
    /// BF16 for every matrix.
    case bf16
    /// F32 for every tensor.
    case f32

    /// The `general.file_type` value (llama.cpp's `llama_ftype`).
    var fileType: UInt32 {
        switch self {
        case .f32: return 0
        case .q8_0: return 7
        case .q4_k_m: return 15
        case .bf16: return 32
        }
    }

    /// The type of a tensor with `shape` (row-major, [rows, C]) in role `role` of layer `layer` of `layers`.
    /// 1-D tensors (norms, biases) stay F32. A row length that the chosen type's blocks cannot tile falls back
    /// as llama.cpp's does: Q4_K → Q5_0, Q6_K → Q8_0, and a 32-block type → F16 (then F32).
    func tensorType(_ role: TensorRole, layer: Int, layers: Int, shape: [Int], tied: Bool) -> GGMLType {
        guard shape.count == 2, self != .f32 else { return .f32 }
        var type: GGMLType
        switch self {
        case .f32: type = .f32
        case .bf16: type = .bf16
        case .q8_0: type = .q8_0
        case .q4_k_m:
            switch role {
            case .output: type = .q6_K
            case .tokenEmbedding: type = tied ? .q6_K : .q4_K
            case .attnV, .ffnDown: type = useMoreBits(layer, layers) ? .q6_K : .q4_K
            default: type = .q4_K
            }
        }
        let c = shape[1]
        let fallbacks: [GGMLType: GGMLType] = [.q4_K: .q5_0, .q5_K: .q5_1, .q6_K: .q8_0, .q8_0: .f16, .q5_0: .f16, .q5_1: .f16, .bf16: .f32]
        while c % type.blockSize != 0, let next = fallbacks[type] { type = next }
        return c % type.blockSize == 0 ? type : .f32
    }

    /// llama.cpp's `use_more_bits`: layer i of n gets more bits in the first and last eighth, and every third
    /// layer between.
    func useMoreBits(_ i: Int, _ n: Int) -> Bool { i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2 }
}

/// What `RandomModel.write` wrote.
public struct RandomModelReport: Sendable {
    /// The file's size in bytes.
    public var bytes: Int
    /// Tensors per type ("Q4_K": 161, …).
    public var tensorsPerType: [String: Int]
    /// Parameters in all.
    public var parameters: Int
}

public enum RandomModel {
    /// The families whose GGUF metadata keys `write` knows (llama.cpp's `llama`, `mistral`, `qwen2`).
    public static let architectures = ["llama", "mistral", "qwen2"]

    /// One tensor to write: its stored name, role, layer and row-major shape.
    struct Planned {
        let name: String
        let role: TensorRole
        let layer: Int
        let shape: [Int]
    }

    // MARK: - Writing

    /// Writes a GGUF file of `config`'s shape with random weights to `url` (atomically: a temporary file, then a
    /// rename). The tokenizer is `tokenizer`'s `tokenizer.*` metadata, its vocabulary padded with unused tokens
    /// or cut to `config.vocabSize`.
    /// - Parameters:
    ///   - progress: called after each tensor with (tensors done, tensors in all, name, type).
    /// - Throws: `invalidConfig` for an architecture other than the Llama family's, the tokenizer's errors,
    ///   `writeFailed` for an unwritable destination.
    @discardableResult
    public static func write(config c: ModelConfig, type: RandomModelType, seed: UInt64, tokenizer: GGUFFile,
                             std: Float = 0.02, to url: URL,
                             progress: ((Int, Int, String, GGMLType) -> Void)? = nil) throws -> RandomModelReport {
        guard architectures.contains(c.architecture) else {
            throw EmendModelsError.invalidConfig(file: url.path, field: "model_type", expected: architectures.joined(separator: ", "),
                                                 got: c.architecture)
        }
        let plan = tensorPlan(c)
        var metadata = modelMetadata(c, type: type)
        metadata += try RandomModel.tokenizerMetadata(tokenizer, vocabSize: c.vocabSize)
        var perType: [String: Int] = [:]
        let done = Counter()
        let tensors = plan.enumerated().map { i, t -> GGUFWriter.StreamedTensor in
            let gtype = type.tensorType(t.role, layer: t.layer, layers: c.layerCount, shape: t.shape, tied: c.tiedEmbeddings)
            perType[gtype.description, default: 0] += 1
            return GGUFWriter.StreamedTensor(name: t.name, dims: t.shape.reversed(), type: gtype) { sink in
                try produce(t, index: i, type: gtype, seed: seed, std: std, sink: sink)
                done.value += 1
                progress?(done.value, plan.count, t.name, gtype)
            }
        }
        try GGUFWriter.write(metadata: metadata, streaming: tensors, to: url)
        let bytes = ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int) ?? 0
        return RandomModelReport(bytes: bytes, tensorsPerType: perType,
                                 parameters: plan.reduce(0) { $0 + $1.shape.reduce(1, *) })
    }

    /// Every tensor of the family's GGUF names that applies to `c`, in llama.cpp's order: the token embedding,
    /// then block by block, then the output norm and head.
    static func tensorPlan(_ c: ModelConfig) -> [Planned] {
        let stored = ModelFamily.llama.ggufNames.stored.filter { $0.roles.count == 1 }
        func planned(_ s: StoredTensor, _ l: Int) -> Planned? {
            guard let role = s.roles.first, let shape = ModelWeights.expectedShape(role, c) else { return nil }
            return Planned(name: s.name(layer: l), role: role, layer: l, shape: shape)
        }
        let model = stored.filter { !$0.isPerBlock }, block = stored.filter(\.isPerBlock)
        let first = model.filter { $0.roles == [.tokenEmbedding] }.compactMap { planned($0, 0) }
        let blocks = (0..<c.layerCount).flatMap { l in block.compactMap { planned($0, l) } }
        let last = model.filter { $0.roles != [.tokenEmbedding] }.compactMap { planned($0, 0) }
        return first + blocks + last
    }

    /// The architecture's GGUF hyper-parameter keys (llama.cpp's names) and the file type.
    static func modelMetadata(_ c: ModelConfig, type: RandomModelType) -> [(key: String, value: GGUFValue)] {
        let a = c.architecture
        var m: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string(a)), ("general.name", .string("emend-random-\(a)")),
            ("general.file_type", .uint32(type.fileType)),
            ("\(a).vocab_size", .uint32(UInt32(c.vocabSize))), ("\(a).context_length", .uint32(UInt32(c.maxPositions))),
            ("\(a).embedding_length", .uint32(UInt32(c.hiddenSize))), ("\(a).block_count", .uint32(UInt32(c.layerCount))),
            ("\(a).feed_forward_length", .uint32(UInt32(c.intermediateSize))),
            ("\(a).attention.head_count", .uint32(UInt32(c.headCount))), ("\(a).attention.head_count_kv", .uint32(UInt32(c.kvHeadCount))),
            ("\(a).rope.freq_base", .float32(c.ropeBase)), ("\(a).rope.dimension_count", .uint32(UInt32(c.headDim))),
            ("\(a).attention.layer_norm_rms_epsilon", .float32(c.normEps)),
        ]
        if c.headDim * c.headCount != c.hiddenSize {
            m += [("\(a).attention.key_length", .uint32(UInt32(c.headDim))), ("\(a).attention.value_length", .uint32(UInt32(c.headDim)))]
        }
        if type != .f32 && type != .bf16 { m.append(("general.quantization_version", .uint32(2))) }
        return m
    }

    // MARK: - Values

    /// Rows per random-number stream.
    static let rowsPerStream = 16
    /// Values per piece handed to the writer (≈ 32 MB of Float32).
    static let valuesPerPiece = 8 << 20

    /// Generates tensor `t`'s values piece by piece (whole row groups), quantises each and hands it to `sink`.
    static func produce(_ t: Planned, index: Int, type: GGMLType, seed: UInt64, std: Float,
                        sink: ([UInt8]) throws -> Void) throws {
        let isNorm = [.attnNorm, .ffnNorm, .outputNorm].contains(t.role)
        let rows = t.shape.count == 2 ? t.shape[0] : 1, cols = t.shape.last ?? 1
        let groups = (rows + rowsPerStream - 1) / rowsPerStream
        let groupsPerPiece = max(1, valuesPerPiece / (rowsPerStream * cols))
        for g0 in stride(from: 0, to: groups, by: groupsPerPiece) {
            let g1 = min(groups, g0 + groupsPerPiece)
            let r0 = g0 * rowsPerStream, r1 = min(rows, g1 * rowsPerStream)
            var values = [Float](repeating: 1, count: (r1 - r0) * cols)
            if !isNorm {
                values.withUnsafeMutableBufferPointer { buf in
                    let out = SendablePointer(buf.baseAddress!)
                    parallelRanges(g1 - g0, grain: 1) { range in
                        for g in range {
                            var rng = SeededGenerator(seed: streamSeed(seed, tensor: index, group: g0 + g))
                            let lo = (g0 + g) * rowsPerStream, hi = min(r1, lo + rowsPerStream)
                            for k in (lo - r0) * cols..<(hi - r0) * cols { out.base[k] = rng.nextNormal() * std }
                        }
                    }
                }
            }
            try sink(try type.quantize(values, rowLength: cols, tensor: t.name))
        }
    }

    /// The seed of the stream for rows [16·group, 16·group + 16) of tensor `tensor`.
    static func streamSeed(_ seed: UInt64, tensor: Int, group: Int) -> UInt64 {
        var base = SeededGenerator(seed: seed)
        var g = SeededGenerator(seed: base.next() ^ (UInt64(tensor) << 40) ^ UInt64(group))
        return g.next()
    }
}

/// A count shared with the writer's callbacks (they run one at a time, in file order).
private final class Counter: @unchecked Sendable { var value = 0 }
