// Quantisation of Float32 rows to ggml tensor blocks: the inverse of GGUFDequantize.swift.
//
// Goals, in order:
//   1. F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 agree bit for bit with the reference quantizers of the
//      `gguf` Python package (gguf.quants.quantize, itself written to match ggml's `quantize_row_*_ref`):
//      Float32 math in the same order, ties resolved the same way (fixtures: scripts/make-quant-fixtures.py).
//   2. Q4_K, Q5_K and Q6_K follow ggml's reference quantizers without importance weights
//      (`quantize_row_q{4,5,6}_K_ref`; GGUFQuantize+KQuants.swift), so their round-trip error is llama.cpp's.
//   3. Fast: blocks are independent, so the work is split over blocks and cores (an 8B model in minutes).
//
// Shapes: values [R, C] row-major, C = rowLength a multiple of the type's block size; the result holds
// R · C / blockSize blocks of bytesPerBlock bytes, rows in order (a GGUF tensor's data with dims [C, R]).
// Block layouts: see GGUFDequantize.swift. NaN or infinite inputs give unspecified (but in-range) blocks.

import EmendCore

// MARK: - Types and entry point

/// Encodes `blocks` consecutive blocks of Float32 at `src` into their ggml bytes at `dst`.
typealias QuantKernel = @Sendable (_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, _ blocks: Int) -> Void

extension GGMLType {
    /// The types `quantize` can encode Float32 data as.
    public static let quantizable: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K]

    /// Whether `quantize` can encode Float32 data as this type.
    public var isQuantizable: Bool { quantKernel != nil }

    var quantKernel: QuantKernel? {
        switch self {
        case .f32: return quantF32
        case .f16: return quantF16
        case .bf16: return quantBF16
        case .q8_0: return quantQ8_0
        case .q4_0: return quantQ4_0
        case .q4_1: return quantQ4_1
        case .q5_0: return quantQ5_0
        case .q5_1: return quantQ5_1
        case .q4_K: return quantQ4_K
        case .q5_K: return quantQ5_K
        case .q6_K: return quantQ6_K
        default: return nil
        }
    }

    /// The bytes of `count` elements stored as this type (count a multiple of the block size).
    public func byteCount(elements count: Int) -> Int { count / blockSize * bytesPerBlock }

    /// Quantises rows of Float32 values to this type's blocks.
    /// - Parameters:
    ///   - values: [R, C] row-major.
    ///   - rowLength: C, a positive multiple of `blockSize` that divides `values.count`.
    ///   - tensor: the tensor's name, for errors.
    /// - Returns: the tensor's bytes, R · C / blockSize · bytesPerBlock of them.
    /// - Throws: `quantizationUnsupported` for a type without a quantizer, `quantizationRowLength` for a
    ///   row length that blocks cannot tile.
    public func quantize(_ values: UnsafeBufferPointer<Float>, rowLength: Int, tensor: String) throws -> [UInt8] {
        guard let kernel = quantKernel else {
            throw EmendModelsError.quantizationUnsupported(tensor: tensor, type: description)
        }
        guard rowLength > 0, rowLength % blockSize == 0, values.count % rowLength == 0 else {
            throw EmendModelsError.quantizationRowLength(tensor: tensor, type: description, rowLength: rowLength,
                                                         blockSize: blockSize, count: values.count)
        }
        let nBlocks = values.count / blockSize, bs = blockSize, bb = bytesPerBlock
        guard nBlocks > 0, let base = values.baseAddress else { return [] }
        return [UInt8](unsafeUninitializedCapacity: nBlocks * bb) { out, initialised in
            let src = SendableConstPointer(base), dst = SendablePointer(out.baseAddress!)
            parallelRanges(nBlocks, grain: max(1, 16_384 / bs / quantCostPerElement)) { r in
                kernel(src.base + r.lowerBound * bs, UnsafeMutableRawPointer(dst.base + r.lowerBound * bb), r.count)
            }
            initialised = nBlocks * bb
        }
    }

    /// `quantize` of an array.
    public func quantize(_ values: [Float], rowLength: Int, tensor: String) throws -> [UInt8] {
        try values.withUnsafeBufferPointer { try quantize($0, rowLength: rowLength, tensor: tensor) }
    }

    /// Relative work per element (the K-quants search over scales), for sizing parallel chunks.
    private var quantCostPerElement: Int {
        switch self {
        case .q4_K, .q5_K, .q6_K: return 16
        default: return 1
        }
    }
}

// MARK: - Helpers

@inline(__always) func storeF16(_ p: UnsafeMutableRawPointer, _ offset: Int, _ v: Float) {
    p.storeBytes(of: floatToHalfBits(v).littleEndian, toByteOffset: offset, as: UInt16.self)
}

/// The Float32 value `v` takes after a round trip through F16 (what the dequantizer will read).
@inline(__always) func roundedToF16(_ v: Float) -> Float { halfBitsToFloat(floatToHalfBits(v)) }

/// `v` truncated toward zero and clamped to lo…hi (NaN gives lo): numpy's `trunc(v).astype(uint8).clip(lo, hi)`
/// and ggml's `MIN(hi, (int8_t)v)` wherever those are defined.
@inline(__always) func truncatedClamped(_ v: Float, _ lo: Int, _ hi: Int) -> Int {
    guard v == v else { return lo }
    return Int(Swift.max(Float(lo), Swift.min(Float(hi), v.rounded(.towardZero))))
}

/// The element of largest magnitude, the first one on ties (numpy's `argmax(abs(x))`): ±max of the block.
@inline(__always) func signedAbsMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var amax = abs(x[0]), m = x[0]
    for j in 1..<n where abs(x[j]) > amax { amax = abs(x[j]); m = x[j] }
    return m
}

