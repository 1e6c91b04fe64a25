// Row ops: embedding lookup (gather) and the knowledge-editing intervention (add δ into rows).
//
// "Rows" are the entries of the last axis: an activation [B, T, D] has B·T rows of width D,
// numbered row-major (row b·T + t is token t of sequence b).

// MARK: - Forward and backward

extension Variable {
    /// Rows of a table by index (embedding lookup).
    /// - self: [V, D] table; ids: N indices in 0..<V (checked; the caller validates token ids)
    /// - returns [N, D]. Backward: g's rows scatter-added into a zero table (repeats accumulate).
    public func gatherRows(_ ids: [Int]) -> Variable {
        let y = value.gatherRows(ids)
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let tableShape = shape
        return tape.record(y, op: "gatherRows", inputs: [self]) { g in
            var table = Tensor.zeros(tableShape)
            table.scatterAddRows(ids, g)
            return [table]
        }
    }

    /// Adds `delta` into chosen rows: the edit intervention h[rows[i]] += δ.
    /// - self: [..., D] activation, viewed as R rows of width D
    /// - delta: [D] (one vector added at every listed row) or [rows.count, D] (row i gets delta[i])
    /// - rows: indices in 0..<R; a repeated row receives δ once per listing
    /// - returns self's shape. Backward: ∂self = g; ∂δ = Σ_i g[rows[i]] (or g[rows[i]] per row).
    public func addingRows(_ delta: Variable, at rows: [Int]) -> Variable {
        let d = dim(-1), rowCount = count / Swift.max(d, 1)
        let shared = delta.shape == [d]
        precondition(shared || delta.shape == [rows.count, d],
                     "addingRows: delta \(delta.shape) must be [\(d)] or [\(rows.count), \(d)] for \(shape)")
        precondition(rows.allSatisfy { $0 >= 0 && $0 < rowCount }, "addingRows: a row in \(rows) is outside 0..<\(rowCount)")
        var y = value
        y.scalars.withUnsafeMutableBufferPointer { out in delta.value.scalars.withUnsafeBufferPointer { dv in
            for (i, r) in rows.enumerated() {
                let src = shared ? 0 : i * d
                for j in 0..<d { out[r * d + j] += dv[src + j] }
            }
        } }
        guard let tape = Tape.recording(self, delta) else { return Variable(constant: y) }
        let needX = requiresGrad, needDelta = delta.requiresGrad, deltaShape = delta.shape
        return tape.record(y, op: "addingRows", inputs: [self, delta]) { g in
            var dDelta: Tensor? = nil
            if needDelta {
                var acc = [Float](repeating: 0, count: deltaShape.product)
                g.scalars.withUnsafeBufferPointer { gv in
                    for (i, r) in rows.enumerated() {
                        let dst = shared ? 0 : i * d
                        for j in 0..<d { acc[dst + j] += gv[r * d + j] }
                    }
                }
                dDelta = Tensor(shape: deltaShape, scalars: acc)
            }
            return [needX ? g : nil, dDelta]
        }
    }

    /// One entry per row, picked by column: y[i] = self[i, columns[i]] (e.g. the log-probability
    /// of each target token).
    /// - self: [N, C]; columns: N indices in 0..<C → [N]. Backward: g[i] placed at (i, columns[i]).
    public func pickingColumns(_ columns: [Int]) -> Variable {
        let c = dim(-1), n = count / Swift.max(c, 1)
        precondition(rank == 2 && columns.count == n && columns.allSatisfy { $0 >= 0 && $0 < c },
                     "pickingColumns: \(columns.count) columns in 0..<\(c) needed for \(shape)")
        let y = Tensor(shape: [n], scalars: (0..<n).map { value.scalars[$0 * c + columns[$0]] })
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let xShape = shape
        return tape.record(y, op: "pickingColumns", inputs: [self]) { g in
            var dx = Tensor.zeros(xShape)
            for i in 0..<n { dx.scalars[i * c + columns[i]] = g.scalars[i] }
            return [dx]
        }
    }
}
