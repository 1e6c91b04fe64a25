import XCTest
import EmendCore
import EmendTestSupport
@testable import EmendModels

/// Export to GGUF (a copy of the source with only the changed tensors re-encoded) and to Hugging Face folders,
/// checked by reading the files back: raw bytes against the source file, weights against the in-memory model.
final class TransformerModelExportTests: XCTestCase {
    /// The real model with small random edits to ffn_down of block 5 and attn_q of block 2 (whose rows go back through
    /// llama.cpp's Q permutation at export).
    private func modelWithTwoEdits(seed: UInt64) throws -> TransformerModel {
        var m = try RealModelFixture.model()
        var rng = SeededGenerator(seed: seed)
        m.weights.blocks[5].ffnDown += Tensor.randomNormal(m.weights.blocks[5].ffnDown.shape, std: 1e-3, using: &rng)
        m.weights.blocks[2].attnQ += Tensor.randomNormal(m.weights.blocks[2].attnQ.shape, std: 1e-3, using: &rng)
        return m
    }

    // MARK: - GGUF (real model)

    /// Edits ffn_down of block 5 and attn_q of block 2 (Q rows go back through llama.cpp's permutation), exports
    /// GGUF F32: exactly those two tensors are replaced (F32, values equal bit for bit after reload); every
    /// other tensor's raw bytes, type and dims, and all metadata, equal the source file's; the reloaded model's
    /// logits equal the in-memory edited model's.
    func testExportGGUF_EditedTensorsReplacedOthersByteIdentical() throws {
        let m = try modelWithTwoEdits(seed: 9)
        let out = makeTemporaryFolder(self).appendingPathComponent("edited.gguf")
        let report = try m.export(to: out, format: .gguf, dtype: .f32)
        let edited: Set = ["blk.5.ffn_down.weight", "blk.2.attn_q.weight"]
        XCTAssertEqual(Set(report.writtenTensors), edited)

        let src = try GGUFFile(url: TestPaths.defaultModel), dst = try GGUFFile(url: out)
        XCTAssertEqual(dst.metadataKeys, src.metadataKeys)
        XCTAssertEqual(dst.metadata, src.metadata)
        XCTAssertEqual(dst.tensors.map(\.name), src.tensors.map(\.name))
        for info in src.tensors {
            let d = try XCTUnwrap(dst.tensorInfo(info.name))
            XCTAssertEqual(d.dims, info.dims, info.name)
            if edited.contains(info.name) {
                XCTAssertEqual(d.type, .f32, info.name)
            } else {
                XCTAssertEqual(d.type, info.type, info.name)
                XCTAssertTrue(dst.rawBytes(d).elementsEqual(src.rawBytes(info)), "\(info.name): raw bytes differ")
            }
        }
        XCTAssertEqual(try dst.tensor("blk.5.ffn_down.weight").scalars, m.weights.blocks[5].ffnDown.dequantized().scalars)

        let back = try TransformerModel.load(.gguf(out))
        XCTAssertEqual(back.weights.blocks[5].ffnDown, m.weights.blocks[5].ffnDown)
        XCTAssertEqual(back.weights.blocks[2].attnQ, m.weights.blocks[2].attnQ)
        let ids = try RealModelFixture.promptIDs(1)
        XCTAssertEqual(back.logits([ids])[0].scalars, m.logits([ids])[0].scalars)
    }

    /// GGUF F16 export: the replaced tensor is stored as F16 and reads back as the edited values rounded to
    /// half precision (the writer's round-to-nearest-even, checked against `halfBitsToFloat(floatToHalfBits)`).
    func testExportGGUF_F16StoresRoundedValues() throws {
        var m = try RealModelFixture.model()
        var rng = SeededGenerator(seed: 10)
        m.weights.blocks[0].ffnDown += Tensor.randomNormal(m.weights.blocks[0].ffnDown.shape, std: 1e-3, using: &rng)
        let out = makeTemporaryFolder(self).appendingPathComponent("edited-f16.gguf")
        let report = try m.export(to: out, format: .gguf, dtype: .f16)
        XCTAssertEqual(report.writtenTensors, ["blk.0.ffn_down.weight"])
        let dst = try GGUFFile(url: out)
        XCTAssertEqual(dst.tensorInfo("blk.0.ffn_down.weight")?.type, .f16)
        let want = m.weights.blocks[0].ffnDown.dequantized().scalars.map { halfBitsToFloat(floatToHalfBits($0)) }
        XCTAssertEqual(try dst.tensor("blk.0.ffn_down.weight").scalars, want)
    }

