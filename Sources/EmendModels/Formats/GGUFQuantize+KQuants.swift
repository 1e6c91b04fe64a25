// The k-quants: 256-element super-blocks whose sub-blocks carry their own quantised scale (and min).
//
// These follow ggml's reference quantizers without importance weights (`quantize_row_q4_K_ref`,
// `quantize_row_q5_K_ref`, `quantize_row_q6_K_ref` in ggml-quants.c), in Float32 in the same order, so the
// round-trip error is llama.cpp's (`llama-quantize` without an imatrix). The search, in two steps:
//
//   Q4_K / Q5_K (8 sub-blocks of 32, x ≈ s_j·q − m_j, q in 0…nmax, nmax 15 or 31):
//     1. per sub-block, fit (s_j, m_j) by weighted least squares over a sweep of trial inverse scales
//        (ggml's make_qkx2_quants), weights w_i = rms(x) + |x_i|, keeping the trial of least weighted error;
//     2. quantise the 8 scales and 8 mins to 6 bits against the super-block's d = max s_j/63 and
//        dmin = max m_j/63 (both F16), then requantise every x with the scales as the dequantizer will see them.
//   Q6_K (16 sub-blocks of 16, x ≈ s_j·(q − 32), q in 0…63):
//     1. per sub-block, a symmetric scale from a sweep of 19 trial scales around −32/max, each refined by
//        least squares with weights x² (ggml's make_qx_quants, rmse_type 1);
//     2. the 16 scales to int8 against d = −max_scale/128 (F16), then requantise as in Q4_K.

import EmendCore

// MARK: - Helpers

/// ggml's nearest_int: round half to even for |v| ≤ 4194303, by adding 1.5·2²³ and reading the mantissa.
/// Values beyond that range (and NaN, as 0) are clamped first, where ggml's would be undefined.
@inline(__always) func nearestInt(_ v: Float) -> Int {
    let limit: Float = 4_194_303
    let x = v == v ? Swift.max(-limit, Swift.min(limit, v)) : 0
    return Int((x + 12_582_912).bitPattern & 0x7F_FFFF) - 0x40_0000
}

/// Fits x ≈ scale·L − theMin over `n` values with L in 0…nmax and theMin ≥ 0, minimising Σ wᵢ·errᵢ²
/// (ggml's make_qkx2_quants): the plain min/max fit first, then `nstep + 1` trial inverse scales
/// (rmin + rdelta·k + nmax)/(max − min), each followed by the weighted least-squares (scale, min) for its L.
/// - Returns: (scale, theMin); `L` holds the levels of the best fit. `aux` is scratch of `n` bytes.
private func fitScaleMin(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, n: Int, nmax: Int,
                         rmin: Float, rdelta: Float, nstep: Int,
                         L: UnsafeMutablePointer<UInt8>, aux: UnsafeMutablePointer<UInt8>) -> (scale: Float, theMin: Float) {
    var lo = x[0], hi = x[0], sumW = w[0], sumX = w[0] * x[0]
    for i in 1..<n {
        if x[i] < lo { lo = x[i] }
        if x[i] > hi { hi = x[i] }
        sumW += w[i]; sumX += w[i] * x[i]
    }
    if lo > 0 { lo = 0 }
    if hi == lo {
        for i in 0..<n { L[i] = 0 }
        return (0, -lo)
    }
    var iscale = Float(nmax) / (hi - lo)
    var scale = 1 / iscale, bestMin = lo
    var bestError: Float = 0
    for i in 0..<n {
        let l = Swift.max(0, Swift.min(nmax, nearestInt(iscale * (x[i] - lo))))
        L[i] = UInt8(l)
        let diff = scale * Float(l) + lo - x[i]
        bestError += w[i] * (diff * diff)
    }
    for k in 0...nstep {
        iscale = (rmin + rdelta * Float(k) + Float(nmax)) / (hi - lo)
        var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
        for i in 0..<n {
            let l = Swift.max(0, Swift.min(nmax, nearestInt(iscale * (x[i] - lo))))
            aux[i] = UInt8(l)
            let fl = Float(l)
            sumL += w[i] * fl; sumL2 += w[i] * fl * fl; sumXL += w[i] * fl * x[i]
        }
        let det = sumW * sumL2 - sumL * sumL
        guard det > 0 else { continue }
        var thisScale = (sumW * sumXL - sumX * sumL) / det
        var thisMin = (sumL2 * sumX - sumL * sumXL) / det
        if thisMin > 0 { thisMin = 0; thisScale = sumXL / sumL2 }
        var error: Float = 0
        for i in 0..<n {
            let diff = thisScale * Float(aux[i]) + thisMin - x[i]
            error += w[i] * (diff * diff)
        }
        if error < bestError {
            for i in 0..<n { L[i] = aux[i] }
            bestError = error; scale = thisScale; bestMin = thisMin
        }
    }
    return (scale, -bestMin)
}

