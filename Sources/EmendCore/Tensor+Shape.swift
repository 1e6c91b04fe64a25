// Shape manipulation: permutation (materialised), slicing, concatenation, gather and scatter-add.

extension Tensor {
    /// The tensor with its axes reordered: result axis i is input axis `order[i]`. Materialised.
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.sorted() == Array(0..<rank), "permuted: \(order) is not a permutation of 0..<\(rank)")
        if order == Array(0..<rank) { return self }
        let newShape = order.map { shape[$0] }
        let inStrides = shape.rowMajorStrides
        let srcStrides = order.map { inStrides[$0] }
        var out = [Float](repeating: 0, count: count)
        // Iterate over the output; the innermost output axis is copied in a tight loop.
        let r = rank, innerN = newShape[r - 1], innerS = srcStrides[r - 1]
        let outerCount = count / Swift.max(innerN, 1)
        var idx = [Int](repeating: 0, count: Swift.max(r - 1, 0))
        scalars.withUnsafeBufferPointer { src in out.withUnsafeMutableBufferPointer { dst in
            var srcBase = 0
            for o in 0..<outerCount {
                let d = dst.baseAddress! + o * innerN
                for j in 0..<innerN { d[j] = src[srcBase + j * innerS] }
                var ax = r - 2
                while ax >= 0 {
                    idx[ax] += 1; srcBase += srcStrides[ax]
                    if idx[ax] < newShape[ax] { break }
                    srcBase -= srcStrides[ax] * newShape[ax]; idx[ax] = 0
                    ax -= 1
                }
            }
        } }
        return Tensor(shape: newShape, scalars: out)
    }

    /// Swaps two axes (materialised). With no arguments, swaps the last two.
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(normalizedAxis(a), normalizedAxis(b))
        return permuted(order)
    }

    /// The elements with index in `range` along `axis`.
    public func sliced(axis: Int, _ range: Range<Int>) -> Tensor {
        let (outer, n, inner) = reductionExtents(axis)
        precondition(range.lowerBound >= 0 && range.upperBound <= n, "sliced: \(range) out of 0..<\(n) on axis \(axis)")
        let m = range.count
        var out = [Float](repeating: 0, count: outer * m * inner)
        scalars.withUnsafeBufferPointer { src in out.withUnsafeMutableBufferPointer { dst in
            for o in 0..<outer {
                (dst.baseAddress! + o * m * inner).update(from: src.baseAddress! + (o * n + range.lowerBound) * inner, count: m * inner)
            }
        } }
        var s = shape
        s[normalizedAxis(axis)] = m
        return Tensor(shape: s, scalars: out)
    }

    /// Rows `range` of the outermost axis.
    public func rows(_ range: Range<Int>) -> Tensor { sliced(axis: 0, range) }
    /// Row `i` of the outermost axis, with that axis removed.
    public subscript(_ i: Int) -> Tensor {
        let inner = count / Swift.max(shape[0], 1)
        return Tensor(shape: Array(shape.dropFirst()), scalars: Array(scalars[(i * inner)..<((i + 1) * inner)]))
    }

    /// The same tensor with `value` written into index `range` along `axis` (the adjoint of slicing).
    public func updatingSlice(axis: Int, at start: Int, with value: Tensor) -> Tensor {
        let (outer, n, inner) = reductionExtents(axis)
        let a = normalizedAxis(axis)
        precondition(value.rank == rank && (0..<rank).allSatisfy { $0 == a || value.shape[$0] == shape[$0] },
                     "updatingSlice: value \(value.shape) does not match \(shape) off axis \(a)")
        let m = value.shape[a]
        precondition(start >= 0 && start + m <= n, "updatingSlice: \(start)..<\(start + m) out of 0..<\(n)")
        var out = self
        out.scalars.withUnsafeMutableBufferPointer { dst in value.scalars.withUnsafeBufferPointer { src in
            for o in 0..<outer {
                (dst.baseAddress! + (o * n + start) * inner).update(from: src.baseAddress! + o * m * inner, count: m * inner)
            }
        } }
        return out
    }
}

