import XCTest
@testable import EmendCore
import EmendTestSupport

/// Weight matrices kept as stored blocks (every `WeightStorage`), in the spirit of llama.cpp's test-backend-ops:
/// each case prints its type, shape, rows and kernel. Independent truths: `naiveDequantize` (EmendTestSupport: each
/// element computed alone from the block layout) for the dequantisation, bit for bit; and Float64 loops
/// (`NaiveOps64.matmul`) over that reference-dequantised matrix for both products.
final class WeightMatrixBlocksTests: XCTestCase {
    /// A stored matrix of random blocks with valid (finite) scales, and its reference dequantisation [Out, In].
    private func randomStored(_ s: WeightStorage, outputs: Int, inputs: Int, using rng: inout SeededGenerator) throws
        -> (WeightMatrix, [Float]) {
        let bytes = randomBlockBytes(s, blocks: outputs * inputs / s.blockSize, using: &rng)
        let w = try WeightMatrix(storage: s, bytes: WeightBytes(bytes), outputs: outputs, inputs: inputs)
        return (w, naiveDequantize(s, bytes, count: outputs * inputs))
    }

    private func assertBitEqual(_ got: [Float], _ want: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        let bad = zip(got, want).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
        if let first = bad.first {
            XCTFail("\(what): \(bad.count) of \(want.count) differ; first at \(first.offset): got \(first.element.0), want \(first.element.1)",
                    file: file, line: line)
        }
    }

    /// The C kernels dequantise every type bit-exactly: whole blocks (`dequantizeBlocks`), rows, and column strips
    /// on block bounds.
    func testDequantize_EveryStorageMatchesNaiveBitForBit() throws {
        var rng = SeededGenerator(seed: 90)
        for s in WeightStorage.allCases {
            let (outputs, inputs) = (7, 768)
            let (w, want) = try randomStored(s, outputs: outputs, inputs: inputs, using: &rng)
            assertBitEqual(w.dequantized().scalars, want, "\(s) whole matrix")
            assertBitEqual(w.dequantizedRows(2..<5).scalars, Array(want[(2 * inputs)..<(5 * inputs)]), "\(s) rows 2..<5")
            let blocks = try XCTUnwrap(w.storedBytes)
            let flat = [Float](unsafeUninitializedCapacity: want.count) { p, n in
                dequantizeBlocks(s, blocks.bytes.baseAddress!, blocks: want.count / s.blockSize, into: p.baseAddress!)
                n = want.count
            }
            assertBitEqual(flat, want, "\(s) dequantizeBlocks")
            let (c0, c1) = (s.blockSize == 1 ? 33 : s.blockSize == 32 ? 64 : 256, 512)
            var strip = [Float](repeating: .nan, count: outputs * (c1 - c0))
            strip.withUnsafeMutableBufferPointer { p in
                w.dequantize(s, blocks, rows: 0..<outputs, columns: c0..<c1, into: p.baseAddress!, stride: c1 - c0)
            }
            let wantStrip = (0..<outputs).flatMap { r in want[(r * inputs + c0)..<(r * inputs + c1)] }
            assertBitEqual(strip, wantStrip, "\(s) columns \(c0)..<\(c1)")
        }
    }

    /// The tiled products' fast dequantisation (SIMD unit decoders, `exact: false`) is within an ulp of ggml's values
    /// (q·d + m in one rounding instead of two): whole rows and block-aligned column strips, every type.
    func testFastDequantize_WithinAnUlpOfNaive() throws {
        var rng = SeededGenerator(seed: 91)
        for s in WeightStorage.allCases {
            let (outputs, inputs) = (5, 768)
            let (w, want) = try randomStored(s, outputs: outputs, inputs: inputs, using: &rng)
            let blocks = try XCTUnwrap(w.storedBytes)
            let c0 = s.blockSize == 256 ? 256 : 64
            for columns in [0..<inputs, c0..<512] {
                var got = [Float](repeating: .nan, count: outputs * columns.count)
                got.withUnsafeMutableBufferPointer { p in
                    w.dequantize(s, blocks, rows: 0..<outputs, columns: columns, into: p.baseAddress!, stride: columns.count, exact: false)
                }
                let expected = (0..<outputs).flatMap { r in want[(r * inputs + columns.lowerBound)..<(r * inputs + columns.upperBound)] }
                for (i, (g, e)) in zip(got, expected).enumerated() where abs(g - e) > 2 * e.ulp {
                    XCTFail("\(s) columns \(columns) element \(i): \(g) against \(e)"); break
                }
            }
        }
    }

