// safetensors tests: round trips for each dtype, the file layout checked field by field against the
// format definition, a file written by Python's safetensors (golden logits), sharded folders, and the
// corrupt-file catalogue (STYLE rule 19).

import EmendCore
import Foundation
import XCTest
@testable import EmendModels

final class SafeTensorsTests: XCTestCase {
    private var dir: URL!
    override func setUp() { dir = makeTemporaryFolder(self) }

    private func sample() -> [(name: String, tensor: Tensor)] {
        var rng = SeededGenerator(seed: 11)
        return [
            ("layer.0.weight", Tensor.randomNormal([3, 5], using: &rng)),
            ("bias", Tensor.randomNormal([7], std: 100, using: &rng)),
            ("scalar", Tensor(-0.1)),
            ("empty", Tensor.zeros([0, 4])),
            ("weird \"name\"\n", Tensor([1e-8, 65504, 70000, -3])),
        ]
    }

    /// Hand-made file: 8-byte length, JSON, then the data buffer.
    private func file(_ json: String, data: [UInt8], pad: Bool = true) -> [UInt8] {
        var header = Array(json.utf8)
        while pad && header.count % 8 != 0 { header.append(0x20) }
        var b = ByteBuilder(); b.u64(UInt64(header.count)); b.raw(header); b.raw(data)
        return b.bytes
    }

    /// F32 round trip is exact; the layout matches the definition: u64 LE header length, a JSON object
    /// (parsed here independently) whose data_offsets tile the buffer in order, 8-byte aligned data.
    func testSafeTensors_RoundTripF32AndLayout() throws {
        let url = dir.appendingPathComponent("a.safetensors")
        try SafeTensorsWriter.write(sample(), metadata: ["format": "pt", "note": "é"], to: url)
        let f = try SafeTensorsFile(url: url)
        XCTAssertEqual(f.names, sample().map(\.name))
        XCTAssertEqual(f.metadata, ["format": "pt", "note": "é"])
        for (name, t) in sample() {
            XCTAssertEqual(try f.tensor(name), t, name)
            XCTAssertEqual(f.info(name)?.dtype, .f32)
        }
        let bytes = Array(try Data(contentsOf: url))
        let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        XCTAssertEqual((8 + n) % 8, 0)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
        var end = 0
        for (name, t) in sample() {
            let e = try XCTUnwrap(json[name] as? [String: Any])
            XCTAssertEqual(e["dtype"] as? String, "F32")
            XCTAssertEqual(e["shape"] as? [Int], t.shape)
            XCTAssertEqual(e["data_offsets"] as? [Int], [end, end + 4 * t.count])
            end += 4 * t.count
        }
        XCTAssertEqual(bytes.count, 8 + n + end)
    }

