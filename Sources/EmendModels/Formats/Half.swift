// Float16 and BFloat16 ⇄ Float32 conversions for the file formats.
//
// Float16 uses Swift's `Float16` where the platform has it (Linux, Apple silicon); Intel macOS falls
// back to the bit-level IEEE conversion below. BFloat16 is the top half of a Float32, so reading is a
// shift; writing rounds to nearest, ties to even (as PyTorch and safetensors writers do).

#if arch(x86_64) && (os(macOS) || os(iOS) || os(tvOS) || os(watchOS))
private let hasNativeFloat16 = false
#else
private let hasNativeFloat16 = true
#endif

// MARK: - Float16

/// The Float32 value of IEEE binary16 bits.
@inline(__always)
public func halfBitsToFloat(_ bits: UInt16) -> Float {
    #if arch(x86_64) && (os(macOS) || os(iOS) || os(tvOS) || os(watchOS))
    return softHalfToFloat(bits)
    #else
    return Float(Float16(bitPattern: bits))
    #endif
}

/// IEEE binary16 bits of `value`, rounded to nearest, ties to even (overflow gives ±infinity).
@inline(__always)
public func floatToHalfBits(_ value: Float) -> UInt16 {
    #if arch(x86_64) && (os(macOS) || os(iOS) || os(tvOS) || os(watchOS))
    return softFloatToHalf(value)
    #else
    return Float16(value).bitPattern
    #endif
}

/// binary16 → binary32 by bit manipulation (used where `Float16` is unavailable).
func softHalfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = UInt32(h >> 10) & 0x1F
    let man = UInt32(h) & 0x3FF
    if exp == 0 {
        // Zero or subnormal: value = man · 2^-24.
        let v = Float(man) * Float(bitPattern: 0x3380_0000)  // 2^-24
        return Float(bitPattern: sign | v.bitPattern)
    }
    if exp == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (man << 13)) }
    return Float(bitPattern: sign | ((exp + 112) << 23) | (man << 13))
}

/// binary32 → binary16 by bit manipulation, round to nearest even (used where `Float16` is unavailable).
func softFloatToHalf(_ f: Float) -> UInt16 {
    let x = f.bitPattern
    let sign = UInt16((x >> 16) & 0x8000)
    let exp = Int((x >> 23) & 0xFF)
    let man = x & 0x7F_FFFF
    if exp == 0xFF { return sign | 0x7C00 | (man != 0 ? 0x200 : 0) }
    let e = exp - 127 + 15
    if e >= 0x1F { return sign | 0x7C00 }
    if e <= 0 {
        if e < -10 { return sign }
        // Subnormal half: shift the mantissa (with its hidden bit) right, rounding to nearest even.
        let m = man | 0x80_0000
        let shift = UInt32(14 - e)
        var h = m >> shift
        let rem = m & ((1 << shift) - 1), half = UInt32(1) << (shift - 1)
        if rem > half || (rem == half && (h & 1) == 1) { h += 1 }
        return sign | UInt16(h)
    }
    var h = UInt32(e << 10) | (man >> 13)
    let rem = man & 0x1FFF
    if rem > 0x1000 || (rem == 0x1000 && (h & 1) == 1) { h += 1 }  // may carry into the exponent: correct
    return sign | UInt16(h)
}

// MARK: - BFloat16

/// The Float32 value of bfloat16 bits (the upper 16 bits of a Float32).
@inline(__always)
public func bfloat16BitsToFloat(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

/// bfloat16 bits of `value`, rounded to nearest, ties to even; NaN stays a quiet NaN.
@inline(__always)
public func floatToBFloat16Bits(_ value: Float) -> UInt16 {
    let x = value.bitPattern
    if value.isNaN { return UInt16(x >> 16) | 0x0040 }
    let rounded = x &+ 0x7FFF &+ ((x >> 16) & 1)
    return UInt16(rounded >> 16)
}

/// Whether this build converts Float16 with the native type (true on Linux and Apple silicon).
public var usesNativeFloat16: Bool { hasNativeFloat16 }
