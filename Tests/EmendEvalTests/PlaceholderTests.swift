import XCTest
@testable import EmendEval

final class EmendEvalPlaceholderTests: XCTestCase {
    func testModuleLinks() { XCTAssertTrue(true) }
}
