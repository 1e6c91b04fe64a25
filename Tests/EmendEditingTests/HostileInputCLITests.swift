import EmendModelTestSupport
import EmendTestSupport
import XCTest

/// Issue 16's "Found" list, each item against the real `emend` binary on the tiny GGUF of the store tests: every
/// hostile input ends with a sentence and exit status 1 (runtime) or 64 (usage), never a signal, and a failed
/// command leaves no file behind (each command runs in, and writes to, an empty scratch folder that is checked
/// afterwards). The independent truth is the process's own exit status, output and the file system.
final class HostileInputCLITests: XCTestCase {
    nonisolated(unsafe) static var fixture: URL?

    var dir: URL { Self.fixture! }
    var home: URL { dir.appendingPathComponent("home") }
    var model: String { dir.appendingPathComponent("tiny.gguf").path }
    var preset: String { dir.appendingPathComponent("tiny-preset.json").path }
    var corpus: String { dir.appendingPathComponent("corpus.json").path }
    var requests: String { dir.appendingPathComponent("requests.json").path }

    override func setUpWithError() throws {
        guard TestPaths.exists(EmendProcess.binary) else {
            throw XCTSkip("\(EmendProcess.binary.path) not built (swift build -c release --build-tests builds it)")
        }
        if Self.fixture == nil {
            let d = FileManager.default.temporaryDirectory.appendingPathComponent("emend-hostile-\(UUID().uuidString)")
            try TinyModelFile.writeFixture(in: d, requestCount: 3)
            Self.fixture = d
        }
    }

    override class func tearDown() {
        if let d = fixture { try? FileManager.default.removeItem(at: d) }
        fixture = nil
        super.tearDown()
    }

    // MARK: - Helpers

    func emend(_ args: [String], cwd: URL? = nil, env: [String: String] = [:]) throws -> EmendProcess.Result {
        let r = try EmendProcess.run(args, env: env, home: home, cwd: cwd)
        XCTAssertFalse([4, 5, 6, 11].contains(r.status) && !r.output.contains("Error:"), "a signal? \(args): \(r.output)")
        return r
    }

