// Reductions: sum and mean over an axis or over everything, and max over an axis.
//
// An axis reduction views x as [outer, n, inner]; its backward spreads g [outer, inner] back
// over the n entries (sum, mean) or routes it to the first maximum (max).

// MARK: - Forward and backward

extension Variable {
    /// The sum over `axis`: [..., n, ...] → [..., ...] (or [..., 1, ...] with keepDims).
    public func sum(axis: Int, keepDims: Bool = false) -> Variable {
        let y = value.sum(axis: axis, keepDims: keepDims)
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let xShape = shape, keptShape = Self.keptShape(shape, axis: value.normalizedAxis(axis))
        return tape.record(y, op: "sum(axis:)", inputs: [self]) { g in
            [g.reshaped(keptShape).broadcasted(to: xShape)]
        }
    }

    /// The mean over `axis`: [..., n, ...] → [..., ...] (or [..., 1, ...] with keepDims).
    public func mean(axis: Int, keepDims: Bool = false) -> Variable {
        let y = value.mean(axis: axis, keepDims: keepDims)
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let xShape = shape, keptShape = Self.keptShape(shape, axis: value.normalizedAxis(axis))
        let scale = 1 / Float(value.dim(axis))
        return tape.record(y, op: "mean(axis:)", inputs: [self]) { g in
            [(g * scale).reshaped(keptShape).broadcasted(to: xShape)]
        }
    }

    /// The sum of all elements: any shape → [] (accumulated in Float64).
    public func sum() -> Variable {
        let y = Tensor(value.sum())
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let xShape = shape
        return tape.record(y, op: "sum()", inputs: [self]) { g in [Tensor(repeating: g.scalar, shape: xShape)] }
    }

    /// The mean of all elements: any shape → [].
    public func mean() -> Variable {
        let y = Tensor(value.mean())
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let xShape = shape, scale = 1 / Float(Swift.max(count, 1))
        return tape.record(y, op: "mean()", inputs: [self]) { g in
            [Tensor(repeating: g.scalar * scale, shape: xShape)]
        }
    }

    /// The maximum over `axis`. Gradient goes to the first maximal entry (as `argmaxLast` picks).
    public func max(axis: Int, keepDims: Bool = false) -> Variable {
        let y = value.max(axis: axis, keepDims: keepDims)
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let (outer, n, inner) = value.reductionExtents(axis)
        precondition(n > 0, "max(axis:): axis \(axis) of \(shape) is empty")
        let xShape = shape
        // argmax[o * inner + i]: the j in 0..<n holding the (first) maximum.
        var argmax = [Int](repeating: 0, count: outer * inner)
        value.scalars.withUnsafeBufferPointer { x in
            for o in 0..<outer {
                for i in 0..<inner {
                    var best = 0, bestValue = x[o * n * inner + i]
                    for j in 1..<Swift.max(n, 1) where x[(o * n + j) * inner + i] > bestValue {
                        best = j; bestValue = x[(o * n + j) * inner + i]
                    }
                    argmax[o * inner + i] = best
                }
            }
        }
        return tape.record(y, op: "max(axis:)", inputs: [self]) { g in
            var dx = [Float](repeating: 0, count: outer * n * inner)
            for o in 0..<outer {
                for i in 0..<inner { dx[(o * n + argmax[o * inner + i]) * inner + i] = g.scalars[o * inner + i] }
            }
            return [Tensor(shape: xShape, scalars: dx)]
        }
    }

    // MARK: - Helpers

    /// `shape` with the extent of `axis` set to 1 (the keepDims shape of a reduction).
    static func keptShape(_ shape: [Int], axis: Int) -> [Int] {
        var s = shape
        s[axis] = 1
        return s
    }
}
