// The locate-then-edit editor: one batch of requests at a time, sequentially, keeping each edited layer's state.
//
// Data path of one batch (ARCHITECTURE.md):
//  1. prompts: context templates × request prompt, tokenized (PromptBuilder)
//  2. target search at the last edited layer → z per request (TargetSearch)
//  3. for each edited layer l, ascending: keys K (MLP down-projection input at the subject's last token,
//     ½ plain prompt + ½ mean of the prefixed prompts), residual R = (z − current output) / (layers left)
//  4. ΔW = rule.solve(K, R, C0, state) in Float64; W += ΔW before the next layer; state Kp Kpᵀ += K Kᵀ
// A batch is all-or-nothing: requests are validated before anything runs, and a non-finite ΔW restores every
// layer already changed in this batch before the error is thrown.
//
// Shape legend: N requests, D width, F FFN width.

import EmendCore
import EmendModels
import Foundation

/// What one batch did.
public struct BatchReport: Sendable, Codable {
    public var requestCount: Int
    /// Gradient steps of the target search, per request.
    public var searchSteps: [Int]
    /// Final search loss per request.
    public var finalLosses: [Float]
    public var searchSeconds: Double
    /// Keys, residuals, solves and weight updates.
    public var updateSeconds: Double
    /// ‖ΔW‖_F per edited layer.
    public var updateNorms: [Int: Double]
    /// ‖W‖_F after the batch, per edited layer.
    public var weightNorms: [Int: Double]

    public var meanSteps: Double { searchSteps.isEmpty ? 0 : Double(searchSteps.reduce(0, +)) / Double(searchSteps.count) }
}

/// Edits a model in place, batch after batch.
public struct LocateThenEditor: Sendable {
    public private(set) var model: TransformerModel
    public let tokenizer: BPETokenizer
    public let preset: EditPreset
    public let prompts: PromptBuilder
    /// C0 per edited layer: [F, F]
    public let statistics: [Int: Matrix64]
    /// AlphaEdit's null-space projector per edited layer: [F, F]
    public let projectors: [Int: Matrix64]
    /// Kp Kpᵀ per edited layer.
    public private(set) var states: [Int: LayerEditState]

    /// - statistics: C0 for every layer of the preset (see `StatisticsCache`).
    /// - contexts: the context templates (see `ContextTemplates`); "{}" alone disables them.
    public init(model: TransformerModel, tokenizer: BPETokenizer, preset: EditPreset, statistics: [Int: Matrix64],
                contexts: [String], states: [Int: LayerEditState]? = nil) throws {
        try preset.validate(layerCount: model.config.layerCount)
        let f = model.config.intermediateSize
        for l in preset.layers {
            guard let c0 = statistics[l], c0.rows == f, c0.cols == f else {
                throw EmendEditingError.invalidSettings(field: "statistics[\(l)]", expected: "C0 of shape [\(f), \(f)]",
                                                        got: statistics[l].map { "[\($0.rows), \($0.cols)]" } ?? "none")
            }
        }
        guard contexts.first == "{}" else {
            throw EmendEditingError.invalidSettings(field: "contexts", expected: "the plain template \"{}\" first", got: "\(contexts.prefix(1))")
        }
        self.model = model
        self.tokenizer = tokenizer
        self.preset = preset
        self.prompts = PromptBuilder(tokenizer: tokenizer, contexts: contexts)
        self.statistics = statistics
        var proj: [Int: Matrix64] = [:]
        if case let .alphaEdit(_, threshold) = preset.rule {
            for l in preset.layers { proj[l] = try nullSpaceProjector(c0: statistics[l]!, threshold: threshold) }
        }
        self.projectors = proj
        self.states = states ?? Dictionary(uniqueKeysWithValues: preset.layers.map { ($0, LayerEditState(width: f)) })
    }

    // MARK: - Validation

    /// Throws for the first request that cannot be edited (nothing has changed yet).
    public func validate(_ requests: [EditRequest], file: String = "(requests)") throws {
        for (i, r) in requests.enumerated() {
            try r.validate(file: file, record: i)
            if prompts.targetIDs(r.targetNew).isEmpty { throw EmendEditingError.emptyTarget(file: file, record: i) }
            for t in prompts.rewriteTemplates(r) {
                let (ids, look) = prompts.filled(t, subject: r.subject)
                guard look >= 0, look < ids.count else {
                    throw EmendEditingError.subjectNotInPrompt(file: file, record: i, subject: r.subject, prompt: r.prompt)
                }
                guard ids.count + prompts.targetIDs(r.targetNew).count <= model.config.maxPositions else {
                    throw EmendEditingError.malformedRecord(file: file, record: i, field: "prompt", expected: "at most \(model.config.maxPositions) tokens with the target", got: "\(ids.count) tokens")
                }
            }
        }
    }

