// Dequantisation of ggml tensor blocks to Float32.
//
// Goals, in order: bit-exact with ggml's reference `dequantize_row_*` (Float32 math in the same
// order: d·q + m, (d·sc)·q), then fast: blocks are independent, so work is split over blocks.
//
// Block layouts (f16 = IEEE half; all little-endian; QK = elements per block):
//   Q4_0 (32, 18 B): d:f16, qs[16]       x = (q − 8)·d;   low nibbles → elements 0…15, high → 16…31
//   Q4_1 (32, 20 B): d, m:f16, qs[16]    x = q·d + m
//   Q5_0 (32, 22 B): d, qh:u32, qs[16]   q = nibble | (bit j of qh) << 4,  x = (q − 16)·d
//   Q5_1 (32, 24 B): d, m, qh:u32, qs    x = q·d + m
//   Q8_0 (32, 34 B): d, qs:i8[32]        x = q·d           Q8_1 (36 B): d, s, qs — same values
//   Q4_K (256, 144 B): d, dmin:f16, scales[12] (8 × 6-bit scale/min pairs), qs[128]
//                      sub-block j of 32: x = (d·sc_j)·q − (dmin·m_j)
//   Q5_K (256, 176 B): as Q4_K plus qh[32] giving each element's 5th bit
//   Q6_K (256, 210 B): ql[128] (low 4 bits), qh[64] (high 2 bits), scales:i8[16], d:f16
//                      x = (d·sc_{l/16})·(q − 32), q 6-bit
//   Q8_K (256, 292 B): d:f32, qs:i8[256], bsums (ignored)   x = d·q

import EmendCore

// MARK: - Types and entry point

/// Converts `blocks` consecutive blocks starting at `src` into Float32 at `dst`.
typealias DequantKernel = @Sendable (_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) -> Void

extension GGMLType {
    /// Whether `dequantize` supports this type.
    public var isDequantizable: Bool { kernel != nil }

    var kernel: DequantKernel? {
        switch self {
        case .f32: return dequantF32
        case .f16: return dequantF16
        case .bf16: return dequantBF16
        case .f64: return dequantF64
        case .i8: return dequantI8
        case .i16: return dequantI16
        case .i32: return dequantI32
        case .i64: return dequantI64
        case .q4_0: return dequantQ4_0
        case .q4_1: return dequantQ4_1
        case .q5_0: return dequantQ5_0
        case .q5_1: return dequantQ5_1
        case .q8_0: return dequantQ8_0
        case .q8_1: return dequantQ8_1
        case .q4_K: return dequantQ4_K
        case .q5_K: return dequantQ5_K
        case .q6_K: return dequantQ6_K
        case .q8_K: return dequantQ8_K
        default: return nil
        }
    }

    /// Dequantises `count` elements stored as this type in `raw` (which must hold exactly
    /// count / blockSize blocks) to Float32, in storage order.
    public func dequantize(_ raw: UnsafeRawBufferPointer, count: Int) throws -> [Float] {
        guard let kernel else { throw EmendModelsError.unsupportedTensorType(file: "<memory>", tensor: "<buffer>", type: description) }
        let nBlocks = count / blockSize
        let needed = nBlocks * bytesPerBlock
        guard count >= 0, count % blockSize == 0, raw.count == needed else {
            throw EmendModelsError.tensorByteCountMismatch(file: "<memory>", tensor: "<buffer>", expected: needed, got: raw.count)
        }
        guard count > 0, let base = raw.baseAddress else { return [] }
        let bs = blockSize, bb = bytesPerBlock
        return [Float](unsafeUninitializedCapacity: count) { out, initialised in
            let src = SendableConstPointer(base.assumingMemoryBound(to: UInt8.self))
            let dst = SendablePointer(out.baseAddress!)
            parallelRanges(nBlocks, grain: max(1, 65_536 / bs)) { r in
                kernel(UnsafeRawPointer(src.base + r.lowerBound * bb), dst.base + r.lowerBound * bs, r.count)
            }
            initialised = count
        }
    }
}

// MARK: - Helpers