    /// GGUF as Q8_0 and as Q4_K: the replaced tensor is stored in the requested type, its bytes are exactly
    /// `GGMLType.quantize` of the edited values (so its values are dequantize(quantize(edited)) bit for bit, checked
    /// against `GGMLType.dequantize` of those bytes), and every untouched tensor's bytes equal the source file's.
    func testExportGGUF_QuantizedTypesEqualQuantizerRoundTrip() throws {
        var m = try RealModelFixture.model()
        var rng = SeededGenerator(seed: 11)
        m.weights.blocks[4].ffnDown += Tensor.randomNormal(m.weights.blocks[4].ffnDown.shape, std: 1e-3, using: &rng)
        let name = "blk.4.ffn_down.weight"
        let src = try GGUFFile(url: TestPaths.defaultModel)
        for (dtype, type) in [(ExportDType.q8_0, GGMLType.q8_0), (.q4_K, .q4_K)] {
            let out = makeTemporaryFolder(self).appendingPathComponent("edited-\(dtype.rawValue).gguf")
            let report = try m.export(to: out, format: .gguf, dtype: dtype)
            XCTAssertEqual(report.writtenTensors, [name])
            XCTAssertEqual(report.writtenTypes, [type])
            XCTAssertEqual(report.typeSummary, "1 tensor as \(type)")
            let dst = try GGUFFile(url: out)
            let info = try XCTUnwrap(dst.tensorInfo(name))
            XCTAssertEqual(info.type, type, "\(dtype)")
            let edited = m.weights.blocks[4].ffnDown.dequantized().scalars   // Llama's ffn_down is stored as it is held: [D, F]
            let bytes = try type.quantize(edited, rowLength: info.dims[0], tensor: name)
            XCTAssertTrue(dst.rawBytes(info).elementsEqual(bytes), "\(dtype): bytes differ from quantize(edited)")
            let roundTrip = try bytes.withUnsafeBytes { try type.dequantize($0, count: edited.count) }
            XCTAssertEqual(try dst.tensor(name).scalars.map(\.bitPattern), roundTrip.map(\.bitPattern), "\(dtype)")
            for s in src.tensors where s.name != name {
                let d = try XCTUnwrap(dst.tensorInfo(s.name))
                XCTAssertEqual(d.type, s.type, s.name)
                XCTAssertTrue(dst.rawBytes(d).elementsEqual(src.rawBytes(s)), "\(dtype), \(s.name): raw bytes differ")
            }
        }
    }

    /// `keep`: the replaced tensor goes back in its source type (the default model stores ffn_down as Q4_1, per
    /// `testGGUFWrite_RealModelReplaceOne`'s type census), its bytes exactly Q4_1's quantizer applied to the edit.
    func testExportGGUF_KeepWritesTheSourceType() throws {
        var m = try RealModelFixture.model()
        var rng = SeededGenerator(seed: 12)
        m.weights.blocks[6].ffnDown += Tensor.randomNormal(m.weights.blocks[6].ffnDown.shape, std: 1e-3, using: &rng)
        let name = "blk.6.ffn_down.weight"
        let out = makeTemporaryFolder(self).appendingPathComponent("edited-keep.gguf")
        let report = try m.export(to: out, format: .gguf, dtype: .keep)
        XCTAssertEqual(report.writtenTypes, [.q4_1])
        XCTAssertEqual(report.notes, [])
        let src = try GGUFFile(url: TestPaths.defaultModel), dst = try GGUFFile(url: out)
        XCTAssertEqual(src.tensorInfo(name)?.type, .q4_1)
        let info = try XCTUnwrap(dst.tensorInfo(name))
        XCTAssertEqual(info.type, .q4_1)
        let bytes = try GGMLType.q4_1.quantize(m.weights.blocks[6].ffnDown.dequantized().scalars, rowLength: info.dims[0], tensor: name)
        XCTAssertTrue(dst.rawBytes(info).elementsEqual(bytes))
    }

