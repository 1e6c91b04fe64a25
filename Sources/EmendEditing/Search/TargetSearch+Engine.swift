// The batched target-search engine: a frozen prefix per prompt, then forward/backward passes over the suffix
// rows only (see TargetSearch.swift for the loss and the loop).
//
// Shape legend: N requests, P prompts per request (rewrite prompts + 1 KL prompt), R suffix rows of the active
// requests, M labelled rows, D width, V vocab.

import EmendCore
import EmendModels
import Foundation

/// The target search for one model and one edit layer.
public struct TargetSearch: Sendable {
    public let model: TransformerModel
    /// The block whose output δ is added to (the last edited layer).
    public let layer: Int
    public var settings: TargetSearchSettings
    /// Requests searched together. Each request's δ depends only on its own prompts, so a larger batch is searched
    /// in chunks of this many, one after another, with the same result: peak memory (the saved activations of
    /// every suffix row, ≈ 48 MB per request on SmolLM2-135M) stays bounded whatever the batch size. A batch of
    /// up to this many is one chunk.
    public var requestsPerChunk = 128
    /// Called once per search iteration (of each chunk), for progress reports; nil: no reports.
    public var progress: (@Sendable (TargetSearchProgress) -> Void)?

    public init(model: TransformerModel, layer: Int, settings: TargetSearchSettings) {
        self.model = model
        self.layer = layer
        self.settings = settings
    }

    /// The parts of a batch that never change during the search.
    public struct Prepared: Sendable {
        public let prompts: [SearchPrompts]
        /// Suffix tokens of every sequence, request-major (rewrite prompts, then the KL prompt).
        let suffixes: [[Int]]
        /// The prefix length (= subject-last-token index) of every sequence.
        let lookups: [Int]
        /// The first sequence of each request.
        let firstSequence: [Int]
        /// Frozen prefix caches of every sequence.
        let caches: [KVCache]
        /// Block-`layer` outputs of every sequence's suffix rows: [n_s, D] each.
        let base: [Tensor]
        /// Where δ starts, per request: h0, the block-`layer` output, or, where that block has an MLP post-norm
        /// (Gemma), u0, its MLP output before the norm (see `post`): [N, D]
        public let initial: Tensor
        /// h0 per request (the block-`layer` output at δ = 0): [N, D]
        public let initialOutput: Tensor
        /// With an MLP post-norm at `layer`: δ moves the MLP output u, so a sequence's first row is
        /// residual + n(u + δ) rather than h0 + δ. Per sequence, that row's residual (`ffn_inp`) and u: [S, D] each.
        let post: (residual: Tensor, output: Tensor)?
        /// The matrices of blocks layer+1 … L−1 at the search's compute precision.
        let frozen: [FrozenBlock]
        /// The output head at the search's compute precision.
        let head: WeightMatrix

        /// The number of sequences of request r: its rewrite prompts and the KL prompt.
        func sequenceCount(_ r: Int) -> Int { prompts[r].rewrite.count + 1 }
    }

    // MARK: - Preparation

