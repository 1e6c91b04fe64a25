// GGUF reader and writer tests: a small file built field by field from the specification (every
// metadata type, nested and empty arrays, several tensor types), read back and re-written, and the
// real model re-written with replaced tensors.

import EmendCore
import Foundation
import XCTest
@testable import EmendModels

final class GGUFFileTests: XCTestCase {
    /// A file with every metadata value type and four tensors (F32 [2,3], F16 [4], Q4_1 [32,2], Q8_0 [64]).
    static func sampleBuilder() -> GGUFBuilder {
        var g = GGUFBuilder()
        g.add("general.architecture", string: "llama")
        g.kv.append(("k.u8", 0, { $0.u8(200) }))
        g.kv.append(("k.i8", 1, { $0.u8(0xF6) }))
        g.kv.append(("k.u16", 2, { $0.u16(65000) }))
        g.kv.append(("k.i16", 3, { $0.u16(UInt16(bitPattern: -300)) }))
        g.add("k.u32", u32: 4_000_000_000)
        g.kv.append(("k.i32", 5, { $0.u32(UInt32(bitPattern: -70000)) }))
        g.kv.append(("k.f32", 6, { $0.f32(1e-5) }))
        g.kv.append(("k.bool", 7, { $0.u8(1) }))
        g.kv.append(("k.u64", 10, { $0.u64(1 << 40) }))
        g.kv.append(("k.i64", 11, { $0.u64(UInt64(bitPattern: -5)) }))
        g.kv.append(("k.f64", 12, { $0.u64((3.25 as Double).bitPattern) }))
        g.kv.append(("k.strings", 9, { b in b.u32(8); b.u64(3); b.str("a"); b.str("Ġthe"); b.str("") }))
        g.kv.append(("k.ints", 9, { b in b.u32(5); b.u64(2); b.u32(7); b.u32(UInt32(bitPattern: -1)) }))
        g.kv.append(("k.empty", 9, { b in b.u32(6); b.u64(0) }))
        g.kv.append(("k.nested", 9, { b in
            b.u32(9); b.u64(2)
            b.u32(0); b.u64(2); b.u8(1); b.u8(2)
            b.u32(8); b.u64(1); b.str("x")
        }))
        g.add("general.alignment", u32: 64)
        g.alignment = 64
        var f32 = ByteBuilder(); for v: Float in [1, 2, 3, 4, 5, 6] { f32.f32(v) }
        var f16 = ByteBuilder(); for h: UInt16 in [0x3C00, 0x4000, 0xC000, 0x3800] { f16.u16(h) }
        var q41 = ByteBuilder()
        for blk in 0..<2 { q41.u16(HalfBits.half); q41.u16(blk == 0 ? HalfBits.one : HalfBits.minusOne); for j in 0..<16 { q41.u8(UInt8(j) | UInt8(j) << 4) } }
        var q80 = ByteBuilder()
        for _ in 0..<2 { q80.u16(HalfBits.quarter); for i in 0..<32 { q80.u8(UInt8(bitPattern: Int8(i - 16))) } }
        g.tensors = [
            RawTensor(name: "a.f32", dims: [3, 2], type: 0, data: f32.bytes),
            RawTensor(name: "b.f16", dims: [4], type: 1, data: f16.bytes),
            RawTensor(name: "c.q4_1", dims: [32, 2], type: 3, data: q41.bytes),
            RawTensor(name: "d.q8_0", dims: [64], type: 8, data: q80.bytes),
        ]
        return g
    }