    /// Both products, every type, every kernel, 1…500 rows: equal to Float64 products on the reference-dequantised
    /// matrix within max |Δ| ≤ 1e-5 · max |y| (Float32 accumulation of ≤ 512 terms stays near 1e-7).
    func testStoredProducts_MatchFloat64OnDequantized() throws {
        var rng = SeededGenerator(seed: 91)
        for s in WeightStorage.allCases {
            for (outputs, inputs) in [(96, 256), (300, 512)] {
                let (w, dense) = try randomStored(s, outputs: outputs, inputs: inputs, using: &rng)
                let w64 = dense.map(Double.init)
                for rows in [1, 7, 64, 500] {
                    let x = Tensor.randomNormal([rows, inputs], using: &rng)
                    let g = Tensor.randomNormal([rows, outputs], using: &rng)
                    let wantY = product64(x, w64, n: outputs, transposeB: true)
                    let wantDx = product64(g, w64, n: inputs, transposeB: false)
                    for kernel in WeightMatrix.BlockKernel.allCases {
                        let case_ = "\(s) W [\(outputs), \(inputs)] rows \(rows) \(kernel)"
                        assertRelativelyClose(w.forward(x, kernel: kernel), wantY, "forward \(case_)")
                        assertRelativelyClose(w.backward(g, kernel: kernel), wantDx, "backward \(case_)")
                    }
                }
            }
        }
    }

    /// Every build of the fused kernels this CPU runs (AVX-512, AVX2 + FMA + F16C, the portable baseline), every
    /// type, 1…9 rows (groups of 4 and the rest), rows of an odd number of 32-element units and F16/BF16 rows that
    /// are not whole units: equal to Float64 products on the reference-dequantised matrix within the bound above.
    func testFusedProducts_EveryKernelBuildMatchesFloat64() throws {
        var rng = SeededGenerator(seed: 94)
        defer { WeightMatrix.capFusedKernelLevel(2) }
        for level in 0...WeightMatrix.fusedKernelLevel {
            XCTAssertEqual(WeightMatrix.capFusedKernelLevel(level), level)
            for s in WeightStorage.allCases {
                let widths = s.blockSize == 256 ? [512] : s.blockSize == 32 ? [288] : [288, 40]
                for inputs in widths {
                    let outputs = 37
                    let (w, dense) = try randomStored(s, outputs: outputs, inputs: inputs, using: &rng)
                    let w64 = dense.map(Double.init)
                    for rows in [1, 2, 3, 4, 9] {
                        let x = Tensor.randomNormal([rows, inputs], using: &rng)
                        let g = Tensor.randomNormal([rows, outputs], using: &rng)
                        let case_ = "\(s) W [\(outputs), \(inputs)] rows \(rows) kernel build \(level)"
                        assertRelativelyClose(w.forward(x, kernel: .fused), product64(x, w64, n: outputs, transposeB: true),
                                              "forward \(case_)")
                        assertRelativelyClose(w.backward(g, kernel: .fused), product64(g, w64, n: inputs, transposeB: false),
                                              "backward \(case_)")
                    }
                }
            }
        }
    }

