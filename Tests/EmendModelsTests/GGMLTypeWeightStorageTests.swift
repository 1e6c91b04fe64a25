import EmendCore
import EmendTestSupport
import XCTest
@testable import EmendModels

/// GGUF types as EmendCore's stored weight types: the layouts agree, and `GGMLType.dequantize` (the loader's path)
/// equals the element-by-element reference `naiveDequantize` bit for bit on random blocks of every mapped type.
final class GGMLTypeWeightStorageTests: XCTestCase {
    func testWeightStorage_LayoutsAgree() {
        let mapped = GGMLType.allCases.compactMap { t in t.weightStorage.map { (t, $0) } }
        XCTAssertEqual(Set(mapped.map(\.1)), Set(WeightStorage.allCases), "every storage has a GGUF type")
        for (t, s) in mapped {
            XCTAssertEqual(t.blockSize, s.blockSize, "\(t)")
            XCTAssertEqual(t.bytesPerBlock, s.bytesPerBlock, "\(t)")
            XCTAssertEqual(t.description, s.description)
            XCTAssertEqual(Int32(t.rawValue), s.rawValue, "\(t): the kernels take ggml's type id")
        }
    }

    func testDequantize_MappedTypesMatchNaiveReference() throws {
        var rng = SeededGenerator(seed: 60)
        for t in GGMLType.allCases {
            guard let s = t.weightStorage else { continue }
            let count = 256 * 9
            let bytes = randomBlockBytes(s, blocks: count / s.blockSize, using: &rng)
            let got = try bytes.withUnsafeBytes { try t.dequantize($0, count: count) }
            let want = naiveDequantize(s, bytes, count: count)
            XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "\(t)")
        }
    }
}