    /// Rows a type's blocks cannot tile (ffn_up's rows are D = 576, not a multiple of Q4_K's 256) throw
    /// `quantizationRowLength` naming the tensor and type, and nothing is written; safetensors refuses a block type
    /// before it creates the folder.
    func testExportGGUF_UntileableRowsAndSafeTensorsBlockTypeThrowWritingNothing() throws {
        var m = try RealModelFixture.model()
        m.weights.blocks[0].ffnUp = WeightMatrix(m.weights.blocks[0].ffnUp.dequantized() * 1.01)
        let dir = makeTemporaryFolder(self)
        let out = dir.appendingPathComponent("edited-q4k.gguf")
        XCTAssertThrowsError(try m.export(to: out, format: .gguf, dtype: .q4_K)) { e in
            guard case let .quantizationRowLength(tensor, type, rowLength, blockSize, _)? = e as? EmendModelsError else {
                return XCTFail("\(e)")
            }
            XCTAssertEqual([tensor, type], ["blk.0.ffn_up.weight", "Q4_K"])
            XCTAssertEqual([rowLength, blockSize], [576, 256])
        }
        let folder = dir.appendingPathComponent("hf")
        XCTAssertThrowsError(try m.export(to: folder, format: .safetensors, dtype: .q4_K)) { e in
            guard case .unsupportedOutputType(_, "q4_k", ["f32", "f16", "bf16"])? = e as? EmendModelsError else { return XCTFail("\(e)") }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    /// The type a replaced tensor is written in (independent truth: llama.cpp's rules, stated in the doc comment):
    /// `keep` falls back to F32 for a type without a quantizer; a vector stays F32 under a block type.
    func testExportDType_GGUFTypeOfAReplacedTensor() {
        func info(_ type: GGMLType, _ dims: [Int]) -> GGUFTensorInfo {
            GGUFTensorInfo(name: "t", dims: dims, type: type, offset: 0, byteCount: 0)
        }
        XCTAssertEqual(ExportDType.keep.ggufType(source: info(.q4_1, [64, 4])), .q4_1)
        XCTAssertEqual(ExportDType.keep.ggufType(source: info(.q3_K, [256, 4])), .f32)
        XCTAssertEqual(ExportDType.q8_0.ggufType(source: info(.q4_1, [64, 4])), .q8_0)
        XCTAssertEqual(ExportDType.q8_0.ggufType(source: info(.f32, [64])), .f32)
        XCTAssertEqual(ExportDType.f16.ggufType(source: info(.f32, [64])), .f16)
        XCTAssertEqual(ExportDType.default(for: .safetensors), .f32)
        XCTAssertEqual(ExportDType.default(for: .gguf), ExportDType.ggufDefault)
        // auto (the GGUF default): Q5_K where 256-element blocks tile the rows, else Q8_0, else F32; vectors F32.
        XCTAssertEqual(ExportDType.ggufDefault, .auto)
        XCTAssertEqual(ExportDType.auto.ggufType(source: info(.q4_1, [1536, 576])), .q5_K)
        XCTAssertEqual(ExportDType.auto.ggufType(source: info(.q4_1, [576, 576])), .q8_0)
        XCTAssertEqual(ExportDType.auto.ggufType(source: info(.f32, [40, 8])), .f32)
        XCTAssertEqual(ExportDType.auto.ggufType(source: info(.f32, [512])), .f32)
    }

    /// The default export on the default model: the edited ffn_down (rows of 1536) as Q5_K and an edited attn_q (rows
    /// of 576, which 256 does not divide) as Q8_0, each equal bit for bit to Emend's quantizer on the edited values.
    func testExportGGUF_AutoIsQ5KWithQ8_0Fallback() throws {
        let m = try modelWithTwoEdits(seed: 4)
        let out = makeTemporaryFolder(self).appendingPathComponent("edited.gguf")
        let report = try m.export(to: out, format: .gguf)
        XCTAssertEqual(report.typeSummary, "2 tensors as Q8_0 (1), Q5_K (1)")
        let dst = try GGUFFile(url: out)
        let down = m.weights.blocks[5].ffnDown.dequantized()
        XCTAssertEqual(dst.tensorInfo("blk.5.ffn_down.weight")?.type, .q5_K)
        XCTAssertTrue(try dst.rawBytes("blk.5.ffn_down.weight").elementsEqual(GGMLType.q5_K.quantize(down.scalars, rowLength: 1536, tensor: "t")))
        XCTAssertEqual(dst.tensorInfo("blk.2.attn_q.weight")?.type, .q8_0)
    }

    /// A model that did not come from a GGUF cannot be exported as one.
    func testExportGGUF_WithoutGGUFSourceThrows() {
        let m = TransformerModel(config: TransformerModelTests.llama, weights: .random(TransformerModelTests.llama, seed: 1))
        let out = makeTemporaryFolder(self).appendingPathComponent("x.gguf")
        XCTAssertThrowsError(try m.export(to: out, format: .gguf)) { e in
            XCTAssertEqual(e as? EmendModelsError, .exportNeedsGGUFSource(file: out.path, source: "memory"))
        }
    }

    // MARK: - safetensors (random models)

    static let configs: [(String, ModelConfig)] = {
        var gpt2Untied = ModelConfig.gpt2Style(vocabSize: 19, hiddenSize: 12, layerCount: 2, headCount: 3, maxPositions: 32)
        gpt2Untied.tiedEmbeddings = false
        return [
            ("llama (GQA, tied)", ModelConfig.llamaStyle(vocabSize: 23, hiddenSize: 16, intermediateSize: 24, layerCount: 2,
                                                         headCount: 4, kvHeadCount: 2, maxPositions: 64, normEps: 1e-5,
                                                         ropeBase: 100_000, tiedEmbeddings: true)),
            ("qwen2 (q/k/v biases, untied)", ModelConfig.llamaStyle(architecture: "qwen2", vocabSize: 23, hiddenSize: 16,
                                                                    intermediateSize: 24, layerCount: 2, headCount: 4,
                                                                    kvHeadCount: 1, normEps: 1e-6, ropeBase: 1e6,
                                                                    attentionBias: true)),
            ("gpt2 (tied)", ModelConfig.gpt2Style(vocabSize: 19, hiddenSize: 12, layerCount: 2, headCount: 3, maxPositions: 32,
                                                  activation: .geluErf)),
            ("gpt2 (untied)", gpt2Untied),
            ("gptj (parallel, rotary 4 of 6, biased head)", ModelConfig.gptjStyle(vocabSize: 19, hiddenSize: 12, layerCount: 2,
                                                                               headCount: 2, rotaryDim: 4, maxPositions: 32)),
        ]
    }()

    /// Every weight of `a` equals `b`'s (by role and layer, exact), printing the first mismatch.
    func assertSameWeights(_ a: ModelWeights, _ b: ModelWeights, layers: Int, _ label: String) {
        for role in TensorRole.allCases {
            for l in 0..<(role.isPerBlock ? layers : 1) {
                XCTAssertEqual(a.tensor(for: role, layer: l), b.tensor(for: role, layer: l), "\(label): \(role) layer \(l)")
            }
        }
    }

    /// Random models of each family exported as HF folders (one file, then shards with an index) reload with the
    /// same config and bit-identical weights; a re-export over a sharded folder removes the stale shards.
    func testExportSafeTensors_RoundTripsConfigAndWeights() throws {
        for (label, c) in Self.configs {
            let m = TransformerModel(config: c, weights: .random(c, seed: 3, std: 0.3))
            let folder = makeTemporaryFolder(self).appendingPathComponent("out")
            try m.export(to: folder, format: .safetensors, maxShardBytes: 2048)
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent(SafeTensorsFolder.indexFileName).path), label)
            let sharded = try TransformerModel.load(.huggingFace(folder))
            XCTAssertEqual(sharded.config, c, label)
            assertSameWeights(sharded.weights, m.weights, layers: c.layerCount, "\(label), sharded")

            let report = try m.export(to: folder, format: .safetensors)
            XCTAssertEqual(report.files.map(\.lastPathComponent), ["model.safetensors", "config.json"], label)
            let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix(".") }.sorted()
            XCTAssertEqual(names, ["config.json", "model.safetensors"], "\(label): stale shards left behind")
            let single = try TransformerModel.load(.huggingFace(folder))
            XCTAssertEqual(single.config, c, label)
            assertSameWeights(single.weights, m.weights, layers: c.layerCount, "\(label), single file")
        }
    }

    /// GPT-2 export stores HF's layout: `transformer.` names, Conv1D [in, out] weights, fused c_attn [D, 3D]
    /// whose columns are q|k|v, checked element by element against the model's [out, in] matrices.
    func testExportSafeTensors_GPT2UsesConv1DLayout() throws {
        let c = ModelConfig.gpt2Style(vocabSize: 19, hiddenSize: 12, layerCount: 1, headCount: 3, maxPositions: 8)
        let m = TransformerModel(config: c, weights: .random(c, seed: 4))
        let folder = makeTemporaryFolder(self)
        try m.export(to: folder, format: .safetensors)
        let f = try SafeTensorsFile(url: folder.appendingPathComponent("model.safetensors"))
        let qkv = try f.tensor("transformer.h.0.attn.c_attn.weight")
        XCTAssertEqual(qkv.shape, [12, 36])
        let b = m.weights.blocks[0]
        for i in 0..<12 { for o in 0..<12 {
            XCTAssertEqual(qkv.scalars[i * 36 + o], b.attnQ.dequantized().scalars[o * 12 + i])
            XCTAssertEqual(qkv.scalars[i * 36 + 12 + o], b.attnK.dequantized().scalars[o * 12 + i])
            XCTAssertEqual(qkv.scalars[i * 36 + 24 + o], b.attnV.dequantized().scalars[o * 12 + i])
        } }
        XCTAssertEqual(try f.tensor("transformer.h.0.mlp.c_fc.weight").shape, [12, 48])
        XCTAssertNil(f.info("lm_head.weight"), "tied head is not written")
    }

    /// A config the HF format cannot express (a Llama-family model with LayerNorm) is refused, naming the field.
    func testHuggingFaceConfigJSON_UnrepresentableFieldThrows() {
        var c = TransformerModelTests.llama
        c.norm = .layer
        XCTAssertThrowsError(try c.huggingFaceConfigJSON()) { e in
            XCTAssertEqual(e as? EmendModelsError, .configNotRepresentable(file: "config.json", field: "norm", value: "layer",
                                                                           wouldRead: "rms"))
        }
    }
}