    /// A W larger than `fusedBackwardRowSplitBytes` (Q8_0 [6001, 2048], 13.1 MB), whose fused backward splits W's rows
    /// over the threads and sums their dx: both products equal Float64 products within the bound above.
    func testFusedProducts_LargeMatrixRowSplit() throws {
        var rng = SeededGenerator(seed: 95)
        let (outputs, inputs) = (6001, 2048)
        let (w, dense) = try randomStored(.q8_0, outputs: outputs, inputs: inputs, using: &rng)
        XCTAssertGreaterThan(w.weightBytes, WeightMatrix.fusedBackwardRowSplitBytes)
        let w64 = dense.map(Double.init)
        for rows in [1, 3] {
            let x = Tensor.randomNormal([rows, inputs], using: &rng), g = Tensor.randomNormal([rows, outputs], using: &rng)
            assertRelativelyClose(w.forward(x), product64(x, w64, n: outputs, transposeB: true), "forward Q8_0 rows \(rows)")
            assertRelativelyClose(w.backward(g), product64(g, w64, n: inputs, transposeB: false), "backward Q8_0 rows \(rows)")
        }
    }

    /// The tiled products' tiles decoded straight into oneDNN's blocked layout ([16, 64] blocks on this project's
    /// CPUs), on shapes that leave partial blocks in both directions (Out 300 and 130: partial 64-column and 16-row
    /// blocks; F16 In 40: partial 16-row blocks of the forward's B), and W [4200, 320], whose forward takes two tiles
    /// of 3,276 rows and whose backward runs by row tiles (its column strips would be 224 wide), summing partial dx,
    /// at 21 rows (plain scratch) and 256 (blocked): equal to Float64 products on the reference-dequantised matrix
    /// within the bound above, and to the plain-scratch path (`tiledPlain`) within the same bound.
    func testTiledProducts_BlockedLayoutMatchesFloat64() throws {
        var rng = SeededGenerator(seed: 96)
        let cases: [(WeightStorage, Int, Int)] = [(.q4_1, 300, 288), (.f16, 300, 40), (.q4_K, 130, 512), (.q6_K, 64, 256),
                                                  (.q8_0, 4200, 320), (.q3_K, 96, 256)]
        for (s, outputs, inputs) in cases {
            let (w, dense) = try randomStored(s, outputs: outputs, inputs: inputs, using: &rng)
            let w64 = dense.map(Double.init)
            for rows in s == .q4_1 ? [256, 300] : outputs == 4200 ? [21, 256] : [256] {
                if MatmulBackend.usesOneDNN && rows >= WeightMatrix.blockedLayoutRows {
                    let tile = min(outputs, max(512, (1 << 20) / inputs))
                    XCTAssertNotNil(WeightMatrix.blockedLayout(m: rows, n: tile, k: inputs, lda: inputs, ldc: tile),
                                    "\(s) [\(outputs), \(inputs)] rows \(rows): oneDNN's layout is one the packers take")
                }
                assertKernelMatchesFloat64AndPlain(.tiled, w, w64, rows: rows, using: &rng)
            }
        }
    }

    /// The split kernels (the forward and a tall W's backward: W's rows over the threads in 16-row blocks, tiles of
    /// `splitTileRows`, partial dx summed; other backwards: column strips of whole blocks), on shapes that leave a
    /// partial 16-row block (Out 300, 130), take several tiles or strips per thread (Q8_0 [4200, 320]: tall, 816-row
    /// tiles; Q4_1 [2100, 576]: 32-column strips), or the 16-row minimum tile (In 32768), at 17
    /// and 84 rows: equal to Float64 products on the reference-dequantised matrix within the bound above, and to the
    /// shared-tile path (`tiledPlain`) within the same bound; `automatic` runs them below `splitRowLimit`.
    func testSplitProducts_MatchFloat64() throws {
        var rng = SeededGenerator(seed: 97)
        let cases: [(WeightStorage, Int, Int)] = [(.q4_1, 300, 288), (.f16, 300, 40), (.q4_K, 130, 512), (.q6_K, 64, 256),
                                                  (.q8_0, 4200, 320), (.q8_0, 40, 32768), (.q4_1, 2100, 576)]
        XCTAssertEqual(WeightMatrix.splitTileRows(inputs: 320), 816)
        XCTAssertEqual(WeightMatrix.splitTileRows(inputs: 32768), 16)
        for (s, outputs, inputs) in cases {
            let (w, dense) = try randomStored(s, outputs: outputs, inputs: inputs, using: &rng)
            let w64 = dense.map(Double.init)
            for rows in [17, 84] {
                assertKernelMatchesFloat64AndPlain(.tiledSplit, w, w64, rows: rows, using: &rng)
                let case_ = "\(s) W [\(outputs), \(inputs)] rows \(rows)"
                XCTAssertEqual(w.splitTakes(rows: rows, backward: false), MatmulBackend.usesOneDNN, case_)
                XCTAssertEqual(w.splitTakes(rows: rows, backward: true),
                               MatmulBackend.usesOneDNN && (outputs < 16 * inputs || rows * inputs <= 1 << 17), case_)
            }
            XCTAssertFalse(w.splitTakes(rows: WeightMatrix.splitRowLimit, backward: false))
        }
    }

