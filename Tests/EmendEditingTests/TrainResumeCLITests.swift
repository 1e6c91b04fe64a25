import EmendCore
@testable import EmendEditing
import EmendModelTestSupport
import EmendModels
import EmendTestSupport
import XCTest

/// `emend train` resumes from its --out folder with the settings it was started with: a flag that now differs is
/// refused with the flag and both values named, and the folder is left as it was; the same flags (with more
/// --steps) resume where the first run stopped. Runs the real binary on the tiny GGUF of the store tests.
final class TrainResumeCLITests: XCTestCase {
    var binary: URL { EmendProcess.binary }

    func run(_ args: [String], home: URL) throws -> EmendProcess.Result { try EmendProcess.run(args, home: home) }

    func testResumeRefusesChangedFlagsAndContinuesWithTheSameOnes() throws {
        guard TestPaths.exists(binary) else { throw XCTSkip("\(binary.path) not built (swift build -c release --build-tests builds it)") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-train-resume-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try TinyModelFile.writeFixture(in: dir, requestCount: 1)
        let cities = ["Paris", "Rome", "Berlin", "Madrid", "Vienna", "Prague"]
        let facts: [[String: Any]] = (0..<12).map { i in
            ["subject": "Landmark \(i)", "src": "Where is Landmark \(i)?", "rephrase": "Landmark \(i) is found in which city?",
             "answers": [cities[i % cities.count]], "alt": cities[(i + 1) % cities.count],
             "loc": "nq question: who painted water lilies", "loc_ans": "Monet"]
        }
        let train = dir.appendingPathComponent("facts.json")
        try JSONSerialization.data(withJSONObject: facts).write(to: train)
        let out = dir.appendingPathComponent("editor").path
        let base = ["train", "--model", dir.appendingPathComponent("tiny.gguf").path, "--method", "malmen", "--train", train.path,
                    "--facts-per-step", "4", "--rank", "4", "--validation-facts", "2", "--validation-interval", "1", "--out", out]
        let home = dir.appendingPathComponent("home")

        let first = try run(base + ["--steps", "1"], home: home)
        XCTAssertEqual(first.status, 0, first.output)
        let editor = URL(fileURLWithPath: out).appendingPathComponent("editor.safetensors")
        let before = try Data(contentsOf: editor)

        var changed = base
        changed[changed.firstIndex(of: "--rank")! + 1] = "8"
        let refused = try run(changed + ["--steps", "2"], home: home)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("--rank 4") && refused.output.contains("asks for 8"), refused.output)
        XCTAssertEqual(try Data(contentsOf: editor), before, "a refused resume must not touch the editor")

        let resumed = try run(base + ["--steps", "2"], home: home)
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resuming") && resumed.output.contains("at step 1"), resumed.output)
    }
}
