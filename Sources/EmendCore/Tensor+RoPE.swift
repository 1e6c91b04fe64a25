// Rotary position embedding (Su et al. 2021), in both conventions found in real checkpoints.
//
// For pair index i in 0..<Dr/2 and position p, the angle is p·θ_i with θ_i = base^(−2i/Dr), computed in Float32
// as Hugging Face does (float32(p) · float32(inv_freq)). Dr, the rotated width, is the head dim Dh unless the model
// rotates only the first `rotaryDims` of each head (GPT-J's `rotary_dim`); the other Dh − Dr pass unchanged.
//  - `.halfSplit` (HF `rotate_half`, NeoX): rotates the pairs (i, i + Dr/2).
//  - `.interleaved` (llama.cpp `LLAMA_ROPE_TYPE_NORM`, GPT-J's `rotate_every_two`): rotates the pairs (2i, 2i+1).
// A GGUF Llama checkpoint stores Q/K rows permuted so that `.interleaved` on its rows equals
// `.halfSplit` on the HF rows; the GGUF loader un-permutes once, and models use `.halfSplit`.
// Rotation is orthogonal, so the backward pass is the same rotation with the angle negated.

import Foundation

public enum RoPEConvention: String, Sendable, Codable {
    case halfSplit
    case interleaved
}

/// The inverse frequencies θ_i = 1 / base^(2i/Dh), i in 0..<Dh/2, in Float32.
public func ropeInverseFrequencies(headDim: Int, base: Float) -> [Float] {
    (0..<(headDim / 2)).map { i in 1 / Foundation.pow(base, Float(2 * i) / Float(headDim)) }
}

/// Applies RoPE to the last axis of `x`.
/// - x: [..., T, H, Dh]; positions: T entries (shared by every leading index) → same shape.
/// - rotaryDims: Dr, the leading dims of each head that rotate (even, ≤ Dh); nil rotates all Dh.
/// - inverse: rotate by −angle (the backward pass).
public func rope(_ x: Tensor, positions: [Int], base: Float, convention: RoPEConvention,
                 rotaryDims: Int? = nil, inverse: Bool = false) -> Tensor {
    precondition(x.rank >= 3, "rope: expected [..., T, H, Dh], got \(x.shape)")
    let dh = x.dim(-1), h = x.dim(-2), t = x.dim(-3), dr = rotaryDims ?? dh
    precondition(dr % 2 == 0 && dr <= dh, "rope: rotated width \(dr) is odd or wider than the head dim \(dh)")
    precondition(positions.count == t, "rope: \(positions.count) positions for \(t) tokens")
    let half = dr / 2
    // cos/sin of every (position, pair), from the shared table (computed once per position, base and width).
    let table = RoPETableCache.shared.table(base: base, headDim: dr, positions: positions.max().map { $0 + 1 } ?? 0)
    var cosT = [Float](repeating: 0, count: t * half), sinT = cosT
    for (ti, p) in positions.enumerated() {
        precondition(p >= 0, "rope: negative position \(p)")
        for i in 0..<half {
            cosT[ti * half + i] = table.cos[p * half + i]
            sinT[ti * half + i] = inverse ? -table.sin[p * half + i] : table.sin[p * half + i]
        }
    }
    if x.count == 0 { return x }
    let outer = x.count / (t * h * dh)
    var out = x.scalars
    out.withUnsafeMutableBufferPointer { po in
        for o in 0..<outer {
            for ti in 0..<t {
                let c = ti * half
                for hi in 0..<h {
                    let v = po.baseAddress! + ((o * t + ti) * h + hi) * dh
                    switch convention {
                    case .halfSplit:
                        for i in 0..<half {
                            let a = v[i], b = v[i + half]
                            v[i] = a * cosT[c + i] - b * sinT[c + i]
                            v[i + half] = b * cosT[c + i] + a * sinT[c + i]
                        }
                    case .interleaved:
                        for i in 0..<half {
                            let a = v[2 * i], b = v[2 * i + 1]
                            v[2 * i] = a * cosT[c + i] - b * sinT[c + i]
                            v[2 * i + 1] = b * cosT[c + i] + a * sinT[c + i]
                        }
                    }
                }
            }
        }
    }
    return Tensor(shape: x.shape, scalars: out)
}

/// cos/sin tables of RoPE angles, [positions, Dh/2] each, grown on demand and shared by all calls (thread-safe).
/// The angles are exactly those `rope` would compute: Float32(p) · θ_i in Float32, then cos/sin in Float32.
final class RoPETableCache: @unchecked Sendable {
    static let shared = RoPETableCache()
    struct Table { var cos: [Float]; var sin: [Float]; var positions: Int }
    private var tables: [String: Table] = [:]
    private let lock = NSLock()

    func table(base: Float, headDim: Int, positions: Int) -> Table {
        let key = "\(base)/\(headDim)"
        lock.lock(); defer { lock.unlock() }
        if let t = tables[key], t.positions >= positions { return t }
        let half = headDim / 2
        let n = max(positions, 2 * (tables[key]?.positions ?? 0), 256)
        let invFreq = ropeInverseFrequencies(headDim: headDim, base: base)
        var c = [Float](repeating: 0, count: n * half), s = c
        for p in 0..<n {
            for i in 0..<half {
                let angle = Float(p) * invFreq[i]
                c[p * half + i] = Foundation.cos(angle)
                s[p * half + i] = Foundation.sin(angle)
            }
        }
        let t = Table(cos: c, sin: s, positions: n)
        tables[key] = t
        return t
    }
}
