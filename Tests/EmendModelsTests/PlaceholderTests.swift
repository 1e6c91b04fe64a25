import XCTest
@testable import EmendModels

final class EmendModelsPlaceholderTests: XCTestCase {
    func testModuleLinks() { XCTAssertTrue(true) }
}
