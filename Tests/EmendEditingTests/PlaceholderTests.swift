import XCTest
@testable import EmendEditing

final class EmendEditingPlaceholderTests: XCTestCase {
    func testModuleLinks() { XCTAssertTrue(true) }
}
