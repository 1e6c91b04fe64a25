// The locate-then-edit editor: one batch of requests at a time, sequentially, keeping each edited layer's state.
//
// Data path of one batch (ARCHITECTURE.md):
//  1. prompts: context templates × request prompt, tokenized (PromptBuilder)
//  2. target search at the last edited layer → z per request (TargetSearch)
//  3. for each edited layer l, ascending: keys K (MLP down-projection input at the subject's last token,
//     ½ plain prompt + ½ mean of the prefixed prompts), residual R = (z − current output) / (layers left);
//     where block l has an MLP post-norm (Gemma), R becomes the change of the MLP output u whose normed branch
//     moves by R (`mlpOutputs(_:reaching:from:)`), since ΔW·K changes u, not the block output
//  4. ΔW = rule.solve(K, R, C0, state) in Float64 (C0 fetched for this layer only); W += ΔW before the next layer;
//     state Kp Kpᵀ += K Kᵀ
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
    /// The target search's weight-matrix FLOPs (`TargetSearchResult.matmulFLOPs`); nil in reports written before it.
    public var searchMatmulFLOPs: Double?

    public var meanSteps: Double { searchSteps.isEmpty ? 0 : Double(searchSteps.reduce(0, +)) / Double(searchSteps.count) }
}

/// Edits a model in place, batch after batch.
public struct LocateThenEditor: Sendable {
    public private(set) var model: TransformerModel
    public let tokenizer: any Tokenizer
    public let preset: EditPreset
    public let prompts: PromptBuilder
    /// C0 per edited layer, [F, F]: in memory, or read when the layer is solved and released after.
    public let statistics: StatisticsProvider
    /// AlphaEdit's null-space projector per edited layer: [F, F]
    public let projectors: [Int: Matrix64]
    /// Kp Kpᵀ per edited layer (its keys, or its Gram past F/4 of them: `LayerEditState`).
    public private(set) var states: [Int: LayerEditState]
    /// The keys the last batch added to each layer's state (Kp Kpᵀ += K Kᵀ), K: [F, n]; for the edit store.
    public private(set) var lastBatchKeys: [Int: Matrix64] = [:]
    /// Receives the target search's per-iteration progress (see `TargetSearch.progress`); nil: silent.
    public var searchProgress: (@Sendable (TargetSearchProgress) -> Void)?

    /// - statistics: C0 for every layer of the preset, in memory (see `StatisticsCache`).
    /// - contexts: the context templates (see `ContextTemplates`); "{}" alone disables them.
    public init(model: TransformerModel, tokenizer: any Tokenizer, preset: EditPreset, statistics: [Int: Matrix64],
                contexts: [String], states: [Int: LayerEditState]? = nil) throws {
        try self.init(model: model, tokenizer: tokenizer, preset: preset, statistics: StatisticsProvider(resident: statistics),
                      contexts: contexts, states: states)
    }

    /// - statistics: C0 for every layer of the preset, in memory (checked here) or on demand (checked when read,
    ///   see `CachedStatistics.provider`).
    /// - contexts: the context templates (see `ContextTemplates`); "{}" alone disables them.
    public init(model: TransformerModel, tokenizer: any Tokenizer, preset: EditPreset, statistics: StatisticsProvider,
                contexts: [String], states: [Int: LayerEditState]? = nil) throws {
        try preset.validate(layerCount: model.config.layerCount)
        let f = model.config.intermediateSize
        // In memory: every C0 is checked now; on demand: that the layer is there now, its shape when it is read.
        for l in preset.layers where statistics.resident != nil || !statistics.layers.contains(l) {
            _ = try statistics.c0(l, width: f)
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
            for l in preset.layers { proj[l] = try nullSpaceProjector(c0: try statistics.c0(l, width: f), threshold: threshold) }
        }
        self.projectors = proj
        self.states = states ?? Dictionary(uniqueKeysWithValues: preset.layers.map { ($0, LayerEditState(width: f)) })
    }

    // MARK: - Validation