    /// Runs every prompt's prefix through all blocks once (caching keys/values), then its suffix through blocks
    /// 0 … layer, recording the block-`layer` outputs the search starts from.
    public func prepare(_ prompts: [SearchPrompts]) -> Prepared {
        var prefixes: [[Int]] = [], suffixes: [[Int]] = [], lookups: [Int] = [], first: [Int] = []
        for p in prompts {
            first.append(prefixes.count)
            for (i, (ids, look)) in zip(p.rewrite + [p.kl], p.rewriteLookup + [p.klLookup]).enumerated() {
                precondition(look >= 0 && look < ids.count, "TargetSearch: lookup \(look) outside a prompt of \(ids.count) tokens")
                prefixes.append(Array(ids[..<look]))
                // The KL term reads the subject's last token only, so the KL prompt stops there.
                suffixes.append(i == p.rewrite.count ? [ids[look]] : Array(ids[look...]))
                lookups.append(look)
            }
        }
        let c = model.config
        let kvw = c.kvHeadCount * c.headDim
        var caches: [KVCache]? = prefixes.map { _ in KVCache(layers: c.layerCount, kvWidth: kvw) }
        var hooks = ForwardHooks()
        let pre = RowBatch(prefixes)
        _ = model.run(model.embed(pre), layers: 0..<c.layerCount, batch: pre, caches: &caches, hooks: &hooks)
        let suf = RowBatch(suffixes, prefixes: lookups)
        let postNorm = model.hasMLPPostNorm(layer)
        if postNorm { hooks.captureMLPOutputs = [layer] }
        let h = model.run(model.embed(suf), layers: 0..<(layer + 1), batch: suf, caches: &caches, hooks: &hooks,
                          appendToCache: false)
        let base = suffixes.indices.map { h.rows(suf.rows(of: $0)) }
        let initialOutput = stack(first.map { base[$0].rows(0..<1).reshaped([c.hiddenSize]) })
        var post: (residual: Tensor, output: Tensor)? = nil
        if postNorm, let m = hooks.mlpOutputs[layer] {
            let firstRows = suffixes.indices.map { suf.segments[$0].rowStart }
            post = (m.residual.gatherRows(firstRows), m.output.gatherRows(firstRows))
        }
        let initial = post.map { p in p.output.gatherRows(first) } ?? initialOutput
        return Prepared(prompts: prompts, suffixes: suffixes, lookups: lookups, firstSequence: first,
                        caches: caches!, base: base, initial: initial, initialOutput: initialOutput, post: post,
                        frozen: ((layer + 1)..<c.layerCount).map { model.frozenBlock($0, precision: settings.precision) },
                        head: model.frozenHead(precision: settings.precision))
    }

    // MARK: - One pass

    /// The outcome of one forward pass for one request.
    public struct PassResult: Sendable {
        public var loss: Float, nll: Float, kl: Float
        /// The MPES condition at this pass.
        public var mostProbable: Bool
        /// Log-probabilities at the KL row: [V]
        public var klLogProbs: Tensor
        /// dL/dδ (nil when not asked for).
        public var gradient: Tensor?
    }