    /// The shared header encoder escapes names and metadata as JSON (checked by an independent JSON parser, not by
    /// Emend's reader) and pads so that 8 + header length is a multiple of 8, for every header length mod 8.
    func testSafeTensors_HeaderEncoderEscapesAndPads() throws {
        let odd = "a\"b\\c\nd\té\u{1}"
        for pad in 0..<8 {
            let name = odd + String(repeating: "x", count: pad)
            let bytes = SafeTensorsWriter.encodeHeader([(name, "F64", [2, 3], 48), ("w", "F32", [4], 16)], metadata: ["k\"": "v\n"])
            let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
            XCTAssertEqual(bytes.count, 8 + n)
            XCTAssertEqual(bytes.count % 8, 0)
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes[8...])) as? [String: Any])
            XCTAssertEqual((json[name] as? [String: Any])?["data_offsets"] as? [Int], [0, 48])
            XCTAssertEqual((json["w"] as? [String: Any])?["data_offsets"] as? [Int], [48, 64])
            XCTAssertEqual(json["__metadata__"] as? [String: String], ["k\"": "v\n"])
        }
    }

    /// F16 and BF16: values read back equal Swift's Float16 rounding (F16) and round-to-nearest-even
    /// truncation of the Float32 bits (BF16, computed here with integer arithmetic).
    func testSafeTensors_RoundTripHalfTypes() throws {
        for dtype in [SafeTensorsDType.f16, .bf16] {
            let url = dir.appendingPathComponent("\(dtype.rawValue).safetensors")
            try SafeTensorsWriter.write(sample(), dtype: dtype, to: url)
            let f = try SafeTensorsFile(url: url)
            for (name, t) in sample() {
                XCTAssertEqual(f.info(name)?.dtype, dtype)
                let expected: [Float] = t.scalars.map { x in
                    if dtype == .f16 { return Float(Float16(x)) }
                    let bits = x.bitPattern, low = bits & 0xFFFF, up = bits >> 16
                    let rounded = low > 0x8000 || (low == 0x8000 && up & 1 == 1) ? up + 1 : up
                    return Float(bitPattern: rounded << 16)
                }
                XCTAssertEqual(try f.tensor(name).scalars, expected, "\(dtype) \(name)")
            }
        }
        XCTAssertThrowsError(try SafeTensorsWriter.write(sample(), dtype: .i32, to: dir.appendingPathComponent("x.safetensors"))) { e in
            guard case .unsupportedOutputType = e as? EmendModelsError else { return XCTFail("\(e)") }
        }
    }

    /// A file written by Python safetensors 0.8 (golden logits): int32 ids and float32 tensors with
    /// the shapes its README states.
    func testSafeTensors_ReadsPythonWrittenFile() throws {
        guard let golden = goldenFolder("smollm2-135m-instruct-q4_1") else { throw XCTSkip("golden data absent") }
        let f = try SafeTensorsFile(url: golden.appendingPathComponent("logits.safetensors"))
        XCTAssertEqual(f.info("p0.input_ids")?.dtype, .i32)
        XCTAssertEqual(try f.integers("p0.input_ids").count, 10)
        XCTAssertEqual(f.info("p0.hidden")?.shape, [32, 576])
        XCTAssertEqual(f.info("p0.logits")?.shape, [49152])
        XCTAssertEqual(try f.tensor("p7.token_logprobs").shape, [170])
        XCTAssertTrue(try f.tensor("p0.logits").scalars.allSatisfy { $0.isFinite })
        XCTAssertThrowsError(try f.integers("p0.logits")) { e in
            guard case .tensorWrongDType = e as? EmendModelsError else { return XCTFail("\(e)") }
        }
    }

    /// Sharded writing: shards of at most maxShardBytes plus an index whose weight_map names each
    /// tensor's shard; the folder reads back every tensor; one-shard output has no index.
    func testSafeTensors_ShardedFolderRoundTrip() throws {
        var rng = SeededGenerator(seed: 3)
        let tensors: [(name: String, tensor: Tensor)] = (0..<5).map { ("t\($0)", Tensor.randomNormal([10, 10], using: &rng)) }
        let urls = try SafeTensorsWriter.writeSharded(tensors, maxShardBytes: 900, to: dir)
        XCTAssertEqual(urls.map(\.lastPathComponent), ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                                       "model-00003-of-00003.safetensors", "model.safetensors.index.json"])
        let index = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: urls[3])) as? [String: Any])
        let wm = try XCTUnwrap(index["weight_map"] as? [String: String])
        XCTAssertEqual(wm["t2"], "model-00002-of-00003.safetensors")
        XCTAssertEqual((index["metadata"] as? [String: Any])?["total_size"] as? Int, 2000)
        let folder = try SafeTensorsFolder(url: dir)
        XCTAssertEqual(folder.names, tensors.map(\.name))
        for (name, t) in tensors { XCTAssertEqual(try folder.tensor(name), t) }
        XCTAssertThrowsError(try folder.tensor("nope")) { e in
            guard case .tensorNotFound = e as? EmendModelsError else { return XCTFail("\(e)") }
        }

        let single = makeTemporaryFolder(self)
        XCTAssertEqual(try SafeTensorsWriter.writeSharded(tensors, maxShardBytes: 1 << 20, to: single).map(\.lastPathComponent),
                       ["model.safetensors"])
        XCTAssertEqual(try SafeTensorsFolder(url: single).names, tensors.map(\.name))
        XCTAssertEqual(try SafeTensorsFolder(url: single.appendingPathComponent("model.safetensors")).names.count, 5)
    }

    /// Folder errors: an index naming a tensor its shard lacks, and a name in two shards with no index.
    func testSafeTensors_FolderInconsistencies() throws {
        let a = makeTemporaryFolder(self)
        try SafeTensorsWriter.write([("x", Tensor([1]))], to: a.appendingPathComponent("s1.safetensors"))
        writeBytes(Array(#"{"weight_map": {"x": "s1.safetensors", "y": "s1.safetensors"}}"#.utf8), "model.safetensors.index.json", in: a)
        XCTAssertThrowsError(try SafeTensorsFolder(url: a)) { e in
            guard case .safetensorsShardInconsistent(_, "y", _) = e as? EmendModelsError else { return XCTFail("\(e)") }
        }
        let b = makeTemporaryFolder(self)
        try SafeTensorsWriter.write([("x", Tensor([1]))], to: b.appendingPathComponent("s1.safetensors"))
        try SafeTensorsWriter.write([("x", Tensor([2]))], to: b.appendingPathComponent("s2.safetensors"))
        XCTAssertThrowsError(try SafeTensorsFolder(url: b)) { e in
            guard case .safetensorsShardInconsistent(_, "x", _) = e as? EmendModelsError else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try SafeTensorsWriter.write([("x", Tensor([1])), ("x", Tensor([2]))], to: b.appendingPathComponent("d.safetensors"))) { e in
            guard case .duplicateTensorName = e as? EmendModelsError else { return XCTFail("\(e)") }
        }
    }

    /// The corrupt-file catalogue: each hand-made file throws its own case, naming file and tensor.
    func testSafeTensors_CorruptionCatalogue() {
        let eight = [UInt8](repeating: 0, count: 8)
        let cases: [(String, [UInt8], (EmendModelsError) -> Bool)] = [
            ("short", [1, 2, 3], { if case .safetensorsHeaderTooLarge = $0 { return true }; return false }),
            ("headerpastend", { var b = ByteBuilder(); b.u64(1 << 20); b.raw(Array("{}".utf8)); return b.bytes }(),
             { if case .safetensorsHeaderTooLarge(_, 1 << 20, _) = $0 { return true }; return false }),
            ("headerhuge", { var b = ByteBuilder(); b.u64(UInt64.max); return b.bytes }(),
             { if case .safetensorsHeaderTooLarge = $0 { return true }; return false }),
            ("badjson", file(#"{"a": {"dtype": "F32", "#, data: eight),
             { if case .safetensorsMalformedJSON = $0 { return true }; return false }),
            ("notobject", file("[1, 2]", data: []), { if case .safetensorsMalformedJSON = $0 { return true }; return false }),
            ("noshape", file(#"{"a": {"dtype": "F32", "data_offsets": [0, 8]}}"#, data: eight),
             { if case .safetensorsMalformedJSON = $0 { return true }; return false }),
            ("negshape", file(#"{"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}"#, data: eight),
             { if case .safetensorsMalformedJSON = $0 { return true }; return false }),
            ("badmeta", file(#"{"__metadata__": {"k": 3}}"#, data: []),
             { if case .safetensorsMalformedJSON = $0 { return true }; return false }),
            ("dtype", file(#"{"a": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 8]}}"#, data: eight),
             { if case .safetensorsUnknownDType(_, "a", "Q4") = $0 { return true }; return false }),
            ("pastend", file(#"{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}"#, data: eight),
             { if case .safetensorsOffsetsOutOfRange(_, "a", 0, 16, 8) = $0 { return true }; return false }),
            ("reversed", file(#"{"a": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}}"#, data: eight),
             { if case .safetensorsOffsetsOutOfRange = $0 { return true }; return false }),
            ("size", file(#"{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#, data: eight),
             { if case .safetensorsSizeMismatch(_, "a", "F32", [3], 12, 8) = $0 { return true }; return false }),
            ("overflow", file(#"{"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}}"#, data: eight),
             { if case .safetensorsSizeMismatch = $0 { return true }; return false }),
            ("overlap", file(#"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F16", "shape": [2], "data_offsets": [4, 8]}}"#, data: eight),
             { if case .safetensorsOverlap(_, "a", "b") = $0 { return true }; return false }),
        ]
        for (label, bytes, match) in cases {
            let url = writeBytes(bytes, "\(label).safetensors", in: dir)
            do {
                _ = try SafeTensorsFile(url: url)
                XCTFail("\(label): opened without error")
            } catch let e as EmendModelsError {
                XCTAssertTrue(match(e), "\(label): wrong case \(e)")
                XCTAssertTrue(e.description.contains(url.path), "\(label): \(e)")
            } catch {
                XCTFail("\(label): foreign error \(error)")
            }
        }
        // A file with no padding and an empty header object is valid.
        XCTAssertEqual(try SafeTensorsFile(url: writeBytes(file("{}", data: [], pad: false), "empty.safetensors", in: dir)).names, [])
    }
}
