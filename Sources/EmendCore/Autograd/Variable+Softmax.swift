// softmax and logSoftmax over the last axis, with their row-wise VJPs.
//
// softmax:     y = softmax(x);    ∂x = y ⊙ (g − Σ_j g_j y_j)
// logSoftmax:  y = x − lse(x);    ∂x = g − softmax(x) · Σ_j g_j,   softmax(x) = e^y
// Entries at −∞ (masked) have y = 0 (resp. e^y = 0) and so receive no gradient from other
// entries; a fully masked softmax row is all zeros and gets zero gradient.

import Foundation

// MARK: - Forward and backward

extension Variable {
    /// softmax over the last axis: [..., n] → [..., n].
    public func softmax() -> Variable {
        let y = value.softmax()
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let savedY = y
        return tape.record(y, op: "softmax", inputs: [self]) { g in
            [Self.rowwise(g, savedY) { g, y, dx, n in
                var dot: Float = 0
                for j in 0..<n { dot += g[j] * y[j] }
                for j in 0..<n { dx[j] = y[j] * (g[j] - dot) }
            }]
        }
    }

    /// log-softmax over the last axis: [..., n] → [..., n].
    public func logSoftmax() -> Variable {
        let y = value.logSoftmax()
        guard let tape = Tape.recording(self) else { return Variable(constant: y) }
        let savedY = y
        return tape.record(y, op: "logSoftmax", inputs: [self]) { g in
            [Self.rowwise(g, savedY) { g, y, dx, n in
                var total: Float = 0
                for j in 0..<n { total += g[j] }
                for j in 0..<n { dx[j] = g[j] - Foundation.exp(y[j]) * total }
            }]
        }
    }

    // MARK: - Helpers

    /// Applies `body(g row, saved row, dx row, n)` to every last-axis row, in parallel.
    static func rowwise(_ g: Tensor, _ saved: Tensor,
                        _ body: @escaping @Sendable (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        let n = saved.dim(-1), rows = saved.count / Swift.max(n, 1)
        var out = [Float](repeating: 0, count: saved.count)
        g.scalars.withUnsafeBufferPointer { pg in saved.scalars.withUnsafeBufferPointer { ps in
            out.withUnsafeMutableBufferPointer { po in
                guard rows > 0, n > 0 else { return }
                let gs = SendableConstPointer(pg.baseAddress!), ss = SendableConstPointer(ps.baseAddress!)
                let os = SendablePointer(po.baseAddress!)
                parallelRanges(rows, grain: Swift.max(1, 16_384 / n)) { r in
                    for row in r { body(gs.base + row * n, ss.base + row * n, os.base + row * n, n) }
                }
            }
        } }
        return Tensor(shape: saved.shape, scalars: out)
    }
}
