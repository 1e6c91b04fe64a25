import XCTest
import EmendModels
@testable import EmendEditing

/// Model families are data: the shapes in Presets/families/ pick the built-in presets. Checked against the models'
/// published shapes (SmolLM2-135M: 30 layers of width 576; Llama-2-7B and Llama-3-8B: 32 × 4096, told apart by the
/// MLP width 11008 vs 14336; GPT-2 XL: 48 × 1600; GPT-J-6B: 28 × 4096), and every built-in preset belongs to a family.
final class ModelFamilyTests: XCTestCase {
    func llama(_ layers: Int, _ hidden: Int, _ ffn: Int) -> ModelConfig {
        .llamaStyle(vocabSize: 32, hiddenSize: hidden, intermediateSize: ffn, layerCount: layers, headCount: 8, kvHeadCount: 8)
    }

    func testRecognisesTheFamiliesByShape() throws {
        XCTAssertEqual(try ModelFamily.recognise(llama(30, 576, 1536))?.name, "smollm2-135m")
        XCTAssertEqual(try ModelFamily.recognise(llama(32, 4096, 14336))?.name, "llama3-8b")
        XCTAssertEqual(try ModelFamily.recognise(llama(32, 4096, 11008))?.name, "llama2-7b")
        XCTAssertEqual(try ModelFamily.recognise(.gpt2Style(vocabSize: 32, hiddenSize: 1600, layerCount: 48, headCount: 25))?.name, "gpt2-xl")
        let gptj = ModelConfig.gptjStyle(vocabSize: 50400, hiddenSize: 4096, layerCount: 28, headCount: 16, rotaryDim: 64)
        XCTAssertEqual(try ModelFamily.recognise(gptj)?.name, "gptj-6b")
        // The preset lookups read the config alone: GPT-J-6B's shape over the weights of a tiny model.
        let shell = TransformerModel(config: gptj, weights: .random(.gptjStyle(vocabSize: 8, hiddenSize: 8, layerCount: 1, headCount: 2,
                                                                                rotaryDim: 2), seed: 1))
        XCTAssertEqual(try EditingSession.defaultPresetName(method: "memit", model: shell), "gptj-6b-memit")
        XCTAssertEqual(try HyperNetworkSettings.defaults(for: shell, method: .malmen).layers, Array(22...27))
        XCTAssertNil(try ModelFamily.recognise(.gptjStyle(vocabSize: 32, hiddenSize: 4096, layerCount: 32, headCount: 16, rotaryDim: 64)))
        XCTAssertNil(try ModelFamily.recognise(llama(4, 64, 128)))
        XCTAssertNil(try ModelFamily.recognise(llama(32, 4096, 8192)))

        let tiny = TransformerModel(config: llama(4, 64, 128), weights: .random(llama(4, 64, 128), seed: 1, std: 0.1))
        XCTAssertThrowsError(try EditingSession.defaultPresetName(method: "encore", model: tiny))
        XCTAssertEqual(try HyperNetworkSettings.defaults(for: tiny, method: .malmen).layers, [0, 1, 2, 3])
    }

    func testEveryBuiltInPresetHasAFamily() throws {
        let families = Set(try ModelFamily.builtIn().map(\.name))
        XCTAssertEqual(families.count, 6)
        XCTAssertTrue(families.contains("gemma3-270m"))
        for name in EditPreset.builtInNames {
            XCTAssertTrue(families.contains { name.hasPrefix($0 + "-") }, "\(name) has no family in Presets/families/")
        }
        let hyper = try FileManager.default.contentsOfDirectory(atPath: HyperNetworkSettings.presetDirectory!.path)
        for file in hyper where file.hasSuffix(".json") { XCTAssertTrue(families.contains(String(file.dropLast(5))), file) }
    }
}