    /// A fresh empty folder: what is in it after a command is what the command left behind.
    func scratch() throws -> URL {
        let s = dir.appendingPathComponent("scratch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: s, withIntermediateDirectories: true)
        return s
    }

    func contents(_ url: URL) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: url.path))?.sorted() ?? [] }

    /// `emend edit` on the tiny model with its preset and corpus.
    func edit(_ extra: [String]) -> [String] { ["edit", "--model", model, "--preset", preset, "--corpus", corpus] + extra }

    func write(_ text: String, _ name: String, in folder: URL) throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    func request(_ subject: String, _ target: String) -> String {
        #"{"requested_rewrite": {"prompt": "{} is located in", "subject": "\#(subject)", "target_new": {"str": "\#(target)"}, "target_true": {"str": "Nowhere"}}}"#
    }

    func assertStatus(_ r: EmendProcess.Result, _ status: Int32, contains needles: [String], _ line: UInt = #line) {
        XCTAssertEqual(r.status, status, r.output, line: line)
        for n in needles { XCTAssertTrue(r.output.contains(n), "missing '\(n)' in: \(r.output)", line: line) }
        XCTAssertFalse(r.output.contains("NSCocoaErrorDomain"), r.output, line: line)
    }

    // MARK: - Crashes

    /// An empty prompt, an empty probe and a negative --show were traps (SIGILL); now each is a usage error.
    func testCrashes_EmptyPromptEmptyProbeNegativeShow() throws {
        let s = try scratch()
        assertStatus(try emend(["generate", "--model", model, ""], cwd: s), 64, contains: ["the prompt is empty"])
        let long = String(repeating: "word ", count: 400)
        assertStatus(try emend(["generate", "--model", model, long], cwd: s), 1, contains: ["tokens long", "context"])
        assertStatus(try emend(edit(["--requests", requests, "--dry-run", "--probe", ""]), cwd: s), 64, contains: ["--probe 1 is empty"])
        for show in [["--show=-2"], ["--show", "-2"]] {
            assertStatus(try emend(edit(["--requests", requests, "--dry-run"] + show), cwd: s), 64, contains: ["--show must be 0 or more", "got -2"])
        }
        assertStatus(try emend(["store", "rollback", s.path, "-1"], cwd: s), 64, contains: ["negative number"])
        XCTAssertEqual(contents(s), [])
    }

    // MARK: - Work thrown away

    /// The output path is checked before any work; `--out ""` and "no destination at all" are usage errors.
    func testOutput_CheckedBeforeAnyWork() throws {
        let s = try scratch()
        assertStatus(try emend(edit(["--requests", requests, "--out", ""]), cwd: s), 64, contains: ["--out is empty"])
        let missing = try emend(edit(["--requests", requests, "--out", s.appendingPathComponent("no/such/x.gguf").path]), cwd: s)
        assertStatus(missing, 1, contains: ["does not exist", "nothing was edited"])
        XCTAssertFalse(missing.output.contains("batch 1/"), "the edit ran before the path was checked: \(missing.output)")
        assertStatus(try emend(edit(["--requests", requests]), cwd: s), 64, contains: ["--out", "--store", "--dry-run"])
        let full = try emend(edit(["--requests", requests, "--out", s.appendingPathComponent("x.gguf").path]), cwd: s,
                             env: ["EMEND_ASSUME_FREE_BYTES": "1000"])
        assertStatus(full, 1, contains: ["MB free", "nothing was edited"])
        XCTAssertFalse(full.output.contains("batch 1/"), full.output)
        #if os(Linux)
        // A folder nobody can create files in, root included (the tests run as root in CI).
        let unwritable = try emend(edit(["--requests", requests, "--out", "/proc/self/edited.gguf"]), cwd: s)
        assertStatus(unwritable, 1, contains: ["is not writable", "nothing was edited"])
        XCTAssertFalse(unwritable.output.contains("batch 1/"), unwritable.output)
        #endif
        try FileManager.default.createDirectory(at: s.appendingPathComponent("dir.gguf"), withIntermediateDirectories: false)
        assertStatus(try emend(edit(["--requests", requests, "--out", s.appendingPathComponent("dir.gguf").path]), cwd: s), 64,
                     contains: ["is a folder"])
        XCTAssertEqual(contents(s), ["dir.gguf"])
        XCTAssertEqual(contents(s.appendingPathComponent("dir.gguf")), [])
    }

    // MARK: - Wrong success

    /// `[]`, an empty .json and a blank .jsonl are errors, and write nothing.
    func testEmptyRequests_AreErrors() throws {
        let s = try scratch(), inputs = try scratch()
        for (text, name) in [("[]", "a.json"), ("", "b.json"), ("\n \n", "c.jsonl")] {
            let file = try write(text, name, in: inputs)
            assertStatus(try emend(edit(["--requests", file, "--out", s.appendingPathComponent("x.gguf").path]), cwd: s), 1,
                         contains: ["no edit requests", name])
        }
        XCTAssertEqual(contents(s), [])
    }

    // MARK: - Duplicates

    /// Exact repeats are edited once (and progress lines appear, off a terminal); two targets for one subject and
    /// relation are refused under the default policy, and --on-duplicate skip keeps the first.
    func testDuplicates_WithoutStore() throws {
        let s = try scratch(), inputs = try scratch()
        let copies = try write("[" + Array(repeating: request("Landmark 0", "Paris"), count: 20).joined(separator: ",") + "]", "copies.json", in: inputs)
        let once = try emend(edit(["--requests", copies, "--dry-run"]), cwd: s)
        assertStatus(once, 0, contains: ["19 requests repeat an earlier request", "batch 1/1: 1 fact,", "1 fact in",
                                         "search batch 1/1: step 1/6", "requests still searching", "ETA"])
        let conflict = try write(request("Landmark 0", "Paris") + "\n" + request("landmark 0", "Berlin") + "\n", "conflict.jsonl", in: inputs)
        assertStatus(try emend(edit(["--requests", conflict, "--out", s.appendingPathComponent("x.gguf").path]), cwd: s), 1,
                     contains: ["re-edit a subject and relation", "--on-duplicate"])
        assertStatus(try emend(edit(["--requests", conflict, "--dry-run", "--on-duplicate", "skip"]), cwd: s), 0, contains: ["1 left out"])
        XCTAssertEqual(contents(s), [])
    }

    /// With --store: the store's own model is used (no --model), and a file of repeats is reported as repeats.
    func testDuplicates_StoreMessageAndRecordedModel() throws {
        let s = try scratch(), inputs = try scratch()
        let store = s.appendingPathComponent("facts.store").path
        assertStatus(try emend(["store", "init", store, "--model", model]), 0, contains: ["created store"])
        let copies = try write("[" + Array(repeating: request("Landmark 1", "Rome"), count: 5).joined(separator: ",") + "]", "copies.json", in: inputs)
        let r = try emend(["edit", "--store", store, "--preset", preset, "--corpus", corpus, "--requests", copies, "--quiet"])
        assertStatus(r, 0, contains: ["0 of 5 requests already committed", "4 repeat an earlier request", "1 to edit", "1 fact,"])
    }

    // MARK: - Progress

    /// --progress json gives JSON lines with step, active requests, elapsed and ETA; --quiet gives none.
    func testProgress_JSONLinesAndQuiet() throws {
        let s = try scratch()
        let json = try emend(edit(["--requests", requests, "--dry-run", "--progress", "json"]), cwd: s)
        assertStatus(json, 0, contains: [#""event":"search""#])
        let lines = json.output.split(separator: "\n").filter { $0.hasPrefix("{") && $0.contains(#""event":"search""#) }
        XCTAssertFalse(lines.isEmpty)
        let first = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        for key in ["step", "max_steps", "active", "requests", "elapsed_s", "eta_s", "batch", "batches"] {
            XCTAssertNotNil(first[key], "no \(key) in \(lines[0])")
        }
        let quiet = try emend(edit(["--requests", requests, "--dry-run", "--quiet"]), cwd: s)
        assertStatus(quiet, 0, contains: ["batch 1/1: 3 facts"])
        XCTAssertFalse(quiet.output.contains("search batch") || quiet.output.contains(#""event""#), quiet.output)
    }

    // MARK: - Round trips

    /// A safetensors export loads back (tokenizer.json written); `.GGUF` is GGUF; --format safetensors with a
    /// .gguf name is a conflict that writes nothing.
    func testRoundTrips_SafetensorsGGUFCaseAndFormatConflict() throws {
        let s = try scratch()
        let folder = s.appendingPathComponent("edited-hf")
        assertStatus(try emend(edit(["--requests", requests, "--out", folder.path, "--quiet"]), cwd: s), 0, contains: ["wrote"])
        XCTAssertTrue(contents(folder).contains("tokenizer.json"), "\(contents(folder))")
        assertStatus(try emend(["generate", "--model", folder.path, "--max-tokens", "3", "Landmark 0 is located in"], cwd: s), 0,
                     contains: ["Landmark 0 is located in"])
        let upper = s.appendingPathComponent("EDITED.GGUF")
        assertStatus(try emend(edit(["--requests", requests, "--out", upper.path, "--quiet"]), cwd: s), 0, contains: ["wrote"])
        var isDir: ObjCBool = true
        XCTAssertTrue(FileManager.default.fileExists(atPath: upper.path, isDirectory: &isDir) && !isDir.boolValue)
        XCTAssertEqual(try Data(contentsOf: upper).prefix(4), Data("GGUF".utf8))
        // A Hugging Face model cannot be written as GGUF: refused before the edit.
        assertStatus(try emend(["edit", "--model", folder.path, "--preset", preset, "--corpus", corpus, "--requests", requests,
                                "--out", s.appendingPathComponent("back.gguf").path], cwd: s), 64, contains: ["GGUF can only be written from a GGUF model"])
        let store = s.appendingPathComponent("st").path
        assertStatus(try emend(["store", "init", store, "--model", model]), 0, contains: [])
        assertStatus(try emend(["store", "export", store, "--format", "safetensors", "--out", s.appendingPathComponent("y.gguf").path]), 64,
                     contains: ["--format safetensors writes a folder"])
        XCTAssertEqual(contents(s), ["EDITED.GGUF", "edited-hf", "st"])
    }

    // MARK: - Messages

    /// Every subcommand's help has an example; edit's shows a requests file; store export lists --version once;
    /// store show documents a default that can be typed.
    func testMessages_Help() throws {
        let commands = [["generate"], ["edit"], ["eval"], ["train"], ["stats"], ["inspect"], ["env"], ["devices"],
                        ["bench", "sequential"], ["bench", "report"], ["bench", "compare"], ["bench", "export"],
                        ["store", "init"], ["store", "log"], ["store", "show"], ["store", "rollback"], ["store", "export"], ["store", "verify"]]
        for c in commands {
            let r = try emend(c + ["--help"])
            XCTAssertEqual(r.status, 0, "\(c)")
            XCTAssertTrue(r.output.contains("Example"), "no example in \(c) --help")
        }
        let edit = try emend(["edit", "--help"]).output
        XCTAssertTrue(edit.contains(#""requested_rewrite""#) && edit.contains(#""target_new""#), edit)
        let export = try emend(["store", "export", "--help"]).output
        XCTAssertEqual(export.split(separator: "\n").filter { $0.hasPrefix("  --version") }.count, 1, export)
        let show = try emend(["store", "show", "--help"]).output
        XCTAssertTrue(show.contains("default: the head") && !show.contains("-1"), show)
    }

    /// Missing files, folders, malformed JSON (with line and column), an explicit model path, a plain-text and a
    /// small corpus, --method malmen without --editor, and PS/NS without prompts: each a clear sentence.
    func testMessages_Errors() throws {
        let s = try scratch(), inputs = try scratch()
        assertStatus(try emend(edit(["--requests", inputs.appendingPathComponent("none.json").path, "--dry-run"]), cwd: s), 1,
                     contains: ["none.json", "no such file"])
        assertStatus(try emend(edit(["--requests", inputs.path, "--dry-run"]), cwd: s), 1, contains: [inputs.path])
        let bad = try write("[\n  {\"subject\": \"A\",\n   \"prompt\": \"{} x\" \"y\"}\n]\n", "bad.json", in: inputs)
        assertStatus(try emend(edit(["--requests", bad, "--dry-run"]), cwd: s), 1, contains: ["bad.json: line 3, column 21", "malformed JSON"])
        let badL = try write(request("A", "B") + "\n{\"subject\": }\n", "bad.jsonl", in: inputs)
        assertStatus(try emend(edit(["--requests", badL, "--dry-run"]), cwd: s), 1, contains: ["bad.jsonl: line 2, column 13"])
        let missingModel = try emend(["generate", "--model", s.appendingPathComponent("nope.gguf").path, "x"], cwd: s)
        assertStatus(missingModel, 1, contains: ["nope.gguf", "not found"])
        XCTAssertFalse(missingModel.output.contains("make setup"), missingModel.output)
        let small = inputs.appendingPathComponent("small-vocab.gguf")
        try TinyModelFile.write(to: small, embeddingRows: 1000)
        assertStatus(try emend(["generate", "--model", small.path, "x"], cwd: s), 1, contains: ["tokenizer vocabulary", "at most 1000 tokens"])
        assertStatus(try emend(edit(["--requests", requests, "--method", "malmen", "--dry-run"]), cwd: s), 64, contains: ["needs --editor"])
        let text = try write("Paris is a city.\nRome is a city.\nBerlin is a city.\n", "corpus.txt", in: inputs)
        let single = try write(request("Landmark 2", "Oslo"), "one.json", in: inputs)
        let plain = try emend(["edit", "--model", model, "--preset", preset, "--corpus", text, "--requests", single, "--dry-run", "--quiet"], cwd: s)
        assertStatus(plain, 0, contains: ["warning: the corpus", "has 3 document(s)", "batch 1/1: 1 fact,"])
        let eval = try emend(["eval", "--model", model, "--dataset", "counterfact", "--data", requests], cwd: s)
        assertStatus(eval, 0, contains: ["n/a"])
        XCTAssertEqual(contents(s), [])
    }
}
