import XCTest
import EmendModels
import EmendTestSupport

/// The Gemma-3-270M file that `emend pull gemma3-270m` (and `make test`'s setup) fetches, read by the GGUF reader.
/// Loading it as a model is the Gemma family's work; this checks the file is the one the golden data describes.
/// The independent truth: shared/golden/gemma3-270m/README.md (transformers' reading of the same file).
final class GemmaFileTests: XCTestCase {
    func testGemmaFile_HeaderMatchesGolden() throws {
        guard TestPaths.exists(TestPaths.gemmaModel) else { throw XCTSkip(TestPaths.gemmaMissing) }
        let f = try GGUFFile(url: TestPaths.gemmaModel)
        XCTAssertEqual(f.metadata["general.architecture"]?.string, "gemma3")
        XCTAssertEqual(f.metadata["gemma3.block_count"]?.int, 18)
        XCTAssertEqual(f.metadata["gemma3.embedding_length"]?.int, 640)
        XCTAssertEqual(f.metadata["gemma3.feed_forward_length"]?.int, 2048)
        XCTAssertEqual(f.metadata["gemma3.attention.sliding_window"]?.int, 512)
        XCTAssertEqual(f.metadata["tokenizer.ggml.tokens"]?.stringArray?.count, 262_144)
        var types: [GGMLType: Int] = [:]
        for t in f.tensors { types[t.type, default: 0] += 1 }
        XCTAssertEqual(types, [.f32: 109, .q5_0: 81, .q4_K: 27, .q8_0: 10, .q6_K: 9])
    }
}
