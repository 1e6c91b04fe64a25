// The obviously-right reference for stored weight types (STYLE rule 12): each element's value computed on its own
// from its index, straight from the block layouts (ggml's ggml-common.h, restated in CEmendKernels/emend_quant.c),
// with the same Float32 operations in the same order as ggml's dequantize_row_*, so the fast kernels must match it
// bit for bit. Also random block bytes with valid (finite) scales, for the tests.

import EmendCore

/// The `count` elements stored as `storage` in `bytes` (count / blockSize whole blocks), one at a time.
public func naiveDequantize(_ storage: WeightStorage, _ bytes: [UInt8], count: Int) -> [Float] {
    precondition(count % storage.blockSize == 0 && bytes.count == count / storage.blockSize * storage.bytesPerBlock,
                 "naiveDequantize: \(bytes.count) bytes for \(count) elements of \(storage)")
    return (0..<count).map { naiveElement(storage, bytes, $0) }
}

/// Element `i` of a run of `storage` blocks.
public func naiveElement(_ storage: WeightStorage, _ b: [UInt8], _ i: Int) -> Float {
    let p = i / storage.blockSize * storage.bytesPerBlock, j = i % storage.blockSize
    func u16(_ o: Int) -> UInt16 { UInt16(b[p + o]) | UInt16(b[p + o + 1]) << 8 }
    func f16(_ o: Int) -> Float { Float(Float16(bitPattern: u16(o))) }
    func bit(_ o: Int, _ k: Int) -> Int { Int(b[p + o + k / 8] >> UInt8(k % 8)) & 1 }
    /// Legacy quants: element j < 16 is the low nibble of byte j, element j ≥ 16 the high nibble of byte j − 16.
    func nibble(_ o: Int) -> Int { j < 16 ? Int(b[p + o + j] & 0xF) : Int(b[p + o + j - 16] >> 4) }
    switch storage {
    case .f32:
        return Float(bitPattern: UInt32(u16(0)) | UInt32(u16(2)) << 16)
    case .f16:
        return f16(0)
    case .bf16:
        return Float(bitPattern: UInt32(u16(0)) << 16)
    case .q4_0:
        return Float(nibble(2) - 8) * f16(0)
    case .q4_1:
        return Float(nibble(4)) * f16(0) + f16(2)
    case .q5_0:
        return Float(nibble(6) + 16 * bit(2, j) - 16) * f16(0)
    case .q5_1:
        return Float(nibble(8) + 16 * bit(4, j)) * f16(0) + f16(2)
    case .q8_0:
        return Float(Int8(bitPattern: b[p + 2 + j])) * f16(0)
    case .q4_K, .q5_K:
        // 4 groups of 64: sub-block 2g takes the low nibbles of bytes 32g…32g+31, sub-block 2g+1 their high nibbles.
        let g = j / 64, high = j % 64 >= 32, l = j % 32, sub = 2 * g + (high ? 1 : 0)
        let qs = storage == .q4_K ? 16 : 48
        let byte = b[p + qs + 32 * g + l]
        var q = Int(high ? byte >> 4 : byte & 0xF)
        if storage == .q5_K { q += 16 * Int(b[p + 16 + l] >> UInt8(sub) & 1) }
        let (sc, m) = kQuantScaleMin(sub, Array(b[(p + 4)..<(p + 16)]))
        return f16(0) * Float(sc) * Float(q) - f16(2) * Float(m)
    case .q2_K, .q3_K:
        // 2 halves of 128; quarter k of a half: bits 2k…2k+1 of qs[32h + l]; a scale per 16 elements.
        let h = j / 128, k = j % 128 / 32, l = j % 32, sub = 8 * h + 2 * k + l / 16
        let qs = storage == .q2_K ? 16 : 32
        let low = Int(b[p + qs + 32 * h + l] >> UInt8(2 * k)) & 3
        if storage == .q2_K {
            let sc = b[p + sub]
            return f16(80) * Float(sc & 0xF) * Float(low) - f16(82) * Float(sc >> 4)
        }
        // Q3_K: the third bit is bit 4h + k of hmask[l]; a clear bit means q − 4.
        let q = low - (bit(0, 8 * l + 4 * h + k) == 1 ? 0 : 4)
        let s = Array(b[(p + 96)..<(p + 108)])
        let sc = Int(sub < 8 ? s[sub] & 0xF : s[sub - 8] >> 4) | (Int(s[8 + sub % 4] >> UInt8(2 * (sub / 4))) & 3) << 4
        return f16(108) * Float(sc - 32) * Float(q)
    case .q6_K:
        // 2 halves of 128; quarter k of a half: low/high nibble of ql[l] or ql[l + 32], bits 2k…2k+1 of qh[l].
        let h = j / 128, k = j % 128 / 32, l = j % 32
        let lowByte = b[p + 64 * h + l + (k % 2 == 1 ? 32 : 0)]
        let low = Int(k >= 2 ? lowByte >> 4 : lowByte & 0xF)
        let top = Int(b[p + 128 + 32 * h + l] >> UInt8(2 * k)) & 3
        let sc = Int8(bitPattern: b[p + 192 + 8 * h + l / 16 + 2 * k])
        return f16(208) * Float(sc) * Float((low | top << 4) - 32)
    }
}

/// The 6-bit (scale, min) of sub-block `sub` (0…7) from Q4_K/Q5_K's 12 packed scale bytes.
private func kQuantScaleMin(_ sub: Int, _ s: [UInt8]) -> (Int, Int) {
    if sub < 4 { return (Int(s[sub] & 63), Int(s[sub + 4] & 63)) }
    return (Int(s[sub + 4] & 0xF) | Int(s[sub - 4] >> 6) << 4, Int(s[sub + 4] >> 4) | Int(s[sub] >> 6) << 4)
}

/// `blocks` random blocks of `storage`: random quants and scale bytes, every half-precision scale and min finite
/// and at most 2 in magnitude (plain floats: finite values of about unit size).
public func randomBlockBytes(_ storage: WeightStorage, blocks: Int, using rng: inout SeededGenerator) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: blocks * storage.bytesPerBlock)
    for i in out.indices { out[i] = UInt8.random(in: 0...255, using: &rng) }
    func put16(_ o: Int, _ v: UInt16) { out[o] = UInt8(v & 0xFF); out[o + 1] = UInt8(v >> 8) }
    func scale() -> UInt16 { Float16(Float.random(in: -2...2, using: &rng)).bitPattern }
    let bpb = storage.bytesPerBlock
    for blk in 0..<blocks {
        let p = blk * bpb
        switch storage {
        case .f32:
            let v = Float.random(in: -3...3, using: &rng).bitPattern
            put16(p, UInt16(v & 0xFFFF)); put16(p + 2, UInt16(v >> 16))
        case .f16: put16(p, Float16(Float.random(in: -3...3, using: &rng)).bitPattern)
        case .bf16: put16(p, UInt16(Float.random(in: -3...3, using: &rng).bitPattern >> 16))
        case .q4_0, .q5_0, .q8_0: put16(p, scale())
        case .q4_1, .q5_1, .q4_K, .q5_K: put16(p, scale()); put16(p + 2, scale())
        case .q6_K: put16(p + 208, scale())
        case .q2_K: put16(p + 80, scale()); put16(p + 82, scale())
        case .q3_K: put16(p + 108, scale())
        }
    }
    return out
}
