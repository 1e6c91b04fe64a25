// A decoder-only transformer: config + weights, and the pieces of its forward pass.
//
// Rows, not padded batches: the forward pass works on R rows (the new tokens of every sequence,
// concatenated) grouped into segments (one per sequence), each continuing its own cached prefix.
// Right-padded batches, KV-cached generation and the editors' "re-run only the tokens after the subject"
// are all this one path.
//
// Shape legend: R rows, D width, F FFN width, V vocab, H heads, Hkv kv heads, Dh head dim, L layers.
// Named sites follow llama.cpp's words: `attn_norm`, `ffn_inp` (residual after attention),
// `ffn_down_in` (the MLP key), `l_out` (block output).

import EmendCore

/// A model ready to run: its config, weights and (when known) tokenizer.
public struct TransformerModel: Sendable {
    public var config: ModelConfig
    public var weights: ModelWeights
    /// Where the weights came from (a GGUF file or an HF folder), for export and for cache keys.
    public var source: ModelSource?

    public init(config: ModelConfig, weights: ModelWeights, source: ModelSource? = nil) {
        self.config = config
        self.weights = weights
        self.source = source
    }

    /// The attention of block `layer`: heads, the logits' scale, and its window (sliding-window layers).
    func attentionShape(_ layer: Int) -> AttentionShape {
        AttentionShape(heads: config.headCount, kvHeads: config.kvHeadCount, headDim: config.headDim,
                       scale: config.attentionScale, window: config.window(layer))
    }
}

/// Cached keys and values of one sequence, per layer (keys after RoPE).
public struct KVCache: Sendable {
    /// Per layer: [P, Hkv·Dh]
    public var keys: [Tensor]
    /// Per layer: [P, Hkv·Dh]
    public var values: [Tensor]
    /// P, the number of cached positions.
    public var count: Int

    public init(layers: Int, kvWidth: Int) {
        keys = Array(repeating: Tensor.zeros([0, kvWidth]), count: layers)
        values = keys
        count = 0
    }
}

/// A batch of sequences, each a run of new tokens after `prefix` cached positions.
public struct RowBatch: Sendable {
    public var segments: [AttentionSegment]
    /// The absolute position of every row: [R]
    public var positions: [Int]
    /// The token id of every row: [R]
    public var tokens: [Int]

    /// Sequences of new tokens; `prefixes[i]` positions of sequence i are already cached (default none).
    public init(_ sequences: [[Int]], prefixes: [Int]? = nil) {
        var segs: [AttentionSegment] = [], pos: [Int] = [], toks: [Int] = []
        for (i, s) in sequences.enumerated() {
            let p = prefixes?[i] ?? 0
            segs.append(AttentionSegment(rowStart: toks.count, count: s.count, prefix: p))
            pos += (0..<s.count).map { p + $0 }
            toks += s
        }
        segments = segs; positions = pos; tokens = toks
    }

    public var rowCount: Int { tokens.count }
    /// The rows of sequence i.
    public func rows(of i: Int) -> Range<Int> { segments[i].rowStart..<(segments[i].rowStart + segments[i].count) }
    /// The row of sequence i's token at position `t` counted from its first new token.
    public func row(_ i: Int, _ t: Int) -> Int { segments[i].rowStart + t }
}

/// A block's MLP output before any post-norm, and the residual stream it joins (both [R, D]).
public struct MLPOutput: Sendable {
    public var residual: Tensor
    public var output: Tensor
}

/// What to record or change during a forward pass (interventions and debug dumps share these sites).
public struct ForwardHooks: Sendable {
    /// Layers whose MLP down-projection input (`ffn_down_in`, the key) is recorded: [R, F] each.
    public var captureKeys: Set<Int> = []
    /// Layers whose block output (`l_out`) is recorded: [R, D] each.
    public var captureBlockOutputs: Set<Int> = []
    /// Layers whose MLP output before any post-norm (`ffn_out`, the down-projection's output: what the editors
    /// change) is recorded, with the residual it joins (`ffn_inp`): l_out = residual + postNorm(output).
    public var captureMLPOutputs: Set<Int> = []
    /// Vectors added to block outputs: layer → (rows, [D] vector).
    public var residualAdditions: [Int: [(rows: [Int], vector: Tensor)]] = [:]

    public var keys: [Int: Tensor] = [:]
    public var blockOutputs: [Int: Tensor] = [:]
    public var mlpOutputs: [Int: MLPOutput] = [:]

    public init(captureKeys: Set<Int> = [], captureBlockOutputs: Set<Int> = [], captureMLPOutputs: Set<Int> = []) {
        self.captureKeys = captureKeys
        self.captureBlockOutputs = captureBlockOutputs
        self.captureMLPOutputs = captureMLPOutputs
    }
}