    /// A forward pass, then a backward pass for the requests `decide` picks after seeing the forward results.
    /// - active: request indices; deltas: one [D] vector per active request; klInit: p_0 log-probs per active
    ///   request ([V]; nil means "this is δ = 0": KL is 0 and p_0 is returned in `klLogProbs`).
    /// - decide: given the forward results (in `active` order), the positions in `active` that need dL/dδ.
    public func pass(_ prep: Prepared, active: [Int], deltas: [Tensor], klInit: [Tensor?],
                     decide: ([PassResult]) -> Set<Int>) -> [PassResult] {
        let c = model.config, v = c.vocabSize, d = c.hiddenSize
        // Rows of the active requests' suffixes; `firstSeg[ai]` is request ai's first segment in the batch.
        var seqs: [Int] = [], firstSeg: [Int] = []
        for r in active {
            firstSeg.append(seqs.count)
            seqs += (prep.firstSequence[r]..<(prep.firstSequence[r] + prep.sequenceCount(r)))
        }
        let batch = RowBatch(seqs.map { prep.suffixes[$0] }, prefixes: seqs.map { prep.lookups[$0] })
        var caches: [KVCache]? = seqs.map { prep.caches[$0] }
        var x = concatenate(seqs.map { prep.base[$0] }, axis: 0)
        // Each sequence's first row with δ: h0 + δ, or residual + n(u + δ) through the MLP post-norm.
        let firstRowsOfSeqs = seqs.indices.map { batch.segments[$0].rowStart }
        var movedOutputs: Tensor? = nil                                         // u + δ per sequence: [S, D]
        if let post = prep.post {
            var moved = post.output.gatherRows(seqs)
            for (ai, r) in active.enumerated() {
                moved = moved.addingVector(deltas[ai], toRows: Array(firstSeg[ai]..<(firstSeg[ai] + prep.sequenceCount(r))))
            }
            let rows = post.residual.gatherRows(seqs) + model.mlpBranch(layer, moved)
            for (i, row) in firstRowsOfSeqs.enumerated() {
                x.scalars.replaceSubrange((row * d)..<((row + 1) * d), with: rows.scalars[(i * d)..<((i + 1) * d)])
            }
            movedOutputs = moved
        } else {
            for (ai, r) in active.enumerated() {
                let rows = (0..<prep.sequenceCount(r)).map { batch.segments[firstSeg[ai] + $0].rowStart }
                x = x.addingVector(deltas[ai], toRows: rows)
            }
        }
        // Blocks layer+1 … L−1 over the suffix rows, saving for the backward pass.
        var hooks = ForwardHooks()
        var saves: [BlockSaved] = []
        var h = x
        for (i, l) in ((layer + 1)..<c.layerCount).enumerated() {
            let (o, s) = model.blockForward(l, h, batch: batch, caches: &caches, hooks: &hooks, save: true, appendToCache: false,
                                            frozen: prep.frozen[i])
            saves.append(s!)
            h = o
        }
        // Labelled rows: every target token of every rewrite prompt, then the KL row, per request.
        var selected: [Int] = [], firstRows: [Int] = []
        for (ai, r) in active.enumerated() {
            let p = prep.prompts[r]
            firstRows.append(selected.count)
            for pi in 0..<p.rewrite.count {
                let seg = batch.segments[firstSeg[ai] + pi]
                let look = prep.lookups[prep.firstSequence[r] + pi]
                for k in 0..<p.target.count { selected.append(seg.rowStart + p.labelPosition(pi, k) - look) }
            }
            selected.append(batch.segments[firstSeg[ai] + prep.sequenceCount(r) - 1].rowStart)
        }
        let firstRow = firstRows
        let hSel = h.gatherRows(selected)
        let logp = model.outputLogits(model.finalNorm(hSel), head: prep.head).logSoftmax()
        // Losses and the MPES condition, one request per task (each reads its own rows of logp).
        let settings = self.settings
        let weightDecays = active.indices.map { ai -> Float in
            let h0norm = prep.initial[active[ai]].norm()
            return settings.weightDecay * deltas[ai].norm() / (h0norm * h0norm)
        }
        var results = [PassResult](repeating: PassResult(loss: 0, nll: 0, kl: 0, mostProbable: false,
                                                         klLogProbs: Tensor.zeros([0]), gradient: nil), count: active.count)
        logp.scalars.withUnsafeBufferPointer { lpBuffer in results.withUnsafeMutableBufferPointer { out in
            let lp = SendableConstPointer(lpBuffer.baseAddress!), res = SendablePointer(out.baseAddress!)
            parallelRanges(active.count, grain: 1) { range in
                for ai in range {
                    let p = prep.prompts[active[ai]]
                    let nP = p.rewrite.count, t = p.target.count
                    var nll: Double = 0
                    var correct = 0, checked = 0
                    for pi in 0..<nP {
                        for k in 0..<t {
                            let row = lp.base + (firstRow[ai] + pi * t + k) * v
                            nll -= Double(row[p.target[k]]) / Double(t * nP)
                            if pi > 0 || nP == 1 {
                                var best = 0
                                for j in 1..<v where row[j] > row[best] { best = j }
                                checked += 1
                                if best == p.target[k] { correct += 1 }
                            }
                        }
                    }
                    let klRow = lp.base + (firstRow[ai] + nP * t) * v
                    var kl: Double = 0
                    if let q = klInit[ai] {
                        q.scalars.withUnsafeBufferPointer { qp in kl = klDivergence(klRow, qp.baseAddress!, v) }
                    }
                    let mostProbable: Bool
                    switch settings.mpesCheck {
                    case .allPositions: mostProbable = correct == checked
                    case .fiveCorrect: mostProbable = correct == 5
                    }
                    res.base[ai] = PassResult(loss: Float(nll) + settings.klFactor * Float(kl) + weightDecays[ai], nll: Float(nll),
                                              kl: Float(kl), mostProbable: mostProbable,
                                              klLogProbs: Tensor(shape: [v], scalars: Array(UnsafeBufferPointer(start: klRow, count: v))),
                                              gradient: nil)
                }
            }
        } }
        let chosen = decide(results)
        if chosen.isEmpty { return results }
        // dL/dlogits of the chosen requests (others stay zero):
        //   NLL: (softmax − onehot) / (T·P);   KL: klFactor · p_j (log p_j − log q_j − KL).
        let chosenList = active.indices.filter { chosen.contains($0) }
        var dLogits = Tensor.zeros(logp.shape)
        logp.scalars.withUnsafeBufferPointer { lpBuffer in dLogits.scalars.withUnsafeMutableBufferPointer { dlBuffer in
            let lp = SendableConstPointer(lpBuffer.baseAddress!), dl = SendablePointer(dlBuffer.baseAddress!)
            let results = results
            parallelRanges(chosenList.count, grain: 1) { range in
                for ai in range.map({ chosenList[$0] }) {
                    let p = prep.prompts[active[ai]]
                    let nP = p.rewrite.count, t = p.target.count
                    let scale = 1 / Float(t * nP)
                    for pi in 0..<nP {
                        for k in 0..<t {
                            let o = (firstRow[ai] + pi * t + k) * v
                            crossEntropyGradientRow(lp.base + o, shift: 0, target: p.target[k], scale: scale, into: dl.base + o, v)
                        }
                    }
                    if let q = klInit[ai] {
                        let o = (firstRow[ai] + nP * t) * v
                        let kl = results[ai].kl
                        q.scalars.withUnsafeBufferPointer { qp in
                            klGradient(lp.base + o, qp.baseAddress!, dl.base + o, v, factor: settings.klFactor, kl: kl)
                        }
                    }
                }
            }
        } }
        var g = Tensor.zeros([batch.rowCount, d])
        g.scatterAddRows(selected, model.outputBackward(dLogits: dLogits, x: hSel, head: prep.head))
        for (i, l) in ((layer + 1)..<c.layerCount).enumerated().reversed() {
            g = model.blockBackward(l, dOut: g, saved: saves[i], batch: batch, frozen: prep.frozen[i])
        }
        // dL/d(first rows), then through the post-norm to dL/du where there is one (all sequences at once).
        var firstGrads = g.gatherRows(firstRowsOfSeqs)                          // [S, D]
        if let moved = movedOutputs { firstGrads = model.mlpBranchBackward(layer, moved, dBranch: firstGrads) }
        for (ai, r) in active.enumerated() where chosen.contains(ai) {
            var grad = Tensor.zeros([d])
            for s in 0..<prep.sequenceCount(r) {
                let row = firstSeg[ai] + s
                grad += firstGrads.rows(row..<(row + 1)).reshaped([d])
            }
            // d/dδ of weightDecay·‖δ‖/‖h0‖² (0 at δ = 0, as PyTorch's norm backward).
            let dn = deltas[ai].norm(), h0 = prep.initial[r].norm()
            if dn > 0 { grad += deltas[ai] * (settings.weightDecay / (dn * h0 * h0)) }
            results[ai].gradient = grad
        }
        return results
    }

