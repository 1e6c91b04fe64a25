import XCTest
@testable import EmendCore

/// Sliding-window attention (Gemma-3's local layers): a query at position p sees keys p − W + 1 … p. Checked
/// against a plain Float64 reference written from that definition, and its backward against central differences,
/// on both kernel paths (a short segment runs plain loops, a long one BLAS).
final class AttentionWindowTests: XCTestCase {
    struct Case { var rows: Int; var window: Int? }
    let shape = (heads: 4, kvHeads: 2, headDim: 8)

    func inputs(_ t: Int, seed: UInt64) -> (q: Tensor, k: Tensor, v: Tensor) {
        var rng = SeededGenerator(seed: seed)
        let qw = shape.heads * shape.headDim, kw = shape.kvHeads * shape.headDim
        return (Tensor.randomNormal([t, qw], using: &rng), Tensor.randomNormal([t, kw], using: &rng), Tensor.randomNormal([t, kw], using: &rng))
    }

    func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, window: Int?, save: Bool = false) -> (Tensor, AttentionSaved?) {
        let t = q.shape[0], kw = shape.kvHeads * shape.headDim
        return attentionForward(q: q, k: k, v: v, segments: [AttentionSegment(rowStart: 0, count: t)],
                                prefixKeys: [Tensor.zeros([0, kw])], prefixValues: [Tensor.zeros([0, kw])],
                                shape: AttentionShape(heads: shape.heads, kvHeads: shape.kvHeads, headDim: shape.headDim, window: window),
                                saveForBackward: save)
    }

    /// softmax over keys j with p − j < W (all j ≤ p without a window), Float64.
    func reference(_ q: Tensor, _ k: Tensor, _ v: Tensor, window: Int?) -> [Double] {
        let t = q.shape[0], dh = shape.headDim, qw = shape.heads * dh, kw = shape.kvHeads * dh, g = shape.heads / shape.kvHeads
        var out = [Double](repeating: 0, count: t * qw)
        for p in 0..<t { for h in 0..<shape.heads {
            let kv = h / g
            let keys = (0...p).filter { p - $0 < (window ?? Int.max) }
            let s = keys.map { j in (0..<dh).reduce(0.0) { $0 + Double(q.scalars[p * qw + h * dh + $1]) * Double(k.scalars[j * kw + kv * dh + $1]) } / Double(dh).squareRoot() }
            let m = s.max()!, e = s.map { Foundation.exp($0 - m) }, z = e.reduce(0, +)
            for (i, j) in keys.enumerated() { for c in 0..<dh { out[p * qw + h * dh + c] += e[i] / z * Double(v.scalars[j * kw + kv * dh + c]) } }
        } }
        return out
    }

    func testForward_MatchesReferenceOnBothPaths() {
        for c in [Case(rows: 6, window: 3), Case(rows: 70, window: 5), Case(rows: 70, window: nil), Case(rows: 9, window: 1), Case(rows: 70, window: 200)] {
            let (q, k, v) = inputs(c.rows, seed: 3)
            let got = attention(q, k, v, window: c.window).0
            let want = reference(q, k, v, window: c.window)
            let err = zip(got.scalars, want).map { abs(Double($0) - $1) }.max()!
            XCTAssertLessThan(err, 1e-5, "rows \(c.rows), window \(c.window.map(String.init) ?? "none")")
        }
    }

    /// A window that cuts: the last query's output differs from the unwindowed one (the test above can fail).
    func testWindow_ChangesTheOutputWhenItCuts() {
        let (q, k, v) = inputs(6, seed: 4)
        let a = attention(q, k, v, window: 3).0, b = attention(q, k, v, window: nil).0
        let qw = shape.heads * shape.headDim
        XCTAssertEqual(Array(a.scalars[0..<(3 * qw)]), Array(b.scalars[0..<(3 * qw)]), "the first W rows see every key either way")
        XCTAssertGreaterThan(zip(a.scalars[(5 * qw)...], b.scalars[(5 * qw)...]).map { abs($0 - $1) }.max()!, 1e-3)
    }

    /// dL/dq, dk, dv of L = Σ out ⊙ R against central differences of the Float64 reference, windowed, both paths.
    func testBackward_MatchesFiniteDifferences() {
        for c in [Case(rows: 6, window: 3), Case(rows: 70, window: 5)] {
            let (q, k, v) = inputs(c.rows, seed: 9)
            var rng = SeededGenerator(seed: 10)
            let r = Tensor.randomNormal(q.shape, using: &rng)
            let (_, saved) = attention(q, k, v, window: c.window, save: true)
            let (dq, dk, dv) = attentionBackward(dOut: r, q: q, segments: [AttentionSegment(rowStart: 0, count: c.rows)], saved: saved!,
                                                 shape: AttentionShape(heads: shape.heads, kvHeads: shape.kvHeads, headDim: shape.headDim, window: c.window))
            func loss(_ q: Tensor, _ k: Tensor, _ v: Tensor) -> Double {
                zip(reference(q, k, v, window: c.window), r.scalars).reduce(0) { $0 + $1.0 * Double($1.1) }
            }
            let eps: Float = 1e-2
            for (which, grad) in [(0, dq), (1, dk), (2, dv)] {
                for idx in stride(from: 7, to: grad.count, by: grad.count / 6) {
                    var inputs = [q, k, v]
                    inputs[which].scalars[idx] += eps
                    let up = loss(inputs[0], inputs[1], inputs[2])
                    inputs[which].scalars[idx] -= 2 * eps
                    let down = loss(inputs[0], inputs[1], inputs[2])
                    let fd = (up - down) / Double(2 * eps)
                    XCTAssertEqual(Double(grad.scalars[idx]), fd, accuracy: 2e-3 + 2e-3 * abs(fd), "rows \(c.rows) input \(which) index \(idx)")
                }
            }
        }
    }
}
