// Foundation errors become sentences, and a JSON document's first error gets its line and column (the independent
// truth: positions counted by hand in each case below).

import XCTest
import Foundation
@testable import EmendModels

final class FileErrorTextTests: XCTestCase {
    /// A catalogue of broken documents, each with the line and column where it breaks; valid ones give nil.
    func testJSONErrorLocation_Catalogue() {
        let broken: [(text: String, line: Int, column: Int)] = [
            ("", 1, 1),
            ("[1, 2,,]", 1, 7),
            ("{\"a\": 1\n \"b\": 2}", 2, 2),
            ("[\n  {\"x\": tru}\n]", 2, 12),
            ("{\"a\": \"é\" x}", 1, 11),
            ("[1] [2]", 1, 5),
            ("\"open", 1, 6),
            ("-", 1, 2),
            (String(repeating: "[", count: 600), 1, 513),
        ]
        for b in broken {
            let at = JSONErrorLocation.find(in: Data(b.text.utf8))
            XCTAssertEqual(at.map { [$0.line, $0.column] }, [b.line, b.column], "\(b.text.prefix(20)): \(String(describing: at))")
        }
        for valid in ["[]", "[1,]", "{\"a\": 1,}", "{\"a\": [1, -2.5e3, true, false, null, \"\\\"x\"]}", " 3 "] {
            XCTAssertNil(JSONErrorLocation.find(in: Data(valid.utf8)), valid)
        }
    }

    /// Foundation's file errors are described in words, never as "NSCocoaErrorDomain error N".
    func testFileErrorReason_Words() {
        XCTAssertEqual(fileErrorReason(CocoaError(.fileReadNoSuchFile)), "no such file or directory")
        XCTAssertEqual(fileErrorReason(CocoaError(.fileWriteOutOfSpace)), "no space left on device")
        XCTAssertEqual(fileErrorReason(NSError(domain: NSPOSIXErrorDomain, code: Int(EACCES))), String(cString: strerror(EACCES)))
        do { _ = try Data(contentsOf: URL(fileURLWithPath: "/no/such/file")) } catch {
            XCTAssertFalse(fileErrorReason(error).contains("NSCocoaErrorDomain"), fileErrorReason(error))
        }
        XCTAssertEqual(fileErrorReason(EmendModelsError.ggufVersionZero(file: "f")), EmendModelsError.ggufVersionZero(file: "f").description)
    }
}
