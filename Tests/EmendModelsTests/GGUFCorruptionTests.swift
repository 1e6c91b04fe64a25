// The corrupt-GGUF catalogue (STYLE rule 19): each file is made by the test from a valid one with one
// field broken, and must throw its own EmendModelsError case — never crash, never read out of bounds.

import EmendCore
import Foundation
import XCTest
@testable import EmendModels

final class GGUFCorruptionTests: XCTestCase {
    private var dir: URL!

    override func setUp() { dir = makeTemporaryFolder(self) }

    /// A minimal valid file: one string key and one F32 tensor [8].
    private func base() -> GGUFBuilder {
        var g = GGUFBuilder()
        g.add("general.architecture", string: "llama")
        var d = ByteBuilder(); for i in 0..<8 { d.f32(Float(i)) }
        g.tensors = [RawTensor(name: "w", dims: [8], type: 0, data: d.bytes)]
        return g
    }

    /// Opens `bytes` as a GGUF file and returns the error thrown (failing if none or a foreign one).
    private func openError(_ bytes: [UInt8], _ label: String, file: StaticString = #filePath, line: UInt = #line) -> EmendModelsError? {
        let url = writeBytes(bytes, "\(label).gguf", in: dir)
        do {
            _ = try GGUFFile(url: url)
            XCTFail("\(label): opened without error", file: file, line: line)
        } catch let e as EmendModelsError {
            XCTAssertTrue(e.description.contains(url.path), "\(label): message does not name the file: \(e)", file: file, line: line)
            return e
        } catch {
            XCTFail("\(label): unexpected error type \(error)", file: file, line: line)
        }
        return nil
    }

    private func expect(_ g: GGUFBuilder, _ label: String, file: StaticString = #filePath, line: UInt = #line,
                        _ match: (EmendModelsError) -> Bool) {
        guard let e = openError(g.build().bytes, label, file: file, line: line) else { return }
        XCTAssertTrue(match(e), "\(label): wrong error case: \(e)", file: file, line: line)
    }

    /// The base file itself is valid (truth: it opens and reads back).
    func testGGUFCorruption_BaseIsValid() throws {
        let g = try GGUFFile(url: writeBytes(base().build().bytes, "ok.gguf", in: dir))
        XCTAssertEqual(try g.tensor("w").scalars, (0..<8).map(Float.init))
    }

    /// Truncation at every byte: cuts before the data section say "truncated" (or that the header
    /// counts cannot fit), cuts inside it say the tensor runs past the end.
    func testGGUFCorruption_TruncatedEverywhere() {
        let (bytes, dataStart) = base().build()
        for cut in 0..<bytes.count {
            guard let e = openError(Array(bytes[..<cut]), "cut\(cut)") else { continue }
            switch e {
            case .ggufTruncated, .ggufCountTooLarge: XCTAssertLessThan(cut, dataStart, "cut \(cut): \(e)")
            case .ggufTensorOutOfBounds: XCTAssertGreaterThanOrEqual(cut, dataStart, "cut \(cut): \(e)")
            default: XCTFail("cut \(cut): wrong error case \(e)")
            }
        }
    }

    /// "GGML" instead of "GGUF" (truth: the spec's magic bytes).
    func testGGUFCorruption_WrongMagic() {
        var g = base(); g.magic = Array("GGML".utf8)
        expect(g, "magic") { if case .ggufBadMagic = $0 { return true }; return false }
    }

    /// Versions 0, 1, 99 and a byte-swapped 3 each get their own case (truth: gguf.cpp's distinctions).
    func testGGUFCorruption_Versions() {
        var g = base()
        g.version = 0; expect(g, "v0") { if case .ggufVersionZero = $0 { return true }; return false }
        g.version = 1; expect(g, "v1") { if case .ggufVersionObsolete(_, 1) = $0 { return true }; return false }
        g.version = 99; expect(g, "v99") { if case .ggufVersionTooNew(_, 99, 3) = $0 { return true }; return false }
        g.version = UInt32(3).byteSwapped
        expect(g, "bigendian") { if case .ggufWrongEndianness = $0 { return true }; return false }
    }

    /// A value string and a key string with lengths far beyond the cap.
    func testGGUFCorruption_HugeStringLength() {
        var g = base()
        g.kv.append(("k", 8, { $0.u64(1 << 62) }))
        expect(g, "hugestring") { if case .ggufStringTooLong = $0 { return true }; return false }
        var h = base()
        // Now the *key* length (bytes 24..<32, right after the header counts) is huge.
        h.kv = [(String(repeating: "k", count: 3), 8, { $0.str("v") })]
        var bytes = h.build().bytes
        bytes.replaceSubrange(24..<32, with: withUnsafeBytes(of: UInt64.max.littleEndian, Array.init))
        guard let e = openError(bytes, "hugekey") else { return }
        if case .ggufStringTooLong = e {} else { XCTFail("hugekey: \(e)") }
    }

    /// An array count beyond the cap, and one under the cap but beyond the bytes left.
    func testGGUFCorruption_HugeArrayCount() {
        var g = base()
        g.kv.append(("arr", 9, { b in b.u32(4); b.u64(1 << 40) }))
        expect(g, "hugearray") { if case .ggufArrayTooLong(_, "arr", _, _) = $0 { return true }; return false }
        // Under the cap but more than the bytes left: truncated.
        var h = base()
        h.kv.append(("arr", 9, { b in b.u32(4); b.u64(1 << 20) }))
        expect(h, "longarray") { if case .ggufTruncated = $0 { return true }; return false }
    }

