// Shared assertions for the table-driven op tests: on failure they print the case, the first
// mismatching pairs and the worst tolerance ratio (STYLE rule 17).

import XCTest
@testable import EmendCore
import EmendTestSupport

/// Asserts |got − want| ≤ atol + rtol·|want| elementwise (NaN matches NaN, ±∞ must match exactly).
func assertClose(_ got: [Float], _ want: [Double], atol: Double, rtol: Double, _ label: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    guard got.count == want.count else {
        return XCTFail("\(label): \(got.count) elements, expected \(want.count)", file: file, line: line)
    }
    let ratio = naiveToleranceRatio(got, want, atol: atol, rtol: rtol)
    if ratio <= 1 { return }
    var pairs: [String] = []
    for (g, w) in zip(got, want) where naiveToleranceRatio([g], [w], atol: atol, rtol: rtol) > 1 {
        pairs.append("\(g) vs \(w)")
        if pairs.count == 4 { break }
    }
    XCTFail("\(label): worst |diff|/(atol + rtol·|want|) = \(ratio); first mismatches: \(pairs.joined(separator: "; "))",
            file: file, line: line)
}

/// Asserts same shape and bit-identical elements (NaN matches NaN).
func assertIdentical(_ got: Tensor, _ want: Tensor, _ label: String,
                     file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.shape, want.shape, "\(label): shape", file: file, line: line)
    guard got.shape == want.shape else { return }
    for i in 0..<got.count where !(got.scalars[i] == want.scalars[i] || (got.scalars[i].isNaN && want.scalars[i].isNaN)) {
        return XCTFail("\(label): element \(i) is \(got.scalars[i]), expected \(want.scalars[i])", file: file, line: line)
    }
}

/// The Double view of a Float32 tensor's elements (for comparisons against Double references).
func doubles(_ t: Tensor) -> [Double] { t.scalars.map { Double($0) } }
