// The default model (SmolLM2-135M-Instruct, Q4_1 GGUF), loaded once for every test class that needs it;
// tests skip when it is not installed.

import XCTest
import EmendCore
import EmendTestSupport
@testable import EmendModels

enum RealModelFixture {
    nonisolated(unsafe) private static var cached: TransformerModel?

    /// The loaded default model, or XCTSkip when `make setup` has not fetched it.
    static func model() throws -> TransformerModel {
        guard TestPaths.exists(TestPaths.defaultModel) else { throw XCTSkip("default model not installed (run make setup)") }
        if let m = cached { return m }
        let m = try TransformerModel.load(.gguf(TestPaths.defaultModel))
        cached = m
        return m
    }

    /// Token ids of golden prompt `p` ("The mother tongue of Danielle Darrieux is" for p1, 10 tokens).
    static func promptIDs(_ p: Int) throws -> [Int] {
        let url = TestPaths.golden.appendingPathComponent("logits.safetensors")
        guard TestPaths.exists(url) else { throw XCTSkip("shared/golden not found beside the repository") }
        return try SafeTensorsFile(url: url).integers("p\(p).input_ids")
    }
}
