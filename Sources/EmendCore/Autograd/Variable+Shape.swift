// Shape ops on Variables: reshape, permute/transpose, slice, concatenate, broadcast.
// Each backward is the adjoint data movement: reshape back, inverse permutation, write the slice
// into zeros, split, sum over broadcast axes.

// MARK: - Forward and backward

extension Variable {
    /// The same elements under a new shape (one extent may be −1). Backward: reshape back.
    public func reshaped(_ newShape: [Int]) -> Variable {
        let y = value.reshaped(newShape)
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let xShape = shape
        return tape.record(y, op: "reshape", inputs: [self]) { g in [g.reshaped(xShape)] }
    }

    /// Axes reordered: result axis i is input axis `order[i]`. Backward: the inverse permutation.
    public func permuted(_ order: [Int]) -> Variable {
        let y = value.permuted(order)
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        var inverse = [Int](repeating: 0, count: order.count)
        for (i, o) in order.enumerated() { inverse[o] = i }
        return tape.record(y, op: "permute", inputs: [self]) { g in [g.permuted(inverse)] }
    }

    /// Two axes swapped (by default the last two). Backward: the same swap.
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Variable {
        var order = Array(0..<rank)
        order.swapAt(value.normalizedAxis(a), value.normalizedAxis(b))
        return permuted(order)
    }

    /// The entries with index in `range` along `axis`. Backward: g written into zeros at `range`.
    public func sliced(axis: Int, _ range: Range<Int>) -> Variable {
        let y = value.sliced(axis: axis, range)
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let xShape = shape, start = range.lowerBound
        return tape.record(y, op: "slice", inputs: [self]) { g in
            [Tensor.zeros(xShape).updatingSlice(axis: axis, at: start, with: g)]
        }
    }

    /// The value expanded to a shape it broadcasts to. Backward: summed over the expanded axes.
    public func broadcasted(to target: [Int]) -> Variable {
        let y = value.broadcasted(to: target)
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        return tape.record(y, op: "broadcast", inputs: [self], broadcasts: true) { g in [g] }
    }
}

/// Joins variables along `axis`; all other extents must agree. Backward: g split at the same offsets.
public func concatenate(_ parts: [Variable], axis: Int) -> Variable {
    let y = concatenate(parts.map(\.value), axis: axis)
    guard let tape = Tape.recording(parts) else { return Variable(constant: y) }
    let extents = parts.map { $0.dim(axis) }, needs = parts.map(\.requiresGrad)
    return tape.record(y, op: "concatenate", inputs: parts) { g in
        var start = 0
        var grads: [Tensor?] = []
        for (extent, need) in zip(extents, needs) {
            grads.append(need ? g.sliced(axis: axis, start..<(start + extent)) : nil)
            start += extent
        }
        return grads
    }
}

/// Stacks equally shaped variables along a new leading axis: N × [...] → [N, ...].
public func stack(_ parts: [Variable]) -> Variable {
    concatenate(parts.map { $0.reshaped([1] + $0.shape) }, axis: 0)
}
