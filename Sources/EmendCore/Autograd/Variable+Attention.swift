// Attention helpers: rotary position embedding and grouped-query (GQA) key/value head repetition.
//
// RoPE rotates each pair of a head vector by an angle, an orthogonal map, so its VJP is the
// rotation by the opposite angle (`rope(…, inverse: true)`).
// GQA shares each of Hkv key/value heads among g = H / Hkv query heads: query head h reads
// kv head h / g (Hugging Face `repeat_kv`). The VJP sums the g copies back into their kv head.

// MARK: - Forward and backward

/// Rotary position embedding on the last axis (see `rope` on Tensor).
/// - x: [..., T, H, Dh]; positions: T absolute positions → x's shape
public func rope(_ x: Variable, positions: [Int], base: Float, convention: RoPEConvention) -> Variable {
    let y = rope(x.value, positions: positions, base: base, convention: convention)
    guard let tape = Tape.recording(x) else { return Variable(constant: y) }
    return tape.record(y, op: "rope", inputs: [x]) { g in
        [rope(g, positions: positions, base: base, convention: convention, inverse: true)]
    }
}

extension Tensor {
    /// Each kv head repeated `groups` times in place: [B, Hkv, T, Dh] → [B, Hkv·groups, T, Dh],
    /// output head h = copy of input head h / groups.
    public func repeatedKVHeads(groups: Int) -> Tensor {
        precondition(rank == 4 && groups >= 1, "repeatedKVHeads: expected [B, Hkv, T, Dh] and groups ≥ 1, got \(shape), \(groups)")
        if groups == 1 { return self }
        let heads = shape[0] * shape[1], inner = shape[2] * shape[3]
        var out = [Float](repeating: 0, count: count * groups)
        scalars.withUnsafeBufferPointer { src in out.withUnsafeMutableBufferPointer { dst in
            for h in 0..<heads {
                for c in 0..<groups {
                    (dst.baseAddress! + (h * groups + c) * inner).update(from: src.baseAddress! + h * inner, count: inner)
                }
            }
        } }
        return Tensor(shape: [shape[0], shape[1] * groups, shape[2], shape[3]], scalars: out)
    }
}

extension Variable {
    /// Each kv head repeated `groups` times: [B, Hkv, T, Dh] → [B, Hkv·groups, T, Dh].
    /// Backward: the `groups` copies of each head summed.
    public func repeatedKVHeads(groups: Int) -> Variable {
        let y = value.repeatedKVHeads(groups: groups)
        guard let tape = Tape.recording(self), groups > 1 else {
            return groups == 1 ? self : Variable(constant: y)
        }
        let (b, hkv, t, dh) = (shape[0], shape[1], shape[2], shape[3])
        return tape.record(y, op: "repeatedKVHeads", inputs: [self]) { g in
            [g.reshaped([b * hkv, groups, t * dh]).sum(axis: 1).reshaped([b, hkv, t, dh])]
        }
    }
}
