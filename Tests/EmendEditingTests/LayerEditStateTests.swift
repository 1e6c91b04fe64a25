import EmendCore
@testable import EmendEditing
import EmendTestSupport
import XCTest

/// LayerEditState keeps Kp as its keys up to F/4 of them and as the dense Gram beyond: checked against the dense
/// state it replaced (Σ K Kᵀ summed here, in the same order), bit for bit where the files and checksums need it.
final class LayerEditStateTests: XCTestCase {
    let f = 24

    func random(_ rows: Int, _ cols: Int, _ rng: inout SeededGenerator) -> Matrix64 { randomMatrix64(rows, cols, using: &rng) }

    /// Batches of keys and the Gram the dense state held after them: zeros, then + K Kᵀ per batch (the old `add`).
    func batches(_ sizes: [Int], _ rng: inout SeededGenerator) throws -> (keys: [Matrix64], gram: Matrix64) {
        let keys = sizes.map { random(f, $0, &rng) }
        var g = Matrix64.zeros(f, f)
        for k in keys { g = try g + matmul(k, k, transposeB: true) }
        return (keys, g)
    }

    /// The Gram formed from the factor, and after the switch to dense, equals the old dense accumulation bit for bit
    /// (so store checksums and state files are unchanged); the switch happens past F/4 = 6 keys; memory follows.
    func testGram_EqualsDenseAccumulationBitForBit() throws {
        var rng = SeededGenerator(seed: 11)
        for sizes in [[2], [3, 3], [3, 3, 1], [2, 2, 2, 5, 1]] {
            let (keys, gram) = try batches(sizes, &rng)
            var s = LayerEditState(width: f)
            for k in keys { try s.add(keys: k) }
            let m = sizes.reduce(0, +)
            XCTAssertEqual(s.editCount, m)
            XCTAssertEqual(s.isFactored, m <= 6, "\(sizes)")
            XCTAssertEqual(s.byteCount, 8 * f * (s.isFactored ? m : f), "\(sizes)")
            XCTAssertEqual(s.previousKeysGram, gram, "\(sizes): not bit for bit")
        }
    }

    /// Adding the state to a system matrix's lower triangle equals adding the dense Gram (to rounding), factored or
    /// dense; the strictly upper triangle is untouched while factored.
    func testAddGram_LowerTriangleEqualsDenseGram() throws {
        var rng = SeededGenerator(seed: 12)
        for sizes in [[], [2, 3], [4, 4]] {
            let (keys, gram) = try batches(sizes, &rng)
            let s = try LayerEditState(width: f, keyBlocks: keys)
            let base = random(f, f, &rng)
            var a = base
            try s.addGram(toLowerOf: &a)
            for i in 0..<f {
                for j in 0...i { XCTAssertEqual(a[i, j], base[i, j] + gram[i, j], accuracy: 1e-12 * max(1, abs(gram[i, j]))) }
                if s.isFactored { for j in (i + 1)..<max(f, i + 1) { XCTAssertEqual(a[i, j], base[i, j]) } }
            }
        }
    }

    /// Equality means the same keys and Gram, whichever way each state holds it: a factored state equals the dense
    /// state made from its Gram; a different count or Gram is unequal. Wrong key widths throw.
    func testEquality_AcrossRepresentations() throws {
        var rng = SeededGenerator(seed: 13)
        let (keys, gram) = try batches([2, 3], &rng)
        let factored = try LayerEditState(width: f, keyBlocks: keys)
        var dense = LayerEditState(width: 0)
        dense.previousKeysGram = gram
        dense.editCount = 5
        XCTAssertTrue(factored.isFactored)
        XCTAssertFalse(dense.isFactored)
        XCTAssertEqual(factored, dense)
        var other = dense
        other.editCount = 4
        XCTAssertNotEqual(factored, other)
        var moved = factored
        try moved.add(keys: random(f, 1, &rng))
        XCTAssertNotEqual(factored, moved)
        var s = LayerEditState(width: f)
        XCTAssertThrowsError(try s.add(keys: Matrix64.zeros(f + 1, 2)))
    }

    /// A store checkpoint's state entries read back to the same state, bit for bit, factored or dense; a dense
    /// checkpoint in the old layout ("state.<l>" only) still reads.
    func testStoreCheckpointState_RoundTrips() throws {
        var rng = SeededGenerator(seed: 14)
        let (keys, _) = try batches([2, 3], &rng)
        let factored = try LayerEditState(width: f, keyBlocks: keys)
        let dense = try LayerEditState(width: f, keyBlocks: try batches([5, 5], &rng).keys)
        XCTAssertFalse(dense.isFactored)
        let states = [1: factored, 3: dense, 4: LayerEditState(width: f)]
        var tensors: [String: StoreTensor] = [:]
        for (l, s) in states { for e in EditStore.stateEntries(s, layer: l) { tensors[e.name] = e.tensor } }
        XCTAssertEqual(Set(tensors.keys), ["state.1.keys.0", "state.1.keys.1", "state.3", "state.4"])
        let meta = Dictionary(uniqueKeysWithValues: states.map { ("edit_count.\($0.key)", "\($0.value.editCount)") })
        let read = try EditStore.states(fromCheckpoint: tensors, metadata: meta, file: URL(fileURLWithPath: "/cp"))
        XCTAssertEqual(read, states)
        XCTAssertTrue(read[1]!.isFactored)
        XCTAssertEqual(read[1]!.keyBlocks, keys)
        tensors["state.1.keys.5"] = tensors["state.1.keys.1"]
        tensors["state.1.keys.1"] = nil
        XCTAssertThrowsError(try EditStore.states(fromCheckpoint: tensors, metadata: meta, file: URL(fileURLWithPath: "/cp")))
    }
}
