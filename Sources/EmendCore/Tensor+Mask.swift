// Attention masks, additive: 0 where attention is allowed, −∞ where it is not.

/// Causal mask for `queries` new tokens attending to `offset` cached tokens plus themselves.
/// Query i (absolute position offset + i) may see keys 0...offset + i. → [queries, offset + queries]
public func causalMask(queries: Int, offset: Int = 0) -> Tensor {
    let keys = offset + queries
    var m = [Float](repeating: 0, count: queries * keys)
    for i in 0..<queries { for j in (offset + i + 1)..<max(keys, offset + i + 1) { m[i * keys + j] = -.infinity } }
    return Tensor(shape: [queries, keys], scalars: m)
}

/// Validity of each position of right-padded sequences: 1 for the first `lengths[b]` tokens, else 0.
/// → [B, T]
public func paddingMask(lengths: [Int], length: Int) -> Tensor {
    var m = [Float](repeating: 0, count: lengths.count * length)
    for (b, n) in lengths.enumerated() {
        precondition(n >= 0 && n <= length, "paddingMask: length \(n) outside 0...\(length)")
        for t in 0..<n { m[b * length + t] = 1 }
    }
    return Tensor(shape: [lengths.count, length], scalars: m)
}

/// The additive mask for a right-padded batch: causal, and no attention to padding keys.
/// → [B, T, T]
public func causalPaddingMask(lengths: [Int], length: Int) -> Tensor {
    let causal = causalMask(queries: length)
    var m = [Float](repeating: 0, count: lengths.count * length * length)
    for (b, n) in lengths.enumerated() {
        for i in 0..<length {
            for j in 0..<length {
                m[(b * length + i) * length + j] = (j >= n) ? -.infinity : causal.scalars[i * length + j]
            }
        }
    }
    return Tensor(shape: [lengths.count, length, length], scalars: m)
}
