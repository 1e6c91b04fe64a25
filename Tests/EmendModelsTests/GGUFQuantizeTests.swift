// Quantizers against independent truths: gguf-py's reference quantizers (bit for bit, from the fixtures of
// scripts/make-quant-fixtures.py, gguf 0.19.0), and for the k-quants, which gguf-py cannot quantise, the
// round-trip error through Emend's dequantizer against the bands of llama.cpp's reference quantizers.

import EmendCore
@testable import EmendModels
import Foundation
import XCTest

final class GGUFQuantizeTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/quant")

    struct Manifest: Decodable {
        let gguf: String
        let elementsPerCase: Int
        let cases: [String]
        let types: [String]
    }

    private func floats(_ data: Data) -> [Float] {
        data.withUnsafeBytes { raw in (0..<raw.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) } }
    }

    private func gaussian(_ count: Int, seed: UInt64, std: Float = 1) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in rng.nextNormal() * std }
    }

    /// RMS(dequantize(quantize(x)) − x) / RMS(x).
    private func relativeRMSError(_ x: [Float], _ type: GGMLType, rowLength: Int) throws -> Double {
        let bytes = try type.quantize(x, rowLength: rowLength, tensor: "t")
        let y = try bytes.withUnsafeBytes { try type.dequantize($0, count: x.count) }
        var err = 0.0, ref = 0.0
        for (a, b) in zip(x, y) { err += Double(b - a) * Double(b - a); ref += Double(a) * Double(a) }
        return (err / ref).squareRoot()
    }

    /// Each type's bytes equal gguf-py's for every fixture case (Gaussian, zeros, all-equal, huge, tiny,
    /// negative-only, values landing on .5, …); a mismatch names the case and the first differing byte.
    func testQuantize_MatchesGGUFPyBitForBit() throws {
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("manifest.json")))
        let n = manifest.elementsPerCase
        let inputs = floats(try Data(contentsOf: Self.fixtures.appendingPathComponent("inputs.f32")))
        XCTAssertEqual(inputs.count, n * manifest.cases.count)
        var checked = 0
        for name in manifest.types {
            guard let type = GGMLType.allCases.first(where: { $0.description == name }) else { XCTFail("unknown type \(name)"); continue }
            let expected = [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent("\(name).bin")))
            let got = try type.quantize(inputs, rowLength: n, tensor: "fixture")
            XCTAssertEqual(got.count, expected.count, name)
            let perCase = type.byteCount(elements: n)
            for (c, caseName) in manifest.cases.enumerated() {
                let r = c * perCase..<(c + 1) * perCase
                guard r.upperBound <= got.count, r.upperBound <= expected.count else { break }
                if let i = r.first(where: { got[$0] != expected[$0] }) {
                    XCTFail("\(name) case \(caseName): byte \(i - r.lowerBound) is \(got[i]), gguf-py (\(manifest.gguf)) wrote \(expected[i])")
                } else {
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, manifest.types.count * manifest.cases.count)
    }

    /// Round-trip error of Gaussian weights (64 rows × 4096, seeded), relative to their RMS. Bands: the error
    /// of a uniform quantizer with 2^bits levels over ≈ ±3σ is ≈ 6σ/2^bits/√12, i.e. 0.108 at 4 bits, 0.054
    /// at 5, 0.027 at 6 and 0.0068 at 8; the k-quants' scale search does better than that (measured here:
    /// Q4_K 0.0719, Q5_K 0.0363, Q6_K 0.0178; Q4_0 0.0861, Q4_1 0.0783, Q5_0 0.0429, Q5_1 0.0379, Q8_0 0.0054).
    /// The bands leave ~10 % over those, so a scale-search bug (which costs far more) fails them.
    func testQuantize_RoundTripErrorWithinBands() throws {
        let x = gaussian(64 * 4096, seed: 11, std: 0.02)
        let bands: [(GGMLType, Double)] = [
            (.f32, 0), (.f16, 1e-3), (.bf16, 4e-3), (.q8_0, 0.01),
            (.q4_0, 0.12), (.q4_1, 0.11), (.q5_0, 0.06), (.q5_1, 0.055),
            (.q4_K, 0.08), (.q5_K, 0.04), (.q6_K, 0.02),
        ]
        var measured: [String] = []
        for (type, band) in bands {
            let e = try relativeRMSError(x, type, rowLength: 4096)
            measured.append("\(type) \(String(format: "%.4f", e))")
            XCTAssertLessThanOrEqual(e, band, "\(type): relative RMS error \(e) above its band \(band)")
        }
        print("relative RMS round-trip error, Gaussian:", measured.joined(separator: ", "))
    }

    /// The k-quants on the fixture edge cases: all-zero blocks come back exactly zero; the other finite cases
    /// (but huge, whose F16 super-block scale overflows in ggml too) come back finite and within 2× the band.
    func testKQuants_EdgeCases() throws {
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("manifest.json")))
        let n = manifest.elementsPerCase
        let inputs = floats(try Data(contentsOf: Self.fixtures.appendingPathComponent("inputs.f32")))
        for (type, band) in [(GGMLType.q4_K, 0.16), (.q5_K, 0.08), (.q6_K, 0.04)] {
            for (c, name) in manifest.cases.enumerated() where name != "huge" {
                let x = Array(inputs[c * n..<(c + 1) * n])
                let y = try type.quantize(x, rowLength: n, tensor: name).withUnsafeBytes { try type.dequantize($0, count: n) }
                XCTAssertTrue(y.allSatisfy(\.isFinite), "\(type) \(name): non-finite output")
                if name == "zeros" { XCTAssertEqual(y, x, "\(type) zeros"); continue }
                if name == "tiny" || name == "per-block-scale" { continue }  // below F16's range, in ggml too
                let e = try relativeRMSError(x, type, rowLength: n)
                XCTAssertLessThanOrEqual(e, band, "\(type) \(name): relative RMS error \(e)")
            }
        }
    }

    /// Quantising a large tensor (split over threads) gives the same bytes as quantising it row by row.
    func testQuantize_ParallelEqualsRowByRow() throws {
        let rows = 48, cols = 2048
        let x = gaussian(rows * cols, seed: 5)
        for type in [GGMLType.q8_0, .q4_1, .q4_K, .q6_K] {
            let whole = try type.quantize(x, rowLength: cols, tensor: "w")
            var byRow: [UInt8] = []
            for r in 0..<rows { byRow += try type.quantize(Array(x[r * cols..<(r + 1) * cols]), rowLength: cols, tensor: "w") }
            XCTAssertEqual(whole, byRow, "\(type)")
        }
    }

    /// Bad shapes and types throw a typed error naming the tensor, never trap.
    func testQuantize_BadRowLengthThrows() {
        let cases: [(GGMLType, Int, Int)] = [(.q4_K, 100, 200), (.q4_K, 128, 256), (.q8_0, 32, 48), (.q4_0, 0, 32), (.q6_K, 256, 300)]
        for (type, rowLength, count) in cases {
            XCTAssertThrowsError(try type.quantize([Float](repeating: 1, count: count), rowLength: rowLength, tensor: "blk.0.ffn_up.weight")) { error in
                guard case let EmendModelsError.quantizationRowLength(tensor, t, r, b, c) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(tensor, "blk.0.ffn_up.weight"); XCTAssertEqual(t, type.description)
                XCTAssertEqual(r, rowLength); XCTAssertEqual(b, type.blockSize); XCTAssertEqual(c, count)
                XCTAssertTrue("\(error)".contains("blk.0.ffn_up.weight"))
            }
        }
        XCTAssertThrowsError(try GGMLType.q2_K.quantize([Float](repeating: 0, count: 256), rowLength: 256, tensor: "x")) { error in
            XCTAssertEqual(error as? EmendModelsError, .quantizationUnsupported(tensor: "x", type: "Q2_K"))
        }
        XCTAssertEqual(try GGMLType.q4_K.quantize([], rowLength: 256, tensor: "empty"), [])
    }
}
