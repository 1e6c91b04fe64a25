// The sequential state in a store checkpoint, per edited layer l (key counts in the metadata, "edit_count.<l>"):
//   state.<l>            F64 [F, F]    Kp Kpᵀ, once the state is dense (every checkpoint before factored states)
//   state.<l>.keys.<b>   F64 [F, n_b]  the keys of the b-th batch, b = 0, 1, …, while the state keeps its factor
// A factored state is written as its keys so that the state read back is the one written, bit for bit: its Gram
// (checksums) and the solves it enters are the same as the uninterrupted editor's.
//
// Shapes: F FFN width, n_b keys of batch b.

import EmendCore
import Foundation

extension EditStore {
    /// The checkpoint entries of layer `l`'s state.
    static func stateEntries(_ s: LayerEditState, layer l: Int) -> [(name: String, tensor: StoreTensor)] {
        guard let blocks = s.keyBlocks, !blocks.isEmpty else { return [("state.\(l)", .f64(s.previousKeysGram))] }
        return blocks.enumerated().map { ("state.\(l).keys.\($0.offset)", .f64($0.element)) }
    }

    /// The states of a checkpoint's tensors: a dense Gram or the key blocks per layer, with the metadata's key counts.
    /// - Throws: `corruptTensorFile` for a missing key count or a gap in the key blocks.
    static func states(fromCheckpoint tensors: [String: StoreTensor], metadata: [String: String],
                       file: URL) throws -> [Int: LayerEditState] {
        var grams: [Int: Matrix64] = [:], blocks: [Int: [Int: Matrix64]] = [:]
        for (key, t) in tensors where key.hasPrefix("state.") {
            guard case .f64(let m) = t else { continue }
            let parts = key.dropFirst(6).split(separator: ".", omittingEmptySubsequences: false)
            if parts.count == 1, let l = Int(parts[0]) { grams[l] = m }
            if parts.count == 3, parts[1] == "keys", let l = Int(parts[0]), let b = Int(parts[2]) { blocks[l, default: [:]][b] = m }
        }
        var states: [Int: LayerEditState] = [:]
        for l in Set(grams.keys).union(blocks.keys) {
            guard let count = metadata["edit_count.\(l)"].flatMap(Int.init) else {
                throw EditStoreError.corruptTensorFile(file: file.path, problem: "metadata edit_count.\(l) missing")
            }
            var s: LayerEditState
            if let g = grams[l] {
                s = LayerEditState(width: g.rows)
                s.previousKeysGram = g
            } else {
                let bs = blocks[l] ?? [:]
                guard Set(bs.keys) == Set(0..<bs.count), let f = bs[0]?.rows else {
                    throw EditStoreError.corruptTensorFile(file: file.path, problem: "state.\(l).keys.* are not numbered 0, 1, …")
                }
                s = try LayerEditState(width: f, keyBlocks: (0..<bs.count).compactMap { bs[$0] })
            }
            s.editCount = count
            states[l] = s
        }
        return states
    }
}
