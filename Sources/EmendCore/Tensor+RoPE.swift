// Rotary position embedding (Su et al. 2021), in both conventions found in real checkpoints.
//
// For pair index i in 0..<Dh/2 and position p, the angle is p·θ_i with θ_i = base^(−2i/Dh),
// computed in Float32 as Hugging Face does (float32(p) · float32(inv_freq)).
//  - `.halfSplit` (HF `rotate_half`, NeoX): rotates the pairs (i, i + Dh/2).
//  - `.interleaved` (llama.cpp `LLAMA_ROPE_TYPE_NORM`, GPT-J): rotates the pairs (2i, 2i+1).
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
/// - inverse: rotate by −angle (the backward pass).
public func rope(_ x: Tensor, positions: [Int], base: Float, convention: RoPEConvention,
                 inverse: Bool = false) -> Tensor {
    precondition(x.rank >= 3, "rope: expected [..., T, H, Dh], got \(x.shape)")
    let dh = x.dim(-1), h = x.dim(-2), t = x.dim(-3)
    precondition(dh % 2 == 0, "rope: head dim \(dh) is odd")
    precondition(positions.count == t, "rope: \(positions.count) positions for \(t) tokens")
    let half = dh / 2
    let invFreq = ropeInverseFrequencies(headDim: dh, base: base)
    var cosT = [Float](repeating: 0, count: t * half), sinT = cosT
    for (ti, p) in positions.enumerated() {
        for i in 0..<half {
            let angle = Float(p) * invFreq[i]
            cosT[ti * half + i] = Foundation.cos(angle)
            sinT[ti * half + i] = inverse ? -Foundation.sin(angle) : Foundation.sin(angle)
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
