// Regression tests for what the fuzzers found (scripts/fuzz.sh): each input once ended the process with a trap or an
// out-of-memory abort, and must now be a typed error naming the file and the field. Checked against the behaviour
// the hardening issue asks for (a thrown error, nothing allocated from a claimed size).

@testable import EmendEditing
import EmendCore
import EmendModels
import EmendTestSupport
import Foundation
import GRDB
import XCTest

final class FuzzFindingsTests: XCTestCase {
    /// config target: `num_attention_heads: 0` divided the hidden size by zero before the config was validated.
    func testConfigWithZeroHeadsIsAnError() throws {
        let json = #"{"model_type": "llama", "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,"#
            + #" "num_attention_heads": 0, "num_key_value_heads": 3, "vocab_size": 49152}"#
        XCTAssertThrowsError(try ModelConfig(huggingFaceConfigData: Data(json.utf8), file: "config.json")) { error in
            guard case EmendModelsError.invalidConfig(let file, let field, _, let got) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(file, "config.json"); XCTAssertEqual(field, "head count"); XCTAssertEqual(got, "0")
        }
        let gpt2 = #"{"model_type": "gpt2", "n_embd": 64, "n_layer": 2, "n_head": 0, "vocab_size": 300}"#
        XCTAssertThrowsError(try ModelConfig(huggingFaceConfigData: Data(gpt2.utf8), file: "config.json"))
    }

    /// gguf target (same bug through GGUF metadata): `llama.attention.head_count = 0`.
    func testGGUFWithZeroHeadsIsAnError() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("emend-zero-heads-\(getpid()).gguf")
        defer { try? FileManager.default.removeItem(at: url) }
        try GGUFWriter.write(metadata: [
            ("general.architecture", .string("llama")), ("llama.block_count", .uint32(1)), ("llama.embedding_length", .uint32(8)),
            ("llama.feed_forward_length", .uint32(16)), ("llama.attention.head_count", .uint32(0)), ("llama.context_length", .uint32(8)),
            ("llama.vocab_size", .uint32(32)),
        ], tensors: [], to: url)
        XCTAssertThrowsError(try ModelConfig(gguf: GGUFFile(url: url))) { error in
            guard case EmendModelsError.invalidConfig(_, let field, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "head count")
        }
    }

    /// tokenizer target: a vocabulary id of 10^12 reserved 10^12 entries (an abort) before the gap was noticed.
    func testTokenizerWithHugeIdIsAnErrorWithoutAllocating() throws {
        let json = #"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1000000000000}, "merges": []}}"#
        XCTAssertThrowsError(try BPETokenizer(huggingFaceJSON: Data(json.utf8))) { error in
            guard case TokenizerError.vocabularyNotContiguous(_, let missing, let size) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(missing, 1); XCTAssertEqual(size, 1_000_000_000_001)
        }
    }

    /// store-journal target: a value of the wrong type in a journal column trapped in the SQLite row decoder.
    func testJournalWithWrongColumnTypeIsAnError() throws {
        let (dir, store) = try scratchStore("emend-bad-journal")
        defer { try? FileManager.default.removeItem(at: dir) }
        let batch = StoreBatch(method: "encore", hyperParameters: "{}",
                               requests: [StoredRequest(request: EditRequest(prompt: "{} is in", subject: "Paris", targetNew: "Spain"))],
                               weights: [EditStore.weightName(layer: 1, role: .ffnDown): Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])])
        _ = try store.commit(batch, after: try store.snapshot())
        try store.journal.write { db in
            try db.execute(sql: "UPDATE batches SET request_count = 'many', status = 'committed'")
            try db.execute(sql: "UPDATE requests SET position = x'00ff'")
        }
        XCTAssertThrowsError(try store.batches())
        XCTAssertThrowsError(try store.requests())
        XCTAssertNoThrow(try store.head())
    }

    /// store-journal target: a journal whose store_info lacks its unique key (rebuilt by hand, or damaged) and names a
    /// key twice trapped in `Dictionary(uniqueKeysWithValues:)`.
    func testJournalWithDuplicateInfoKeyIsAnError() throws {
        let (dir, store) = try scratchStore("emend-dup-info")
        defer { try? FileManager.default.removeItem(at: dir) }
        try store.journal.write { db in
            try db.execute(sql: "CREATE TABLE info_copy AS SELECT * FROM store_info")
            try db.execute(sql: "DROP TABLE store_info")
            try db.execute(sql: "ALTER TABLE info_copy RENAME TO store_info")
            try db.execute(sql: "INSERT INTO store_info (key, value) VALUES ('checkpoint_every', '3')")
        }
        XCTAssertThrowsError(try store.info()) { error in
            XCTAssertTrue("\(error)".contains("checkpoint_every"), "\(error)")
        }
    }

    /// A new store in a scratch folder, bound to a 64-byte stand-in for a base model.
    private func scratchStore(_ name: String) throws -> (URL, EditStore) {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("\(name)-\(getpid())")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let base = dir.appendingPathComponent("base.bin")
        try Data(repeating: 1, count: 64).write(to: base)
        return (dir, try EditStore.create(at: dir.appendingPathComponent("store"), baseModel: base))
    }
}