    /// Throws for the first request that cannot be edited (nothing has changed yet).
    public func validate(_ requests: [EditRequest], file: String = "(requests)") throws {
        for (i, r) in requests.enumerated() {
            try r.validate(file: file, record: i)
            if prompts.targetIDs(r).isEmpty { throw EmendEditingError.emptyTarget(file: file, record: i) }
            for t in prompts.rewriteTemplates(r) {
                let (ids, look) = prompts.filled(t, subject: r.subject)
                guard look >= 0, look < ids.count else {
                    throw EmendEditingError.subjectNotInPrompt(file: file, record: i, subject: r.subject, prompt: r.prompt)
                }
                guard ids.count + prompts.targetIDs(r).count <= model.config.maxPositions else {
                    throw EmendEditingError.malformedRecord(file: file, record: i, field: "prompt", expected: "at most \(model.config.maxPositions) tokens with the target", got: "\(ids.count) tokens")
                }
            }
        }
    }

    // MARK: - Keys

    /// The key prompts of a batch (each cut after the subject's last token) and where to read them.
    struct KeyPrompts {
        var batch: RowBatch
        /// Row of the subject's last token, per request and context: [N][contexts]
        var rows: [[Int]]
        /// The plain prompts only (context 0), for reading the current block-zLayer output.
        var plain: RowBatch
        /// Rows of `batch` that belong to the plain prompts, in `plain`'s order.
        var plainRows: [Int]
        /// Row of the subject's last token within `plain`, per request.
        var plainLookup: [Int]
    }

    func keyPrompts(_ requests: [EditRequest]) -> KeyPrompts {
        var seqs: [[Int]] = [], plainSeqs: [[Int]] = []
        for r in requests {
            let ps = prompts.keyPrompts(r)
            for (ids, look) in ps { seqs.append(Array(ids[...look])) }
            plainSeqs.append(Array(ps[0].ids[...ps[0].lookup]))
        }
        let batch = RowBatch(seqs), plain = RowBatch(plainSeqs)
        let nc = prompts.contexts.count
        let rows = requests.indices.map { ri in (0..<nc).map { c in batch.row(ri * nc + c, seqs[ri * nc + c].count - 1) } }
        let plainRows = requests.indices.flatMap { Array(batch.rows(of: $0 * nc)) }
        let plainLookup = requests.indices.map { plain.row($0, plainSeqs[$0].count - 1) }
        return KeyPrompts(batch: batch, rows: rows, plain: plain, plainRows: plainRows, plainLookup: plainLookup)
    }

    /// Keys (½ plain + ½ mean of the prefixed prompts) from captured down-projection inputs: → K [N, F]
    func averagedKeys(_ captured: Tensor, _ kp: KeyPrompts) -> Tensor {
        let f = model.config.intermediateSize
        let nc = prompts.contexts.count
        return stack(kp.rows.map { rows in
            let plain = captured.rows(rows[0]..<(rows[0] + 1)).reshaped([f])
            guard nc > 1 else { return plain }
            var mean = Tensor.zeros([f])
            for c in 1..<nc { mean += captured.rows(rows[c]..<(rows[c] + 1)).reshaped([f]) }
            return plain * 0.5 + mean * (0.5 / Float(nc - 1))
        })
    }

    /// Keys at every layer in `layers` with the current weights, in one pass: layer → K [N, F]
    func keys(_ kp: KeyPrompts, layers: [Int]) -> [Int: Tensor] {
        var hooks = ForwardHooks(captureKeys: Set(layers))
        var none: [KVCache]? = nil
        _ = model.run(model.embed(kp.batch), layers: 0..<(layers.max()! + 1), batch: kp.batch, caches: &none, hooks: &hooks)
        return Dictionary(uniqueKeysWithValues: layers.map { ($0, averagedKeys(hooks.keys[$0]!, kp)) })
    }

    // MARK: - One batch