/// 1/d, or 0 when d is 0 (a block of zeros quantises to zeros).
@inline(__always) func inverse(_ d: Float) -> Float { d != 0 ? 1 / d : 0 }

// MARK: - Plain types

private let quantF32: QuantKernel = { src, dst, n in
    dst.copyMemory(from: src, byteCount: 4 * n)
}
private let quantF16: QuantKernel = { src, dst, n in
    for i in 0..<n { storeF16(dst, 2 * i, src[i]) }
}
private let quantBF16: QuantKernel = { src, dst, n in
    for i in 0..<n { dst.storeBytes(of: floatToBFloat16Bits(src[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
}

// MARK: - 32-element quants

/// Q8_0: d = amax/127, q = round(x/d) (half away from zero).
private let quantQ8_0: QuantKernel = { src, dst, n in
    for b in 0..<n {
        let x = src + 32 * b, p = dst + 34 * b
        var amax: Float = 0
        for j in 0..<32 { amax = Swift.max(amax, abs(x[j])) }
        let d = amax / 127, id = inverse(d)
        storeF16(p, 0, d)
        for j in 0..<32 {
            let v = x[j] * id
            let q = v == v ? Swift.max(-128, Swift.min(127, v.rounded())) : 0
            p.storeBytes(of: Int8(q), toByteOffset: 2 + j, as: Int8.self)
        }
    }
}

/// Q4_0: d = −max/8 for the signed max, q = trunc(x/d + 8.5) in 0…15; element j in the low nibble of byte j,
/// element j + 16 in its high nibble.
private let quantQ4_0: QuantKernel = { src, dst, n in
    for b in 0..<n {
        let x = src + 32 * b, p = dst + 18 * b
        let d = signedAbsMax(x, 32) / -8, id = inverse(d)
        storeF16(p, 0, d)
        for j in 0..<16 {
            let lo = truncatedClamped(x[j] * id + 8.5, 0, 15), hi = truncatedClamped(x[j + 16] * id + 8.5, 0, 15)
            p.storeBytes(of: UInt8(lo | hi << 4), toByteOffset: 2 + j, as: UInt8.self)
        }
    }
}

/// Q4_1: d = (max − min)/15, m = min, q = trunc((x − min)/d + 0.5) in 0…15.
private let quantQ4_1: QuantKernel = { src, dst, n in
    for b in 0..<n {
        let x = src + 32 * b, p = dst + 20 * b
        let (lo, id) = storeScaleMin(x, p, levels: 15)
        for j in 0..<16 {
            let q0 = truncatedClamped((x[j] - lo) * id + 0.5, 0, 15), q1 = truncatedClamped((x[j + 16] - lo) * id + 0.5, 0, 15)
            p.storeBytes(of: UInt8(q0 | q1 << 4), toByteOffset: 4 + j, as: UInt8.self)
        }
    }
}

/// Q5_0: d = −max/16, q = trunc(x/d + 16.5) in 0…31; low 4 bits as in Q4_0, bit 4 of element j in bit j of qh.
private let quantQ5_0: QuantKernel = { src, dst, n in
    for b in 0..<n {
        let x = src + 32 * b, p = dst + 22 * b
        let d = signedAbsMax(x, 32) / -16, id = inverse(d)
        storeF16(p, 0, d)
        storeFiveBit(p, qhOffset: 2) { truncatedClamped(x[$0] * id + 16.5, 0, 31) }
    }
}

/// Q5_1: d = (max − min)/31, m = min, q = trunc((x − min)/d + 0.5) in 0…31.
private let quantQ5_1: QuantKernel = { src, dst, n in
    for b in 0..<n {
        let x = src + 32 * b, p = dst + 24 * b
        let (lo, id) = storeScaleMin(x, p, levels: 31)
        storeFiveBit(p, qhOffset: 4) { truncatedClamped((x[$0] - lo) * id + 0.5, 0, 31) }
    }
}

/// Writes a 32-element block's d = (max − min)/levels and m = min as F16 at bytes 0 and 2 of `p`.
/// - Returns: min and 1/d (0 when d is 0), in Float32, as the levels are computed from them.
@inline(__always) private func storeScaleMin(_ x: UnsafePointer<Float>, _ p: UnsafeMutableRawPointer, levels: Float) -> (Float, Float) {
    var lo = x[0], hi = x[0]
    for j in 1..<32 { lo = Swift.min(lo, x[j]); hi = Swift.max(hi, x[j]) }
    let d = (hi - lo) / levels
    storeF16(p, 0, d); storeF16(p, 2, lo)
    return (lo, inverse(d))
}

/// Packs 32 five-bit values q(0…31): qh (u32 at `qhOffset`) holds bit 4 of element j in bit j, then 16 bytes
/// of nibbles (element j low, element j + 16 high).
@inline(__always) private func storeFiveBit(_ p: UnsafeMutableRawPointer, qhOffset: Int, _ q: (Int) -> Int) {
    var qh: UInt32 = 0
    for j in 0..<16 {
        let q0 = q(j), q1 = q(j + 16)
        p.storeBytes(of: UInt8((q0 & 0xF) | (q1 & 0xF) << 4), toByteOffset: qhOffset + 4 + j, as: UInt8.self)
        qh |= UInt32(q0 >> 4) << UInt32(j) | UInt32(q1 >> 4) << UInt32(j + 16)
    }
    p.storeBytes(of: qh.littleEndian, toByteOffset: qhOffset, as: UInt32.self)
}
