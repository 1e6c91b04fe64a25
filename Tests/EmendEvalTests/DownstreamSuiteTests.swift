import XCTest
import EmendModels
import EmendTestSupport
@testable import EmendEval

/// Prompts and answer parsing of the six probes (the glue_eval harness's strings, spec §6.3), the shot pool /
/// test split, few-shot packing against a context limit, and the likelihood choice on the real model.
final class DownstreamSuiteTests: XCTestCase {
    /// The question strings, character for character as the harness builds them.
    func testPrompts() {
        let s = DownstreamItem(text: "a gripping story ", label: 1)
        XCTAssertEqual(DownstreamTask.sst2.question(s), "Review :a gripping story \nSentiment :")
        XCTAssertEqual(DownstreamTask.sst2.shot(s), "Review : a gripping story \nSentiment : positive\n")
        let pair = DownstreamItem(text: "A.", text2: "B.", label: 0)
        XCTAssertEqual(DownstreamTask.mrpc.question(pair), "Are the sentences paraphrases of each other.\nSentence 1: A.\nSentence 2: B.\nAnswer:")
        XCTAssertEqual(DownstreamTask.mrpc.shot(pair).suffix(4), " No\n")
        XCTAssertEqual(DownstreamTask.cola.question(s), "Is this sentence linguistically acceptable?\nSentence: a gripping story \nAnswer: ")
        XCTAssertEqual(DownstreamTask.cola.shot(s).suffix(13), "\nAnswer: Yes\n")
        XCTAssertEqual(DownstreamTask.rte.question(pair), "A.\nquestion: B. True or False?\nanswer:")
        XCTAssertEqual(DownstreamTask.rte.shot(pair).suffix(6), " True\n")     // label 0 = entailment = True
        XCTAssertEqual(DownstreamTask.nli.question(pair), "A. entails the B. True or False? Answer:")
        let q = DownstreamItem(text: "2+2?", choices: ["1", "4", "3", "5"], label: 1)
        XCTAssertEqual(DownstreamTask.mmlu.question(q), "Question: 2+2?\n(A) 1\n(B) 4\n(C) 3\n(D) 5\nAnswer:")
        XCTAssertEqual(DownstreamTask.mmlu.shot(q).suffix(3), " B\n")
    }

    /// Substring parsing with the harness's precedence; invalid → −1.
    func testParsing() {
        XCTAssertEqual(DownstreamTask.sst2.parse(" positive"), 1)
        XCTAssertEqual(DownstreamTask.sst2.parse(" Negative."), 0)
        XCTAssertEqual(DownstreamTask.sst2.parse(" neutral"), -1)
        XCTAssertEqual(DownstreamTask.sst2.parse(" bad\nSentiment : positive"), 1)   // after the last marker
        XCTAssertEqual(DownstreamTask.mrpc.parse(" Yes, they"), 1)
        XCTAssertEqual(DownstreamTask.cola.parse("It is not"), 0)                    // "no" inside "not", as the harness
        XCTAssertEqual(DownstreamTask.cola.parse("Maybe"), -1)
        XCTAssertEqual(DownstreamTask.rte.parse(" True or False"), 1)                // "false" is looked for first
        XCTAssertEqual(DownstreamTask.rte.parse(" true"), 0)
        XCTAssertEqual(DownstreamTask.nli.parse(" True or False"), 0)                // "true" first
        XCTAssertEqual(DownstreamTask.nli.parse(" false"), 1)
        XCTAssertEqual(DownstreamTask.mmlu.parse(" B\n"), 1)
        XCTAssertEqual(DownstreamTask.mmlu.parse(" (C) 3"), 2)
        XCTAssertEqual(DownstreamTask.mmlu.parse(" d."), 3)
        XCTAssertEqual(DownstreamTask.mmlu.parse(" About"), -1)
        XCTAssertEqual(DownstreamTask.mmlu.parse(" The answer"), -1)
    }

    func items(_ n: Int) -> [DownstreamItem] { (0..<n).map { DownstreamItem(text: "s\($0)", label: $0 % 2) } }