/// Fits x ≈ scale·(L − nmax) over `n` values with L in 0…2·nmax−1, weights x² (ggml's make_qx_quants,
/// rmse_type 1, no importance weights): the least-squares scale for the levels at −nmax/max, then for 18
/// trial inverse scales −(nmax + 0.1·k)/max, k = ±1…±9, keeping the one of largest (Σwxl)²/Σwl².
/// - Returns: the scale (0 for an all-zero sub-block, whose L are then all 0).
private func fitSymmetricScale(_ x: UnsafePointer<Float>, n: Int, nmax: Int, L: UnsafeMutablePointer<UInt8>) -> Float {
    var amax: Float = 0, maxValue: Float = 0
    for i in 0..<n where abs(x[i]) > amax { amax = abs(x[i]); maxValue = x[i] }
    if amax < 1e-15 {
        for i in 0..<n { L[i] = 0 }
        return 0
    }
    /// (Σ w·x·l, Σ w·l²) for the levels at inverse scale `iscale`, storing L + nmax when `store`.
    func sums(_ iscale: Float, store: Bool) -> (Float, Float) {
        var sumLX: Float = 0, sumL2: Float = 0
        for i in 0..<n {
            let l = Swift.max(-nmax, Swift.min(nmax - 1, nearestInt(iscale * x[i])))
            if store { L[i] = UInt8(l + nmax) }
            let w = x[i] * x[i], fl = Float(l)
            sumLX += w * x[i] * fl; sumL2 += w * fl * fl
        }
        return (sumLX, sumL2)
    }
    let (sumLX0, sumL20) = sums(Float(-nmax) / maxValue, store: true)
    var scale: Float = sumL20 != 0 ? sumLX0 / sumL20 : 0
    var best = scale * sumLX0
    for k in -9...9 where k != 0 {
        let iscale = -(Float(nmax) + 0.1 * Float(k)) / maxValue
        let (sumLX, sumL2) = sums(iscale, store: false)
        if sumL2 > 0 && sumLX * sumLX > best * sumL2 {
            _ = sums(iscale, store: true)
            scale = sumLX / sumL2; best = scale * sumLX
        }
    }
    return scale
}

// MARK: - Q4_K and Q5_K

/// The 6-bit scale and min codes of the 8 sub-blocks, packed into Q4_K/Q5_K's 12 bytes (the inverse of
/// GGUFDequantize's scaleMinK4).
@inline(__always) private func packScaleMins(_ ls: UnsafeMutablePointer<UInt8>, _ lm: UnsafeMutablePointer<UInt8>, into s: UnsafeMutableRawPointer) {
    for j in 0..<12 { s.storeBytes(of: UInt8(0), toByteOffset: j, as: UInt8.self) }
    func or(_ j: Int, _ v: UInt8) { s.storeBytes(of: s.load(fromByteOffset: j, as: UInt8.self) | v, toByteOffset: j, as: UInt8.self) }
    for j in 0..<8 {
        if j < 4 {
            or(j, ls[j]); or(j + 4, lm[j])
        } else {
            or(j + 4, (ls[j] & 0xF) | (lm[j] & 0xF) << 4)
            or(j - 4, (ls[j] >> 4) << 6)
            or(j, (lm[j] >> 4) << 6)
        }
    }
}

