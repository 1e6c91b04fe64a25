// Dequantisation of ggml tensor blocks to Float32.
//
// Goals, in order: bit-exact with ggml's reference `dequantize_row_*` (Float32 math in the same
// order: d·q + m, (d·sc)·q), then fast: blocks are independent, so work is split over blocks.
//
// The types a weight matrix can keep in place (`weightStorage`: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) go through EmendCore's C kernels (`dequantizeBlocks`; layouts in CEmendKernels/emend_quant.c),
// measured at least 2–11× faster than the Swift loops they replaced (8M elements, 2 threads: Q4_K 16.5 → 1.5 ms, Q8_0
// 18.3 → 2.8 ms, F16 42 → 20 ms; BF16 equal). The rest stay here:
//   Q8_1 (32, 36 B): d, s:f16, qs:i8[32]   x = q·d  (s is ignored)
//   Q8_K (256, 292 B): d:f32, qs:i8[256], bsums (ignored)   x = d·q
//   F64 and the integer types: converted one element at a time.

import EmendCore

// MARK: - Types and entry point

/// Converts `blocks` consecutive blocks starting at `src` into Float32 at `dst`.
typealias DequantKernel = @Sendable (_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) -> Void

extension GGMLType {
    /// Whether `dequantize` supports this type.
    public var isDequantizable: Bool { weightStorage != nil || kernel != nil }

    /// The Swift kernel of a type without a `weightStorage`.
    var kernel: DequantKernel? {
        switch self {
        case .f64: return dequantF64
        case .i8: return dequantI8
        case .i16: return dequantI16
        case .i32: return dequantI32
        case .i64: return dequantI64
        case .q8_1: return dequantQ8_1
        case .q8_K: return dequantQ8_K
        default: return nil
        }
    }

    /// Dequantises `count` elements stored as this type in `raw` (which must hold exactly
    /// count / blockSize blocks) to Float32, in storage order.
    public func dequantize(_ raw: UnsafeRawBufferPointer, count: Int) throws -> [Float] {
        guard isDequantizable else { throw EmendModelsError.unsupportedTensorType(file: "<memory>", tensor: "<buffer>", type: description) }
        let nBlocks = count / blockSize
        let needed = nBlocks * bytesPerBlock
        guard count >= 0, count % blockSize == 0, raw.count == needed else {
            throw EmendModelsError.tensorByteCountMismatch(file: "<memory>", tensor: "<buffer>", expected: needed, got: raw.count)
        }
        guard count > 0, let base = raw.baseAddress else { return [] }
        let bs = blockSize, bb = bytesPerBlock
        return [Float](unsafeUninitializedCapacity: count) { out, initialised in
            initialised = count
            if let storage = weightStorage {
                dequantizeBlocks(storage, base, blocks: nBlocks, into: out.baseAddress!)
                return
            }
            guard let kernel else { return }
            let src = SendableConstPointer(base.assumingMemoryBound(to: UInt8.self))
            let dst = SendablePointer(out.baseAddress!)
            parallelRanges(nBlocks, grain: max(1, 65_536 / bs)) { r in
                kernel(UnsafeRawPointer(src.base + r.lowerBound * bb), dst.base + r.lowerBound * bs, r.count)
            }
        }
    }
}

// MARK: - Helpers

@inline(__always) private func f16(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    halfBitsToFloat(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
}

@inline(__always) private func int8(_ p: UnsafeRawPointer, _ offset: Int) -> Int8 {
    p.load(fromByteOffset: offset, as: Int8.self)
}

// MARK: - Plain types

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

// MARK: - Quants without a weight storage

private let dequantQ8_1: DequantKernel = { src, dst, n in
    for b in 0..<n {
        let p = src + 36 * b, y = dst + 32 * b
        let d = f16(p, 0)
        for j in 0..<32 { y[j] = Float(int8(p, 4 + j)) * d }
    }
}

private let dequantQ8_K: DequantKernel = { src, dst, n in
    for b in 0..<n {
        let p = src + 292 * b, y = dst + 256 * b
        let d = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
        for j in 0..<256 { y[j] = d * Float(int8(p, 4 + j)) }
    }
}