    /// Items 0–9 are the shot pool, tests follow in file order (seed 0); a seed draws other tests, the same for
    /// the same seed; asking for more tests than the file has is refused.
    func testPoolAndTestSplit() throws {
        let s = try DownstreamSuite(items: [.sst2: items(30)], tasks: [.sst2], itemsPerTask: 5)
        XCTAssertEqual(s.pools[.sst2]?.map(\.text), (0..<10).map { "s\($0)" })
        XCTAssertEqual(s.tests[.sst2]?.map(\.text), (10..<15).map { "s\($0)" })
        let a = try DownstreamSuite(items: [.sst2: items(30)], tasks: [.sst2], itemsPerTask: 5, seed: 3)
        let b = try DownstreamSuite(items: [.sst2: items(30)], tasks: [.sst2], itemsPerTask: 5, seed: 3)
        XCTAssertEqual(a.tests, b.tests)
        XCTAssertNotEqual(a.tests[.sst2], s.tests[.sst2])
        XCTAssertTrue(a.tests[.sst2]?.allSatisfy { Int($0.text.dropFirst()).map { $0 >= 10 } ?? false } ?? false)
        XCTAssertThrowsError(try DownstreamSuite(items: [.sst2: items(30)], tasks: [.sst2], itemsPerTask: 21))
        XCTAssertThrowsError(try DownstreamSuite(items: [.sst2: items(30)], tasks: [.sst2], shots: 11))
        XCTAssertThrowsError(try DownstreamSuite(dataRoot: URL(fileURLWithPath: "/nonexistent"), tasks: ["squad"]))
    }

    /// Shots are added in pool order while question + shots + generated tokens fit the limit (counted here in
    /// characters): each SST shot "Review : sK\nSentiment : negative|positive\n" is 35–36 characters.
    func testFewShotPacking() throws {
        let s = try DownstreamSuite(items: [.sst2: items(20)], tasks: [.sst2], itemsPerTask: 2, shots: 4)
        let item = s.tests[.sst2]![0]
        let q = DownstreamTask.sst2.question(item)
        let shots = (0..<4).map { DownstreamTask.sst2.shot(s.pools[.sst2]![$0]) }
        let roomy = s.prompt(.sst2, item, contextLimit: 10_000) { $0.count }
        XCTAssertEqual(roomy, shots.joined() + q)
        // Room for exactly two shots: limit = question + 3 generated + the first two shots.
        let limit = q.count + 3 + shots[0].count + shots[1].count
        XCTAssertEqual(s.prompt(.sst2, item, contextLimit: limit) { $0.count }, shots[0] + shots[1] + q)
        XCTAssertEqual(s.prompt(.sst2, item, contextLimit: limit - 1) { $0.count }, shots[0] + q)
    }

    /// On SmolLM2 (skipped when not installed), two SST-2 and MMLU items: the generation parse is the task's
    /// parse of the generated text, and the likelihood choice is the label word with the lowest mean NLL
    /// computed independently from full logits of prompt + " " + word (Float64 log-softmax).
    func testRealModelPredictions() throws {
        guard TestPaths.exists(TestPaths.defaultModel) else { throw XCTSkip("no \(TestPaths.defaultModel.path)") }
        let data = TestPaths.shared.appendingPathComponent("data")
        guard TestPaths.exists(data.appendingPathComponent("glue_subsets")) else { throw XCTSkip("no shared/data") }
        let loaded = try LoadedModel.load(TestPaths.defaultModel.path)
        let suite = try DownstreamSuite(dataRoot: data, tasks: ["sst2", "mmlu"], itemsPerTask: 2)
        let v = loaded.model.config.vocabSize
        for task in suite.tasks {
            let preds = try suite.predictions(task, loaded)
            XCTAssertEqual(preds.count, 2)
            for (item, p) in zip(suite.tests[task] ?? [], preds) {
                XCTAssertEqual(p.generatedPrediction, task.parse(p.generated))
                let prompt = loaded.tokenizer.encode(task.question(item), parseSpecial: false)
                let nll = task.labelWords.map { w -> Double in
                    let t = loaded.tokenizer.encode(" " + w, parseSpecial: false)
                    let logits = loaded.model.logits([prompt + t])[0]
                    var sum = 0.0
                    for (j, tok) in t.enumerated() {
                        let row = (0..<v).map { Double(logits.scalars[(prompt.count - 1 + j) * v + $0]) }
                        let top = row.max() ?? 0
                        sum -= row[tok] - top - log(row.reduce(0) { $0 + exp($1 - top) })
                    }
                    return sum / Double(t.count)
                }
                for (a, b) in zip(nll, p.labelNLL) { XCTAssertEqual(a, b, accuracy: 2e-3) }
                XCTAssertEqual(p.loglikPrediction, nll.indices.min { nll[$0] < nll[$1] })
            }
        }
    }
}