/// Writes one Q4_K or Q5_K super-block's header (d, dmin, the 6-bit codes) for `x` [256] at `p`, and leaves
/// each element's level (0…nmax) in the scratch's `L` [256].
private func scaleMinSuperBlock(_ x: UnsafePointer<Float>, nmax: Int, rmin: Float, rdelta: Float, nstep: Int,
                                header p: UnsafeMutableRawPointer, _ s: KQuantScratch) {
    let weights = s.weights, scales = s.scales, mins = s.mins, L = s.L, ls = s.scaleCodes, lm = s.minCodes
    var maxScale: Float = 0, maxMin: Float = 0
    for j in 0..<8 {
        let xs = x + 32 * j
        var sumX2: Float = 0
        for l in 0..<32 { sumX2 += xs[l] * xs[l] }
        let avX = (sumX2 / 32).squareRoot()
        for l in 0..<32 { weights[l] = avX + abs(xs[l]) }
        (scales[j], mins[j]) = fitScaleMin(xs, weights, n: 32, nmax: nmax, rmin: rmin, rdelta: rdelta, nstep: nstep,
                                           L: L + 32 * j, aux: s.aux)
        if scales[j] > maxScale { maxScale = scales[j] }
        if mins[j] > maxMin { maxMin = mins[j] }
    }
    let invScale: Float = maxScale > 0 ? 63 / maxScale : 0, invMin: Float = maxMin > 0 ? 63 / maxMin : 0
    for j in 0..<8 {
        ls[j] = Swift.min(63, UInt8(truncatingIfNeeded: nearestInt(invScale * scales[j])))
        lm[j] = Swift.min(63, UInt8(truncatingIfNeeded: nearestInt(invMin * mins[j])))
    }
    storeF16(p, 0, maxScale / 63); storeF16(p, 2, maxMin / 63)
    packScaleMins(ls, lm, into: p + 4)
    let d = roundedToF16(maxScale / 63), dmin = roundedToF16(maxMin / 63)
    for j in 0..<8 {
        let dj = d * Float(ls[j])
        if dj == 0 { continue }
        let mj = dmin * Float(lm[j])
        for i in 0..<32 {
            L[32 * j + i] = UInt8(Swift.max(0, Swift.min(nmax, nearestInt((x[32 * j + i] + mj) / dj))))
        }
    }
}

/// Q4_K: header (d, dmin, 12 bytes of codes), then 128 bytes: in each 64-element group, element l in the low
/// nibble of byte l and element l + 32 in its high nibble.
let quantQ4_K = scaleMinKernel(bytesPerBlock: 144, nmax: 15, rmin: -1, rdelta: 0.1, nstep: 20) { L, p in
    for g in 0..<4 {
        for l in 0..<32 {
            p.storeBytes(of: L[64 * g + l] | L[64 * g + l + 32] << 4, toByteOffset: 16 + 32 * g + l, as: UInt8.self)
        }
    }
}

/// Q5_K: as Q4_K with 5-bit levels; bit 4 of the elements of group g goes to bits 2g (first 32) and 2g+1
/// (second 32) of qh[l].
let quantQ5_K = scaleMinKernel(bytesPerBlock: 176, nmax: 31, rmin: -0.5, rdelta: 0.1, nstep: 15) { L, p in
    for l in 0..<32 {
        var qh: UInt8 = 0
        for g in 0..<4 {
            let l1 = L[64 * g + l], l2 = L[64 * g + l + 32]
            qh |= (l1 >> 4) << UInt8(2 * g) | (l2 >> 4) << UInt8(2 * g + 1)
            p.storeBytes(of: (l1 & 0xF) | (l2 & 0xF) << 4, toByteOffset: 48 + 32 * g + l, as: UInt8.self)
        }
        p.storeBytes(of: qh, toByteOffset: 16 + l, as: UInt8.self)
    }
}