    /// Reading the hand-built file gives back every value with its type, keys in order, and tensor
    /// infos whose shapes are the reversed dims (truth: the builder's own fields).
    func testGGUFRead_AllValueTypes() throws {
        let dir = makeTemporaryFolder(self)
        let url = writeBytes(Self.sampleBuilder().build().bytes, "sample.gguf", in: dir)
        let g = try GGUFFile(url: url)
        XCTAssertEqual(g.version, 3)
        XCTAssertEqual(g.alignment, 64)
        XCTAssertEqual(g.metadataKeys.first, "general.architecture")
        XCTAssertEqual(g.metadataKeys.count, 17)
        let m = g.metadata
        XCTAssertEqual(m["k.u8"], .uint8(200))
        XCTAssertEqual(m["k.i8"], .int8(-10))
        XCTAssertEqual(m["k.u16"], .uint16(65000))
        XCTAssertEqual(m["k.i16"], .int16(-300))
        XCTAssertEqual(m["k.u32"], .uint32(4_000_000_000))
        XCTAssertEqual(m["k.i32"], .int32(-70000))
        XCTAssertEqual(m["k.f32"], .float32(1e-5))
        XCTAssertEqual(m["k.bool"], .bool(true))
        XCTAssertEqual(m["k.u64"], .uint64(1 << 40))
        XCTAssertEqual(m["k.i64"], .int64(-5))
        XCTAssertEqual(m["k.f64"], .float64(3.25))
        XCTAssertEqual(m["k.strings"]?.stringArray, ["a", "Ġthe", ""])
        XCTAssertEqual(m["k.ints"]?.intArray, [7, -1])
        XCTAssertEqual(m["k.empty"], .array([]))
        XCTAssertEqual(m["k.nested"], .array([.array([.uint8(1), .uint8(2)]), .array([.string("x")])]))
        XCTAssertEqual(m["k.u32"]?.int, 4_000_000_000)
        XCTAssertEqual(m["k.f32"]?.double, Double(Float(1e-5)))
        XCTAssertEqual(m["general.architecture"]?.string, "llama")
        XCTAssertEqual(g.tensors.map(\.name), ["a.f32", "b.f16", "c.q4_1", "d.q8_0"])
        XCTAssertEqual(g.tensorInfo("c.q4_1")?.shape, [2, 32])
        XCTAssertEqual(g.tensorInfo("c.q4_1")?.byteCount, 40)
        XCTAssertEqual(try g.tensor("a.f32"), Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
        XCTAssertEqual(try g.tensor("b.f16").scalars, [1, 2, -2, 0.5])
        let rowPlus: [Float] = (0..<32).map { (i: Int) -> Float in Float(i % 16) * 0.5 + 1 }
        let rowMinus: [Float] = (0..<32).map { (i: Int) -> Float in Float(i % 16) * 0.5 - 1 }
        XCTAssertEqual(try g.tensor("c.q4_1").scalars, rowPlus + rowMinus)
        XCTAssertNil(g.tensorInfo("missing"))
        XCTAssertThrowsError(try g.tensor("missing")) { e in
            guard case .tensorNotFound = e as? EmendModelsError else { return XCTFail("\(e)") }
        }
    }

    /// Read → write → read is lossless: metadata (values, types, order), infos and raw bytes equal,
    /// and the written file is byte-identical to the hand-built one (same canonical layout).
    func testGGUFWrite_RoundTripSmallFile() throws {
        let dir = makeTemporaryFolder(self)
        let original = Self.sampleBuilder().build().bytes
        let src = try GGUFFile(url: writeBytes(original, "in.gguf", in: dir))
        let outURL = dir.appendingPathComponent("out.gguf")
        try GGUFWriter.write(from: src, to: outURL)
        let back = try GGUFFile(url: outURL)
        XCTAssertEqual(back.metadataKeys, src.metadataKeys)
        XCTAssertEqual(back.metadata, src.metadata)
        XCTAssertEqual(back.tensors, src.tensors)
        for info in src.tensors { XCTAssertEqual(Array(try back.rawBytes(info.name)), Array(try src.rawBytes(info.name)), info.name) }
        XCTAssertEqual(Array(try Data(contentsOf: outURL)), original)
        // No temporary files left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["in.gguf", "out.gguf"])
    }

    /// Replacing tensors: the replaced ones read back as written (F16 rounding checked against Swift's
    /// Float16), the rest keep their bytes, metadata overrides apply in place or append.
    func testGGUFWrite_ReplaceTensorsAndMetadata() throws {
        let dir = makeTemporaryFolder(self)
        let src = try GGUFFile(url: writeBytes(Self.sampleBuilder().build().bytes, "in.gguf", in: dir))
        let newQ = Tensor(shape: [2, 32], generator: { Float($0) * 0.01 - 0.3 })
        let outURL = dir.appendingPathComponent("out.gguf")
        try GGUFWriter.write(from: src, replacing: ["c.q4_1": newQ], as: .f16,
                             metadataOverrides: ["k.u8": .uint8(7), "z.new": .string("added")], to: outURL)
        let back = try GGUFFile(url: outURL)
        XCTAssertEqual(back.tensorInfo("c.q4_1")?.type, .f16)
        XCTAssertEqual(back.tensorInfo("c.q4_1")?.dims, [32, 2])
        XCTAssertEqual(try back.tensor("c.q4_1").scalars, newQ.scalars.map { Float(Float16($0)) })
        for name in ["a.f32", "b.f16", "d.q8_0"] { XCTAssertEqual(Array(try back.rawBytes(name)), Array(try src.rawBytes(name)), name) }
        XCTAssertEqual(back.metadata["k.u8"], .uint8(7))
        XCTAssertEqual(back.metadataKeys.last, "z.new")
        XCTAssertEqual(back.metadataKeys.dropLast(), src.metadataKeys[...])
        XCTAssertTrue(back.tensors.allSatisfy { $0.offset % 64 == 0 })

        // Errors leave the destination untouched.
        XCTAssertThrowsError(try GGUFWriter.write(from: src, replacing: ["a.f32": Tensor.zeros([3, 2])], to: outURL)) { e in
            guard case .replacementShapeMismatch = e as? EmendModelsError else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try GGUFWriter.write(from: src, replacing: ["nope": Tensor.zeros([1])], to: outURL)) { e in
            guard case .tensorNotFound = e as? EmendModelsError else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try GGUFWriter.write(from: src, as: .q2_K, to: outURL)) { e in
            guard case .unsupportedOutputType = e as? EmendModelsError else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try GGUFWriter.write(from: src, to: dir.appendingPathComponent("no/such/dir.gguf"))) { e in
            guard case .writeFailed = e as? EmendModelsError else { return XCTFail("\(e)") }
        }
        XCTAssertEqual(try GGUFFile(url: outURL).tensorInfo("c.q4_1")?.type, .f16)
    }

    /// Version 2 files (same layout as 3) are read.
    func testGGUFRead_Version2() throws {
        var b = Self.sampleBuilder()
        b.version = 2
        let g = try GGUFFile(url: writeBytes(b.build().bytes, "v2.gguf", in: makeTemporaryFolder(self)))
        XCTAssertEqual(g.version, 2)
        XCTAssertEqual(g.tensors.count, 4)
    }

    /// The real model: header facts from the golden README, then a rewrite replacing one F32 and one
    /// Q4_1 tensor; replaced tensors read back, every other tensor's bytes are identical.
    func testGGUFWrite_RealModelReplaceOne() throws {
        guard let modelURL = defaultModelURL else { throw XCTSkip("default model not downloaded") }
        let src = try GGUFFile(url: modelURL)
        XCTAssertEqual(src.version, 3)
        XCTAssertEqual(src.metadata["general.architecture"]?.string, "llama")
        XCTAssertEqual(src.metadata["llama.block_count"]?.int, 30)
        XCTAssertEqual(src.metadata["tokenizer.ggml.tokens"]?.stringArray?.count, 49152)
        XCTAssertEqual(src.tensors.count, 272)
        XCTAssertEqual(src.tensors.filter { $0.type == .q4_1 }.count, 210)
        XCTAssertEqual(src.tensors.filter { $0.type == .f32 }.count, 61)
        XCTAssertEqual(src.tensorInfo("token_embd.weight")?.type, .q8_0)

        let dir = makeTemporaryFolder(self)
        let norm = try src.tensor("blk.0.attn_norm.weight") * 2
        let down = try src.tensor("blk.3.ffn_down.weight") + 0.001
        let outURL = dir.appendingPathComponent("edited.gguf")
        try GGUFWriter.write(from: src, replacing: ["blk.0.attn_norm.weight": norm, "blk.3.ffn_down.weight": down], to: outURL)
        let back = try GGUFFile(url: outURL)
        XCTAssertEqual(back.metadataKeys, src.metadataKeys)
        XCTAssertEqual(back.metadata, src.metadata)
        XCTAssertEqual(try back.tensor("blk.0.attn_norm.weight"), norm)
        XCTAssertEqual(try back.tensor("blk.3.ffn_down.weight"), down)
        XCTAssertEqual(back.tensorInfo("blk.3.ffn_down.weight")?.type, .f32)
        var compared = 0
        for info in src.tensors where info.name != "blk.0.attn_norm.weight" && info.name != "blk.3.ffn_down.weight" {
            let a = try src.rawBytes(info.name), b = try back.rawBytes(info.name)
            XCTAssertEqual(back.tensorInfo(info.name)?.type, info.type, info.name)
            XCTAssertTrue(a.count == b.count && a.elementsEqual(b), info.name)
            compared += 1
        }
        XCTAssertEqual(compared, 270)
    }

    /// Float16/BFloat16 helpers: Float16 agrees with Swift's Float16 on all 65536 bit patterns (NaNs
    /// compared as NaN) in both directions for the software fallback; BF16 rounds ties to even.
    func testHalf_ConversionsAndRounding() {
        for bits in 0...UInt16.max {
            let native = Float(Float16(bitPattern: bits))
            let soft = softHalfToFloat(bits)
            if native.isNaN { XCTAssertTrue(soft.isNaN); continue }
            if soft.bitPattern != native.bitPattern { XCTFail("half \(bits): soft \(soft) vs native \(native)"); return }
            if softFloatToHalf(native) != bits { XCTFail("float \(native) → half: soft \(softFloatToHalf(native)) vs \(bits)"); return }
        }
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<20000 {
            let x = Float(bitPattern: UInt32.random(in: 0x3000_0000...0x4780_0000, using: &rng)) * (Bool.random(using: &rng) ? 1 : -1)
            XCTAssertEqual(softFloatToHalf(x), Float16(x).bitPattern, "\(x)")
        }
        XCTAssertEqual(floatToBFloat16Bits(1 + 0x1p-8), 0x3F80)             // tie → even (down)
        XCTAssertEqual(floatToBFloat16Bits(1 + 0x1p-7 + 0x1p-8), 0x3F82)    // tie → even (up)
        XCTAssertEqual(floatToBFloat16Bits(1 + 0x1p-8 + 0x1p-20), 0x3F81)   // above tie → up
        XCTAssertEqual(floatToBFloat16Bits(-2.5), 0xC020)
        XCTAssertTrue(bfloat16BitsToFloat(floatToBFloat16Bits(.nan)).isNaN)
        XCTAssertEqual(bfloat16BitsToFloat(floatToBFloat16Bits(.infinity)), .infinity)
    }
}