    /// Edits the model with one batch of requests (sequentially after any earlier batches).
    public mutating func apply(_ requests: [EditRequest], file: String = "(requests)") throws -> BatchReport {
        try validate(requests, file: file)
        let layers = preset.layers, zLayer = layers.last!
        let t0 = Date()
        var search = TargetSearch(model: model, layer: zLayer, settings: preset.search)
        search.progress = searchProgress
        let found = search.run(requests.map(prompts.searchPrompts))
        let t1 = Date()
        let original = Dictionary(uniqueKeysWithValues: layers.map { ($0, model.weights.blocks[$0].ffnDown) })
        var norms: [Int: Double] = [:]
        var batchKeys: [Int: Matrix64] = [:]
        let kp = keyPrompts(requests)
        var none: [KVCache]? = nil
        // Each pass restarts from the input of the layer edited in the previous pass: nothing below it has changed.
        var start = 0
        var input = model.embed(kp.batch)
        do {
            for (i, l) in layers.enumerated() {
                var hooks = ForwardHooks(captureKeys: [l])
                if model.hasMLPPostNorm(l) { hooks.captureMLPOutputs = [l] }
                let atL = model.run(input, layers: start..<l, batch: kp.batch, caches: &none, hooks: &hooks)
                let afterL = model.run(atL, layers: l..<(l + 1), batch: kp.batch, caches: &none, hooks: &hooks)
                let k = averagedKeys(hooks.keys[l]!, kp)                                        // [N, F]
                // Current block-zLayer output at the plain prompts' subject token.
                let plainOut = model.run(afterL.gatherRows(kp.plainRows), layers: (l + 1)..<(zLayer + 1), batch: kp.plain,
                                         caches: &none, hooks: &hooks)
                let cur = plainOut.gatherRows(kp.plainLookup)                                   // [N, D]
                var residual = (found.targets - cur) * (1 / Float(layers.count - i))           // [N, D]
                if let m = hooks.mlpOutputs[l] {
                    let u = m.output.gatherRows(kp.plainRows).gatherRows(kp.plainLookup)       // [N, D]
                    let near = l == zLayer ? found.mlpTargets : nil
                    residual = model.mlpOutputs(l, reaching: model.mlpBranch(l, u) + residual, from: u, scaleNear: near) - u
                }
                let kT = try Matrix64(k.transposed()), rT = try Matrix64(residual.transposed())  // [F, N], [D, N]
                guard kT.isFinite, rT.isFinite else { throw EmendEditingError.nonFiniteUpdate(layer: l, what: "keys or residuals") }
                let dw = try preset.rule.solve(keys: kT, residuals: rT, c0: try statistics.c0(l, width: kT.rows), state: states[l]!,
                                               projector: projectors[l])
                guard dw.isFinite else { throw EmendEditingError.nonFiniteUpdate(layer: l, what: "ΔW") }
                model.weights.blocks[l].ffnDown += Tensor(dw)
                norms[l] = dw.frobeniusNorm()
                batchKeys[l] = kT
                input = atL
                start = l
            }
        } catch {
            for (l, w) in original { model.weights.blocks[l].ffnDown = w }
            throw error
        }
        // Sequential state: Kp Kpᵀ += K Kᵀ.
        let after = preset.keyCache == .afterBatch ? keys(kp, layers: layers) : [:]
        lastBatchKeys = [:]
        for l in layers {
            switch preset.keyCache {
            case .beforeUpdate: lastBatchKeys[l] = batchKeys[l]!
            case .afterBatch: lastBatchKeys[l] = try Matrix64(after[l]!.transposed())
            }
            try states[l]!.add(keys: lastBatchKeys[l]!)
        }
        let t2 = Date()
        return BatchReport(requestCount: requests.count, searchSteps: found.steps, finalLosses: found.losses.map { $0.last ?? .nan },
                           searchSeconds: t1.timeIntervalSince(t0), updateSeconds: t2.timeIntervalSince(t1), updateNorms: norms,
                           weightNorms: Dictionary(uniqueKeysWithValues: layers.map { ($0, Double(model.weights.blocks[$0].ffnDown.norm())) }),
                           searchMatmulFLOPs: found.matmulFLOPs)
    }
}