    // MARK: - The search

    /// Searches the target vector of every request (batched, `requestsPerChunk` at a time), following `settings`.
    public func run(_ prompts: [SearchPrompts]) -> TargetSearchResult {
        let size = max(1, requestsPerChunk)
        guard prompts.count > size else { return run(prepare(prompts)) }
        let parts = stride(from: 0, to: prompts.count, by: size).map { run(prepare(Array(prompts[$0..<min($0 + size, prompts.count)]))) }
        return TargetSearchResult(targets: concatenate(parts.map(\.targets), axis: 0), initial: concatenate(parts.map(\.initial), axis: 0),
                                  mlpTargets: parts[0].mlpTargets == nil ? nil : concatenate(parts.compactMap(\.mlpTargets), axis: 0),
                                  steps: parts.flatMap(\.steps), forwardPasses: parts.flatMap(\.forwardPasses),
                                  losses: parts.flatMap(\.losses), mostProbableTrace: parts.flatMap(\.mostProbableTrace),
                                  matmulFLOPs: parts.reduce(0) { $0 + $1.matmulFLOPs })
    }

    public func run(_ prep: Prepared) -> TargetSearchResult {
        let n = prep.prompts.count, d = model.config.hiddenSize
        var deltas = [Tensor](repeating: Tensor.zeros([d]), count: n)
        var optimisers = [Adam](repeating: Adam(learningRate: settings.learningRate), count: n)
        var klInit = [Tensor?](repeating: nil, count: n)
        var steps = [Int](repeating: 0, count: n), passes = steps, counters = steps
        var losses = [[Float]](repeating: [], count: n)
        var trace = [[Bool]](repeating: [], count: n)
        var active = Array(0..<n)
        var flops = 0.0
        for it in 0..<settings.maxSteps where !active.isEmpty {
            // One forward pass; the stopping rule decides from it who steps; one backward pass for those.
            let results = pass(prep, active: active, deltas: active.map { deltas[$0] }, klInit: active.map { klInit[$0] }) { fwd in
                var stepping = Set<Int>()
                for (ai, r) in active.enumerated() {
                    let res = fwd[ai]
                    losses[r].append(res.loss); trace[r].append(res.mostProbable); passes[r] += 1
                    var stop = false
                    if case .mostProbable(let k) = settings.stopping, res.mostProbable {
                        counters[r] += 1
                        if counters[r] == k + 1 { stop = true }
                    }
                    if !stop && res.loss < settings.lossThreshold { stop = true }
                    if !stop && it == settings.maxSteps - 1 { stop = true }
                    // The first pass runs at δ = 0, where KL is 0: it only records p_0, so no KL gradient is lost.
                    if !stop { stepping.insert(ai) }
                }
                return stepping
            }
            flops += passFLOPs(prep, active: active, backward: results.contains { $0.gradient != nil })
            var next: [Int] = []
            for (ai, r) in active.enumerated() {
                if klInit[r] == nil { klInit[r] = results[ai].klLogProbs }
                guard let grad = results[ai].gradient else { continue }
                var params = [deltas[r]]
                try? optimisers[r].step(params: &params, grads: [grad])
                var delta = params[0]
                let maxNorm = settings.clampNormFactor * prep.initial[r].norm()
                let norm = delta.norm()
                if norm > maxNorm { delta = delta * (maxNorm / norm) }
                deltas[r] = delta
                steps[r] += 1
                next.append(r)
            }
            active = next
            progress?(TargetSearchProgress(step: it + 1, maxSteps: settings.maxSteps, active: next.count, requests: n))
        }
        var targets = stack((0..<n).map { prep.initial[$0] + deltas[$0] })
        var mlpTargets: Tensor? = nil
        if let post = prep.post {
            // z = residual + n(u0 + δ) at each request's plain prompt.
            mlpTargets = targets
            targets = post.residual.gatherRows(prep.firstSequence) + model.mlpBranch(layer, targets)
        }
        return TargetSearchResult(targets: targets, initial: prep.initialOutput, mlpTargets: mlpTargets, steps: steps, forwardPasses: passes,
                                  losses: losses, mostProbableTrace: trace, matmulFLOPs: flops)
    }

    /// The weight-matrix FLOPs of one pass over `active` (2 per multiply-add): every suffix row through each block
    /// above the edit layer, every labelled row through the output head; twice that when the pass goes backward
    /// (the gradient with respect to the input costs one product per matrix, the weights being frozen).
    func passFLOPs(_ prep: Prepared, active: [Int], backward: Bool) -> Double {
        let c = model.config
        var rows = 0, labelled = 0
        for r in active {
            for s in prep.firstSequence[r]..<(prep.firstSequence[r] + prep.sequenceCount(r)) { rows += prep.suffixes[s].count }
            labelled += prep.prompts[r].rewrite.count * prep.prompts[r].target.count + 1
        }
        let blockMACs = prep.frozen.reduce(0.0) { sum, f in sum + f.matrices.reduce(0.0) { $0 + Double($1.inputs * $1.outputs) } }
        let forward = 2 * (Double(rows) * blockMACs + Double(labelled) * Double(c.hiddenSize * c.vocabSize))
        return backward ? 2 * forward : forward
    }
}