    /// forward/backward without a kernel pick the same results; zero rows give empty outputs.
    func testStoredProducts_DefaultKernelAndEmptyInputs() throws {
        var rng = SeededGenerator(seed: 92)
        let (w, _) = try randomStored(.q4_K, outputs: 40, inputs: 256, using: &rng)
        for rows in [0, 3, 20] {
            let x = Tensor.randomNormal([rows, 256], using: &rng), g = Tensor.randomNormal([rows, 40], using: &rng)
            XCTAssertEqual(w.forward(x).shape, [rows, 40])
            XCTAssertEqual(w.backward(g).shape, [rows, 256])
            func picked(_ backward: Bool) -> WeightMatrix.BlockKernel {
                rows <= WeightMatrix.fusedRowLimit ? .fused : w.splitTakes(rows: rows, backward: backward) ? .tiledSplit : .tiled
            }
            XCTAssertEqual(w.forward(x).scalars, w.forward(x, kernel: picked(false)).scalars)
            XCTAssertEqual(w.backward(g).scalars, w.backward(g, kernel: picked(true)).scalars)
        }
        XCTAssertEqual(w.storage, .q4_K)
        XCTAssertNil(w.float32)
        XCTAssertEqual(w.weightBytes, 40 * 144)
    }

    /// A view into memory another object owns (as a slice of a memory-mapped file) gives the same products as a copy.
    func testStoredMatrix_ViewOfOwnedMemory() throws {
        var rng = SeededGenerator(seed: 93)
        let bytes = randomBlockBytes(.q8_0, blocks: 16 * 4, using: &rng)
        final class Owner: @unchecked Sendable { let buffer: UnsafeMutableRawBufferPointer
            init(_ n: Int) { buffer = .allocate(byteCount: n, alignment: 32) }
            deinit { buffer.deallocate() } }
        let owner = Owner(bytes.count + 7)
        bytes.withUnsafeBytes { owner.buffer.baseAddress!.advanced(by: 7).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let view = WeightBytes(viewing: UnsafeRawBufferPointer(rebasing: owner.buffer[7..<(7 + bytes.count)]), owner: owner)
        let a = try WeightMatrix(storage: .q8_0, bytes: view, outputs: 16, inputs: 128)
        let b = try WeightMatrix(storage: .q8_0, bytes: WeightBytes(bytes), outputs: 16, inputs: 128)
        let x = Tensor.randomNormal([5, 128], using: &rng)
        assertBitEqual(a.dequantized().scalars, naiveDequantize(.q8_0, bytes, count: 16 * 128), "Q8_0 view")
        XCTAssertEqual(a.forward(x).scalars, b.forward(x).scalars)
        // F32 bytes at an odd address are copied, not read misaligned.
        let f32 = randomBlockBytes(.f32, blocks: 8 * 8, using: &rng)
        f32.withUnsafeBytes { owner.buffer.baseAddress!.advanced(by: 7).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let odd = try WeightMatrix(storage: .f32, bytes: WeightBytes(viewing: UnsafeRawBufferPointer(rebasing: owner.buffer[7..<(7 + f32.count)]), owner: owner),
                                   outputs: 8, inputs: 8)
        assertBitEqual(odd.dequantized().scalars, naiveDequantize(.f32, f32, count: 64), "F32 at an odd address")
    }

    /// Bytes that cannot be the matrix throw a typed error naming the storage, shape and counts.
    func testStoredMatrix_RejectsBadLayouts() {
        XCTAssertThrowsError(try WeightMatrix(storage: .q4_K, bytes: WeightBytes([UInt8](repeating: 0, count: 143)), outputs: 1, inputs: 256)) {
            guard case let EmendCoreError.weightByteCount(storage, outputs, inputs, expected, got) = $0 else { return XCTFail("\($0)") }
            XCTAssertEqual([storage, "\(outputs)", "\(inputs)", "\(expected)", "\(got)"], ["Q4_K", "1", "256", "144", "143"])
            XCTAssertTrue("\($0)".contains("takes 144 bytes, got 143"), "\($0)")
        }
        XCTAssertThrowsError(try WeightMatrix(storage: .q8_0, bytes: WeightBytes([]), outputs: 0, inputs: 48)) {
            guard case EmendCoreError.weightRowNotWholeBlocks(_, 48, 32) = $0 else { return XCTFail("\($0)") }
        }
    }

    // MARK: - Helpers

    /// a [m, k] · B in Float64 loops, B [n, k] used transposed or B [k, n].
    private func product64(_ a: Tensor, _ b: [Double], n: Int, transposeB: Bool) -> [Double] {
        let (m, k) = (a.shape[0], a.shape[1])
        var out = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for p in 0..<k {
                let x = Double(a.scalars[i * k + p])
                for j in 0..<n { out[i * n + j] += x * (transposeB ? b[j * k + p] : b[p * n + j]) }
            }
        }
        return out
    }

    /// `kernel`'s x·Wᵀ and g·W on random x, g of `rows` rows: equal to Float64 products on `w64` (W dequantised by the
    /// reference) and to the plain-scratch path (`tiledPlain`), within the bound of `assertRelativelyClose`.
    private func assertKernelMatchesFloat64AndPlain(_ kernel: WeightMatrix.BlockKernel, _ w: WeightMatrix, _ w64: [Double],
                                                    rows: Int, using rng: inout SeededGenerator,
                                                    file: StaticString = #filePath, line: UInt = #line) {
        let (outputs, inputs) = (w.outputs, w.inputs)
        let x = Tensor.randomNormal([rows, inputs], using: &rng), g = Tensor.randomNormal([rows, outputs], using: &rng)
        let case_ = "\(w.storage) W [\(outputs), \(inputs)] rows \(rows) kernel \(kernel)"
        let y = w.forward(x, kernel: kernel), dx = w.backward(g, kernel: kernel)
        assertRelativelyClose(y, product64(x, w64, n: outputs, transposeB: true), "forward \(case_)", file: file, line: line)
        assertRelativelyClose(dx, product64(g, w64, n: inputs, transposeB: false), "backward \(case_)", file: file, line: line)
        assertRelativelyClose(y, w.forward(x, kernel: .tiledPlain).scalars.map(Double.init), "forward against plain \(case_)",
                              file: file, line: line)
        assertRelativelyClose(dx, w.backward(g, kernel: .tiledPlain).scalars.map(Double.init), "backward against plain \(case_)",
                              file: file, line: line)
    }

    private func assertRelativelyClose(_ got: Tensor, _ want: [Double], _ what: String,
                                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        var worst = 0.0, scale = 0.0
        for i in want.indices { worst = max(worst, abs(Double(got.scalars[i]) - want[i])); scale = max(scale, abs(want[i])) }
        XCTAssertLessThanOrEqual(worst, 1e-5 * scale, "\(what): max |Δ| \(worst), max |y| \(scale)", file: file, line: line)
    }
}