    /// Header key/tensor counts that could not fit in the file.
    func testGGUFCorruption_HugeCounts() {
        var g = base(); g.kvCountOverride = 1 << 50
        expect(g, "kvcount") { if case .ggufCountTooLarge = $0 { return true }; return false }
        g = base(); g.tensorCountOverride = UInt64.max
        expect(g, "tensorcount") { if case .ggufCountTooLarge = $0 { return true }; return false }
    }

    /// A repeated metadata key and a repeated tensor name.
    func testGGUFCorruption_DuplicateKeyAndTensor() {
        var g = base(); g.add("general.architecture", string: "gpt2")
        expect(g, "dupkey") { if case .ggufDuplicateKey(_, "general.architecture") = $0 { return true }; return false }
        g = base(); g.tensors.append(g.tensors[0])
        expect(g, "duptensor") { if case .ggufDuplicateTensor(_, "w") = $0 { return true }; return false }
    }

    /// general.alignment not a power of two, zero, int32-typed, or a NaN float.
    func testGGUFCorruption_BadAlignment() {
        for (label, write, type) in [("align3", { (b: inout ByteBuilder) in b.u32(3) }, UInt32(4)),
                                     ("align0", { (b: inout ByteBuilder) in b.u32(0) }, UInt32(4)),
                                     ("alignI32", { (b: inout ByteBuilder) in b.u32(32) }, UInt32(5)),
                                     ("alignNaN", { (b: inout ByteBuilder) in b.f32(.nan) }, UInt32(6))] {
            var g = base(); g.kv.append(("general.alignment", type, write))
            expect(g, label) { if case .ggufBadAlignment = $0 { return true }; return false }
        }
    }

    /// Offsets past the end, wrapping past 2^64, misaligned, and overlapping another tensor.
    func testGGUFCorruption_TensorOffsets() {
        var g = base(); g.tensors[0].offset = 1024
        expect(g, "pastend") { if case .ggufTensorOutOfBounds(_, "w", 1024, 32, _) = $0 { return true }; return false }
        g = base(); g.tensors[0].offset = UInt64.max - 31
        expect(g, "wraps") { if case .ggufTensorOutOfBounds = $0 { return true }; return false }
        g = base(); g.tensors[0].offset = 4
        expect(g, "misaligned") { if case .ggufTensorMisaligned(_, "w", 4, 32) = $0 { return true }; return false }
        g = base()
        var second = g.tensors[0]; second.name = "w2"; second.offset = 0
        g.tensors.append(second)
        expect(g, "overlap") { if case .ggufTensorsOverlap = $0 { return true }; return false }
    }

    /// Tensor type ids removed from or unknown to ggml, and unknown metadata value types.
    func testGGUFCorruption_UnknownTypes() {
        var g = base(); g.tensors[0].type = 4  // Q4_2, removed from ggml
        expect(g, "type4") { if case .ggufUnknownTensorType(_, "w", 4) = $0 { return true }; return false }
        g.tensors[0].type = 1000
        expect(g, "type1000") { if case .ggufUnknownTensorType(_, "w", 1000) = $0 { return true }; return false }
        g = base(); g.kv.append(("k", 13, { $0.u32(0) }))
        expect(g, "valuetype") { if case .ggufUnknownValueType(_, "k", 13) = $0 { return true }; return false }
        g = base(); g.kv.append(("k", 9, { b in b.u32(77); b.u64(1) }))
        expect(g, "arraytype") { if case .ggufUnknownValueType(_, "k", 77) = $0 { return true }; return false }
    }

    /// Dims whose product or byte size overflows, a negative extent, five dims, and a non-block-multiple ne0.
    func testGGUFCorruption_Dims() {
        var g = base(); g.tensors[0].dims = [1 << 32, 1 << 32]
        expect(g, "overflow") { if case .ggufTensorSizeOverflow(_, "w", _) = $0 { return true }; return false }
        g.tensors[0].dims = [UInt64.max]
        expect(g, "negative") { if case .ggufTensorSizeOverflow = $0 { return true }; return false }
        g.tensors[0].dims = [1 << 40, 1 << 22]  // element count fits, byte size (×4) does not
        expect(g, "bytesoverflow") { if case .ggufTensorSizeOverflow = $0 { return true }; return false }
        g.tensors[0].dims = [1, 1, 1, 1, 8]
        expect(g, "fivedims") { if case .ggufTooManyDims(_, "w", 5) = $0 { return true }; return false }
        g = base(); g.tensors[0].type = 3; g.tensors[0].dims = [20]  // Q4_1 needs multiples of 32
        expect(g, "block") { if case .ggufTensorNotBlockAligned(_, "w", 20, 32) = $0 { return true }; return false }
    }

    /// Arrays nested 20 deep.
    func testGGUFCorruption_NestingTooDeep() {
        var g = base()
        g.kv.append(("deep", 9, { b in for _ in 0..<20 { b.u32(9); b.u64(1) }; b.u32(0); b.u64(0) }))
        expect(g, "deep") { if case .ggufNestingTooDeep(_, "deep", _) = $0 { return true }; return false }
    }

    /// Seeded fuzz: 400 files with 1–4 random bytes overwritten; every one opens or throws an
    /// EmendModelsError, and any tensor that opens dequantises without crashing.
    func testGGUFCorruption_RandomByteFlipsNeverCrash() {
        let (bytes, _) = GGUFFileTests.sampleBuilder().build()
        var rng = SeededGenerator(seed: 2024)
        for i in 0..<400 {
            var b = bytes
            for _ in 0..<Int.random(in: 1...4, using: &rng) { b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            let url = writeBytes(b, "fuzz.gguf", in: dir)
            do {
                let g = try GGUFFile(url: url)
                for t in g.tensors where t.type.isDequantizable { _ = try g.tensor(t.name) }
            } catch is EmendModelsError {
            } catch {
                XCTFail("fuzz \(i): foreign error \(error)")
            }
        }
    }
}
