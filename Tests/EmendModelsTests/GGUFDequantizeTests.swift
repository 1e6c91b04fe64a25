// Dequantisation tests. Each block test packs one or two blocks by hand from the format definition
// (scale, min and per-element quants chosen so every product is exact in Float32) and states each
// element's expected value as a formula of its index; the golden test compares with gguf-py.

import EmendCore
import Foundation
import XCTest
@testable import EmendModels

final class GGUFDequantizeTests: XCTestCase {
    private func dequant(_ type: GGMLType, _ bytes: [UInt8], count: Int) throws -> [Float] {
        try bytes.withUnsafeBytes { try type.dequantize($0, count: count) }
    }

    private func assertEqual(_ got: [Float], _ expected: [Float], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, expected.count, label, file: file, line: line)
        let bad = zip(got, expected).enumerated().filter { $0.element.0 != $0.element.1 }
        if let first = bad.first {
            XCTFail("\(label): \(bad.count) mismatches; first at \(first.offset): got \(first.element.0), expected \(first.element.1)", file: file, line: line)
        }
    }

    /// Plain types: F32 copies bits; F16 and BF16 of known bit patterns (1.0, −2.0, 0.5, 65504, ±0).
    func testDequantize_PlainTypes() throws {
        var b = ByteBuilder()
        for v: Float in [1.5, -2.25, 1e-30] { b.f32(v) }
        assertEqual(try dequant(.f32, b.bytes, count: 3), [1.5, -2.25, 1e-30], "F32")
        b = ByteBuilder()
        for h: UInt16 in [0x3C00, 0xC000, 0x3800, 0x7BFF, 0x8000, 0x0001] { b.u16(h) }
        assertEqual(try dequant(.f16, b.bytes, count: 6), [1, -2, 0.5, 65504, -0.0, 0x1p-24], "F16")
        b = ByteBuilder()
        for h: UInt16 in [0x3F80, 0xC000, 0x3F00, 0x4049] { b.u16(h) }
        assertEqual(try dequant(.bf16, b.bytes, count: 4), [1, -2, 0.5, Float(bitPattern: 0x4049_0000)], "BF16")
        b = ByteBuilder()
        b.u64((0.75 as Double).bitPattern); b.u64((-3 as Double).bitPattern)
        assertEqual(try dequant(.f64, b.bytes, count: 2), [0.75, -3], "F64")
        assertEqual(try dequant(.i8, [0xFF, 0x05], count: 2), [-1, 5], "I8")
    }

    /// Q8_0: x = d·q with d = 0.5 and q_i = 8i − 128 (two blocks, the second with d = −1).
    func testDequantize_Q8_0() throws {
        var b = ByteBuilder()
        b.u16(HalfBits.half); for i in 0..<32 { b.u8(UInt8(bitPattern: Int8(8 * i - 128))) }
        b.u16(HalfBits.minusOne); for i in 0..<32 { b.u8(UInt8(bitPattern: Int8(i - 16))) }
        let firstBlock: [Float] = (0..<32).map { (i: Int) -> Float in Float(8 * i - 128) * 0.5 }
        let secondBlock: [Float] = (0..<32).map { (i: Int) -> Float in -Float(i - 16) }
        let expected = firstBlock + secondBlock
        assertEqual(try dequant(.q8_0, b.bytes, count: 64), expected, "Q8_0")
    }

    /// Q4_0: x = (q − 8)·d, d = 2; byte j holds element j (low nibble, value j) and 16+j (high, 15−j).
    func testDequantize_Q4_0() throws {
        var b = ByteBuilder()
        b.u16(HalfBits.two); for j in 0..<16 { b.u8(UInt8(j) | UInt8(15 - j) << 4) }
        let nibble = { (i: Int) -> Int in i < 16 ? i : 15 - (i - 16) }
        let expected: [Float] = (0..<32).map { (i: Int) -> Float in Float(nibble(i) - 8) * 2 }
        assertEqual(try dequant(.q4_0, b.bytes, count: 32), expected, "Q4_0")
    }

    /// Q4_1: x = q·d + m with d = 0.5, m = −1 (and a second block with d = 0.25, m = 1).
    func testDequantize_Q4_1() throws {
        var b = ByteBuilder()
        b.u16(HalfBits.half); b.u16(HalfBits.minusOne); for j in 0..<16 { b.u8(UInt8(j) | UInt8(15 - j) << 4) }
        b.u16(HalfBits.quarter); b.u16(HalfBits.one); for j in 0..<16 { b.u8(UInt8(j % 4) | UInt8(j % 7) << 4) }
        let first = (0..<32).map { i -> Float in Float(i < 16 ? i : 31 - i) * 0.5 - 1 }
        let second = (0..<32).map { i -> Float in Float(i < 16 ? i % 4 : (i - 16) % 7) * 0.25 + 1 }
        assertEqual(try dequant(.q4_1, b.bytes, count: 64), first + second, "Q4_1")
    }

    /// Q5_0: element i has 5-bit q = nibble_i + 16·(bit i of qh); x = (q − 16)·d with d = 0.5.
    func testDequantize_Q5_0() throws {
        let qh: UInt32 = 0xA5A5_3C0F
        var b = ByteBuilder()
        b.u16(HalfBits.half); b.u32(qh); for j in 0..<16 { b.u8(UInt8(j) | UInt8(15 - j) << 4) }
        let expected = (0..<32).map { i -> Float in
            let q = (i < 16 ? i : 31 - i) + 16 * Int((qh >> UInt32(i)) & 1)
            return Float(q - 16) * 0.5
        }
        assertEqual(try dequant(.q5_0, b.bytes, count: 32), expected, "Q5_0")
    }

    /// Q5_1: element i has q = nibble_i + 16·(bit i of qh); x = q·d + m with d = 0.25, m = 1.
    func testDequantize_Q5_1() throws {
        let qh: UInt32 = 0x0F0F_F00F
        var b = ByteBuilder()
        b.u16(HalfBits.quarter); b.u16(HalfBits.one); b.u32(qh); for j in 0..<16 { b.u8(UInt8(15 - j) | UInt8(j) << 4) }
        let expected = (0..<32).map { i -> Float in
            let q = (i < 16 ? 15 - i : i - 16) + 16 * Int((qh >> UInt32(i)) & 1)
            return Float(q) * 0.25 + 1
        }
        assertEqual(try dequant(.q5_1, b.bytes, count: 32), expected, "Q5_1")
    }

    /// The 12 packed bytes of k-quant scales: 8 six-bit (scale, min) pairs; pairs 0–3 in the low 6 bits
    /// of bytes 0–3 (scales) and 4–7 (mins), pairs 4–7 split into a low nibble in bytes 8–11 and their
    /// top two bits in the high bits of bytes 0–3 (scales) and 4–7 (mins).
    private func packScales(_ sc: [UInt8], _ mn: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 12)
        for j in 0..<4 {
            out[j] = sc[j] | (sc[j + 4] >> 4) << 6
            out[j + 4] = mn[j] | (mn[j + 4] >> 4) << 6
            out[j + 8] = (sc[j + 4] & 0xF) | (mn[j + 4] & 0xF) << 4
        }
        return out
    }

    /// Q4_K: element e lies in sub-block s = e/32; x = d·sc_s·q_e − dmin·m_s. Quants of sub-blocks
    /// 2g and 2g+1 share bytes 32g…32g+31 (low nibble, high nibble).
    func testDequantize_Q4_K() throws {
        let sc: [UInt8] = [1, 2, 3, 4, 5, 17, 33, 63], mn: [UInt8] = [0, 1, 2, 3, 10, 20, 40, 63]
        let q: [UInt8] = (0..<256).map { (e: Int) -> UInt8 in UInt8((e * 7 + e / 32) % 16) }
        var qs = [UInt8](repeating: 0, count: 128)
        for e in 0..<256 {
            let s = e / 32, idx = 32 * (s / 2) + e % 32
            qs[idx] |= s % 2 == 0 ? q[e] : q[e] << 4
        }
        var b = ByteBuilder()
        b.u16(HalfBits.one); b.u16(HalfBits.half); b.raw(packScales(sc, mn)); b.raw(qs)
        let expected: [Float] = (0..<256).map { (e: Int) -> Float in
            let scale: Float = 1 * Float(sc[e / 32]), offset: Float = 0.5 * Float(mn[e / 32])
            return scale * Float(q[e]) - offset
        }
        assertEqual(try dequant(.q4_K, b.bytes, count: 256), expected, "Q4_K")
    }

    /// Q5_K: as Q4_K, plus element e's fifth bit is bit (e/32) of qh[e % 32].
    func testDequantize_Q5_K() throws {
        let sc: [UInt8] = [63, 2, 9, 4, 48, 1, 33, 16], mn: [UInt8] = [5, 0, 2, 63, 10, 31, 32, 1]
        let q: [UInt8] = (0..<256).map { (e: Int) -> UInt8 in UInt8((e * 11 + 3) % 32) }
        var qs = [UInt8](repeating: 0, count: 128), qh = [UInt8](repeating: 0, count: 32)
        for e in 0..<256 {
            let s = e / 32, idx = 32 * (s / 2) + e % 32
            qs[idx] |= s % 2 == 0 ? q[e] & 0xF : (q[e] & 0xF) << 4
            qh[e % 32] |= (q[e] >> 4) << UInt8(s)
        }
        var b = ByteBuilder()
        b.u16(HalfBits.half); b.u16(HalfBits.quarter); b.raw(packScales(sc, mn)); b.raw(qh); b.raw(qs)
        let expected: [Float] = (0..<256).map { (e: Int) -> Float in
            let scale: Float = 0.5 * Float(sc[e / 32]), offset: Float = 0.25 * Float(mn[e / 32])
            return scale * Float(q[e]) - offset
        }
        assertEqual(try dequant(.q5_K, b.bytes, count: 256), expected, "Q5_K")
    }

    /// Q6_K: x_e = d·scales[e/16]·(q_e − 32), q 6-bit. In each 128-element half h, element 32k + l
    /// (k = 0…3) takes its low 4 bits from ql[64h + l + 32(k%2)] (low nibble for k < 2, high for k ≥ 2)
    /// and its top 2 bits from bits 2k…2k+1 of qh[32h + l].
    func testDequantize_Q6_K() throws {
        let q: [UInt8] = (0..<256).map { (e: Int) -> UInt8 in UInt8((e * 13 + e / 64) % 64) }
        let scales: [Int8] = [1, -2, 3, -4, 5, 6, -7, 8, 127, -128, 11, 12, 13, 14, 15, 16]
        var ql = [UInt8](repeating: 0, count: 128), qh = [UInt8](repeating: 0, count: 64)
        for e in 0..<256 {
            let h = e / 128, k = (e % 128) / 32, l = e % 32
            let qlIndex = 64 * h + l + 32 * (k % 2)
            ql[qlIndex] |= k < 2 ? q[e] & 0xF : (q[e] & 0xF) << 4
            qh[32 * h + l] |= (q[e] >> 4) << UInt8(2 * k)
        }
        var b = ByteBuilder()
        b.raw(ql); b.raw(qh); for s in scales { b.u8(UInt8(bitPattern: s)) }; b.u16(HalfBits.eighth)
        XCTAssertEqual(b.bytes.count, 210)
        let expected: [Float] = (0..<256).map { (e: Int) -> Float in
            let scale: Float = 0.125 * Float(scales[e / 16])
            return scale * Float(Int(q[e]) - 32)
        }
        assertEqual(try dequant(.q6_K, b.bytes, count: 256), expected, "Q6_K")
    }

    /// Q8_K: x = d·q with d a Float32 (bsums are ignored by dequantisation).
    func testDequantize_Q8_K() throws {
        var b = ByteBuilder()
        b.f32(0.375); for i in 0..<256 { b.u8(UInt8(bitPattern: Int8(truncatingIfNeeded: i - 128))) }
        for _ in 0..<16 { b.u16(0xFFFF) }
        let expected: [Float] = (0..<256).map { (i: Int) -> Float in 0.375 * Float(i - 128) }
        assertEqual(try dequant(.q8_K, b.bytes, count: 256), expected, "Q8_K")
    }

    /// Q2_K and Q3_K (kept stored, through the C kernels) against gguf-py's reference dequantizer, bit for bit: 16 random
    /// blocks each (the dequant/ fixtures of scripts/make-quant-fixtures.py, gguf 0.19.0).
    func testDequantize_Q2_K_Q3_K_MatchGGUFPy() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/dequant")
        for type in [GGMLType.q2_K, .q3_K] {
            let blocks = [UInt8](try Data(contentsOf: folder.appendingPathComponent("\(type).bin")))
            let want = try Data(contentsOf: folder.appendingPathComponent("\(type).f32")).withUnsafeBytes {
                Array($0.bindMemory(to: UInt32.self)).map { Float(bitPattern: UInt32(littleEndian: $0)) }
            }
            XCTAssertEqual(blocks.count, 16 * type.bytesPerBlock, "\(type)")
            let got = try dequant(type, blocks, count: want.count)
            XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "\(type) against gguf-py")
        }
    }

    /// Wrong byte counts and unsupported types throw rather than read out of bounds.
    func testDequantize_RejectsBadInput() throws {
        XCTAssertThrowsError(try dequant(.q4_1, [UInt8](repeating: 0, count: 19), count: 32)) { e in
            guard case .tensorByteCountMismatch = e as? EmendModelsError else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try dequant(.iq2_xxs, [UInt8](repeating: 0, count: GGMLType.iq2_xxs.bytesPerBlock), count: 256)) { e in
            guard case .unsupportedTensorType = e as? EmendModelsError else { return XCTFail("\(e)") }
        }
    }

    /// Golden: nine tensors of the real model against gguf-py's float32 dequantisation
    /// (dequant_probe.json: first/last values exactly, float64 sum and sum of squares to 1e-9 relative).
    func testDequantize_GoldenSmolLM2() throws {
        guard let modelURL = defaultModelURL else { throw XCTSkip("default model not downloaded") }
        guard let golden = goldenFolder("smollm2-135m-instruct-q4_1") else { throw XCTSkip("golden data absent") }
        let probe = try JSONSerialization.jsonObject(with: Data(contentsOf: golden.appendingPathComponent("dequant_probe.json"))) as? [String: Any]
        let entries = try XCTUnwrap(probe?["tensors"] as? [[String: Any]])
        XCTAssertEqual(entries.count, 9)
        let gguf = try GGUFFile(url: modelURL)
        for e in entries {
            let name = try XCTUnwrap(e["name"] as? String)
            let info = try XCTUnwrap(gguf.tensorInfo(name), name)
            XCTAssertEqual(info.type.description, e["ggml_type"] as? String, name)
            XCTAssertEqual(info.dims, (e["gguf_dims_ne"] as? [Int]) ?? [], name)
            let t = try gguf.tensor(name)
            XCTAssertEqual(t.shape, (e["array_shape_rows_cols"] as? [Int]) ?? [], name)
            let first = try XCTUnwrap(e["row0_first8"] as? [Double]).map(Float.init)
            let last = try XCTUnwrap(e["last_row_last8"] as? [Double]).map(Float.init)
            assertEqual(Array(t.scalars.prefix(8)), first, "\(name) first 8")
            assertEqual(Array(t.scalars.suffix(8)), last, "\(name) last 8")
            var sum = 0.0, sumSq = 0.0
            for v in t.scalars { sum += Double(v); sumSq += Double(v) * Double(v) }
            let goldSum = try XCTUnwrap(e["sum_f64"] as? Double), goldSq = try XCTUnwrap(e["sum_sq_f64"] as? Double)
            // Summation order differs from numpy's pairwise sum: allow 1e-9 of the sum of |x| scale.
            XCTAssertEqual(sum, goldSum, accuracy: 1e-9 * max(1, sumSq), "\(name) sum")
            XCTAssertEqual(sumSq, goldSq, accuracy: 1e-9 * goldSq, "\(name) sum of squares")
        }
    }

    /// Every tensor of the default model dequantises to finite values of the advertised element count (the
    /// per-type values are checked above; speed is measured in `make bench`, not here).
    func testDequantize_WholeModelIsFinite() throws {
        guard let modelURL = defaultModelURL else { throw XCTSkip("default model not downloaded") }
        let gguf = try GGUFFile(url: modelURL)
        for info in gguf.tensors {
            let t = try gguf.tensor(info.name)
            XCTAssertEqual(t.count, info.elementCount, info.name)
            XCTAssertTrue(t.scalars.allSatisfy(\.isFinite), "\(info.name) has non-finite values")
        }
    }
}