@inline(__always) private func f16(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    halfBitsToFloat(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
}

@inline(__always) private func byte(_ p: UnsafeRawPointer, _ offset: Int) -> UInt8 {
    p.load(fromByteOffset: offset, as: UInt8.self)
}

@inline(__always) private func int8(_ p: UnsafeRawPointer, _ offset: Int) -> Int8 {
    p.load(fromByteOffset: offset, as: Int8.self)
}

// MARK: - Plain types

private let dequantF32: DequantKernel = { src, dst, n in
    UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: n * 4)
}
private let dequantF16: DequantKernel = { src, dst, n in
    for i in 0..<n { dst[i] = f16(src, 2 * i) }
}
private let dequantBF16: DequantKernel = { src, dst, n in
    for i in 0..<n { dst[i] = bfloat16BitsToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
}
private let dequantF64: DequantKernel = { src, dst, n in
    for i in 0..<n { dst[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
}
private let dequantI8: DequantKernel = { src, dst, n in
    for i in 0..<n { dst[i] = Float(int8(src, i)) }
}
private let dequantI16: DequantKernel = { src, dst, n in
    for i in 0..<n { dst[i] = Float(Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
}
private let dequantI32: DequantKernel = { src, dst, n in
    for i in 0..<n { dst[i] = Float(Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
}
private let dequantI64: DequantKernel = { src, dst, n in
    for i in 0..<n { dst[i] = Float(Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
}

// MARK: - 32-element quants

private let dequantQ4_0: DequantKernel = { src, dst, n in
    for b in 0..<n {
        let p = src + 18 * b, y = dst + 32 * b
        let d = f16(p, 0)
        for j in 0..<16 {
            let q = byte(p, 2 + j)
            y[j] = Float(Int(q & 0xF) - 8) * d
            y[j + 16] = Float(Int(q >> 4) - 8) * d
        }
    }
}

private let dequantQ4_1: DequantKernel = { src, dst, n in
    for b in 0..<n {
        let p = src + 20 * b, y = dst + 32 * b
        let d = f16(p, 0), m = f16(p, 2)
        for j in 0..<16 {
            let q = byte(p, 4 + j)
            y[j] = Float(q & 0xF) * d + m
            y[j + 16] = Float(q >> 4) * d + m
        }
    }
}

private let dequantQ5_0: DequantKernel = { src, dst, n in
    for b in 0..<n {
        let p = src + 22 * b, y = dst + 32 * b
        let d = f16(p, 0)
        let qh = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        for j in 0..<16 {
            let q = byte(p, 6 + j)
            let h0 = UInt8((qh >> UInt32(j)) & 1) << 4, h1 = UInt8((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = Float(Int((q & 0xF) | h0) - 16) * d
            y[j + 16] = Float(Int((q >> 4) | h1) - 16) * d
        }
    }
}

private let dequantQ5_1: DequantKernel = { src, dst, n in
    for b in 0..<n {
        let p = src + 24 * b, y = dst + 32 * b
        let d = f16(p, 0), m = f16(p, 2)
        let qh = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        for j in 0..<16 {
            let q = byte(p, 8 + j)
            let h0 = UInt8((qh >> UInt32(j)) & 1) << 4, h1 = UInt8((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = Float((q & 0xF) | h0) * d + m
            y[j + 16] = Float((q >> 4) | h1) * d + m
        }
    }
}

private let dequantQ8_0: DequantKernel = { src, dst, n in
    for b in 0..<n {
        let p = src + 34 * b, y = dst + 32 * b
        let d = f16(p, 0)
        for j in 0..<32 { y[j] = Float(int8(p, 2 + j)) * d }
    }
}

private let dequantQ8_1: DequantKernel = { src, dst, n in
    for b in 0..<n {
        let p = src + 36 * b, y = dst + 32 * b
        let d = f16(p, 0)
        for j in 0..<32 { y[j] = Float(int8(p, 4 + j)) * d }
    }
}

// MARK: - 256-element k-quants

/// The 6-bit (scale, min) pair of sub-block `j` (0…7) from the 12 packed bytes at `s`: pairs 0–3 sit
/// in the low 6 bits of bytes 0–3 / 4–7; pairs 4–7 take 4 bits from bytes 8–11 and their top 2 bits
/// from the spare high bits of bytes 0–3 / 4–7.
@inline(__always) private func scaleMinK4(_ j: Int, _ s: UnsafeRawPointer) -> (Float, Float) {
    if j < 4 {
        return (Float(byte(s, j) & 63), Float(byte(s, j + 4) & 63))
    }
    let sc = (byte(s, j + 4) & 0xF) | ((byte(s, j - 4) >> 6) << 4)
    let m = (byte(s, j + 4) >> 4) | ((byte(s, j) >> 6) << 4)
    return (Float(sc), Float(m))
}

private let dequantQ4_K: DequantKernel = { src, dst, n in
    for b in 0..<n {
        let p = src + 144 * b, y = dst + 256 * b
        let d = f16(p, 0), dmin = f16(p, 2)
        let scales = p + 4, qs = p + 16
        for g in 0..<4 {  // 64 elements: 32 low nibbles then 32 high nibbles of the same bytes
            let (sc1, m1) = scaleMinK4(2 * g, scales), (sc2, m2) = scaleMinK4(2 * g + 1, scales)
            let d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2
            let q = qs + 32 * g, o = y + 64 * g
            for l in 0..<32 {
                let v = byte(q, l)
                o[l] = d1 * Float(v & 0xF) - mm1
                o[l + 32] = d2 * Float(v >> 4) - mm2
            }
        }
    }
}

private let dequantQ5_K: DequantKernel = { src, dst, n in
    for b in 0..<n {
        let p = src + 176 * b, y = dst + 256 * b
        let d = f16(p, 0), dmin = f16(p, 2)
        let scales = p + 4, qh = p + 16, qs = p + 48
        for g in 0..<4 {
            let (sc1, m1) = scaleMinK4(2 * g, scales), (sc2, m2) = scaleMinK4(2 * g + 1, scales)
            let d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2
            let u1 = UInt8(1) << UInt8(2 * g), u2 = UInt8(2) << UInt8(2 * g)
            let q = qs + 32 * g, o = y + 64 * g
            for l in 0..<32 {
                let v = byte(q, l), h = byte(qh, l)
                o[l] = d1 * Float((v & 0xF) + (h & u1 != 0 ? 16 : 0)) - mm1
                o[l + 32] = d2 * Float((v >> 4) + (h & u2 != 0 ? 16 : 0)) - mm2
            }
        }
    }
}

private let dequantQ6_K: DequantKernel = { src, dst, n in
    for b in 0..<n {
        let p = src + 210 * b, y = dst + 256 * b
        let d = f16(p, 208)
        for half in 0..<2 {  // 128 elements each: ql[64], qh[32], scales[8]
            let ql = p + 64 * half, qh = p + 128 + 32 * half, sc = p + 192 + 8 * half, o = y + 128 * half
            for l in 0..<32 {
                let s = l / 16
                let lo0 = byte(ql, l), lo1 = byte(ql, l + 32), h = byte(qh, l)
                let q1 = Int((lo0 & 0xF) | ((h & 3) << 4)) - 32
                let q2 = Int((lo1 & 0xF) | (((h >> 2) & 3) << 4)) - 32
                let q3 = Int((lo0 >> 4) | (((h >> 4) & 3) << 4)) - 32
                let q4 = Int((lo1 >> 4) | (((h >> 6) & 3) << 4)) - 32
                o[l] = d * Float(int8(sc, s)) * Float(q1)
                o[l + 32] = d * Float(int8(sc, s + 2)) * Float(q2)
                o[l + 64] = d * Float(int8(sc, s + 4)) * Float(q3)
                o[l + 96] = d * Float(int8(sc, s + 6)) * Float(q4)
            }
        }
    }
}

private let dequantQ8_K: DequantKernel = { src, dst, n in
    for b in 0..<n {
        let p = src + 292 * b, y = dst + 256 * b
        let d = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
        for j in 0..<256 { y[j] = d * Float(int8(p, 4 + j)) }
    }
}
