// Loading is one pipeline (STYLE rule 15): a format reader that knows no models → the family's names →
// every expected tensor checked for presence and shape, none left over → build.
//
// GGUF Llama checkpoints: llama.cpp's converter permutes the rows of attn_q/attn_k within each head so that
// its interleaved RoPE (pairs 2i, 2i+1) reproduces HF's rotate_half RoPE (pairs i, i+Dh/2). GGUF row
// h·Dh + 2i + j holds HF row h·Dh + (Dh/2)·j + i. This loader undoes it, here and only here, so the rest of
// Emend sees HF row order and uses `.halfSplit` RoPE for every Llama-family model.

import EmendCore
import Foundation

/// Where a model's weights live.
public enum ModelSource: Sendable, Equatable {
    case gguf(URL)
    case huggingFace(URL)

    public var url: URL {
        switch self { case .gguf(let u), .huggingFace(let u): return u }
    }
}

/// A format reader seen by the loader: tensor names, shapes, and Float32 data.
protocol WeightReader {
    var description: String { get }
    var names: [String] { get }
    func shape(_ name: String) -> [Int]?
    func load(_ name: String) throws -> Tensor
}

/// Undoes llama.cpp's Q/K row permutation: rows [heads·Dh, …] in GGUF order → HF order.
public func unpermuteRopeRows(_ w: Tensor, heads: Int) -> Tensor { reorderRopeRows(w, heads: heads, toHF: true) }

/// The inverse of `unpermuteRopeRows` (HF order → GGUF order).
public func permuteRopeRows(_ w: Tensor, heads: Int) -> Tensor { reorderRopeRows(w, heads: heads, toHF: false) }

/// Moves rows between GGUF row h·Dh + 2i + j and HF row h·Dh + (Dh/2)·j + i, in the direction asked.
func reorderRopeRows(_ w: Tensor, heads: Int, toHF: Bool) -> Tensor {
    let rows = w.shape[0], cols = w.count / max(rows, 1), dh = rows / heads, half = dh / 2
    var out = [Float](repeating: 0, count: w.count)
    for h in 0..<heads { for i in 0..<half { for j in 0..<2 {
        let gguf = h * dh + 2 * i + j, hf = h * dh + half * j + i
        let (src, dst) = toHF ? (gguf, hf) : (hf, gguf)
        for c in 0..<cols { out[dst * cols + c] = w.scalars[src * cols + c] }
    } } }
    return Tensor(shape: w.shape, scalars: out)
}

extension TransformerModel {
    /// Loads and checks every weight of `config` through `reader`, naming tensors by `names`.
    static func loadWeights(config c: ModelConfig, reader: WeightReader, names: [TensorRole: String],
                            transform: (TensorRole, Tensor) -> Tensor) throws -> ModelWeights {
        var used = Set<String>()
        let file = reader.description
        func fetch(_ role: TensorRole, _ layer: Int, expected: [Int]?) throws -> Tensor? {
            guard let template = names[role] else { return nil }
            let name = ModelFamily.resolve(template, layer: layer)
            guard reader.shape(name) != nil else { return nil }
            used.insert(name)
            let t = transform(role, try reader.load(name))
            if let e = expected, t.shape != e {
                throw EmendModelsError.tensorShapeMismatch(file: file, tensor: name, expected: e, got: t.shape)
            }
            return t
        }
        func required(_ role: TensorRole, _ layer: Int = 0) throws -> Tensor {
            let e = ModelWeights.expectedShape(role, c)
            guard let t = try fetch(role, layer, expected: e) else {
                throw EmendModelsError.tensorNotFound(file: file, tensor: ModelFamily.resolve(names[role] ?? role.rawValue, layer: layer))
            }
            return t
        }
        func optional(_ role: TensorRole, _ layer: Int = 0) throws -> Tensor? {
            guard let e = ModelWeights.expectedShape(role, c) else { return nil }
            guard let t = try fetch(role, layer, expected: e) else {
                throw EmendModelsError.tensorNotFound(file: file, tensor: ModelFamily.resolve(names[role] ?? role.rawValue, layer: layer))
            }
            return t
        }
        var blocks: [BlockWeights] = []
        for l in 0..<c.layerCount {
            var q: Tensor, k: Tensor, v: Tensor, qb: Tensor?, kb: Tensor?, vb: Tensor?
            if names[.attnQKV] != nil, let fused = try fetch(.attnQKV, l, expected: nil) {
                // GPT-2: one [3D, D] projection (after the Conv1D transpose), split into Q, K, V.
                let d = c.hiddenSize
                guard fused.shape == [3 * d, d] else {
                    throw EmendModelsError.tensorShapeMismatch(file: file, tensor: ModelFamily.resolve(names[.attnQKV]!, layer: l),
                                                               expected: [3 * d, d], got: fused.shape)
                }
                q = fused.rows(0..<d); k = fused.rows(d..<(2 * d)); v = fused.rows((2 * d)..<(3 * d))
                if let b = try fetch(.attnQKVBias, l, expected: [3 * d]) {
                    qb = b.sliced(axis: 0, 0..<d); kb = b.sliced(axis: 0, d..<(2 * d)); vb = b.sliced(axis: 0, (2 * d)..<(3 * d))
                }
            } else {
                q = try required(.attnQ, l); k = try required(.attnK, l); v = try required(.attnV, l)
                qb = try optional(.attnQBias, l); kb = try optional(.attnKBias, l); vb = try optional(.attnVBias, l)
            }
            blocks.append(BlockWeights(
                attnNorm: try required(.attnNorm, l), attnNormBias: try optional(.attnNormBias, l),
                attnQ: q, attnK: k, attnV: v, attnQBias: qb, attnKBias: kb, attnVBias: vb,
                attnOutput: try required(.attnOutput, l), attnOutputBias: try optional(.attnOutputBias, l),
                ffnNorm: try required(.ffnNorm, l), ffnNormBias: try optional(.ffnNormBias, l),
                ffnGate: try optional(.ffnGate, l), ffnGateBias: try optional(.ffnGateBias, l),
                ffnUp: try required(.ffnUp, l), ffnUpBias: try optional(.ffnUpBias, l),
                ffnDown: try required(.ffnDown, l), ffnDownBias: try optional(.ffnDownBias, l)))
        }
        let weights = ModelWeights(
            tokenEmbedding: try required(.tokenEmbedding), positionEmbedding: try optional(.positionEmbedding),
            outputNorm: try required(.outputNorm), outputNormBias: try optional(.outputNormBias),
            output: try optional(.output), blocks: blocks)
        // Leftovers: HF GPT-2 checkpoints carry attention-mask buffers; anything else is an error.
        let tiedHead = c.tiedEmbeddings ? names[.output] ?? "" : ""
        let leftovers = reader.names.filter { !used.contains($0) && $0 != tiedHead && $0 != "lm_head.weight"
            && !$0.hasSuffix(".attn.bias") && !$0.hasSuffix(".attn.masked_bias")
            && !$0.hasPrefix("rope_freqs") && !$0.hasSuffix("rotary_emb.inv_freq") }
        if !leftovers.isEmpty { throw EmendModelsError.unexpectedTensors(file: file, tensors: leftovers) }
        return weights
    }
}
