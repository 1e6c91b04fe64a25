// The decoder on the autograd tape: blocks and the output head as recorded ops whose VJPs are the hand-written
// backward passes of TransformerModel+Backward.swift (weights frozen). Losses composed from `Variable` ops
// (cross-entropy, KL, norms of δ, …) then differentiate through the model with `tape.gradients(of:)`.

import EmendCore

extension TransformerModel {
    /// Blocks `layers` on rows x [R, D] → [R, D], recorded as one tape op (gradient with respect to x only).
    public func blocks(_ x: Variable, layers: Range<Int>, batch: RowBatch, prefix caches: [KVCache]? = nil) -> Variable {
        var cache = caches
        var hooks = ForwardHooks()
        guard let tape = Tape.recording(x) else {
            return Variable(constant: run(x.value, layers: layers, batch: batch, caches: &cache, hooks: &hooks, appendToCache: false))
        }
        var h = x.value
        var saves: [BlockSaved] = []
        for l in layers {
            let (o, s) = blockForward(l, h, batch: batch, caches: &cache, hooks: &hooks, save: true, appendToCache: false)
            saves.append(s!)
            h = o
        }
        let model = self
        return tape.record(h, op: "blocks \(layers.lowerBound)..<\(layers.upperBound)", inputs: [x]) { upstream in
            var g = upstream
            for (i, l) in layers.enumerated().reversed() { g = model.blockBackward(l, dOut: g, saved: saves[i], batch: batch) }
            return [g]
        }
    }

    /// Final norm and output head on rows x [R, D] → logits [R, V], recorded as one tape op.
    public func logits(_ x: Variable) -> Variable {
        let out = outputLogits(finalNorm(x.value))
        guard let tape = Tape.recording(x) else { return Variable(constant: out) }
        let model = self, input = x.value
        return tape.record(out, op: "output head", inputs: [x]) { upstream in [model.outputBackward(dLogits: upstream, x: input)] }
    }
}