    // MARK: - Keys

    /// Keys at `layer` (½ plain + ½ mean of prefixed prompts) and the block-`zLayer` output at the plain prompt's
    /// subject token, for every request, with the current weights. → (K [N, F], current z [N, D])
    func keysAndOutputs(_ requests: [EditRequest], layer: Int, zLayer: Int) -> (keys: Tensor, outputs: Tensor) {
        var seqs: [[Int]] = [], looks: [Int] = []
        for r in requests { for (ids, look) in prompts.keyPrompts(r) { seqs.append(Array(ids[...look])); looks.append(look) } }
        let batch = RowBatch(seqs)
        var hooks = ForwardHooks(captureKeys: [layer], captureBlockOutputs: [zLayer])
        var none: [KVCache]? = nil
        _ = model.run(model.embed(batch), layers: 0..<(zLayer + 1), batch: batch, caches: &none, hooks: &hooks)
        let nc = prompts.contexts.count
        let f = model.config.intermediateSize
        var keys: [Tensor] = [], outs: [Tensor] = []
        for ri in requests.indices {
            func row(_ c: Int) -> Int { batch.row(ri * nc + c, looks[ri * nc + c]) }
            let plain = hooks.keys[layer]!.rows(row(0)..<(row(0) + 1)).reshaped([f])
            var k = plain
            if nc > 1 {
                var mean = Tensor.zeros([f])
                for c in 1..<nc { mean += hooks.keys[layer]!.rows(row(c)..<(row(c) + 1)).reshaped([f]) }
                k = plain * 0.5 + mean * (0.5 / Float(nc - 1))
            }
            keys.append(k)
            outs.append(hooks.blockOutputs[zLayer]!.rows(row(0)..<(row(0) + 1)).reshaped([model.config.hiddenSize]))
        }
        return (stack(keys), stack(outs))
    }

    // MARK: - One batch

    /// Edits the model with one batch of requests (sequentially after any earlier batches).
    public mutating func apply(_ requests: [EditRequest], file: String = "(requests)") throws -> BatchReport {
        try validate(requests, file: file)
        let layers = preset.layers, zLayer = layers.last!
        let t0 = Date()
        let search = TargetSearch(model: model, layer: zLayer, settings: preset.search)
        let found = search.run(requests.map(prompts.searchPrompts))
        let t1 = Date()
        let original = Dictionary(uniqueKeysWithValues: layers.map { ($0, model.weights.blocks[$0].ffnDown) })
        var norms: [Int: Double] = [:]
        var batchKeys: [Int: Matrix64] = [:]
        do {
            for (i, l) in layers.enumerated() {
                let (k, cur) = keysAndOutputs(requests, layer: l, zLayer: zLayer)
                let residual = (found.targets - cur) * (1 / Float(layers.count - i))          // [N, D]
                let kT = try Matrix64(k.transposed()), rT = try Matrix64(residual.transposed())  // [F, N], [D, N]
                guard kT.isFinite, rT.isFinite else { throw EmendEditingError.nonFiniteUpdate(layer: l, what: "keys or residuals") }
                let dw = try preset.rule.solve(keys: kT, residuals: rT, c0: statistics[l]!, state: states[l]!, projector: projectors[l])
                guard dw.isFinite else { throw EmendEditingError.nonFiniteUpdate(layer: l, what: "ΔW") }
                model.weights.blocks[l].ffnDown += Tensor(dw)
                norms[l] = dw.frobeniusNorm()
                batchKeys[l] = kT
            }
        } catch {
            for (l, w) in original { model.weights.blocks[l].ffnDown = w }
            throw error
        }
        // Sequential state: Kp Kpᵀ += K Kᵀ.
        for l in layers {
            switch preset.keyCache {
            case .beforeUpdate: try states[l]!.add(keys: batchKeys[l]!)
            case .afterBatch: try states[l]!.add(keys: try Matrix64(keysAndOutputs(requests, layer: l, zLayer: zLayer).keys.transposed()))
            }
        }
        let t2 = Date()
        return BatchReport(requestCount: requests.count, searchSteps: found.steps, finalLosses: found.losses.map { $0.last ?? .nan },
                           searchSeconds: t1.timeIntervalSince(t0), updateSeconds: t2.timeIntervalSince(t1), updateNorms: norms,
                           weightNorms: Dictionary(uniqueKeysWithValues: layers.map { ($0, Double(model.weights.blocks[$0].ffnDown.norm())) }))
    }
}
