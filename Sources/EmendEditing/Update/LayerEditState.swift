// A layer's sequential state: Kp Kpᵀ, the Gram of every key an earlier batch added at this layer, which each
// update rule adds to its system matrix (UpdateRule.swift).
//
// Shapes: F key width (FFN width), n keys in a batch, m keys so far.
//   Kp [F, m]   (as blocks K_b [F, n_b], one per batch)   Kp Kpᵀ [F, F]
//
// Goals, in order: the same results as a dense Gram, bounded memory, speed. The state keeps the keys themselves
// while m ≤ F/4 and switches to the dense Gram beyond. Why F/4: the factor takes F·m Float64 against F² for the
// Gram (a quarter at the switch: 0.41 GB against 1.6 GB at F = 14,336), and adding it to a system matrix (dsyrk,
// F²·m flops) costs at most F³/4 there, less than the Cholesky factorisation (F³/3) that every solve pays anyway.
// Past F/4 the dense Gram is both smaller and faster.
//
// The Gram is formed from the blocks exactly as the dense state summed it (zeros, then + K_b K_bᵀ per batch, in
// order), so `previousKeysGram`, the store's checksums and the state files are bit for bit what they were.

import EmendCore

/// What a layer remembers between batches: Kp Kpᵀ, kept as its factor Kp while that is the smaller.
public struct LayerEditState: Sendable, Equatable {
    /// Kp as the keys of each batch, [F, n_b] each, in the order added; or the dense Gram [F, F].
    enum Storage: Sendable, Equatable {
        case factor([Matrix64])
        case gram(Matrix64)
    }

    private(set) var storage: Storage
    /// F: the key width.
    public private(set) var width: Int
    /// The number of keys accumulated (m).
    public var editCount: Int

    /// The empty state of a layer with key width `width` (F).
    public init(width: Int) {
        storage = .factor([])
        self.width = max(width, 0)
        editCount = 0
    }

    /// The state of a layer with key width `width` (F) after adding `keyBlocks` ([F, n_b] each) in order: a factored
    /// state read back from a file is the same, bit for bit, as the one written.
    /// - Throws: `shapeMismatch` when a block does not have F rows.
    public init(width: Int, keyBlocks: [Matrix64]) throws {
        self.init(width: width)
        for k in keyBlocks { try add(keys: k) }
    }

    /// The keys of each batch ([F, n_b] each, in the order added) while the state is factored; nil when dense.
    public var keyBlocks: [Matrix64]? {
        if case .factor(let blocks) = storage { return blocks }
        return nil
    }

    /// The most keys kept as a factor: F/4 (see the file's header).
    public var factorLimit: Int { width / 4 }

    /// Whether Kp Kpᵀ is held as its factor Kp [F, m] (true) or as the dense Gram [F, F].
    public var isFactored: Bool { keyBlocks != nil }

    /// Bytes the state holds: 8·F·m as a factor, 8·F² dense.
    public var byteCount: Int {
        switch storage {
        case .factor(let blocks): return blocks.reduce(0) { $0 + 8 * $1.scalars.count }
        case .gram(let g): return 8 * g.scalars.count
        }
    }

    /// Kp Kpᵀ [F, F]. Formed from the factor on each read (an F×F buffer: for files, checksums and AlphaEdit);
    /// setting it makes the state dense.
    public var previousKeysGram: Matrix64 {
        get {
            switch storage {
            case .gram(let g): return g
            case .factor(let blocks): return Self.gram(of: blocks, width: width)
            }
        }
        set {
            storage = .gram(newValue)
            width = newValue.rows
        }
    }

    /// Adds this batch's keys: Kp Kpᵀ += K Kᵀ (K: [F, n]). Appends K to the factor while m stays within
    /// `factorLimit`; past it, forms the dense Gram once and adds to that from then on.
    /// - Throws: `shapeMismatch` when K does not have F rows.
    public mutating func add(keys: Matrix64) throws {
        guard keys.rows == width else {
            throw EmendCoreError.shapeMismatch(operation: "LayerEditState.add", expected: "keys [\(width), n]",
                                               got: "[\(keys.rows), \(keys.cols)]")
        }
        if case .factor(let blocks) = storage {
            if editCount + keys.cols <= factorLimit {
                storage = .factor(blocks + [keys])
                editCount += keys.cols
                return
            }
            storage = .gram(Self.gram(of: blocks, width: width))
        }
        try addDense(keys)
        editCount += keys.cols
    }

    /// Gram += K Kᵀ in the Gram's own buffer (one [F, F] product besides it).
    private mutating func addDense(_ keys: Matrix64) throws {
        guard case .gram(var g) = storage else { return }
        storage = .factor([])                          // g is now the only reference: += does not copy it
        try g += matmul(keys, keys, transposeB: true)
        storage = .gram(g)
    }

    /// Adds Kp Kpᵀ to the lower triangle of `a` [F, F] in place (dsyrk per block from the factor; the whole Gram
    /// when dense). The update rules read only that triangle.
    public func addGram(toLowerOf a: inout Matrix64) throws {
        switch storage {
        case .factor(let blocks): for k in blocks { try lowerGramAccumulate(k, into: &a) }
        case .gram(let g): try a += g
        }
    }

    /// Equal when they hold the same number of keys and the same Kp Kpᵀ, whichever way each is stored.
    public static func == (a: LayerEditState, b: LayerEditState) -> Bool {
        guard a.width == b.width, a.editCount == b.editCount else { return false }
        if a.storage == b.storage { return true }
        return a.previousKeysGram == b.previousKeysGram
    }

    /// Σ_b K_b K_bᵀ [F, F], summed as the dense state did: zeros, then + K_b K_bᵀ in order.
    static func gram(of blocks: [Matrix64], width: Int) -> Matrix64 {
        var g = Matrix64.zeros(width, width)
        // Every block has F rows (`add` checks), so neither product nor sum can throw.
        for k in blocks { if let p = try? matmul(k, k, transposeB: true) { try? g += p } }
        return g
    }
}