/// A Q4_K/Q5_K kernel: per super-block, the header from `scaleMinSuperBlock` with these search settings, then
/// `pack(L, block)` storing the 256 levels after it.
private func scaleMinKernel(bytesPerBlock: Int, nmax: Int, rmin: Float, rdelta: Float, nstep: Int,
                            pack: @escaping @Sendable (UnsafeMutablePointer<UInt8>, UnsafeMutableRawPointer) -> Void) -> QuantKernel {
    return { src, dst, n in
        withKQuantScratch { s in
            for b in 0..<n {
                let p = dst + bytesPerBlock * b
                scaleMinSuperBlock(src + 256 * b, nmax: nmax, rmin: rmin, rdelta: rdelta, nstep: nstep, header: p, s)
                pack(s.L, p)
            }
        }
    }
}

// MARK: - Q6_K

/// Q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), scales:i8[16], d:f16. In each 128-element half, element
/// l, l+32, l+64, l+96 share qh[l]; l and l+64 share ql[l], l+32 and l+96 share ql[l+32].
let quantQ6_K: QuantKernel = { src, dst, n in
    withKQuantScratch { s in
        let L = s.L, scales = s.scales
        for b in 0..<n {
            let x = src + 256 * b, p = dst + 210 * b
            var maxScale: Float = 0, maxAbsScale: Float = 0
            for j in 0..<16 {
                scales[j] = fitSymmetricScale(x + 16 * j, n: 16, nmax: 32, L: L + 16 * j)
                if abs(scales[j]) > maxAbsScale { maxAbsScale = abs(scales[j]); maxScale = scales[j] }
            }
            if maxAbsScale < 1e-15 {
                p.initializeMemory(as: UInt8.self, repeating: 0, count: 210)
                continue
            }
            let iscale = -128 / maxScale
            storeF16(p, 208, 1 / iscale)
            let d = roundedToF16(1 / iscale)
            for j in 0..<16 {
                let sc = Int8(Swift.max(-128, Swift.min(127, nearestInt(iscale * scales[j]))))
                p.storeBytes(of: sc, toByteOffset: 192 + j, as: Int8.self)
                let dj = d * Float(sc)
                if dj == 0 { continue }
                for i in 0..<16 {
                    L[16 * j + i] = UInt8(Swift.max(-32, Swift.min(31, nearestInt(x[16 * j + i] / dj))) + 32)
                }
            }
            for half in 0..<2 {
                let q = L + 128 * half
                for l in 0..<32 {
                    let q1 = q[l], q2 = q[l + 32], q3 = q[l + 64], q4 = q[l + 96]
                    p.storeBytes(of: (q1 & 0xF) | (q3 & 0xF) << 4, toByteOffset: 64 * half + l, as: UInt8.self)
                    p.storeBytes(of: (q2 & 0xF) | (q4 & 0xF) << 4, toByteOffset: 64 * half + l + 32, as: UInt8.self)
                    p.storeBytes(of: q1 >> 4 | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6,
                                 toByteOffset: 128 + 32 * half + l, as: UInt8.self)
                }
            }
        }
    }
}

/// Scratch for one thread's k-quant super-blocks, allocated once per run of blocks.
private struct KQuantScratch {
    /// [256] each element's level.
    let L: UnsafeMutablePointer<UInt8>
    /// [32] a trial's levels; [8] scale codes; [8] min codes.
    let aux, scaleCodes, minCodes: UnsafeMutablePointer<UInt8>
    /// [32] fit weights; [16] sub-block scales; [8] sub-block mins.
    let weights, scales, mins: UnsafeMutablePointer<Float>
}

@inline(__always) private func withKQuantScratch(_ body: (KQuantScratch) -> Void) {
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256 + 32 + 16) { bytes in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32 + 16 + 8) { floats in
            bytes.initialize(repeating: 0); floats.initialize(repeating: 0)
            let b = bytes.baseAddress!, f = floats.baseAddress!
            body(KQuantScratch(L: b, aux: b + 256, scaleCodes: b + 288, minCodes: b + 296,
                               weights: f, scales: f + 32, mins: f + 48))
        }
    }
}