/// Joins tensors along `axis`; all other extents must agree.
public func concatenate(_ parts: [Tensor], axis: Int) -> Tensor {
    precondition(!parts.isEmpty, "concatenate: no tensors")
    let first = parts[0]
    let a = first.normalizedAxis(axis)
    for p in parts {
        precondition(p.rank == first.rank && (0..<first.rank).allSatisfy { $0 == a || p.shape[$0] == first.shape[$0] },
                     "concatenate: shape \(p.shape) does not match \(first.shape) off axis \(a)")
    }
    let outer = first.shape[..<a].reduce(1, *), inner = first.shape[(a + 1)...].reduce(1, *)
    let total = parts.reduce(0) { $0 + $1.shape[a] }
    var out = [Float](repeating: 0, count: outer * total * inner)
    var offset = 0
    out.withUnsafeMutableBufferPointer { dst in
        for p in parts {
            let m = p.shape[a]
            p.scalars.withUnsafeBufferPointer { src in
                for o in 0..<outer {
                    (dst.baseAddress! + (o * total + offset) * inner).update(from: src.baseAddress! + o * m * inner, count: m * inner)
                }
            }
            offset += m
        }
    }
    var s = first.shape
    s[a] = total
    return Tensor(shape: s, scalars: out)
}

/// Stacks equally shaped tensors along a new leading axis.
public func stack(_ parts: [Tensor]) -> Tensor {
    precondition(!parts.isEmpty, "stack: no tensors")
    return concatenate(parts.map { $0.reshaped([1] + $0.shape) }, axis: 0)
}

extension Tensor {
    /// Rows of a table by index (embedding lookup): self [V, D], ids [N] → [N, D].
    public func gatherRows(_ ids: [Int]) -> Tensor {
        precondition(rank == 2, "gatherRows: table must be rank 2, got \(shape)")
        let d = shape[1], v = shape[0]
        var out = [Float](repeating: 0, count: ids.count * d)
        scalars.withUnsafeBufferPointer { src in out.withUnsafeMutableBufferPointer { dst in
            for (i, id) in ids.enumerated() {
                precondition(id >= 0 && id < v, "gatherRows: index \(id) out of 0..<\(v)")
                (dst.baseAddress! + i * d).update(from: src.baseAddress! + id * d, count: d)
            }
        } }
        return Tensor(shape: [ids.count, d], scalars: out)
    }

    /// Adds the rows of `values` [N, D] into rows `ids` of self [V, D] (repeated ids accumulate).
    public mutating func scatterAddRows(_ ids: [Int], _ values: Tensor) {
        precondition(rank == 2 && values.rank == 2 && values.shape[1] == shape[1] && values.shape[0] == ids.count,
                     "scatterAddRows: table \(shape), values \(values.shape), \(ids.count) ids")
        let d = shape[1], v = shape[0]
        scalars.withUnsafeMutableBufferPointer { dst in values.scalars.withUnsafeBufferPointer { src in
            for (i, id) in ids.enumerated() {
                precondition(id >= 0 && id < v, "scatterAddRows: index \(id) out of 0..<\(v)")
                let o = dst.baseAddress! + id * d, s = src.baseAddress! + i * d
                for j in 0..<d { o[j] += s[j] }
            }
        } }
    }
}

extension Tensor {
    /// The columns `range` of a [R, C] matrix: [R, range.count] (a copy).
    public func columns(_ range: Range<Int>) -> Tensor {
        precondition(rank == 2 && range.lowerBound >= 0 && range.upperBound <= shape[1], "columns: \(range) of \(shape)")
        let r = shape[0], c = shape[1], w = range.count
        let out = [Float](unsafeUninitializedCapacity: r * w) { dst, initialized in
            scalars.withUnsafeBufferPointer { src in
                for i in 0..<r { (dst.baseAddress! + i * w).update(from: src.baseAddress! + i * c + range.lowerBound, count: w) }
            }
            initialized = r * w
        }
        return Tensor(shape: [r, w], scalars: out)
    }
}
