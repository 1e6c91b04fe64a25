import XCTest
@testable import EmendCore

/// `writeAtomically`: the destination holds the old bytes or the new ones, and no temporary file is left behind,
/// also when the rename fails (here: the destination is a non-empty folder, which rename(2) cannot replace).
final class AtomicFileTests: XCTestCase {
    func testReplacesWholeAndCleansUpOnFailure() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-atomic-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("a.json")
        try writeAtomically(Data("old".utf8), to: file)
        try writeAtomically(Data("new bytes".utf8), to: file)
        XCTAssertEqual(try Data(contentsOf: file), Data("new bytes".utf8))

        let blocked = dir.appendingPathComponent("blocked")
        try FileManager.default.createDirectory(at: blocked.appendingPathComponent("inside"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try writeAtomically(Data("x".utf8), to: blocked)) { error in
            XCTAssertTrue("\(error)".contains("blocked"), "the error names the destination: \(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["a.json", "blocked"])
        XCTAssertEqual(try Data(contentsOf: file), Data("new bytes".utf8))
    }
}
