import EmendCore
@testable import EmendModels
import XCTest

/// The default load keeps weight matrices in the file's own type (mapped, never expanded whole). Independent truth:
/// the same file loaded with `dequantize: true`, every matrix expanded to Float32 by the bit-exact dequantisers
/// (GGUFDequantizeTests) and multiplied by BLAS — the path the golden tests (transformers' logits) were proven on.
final class StoredWeightsTests: XCTestCase {
    /// Stored matrices give the Float32 path's logits within 1e-5 (relative to the largest logit): every prompt
    /// position (tiled products, many rows) and one row at a time (the fused kernels generation uses).
    func testDefaultModel_StoredLogitsMatchFloat32Path() throws {
        let stored = try RealModelFixture.model()
        let dense = try TransformerModel.load(stored.source!, dequantize: true)
        for p in 0..<2 {
            let ids = try RealModelFixture.promptIDs(p)
            assertClose(stored.logits([ids])[0], dense.logits([ids])[0], "prompt \(p), all positions")
            assertClose(stored.lastLogits([Array(ids.prefix(3))]), dense.lastLogits([Array(ids.prefix(3))]), "prompt \(p), one row")
        }
    }

    /// Every matrix of the default model stays in its GGUF type, and the weights take at most 0.4× the memory of
    /// the Float32 path (the bound; Q4_1 is 5 bits a weight against 32).
    func testDefaultModel_MatricesStayStoredInAFractionOfTheMemory() throws {
        let stored = try RealModelFixture.model()
        let file = try GGUFFile(url: stored.source!.url)
        let dense = try TransformerModel.load(stored.source!, dequantize: true)
        let family = try ModelFamily.of(stored.config.architecture, file: "default model")
        for s in family.ggufNames.stored where s.roles.allSatisfy(\.isMatrix) {
            for l in 0..<(s.isPerBlock ? stored.config.layerCount : 1) {
                guard let info = file.tensorInfo(s.name(layer: l)), let m = stored.weights.matrix(for: s.roles[0], layer: l) else { continue }
                XCTAssertTrue(m.isStored, "\(info.name) was expanded")
                XCTAssertEqual(m.storage, info.type.weightStorage, info.name)
            }
        }
        let storedBytes = stored.weights.matrixBytes, denseBytes = dense.weights.matrixBytes
        print("weights in memory: stored \(storedBytes) B, Float32 path \(denseBytes) B, ratio \(Double(storedBytes) / Double(denseBytes))")
        XCTAssertLessThanOrEqual(Double(storedBytes), 0.4 * Double(denseBytes))
    }

    /// An edited matrix is materialised in Float32 (W += ΔW); its neighbours stay stored and the edit reads back.
    func testEditingAMatrixMaterialisesOnlyThatMatrix() throws {
        var m = try RealModelFixture.model()
        let w0 = m.weights.blocks[3].ffnDown.dequantized()
        let delta = Tensor.randomNormal(w0.shape, std: 1e-3, using: &rngForTest)
        m.weights.blocks[3].ffnDown += delta
        XCTAssertFalse(m.weights.blocks[3].ffnDown.isStored)
        XCTAssertEqual(m.weights.blocks[3].ffnDown.dequantized().scalars, (w0 + delta).scalars)
        XCTAssertTrue(m.weights.blocks[3].ffnUp.isStored)
        XCTAssertTrue(m.weights.blocks[4].ffnDown.isStored)
    }

    /// Row operations move whole rows of blocks: a slice views the bytes, a reorder copies them, both equal to the
    /// same operation on the dequantised matrix.
    func testRowSliceAndReorderOnBlocksMatchDense() throws {
        let m = try RealModelFixture.model()
        let q = m.weights.blocks[0].attnQ
        XCTAssertTrue(q.isStored)
        let dense = q.dequantized()
        XCTAssertEqual(q.slicedRows(5..<17).dequantized().scalars, dense.sliced(axis: 0, 5..<17).scalars)
        let order = (0..<q.outputs).reversed().map { $0 }
        XCTAssertEqual(q.reorderedRows(order).dequantized().scalars, dense.gatherRows(order).scalars)
        XCTAssertEqual(q.gatherRows([3, 0, 3]).scalars, dense.gatherRows([3, 0, 3]).scalars)
    }

    private var rngForTest = SeededGenerator(seed: 7)

    private func assertClose(_ a: Tensor, _ b: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        let scale = b.scalars.map(abs).max() ?? 1
        let diff = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(diff / scale, 1e-5, "\(what): max |Δ| \(diff) of \(scale)", file: file, line: line)
    }
}
