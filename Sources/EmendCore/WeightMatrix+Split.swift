// The stored products for a few dozen rows of x (or g): W split over the threads, each decoding its own share into
// tiles that stay in its core's L2 cache and multiplying them alone. See WeightMatrix+Blocks.swift for the other
// kernels and how `automatic` chooses.
//
// Shapes: W [Out, In] stored; x [R, In]; g [R, Out]. Forward: 16-row blocks of W's rows per thread, tiles of
// `splitTileRows` rows, y[:, tile] = x · tileᵀ. Backward: strips of whole blocks of W's columns per thread,
// dx[:, strip] = g · strip; or, for a W `tallRatio` times taller than wide, 16-row blocks of its rows, each thread
// summing g[:, tile] · W[tile, :] into its own partial dx, added at the end.

import CEmendKernels
import Dispatch

extension WeightMatrix {
    /// Rows of x (or g) below which `automatic` runs the split kernels (from `fusedRowLimit` + 1): there the decoding,
    /// not the product, is the cost, and a tile written and read in one core's L2 cache beats a larger one split over
    /// the threads twice (decoded by all, then multiplied by all through L3). Measured side by side (`EmendBench
    /// weights`, tiled-kernel table): see `splitForward` and `splitBackward`.
    static let splitRowLimit = 256

    /// Elements of one thread's tile in the split kernels: 1 MB, this machine's L2 per core (see `splitForward`).
    static let threadTileElements = 1 << 18

    /// Rows of W per tile of the split kernels for inputs `n`: whole 16-row blocks (oneDNN's Float32 kernel
    /// takes 16 columns of B at a time; 18-row tiles of In 14,336 ran at two thirds the speed of 16-row ones).
    static func splitTileRows(inputs n: Int) -> Int { max(16, threadTileElements / max(n, 1) / 16 * 16) }

    /// Whether the split kernel runs this product under `automatic`: few rows, and oneDNN present (each thread runs a
    /// one-thread oneDNN product). A tall W's backward, split by rows, also needs each thread's partial dx [R, In] to be
    /// at most 2¹⁷ elements (Llama-3-8B's head at 21 rows; its shared row tiles sum far fewer partials).
    func splitTakes(rows: Int, backward: Bool) -> Bool {
        rows < Self.splitRowLimit && MatmulBackend.usesOneDNN
            && (!backward || outputs < Self.tallRatio * inputs || rows * inputs <= 1 << 17)
    }

    /// y = x · Wᵀ with W's rows split over the threads in 16-row blocks: each thread decodes tiles of its rows into
    /// its own scratch (`splitTileRows`) and multiplies x by them alone. Measured (`EmendBench weights`, tiled-kernel
    /// table, GFLOP/s, split / the shared tile / Float32, two runs): the default model's head, Q8_0 [49152, 576], at 84
    /// rows 192–195 / 144–146 / 185, at 21 rows 139–143 / 93–111 / 115–121; Q4_1 [576, 576] at 84 rows 176 / 134–143 /
    /// 172; Llama-3-8B's MLP, Q4_K [14336, 4096], at 64 rows 194 / 175–179 / 180–181, its head, Q6_K [128256, 4096], at
    /// 21 rows 138–141 / 106 / 123–124. Tiles of 256 and 512 KB were a few percent slower than 1 MB.
    func splitForward(_ s: WeightStorage, _ b: WeightBytes, _ x: UnsafePointer<Float>, rows: Int,
                      _ y: UnsafeMutablePointer<Float>) {
        let xs = SendableConstPointer(x), ys = SendablePointer(y)
        let (n, out) = (inputs, outputs)
        let tile = Self.splitTileRows(inputs: n), blocks = (out + 15) / 16
        parallelRanges(blocks, grain: 1) { range in
            let lo = range.lowerBound * 16, hi = min(out, range.upperBound * 16), t = min(tile, hi - lo)
            TileScratch.withFloats(t * n + rows * t) { tw in
                let part = tw + t * n
                for o0 in stride(from: lo, to: hi, by: t) {
                    let o1 = min(hi, o0 + t), c = o1 - o0
                    // part [R, c] = x [R, In] · W[o0..<o1, :]ᵀ; y[:, o0..<o1] = part
                    decodeSerially(s, b, rows: o0..<o1, columns: 0..<n, into: tw)
                    serialProduct(a: xs.base, lda: n, b: tw, ldb: n, transposeB: true, c: part, ldc: c, m: rows, n: c, k: n)
                    for r in 0..<rows { (ys.base + r * out + o0).update(from: part + r * c, count: c) }
                }
            }
        }
    }

    /// dx = g · W split over the threads: by W's columns (`splitBackwardByColumns`), or for a W at least
    /// `tallRatio` times taller than wide (an output head) by its rows (`splitBackwardByRows`).
    func splitBackward(_ s: WeightStorage, _ b: WeightBytes, _ g: UnsafePointer<Float>, rows: Int,
                       _ dx: UnsafeMutablePointer<Float>) {
        if outputs >= Self.tallRatio * inputs { splitBackwardByRows(s, b, g, rows: rows, dx) }
        else { splitBackwardByColumns(s, b, g, rows: rows, dx) }
    }

    /// W [Out, In] with Out ≥ tallRatio · In runs its split backward by rows.
    static let tallRatio = 16

    /// dx = g · W with W's columns split over the threads in whole blocks: each thread decodes strips of its columns,
    /// all of W's rows, half a tile wide (at least one block), and writes dx[:, strip] = g · strip. Measured (`EmendBench
    /// weights`, tiled-kernel table, GFLOP/s, split / the shared strips / Float32): at 84 rows, Q4_1 [1536, 576] 181 /
    /// 175–191 / 203, [576, 1536] 203 / 176–199 / 210, [576, 576] 180 / 149–163 / 196, [192, 576] 157 / 105–134 / 163;
    /// Q6_K [4096, 14336] at 64 rows 177–181 / 151–158 / 155–156, Q4_K [14336, 4096] at 200 rows 206–208 / 194–198 /
    /// 197. Earlier runs of the same comparison put the split 5–28% ahead of the shared strips on each of these.
    private func splitBackwardByColumns(_ s: WeightStorage, _ b: WeightBytes, _ g: UnsafePointer<Float>, rows: Int,
                                        _ dx: UnsafeMutablePointer<Float>) {
        let gs = SendableConstPointer(g), ds = SendablePointer(dx)
        let (n, out, bs) = (inputs, outputs, s.blockSize)
        let width = max(bs, Self.threadTileElements / 2 / max(out, 1) / bs * bs)
        parallelRanges(n / bs, grain: 1) { blocks in
            let lo = blocks.lowerBound * bs, hi = blocks.upperBound * bs, c = min(width, hi - lo)
            TileScratch.withFloats(out * c) { strip in
                for c0 in stride(from: lo, to: hi, by: c) {
                    let c1 = min(hi, c0 + c)
                    // dx[:, c0..<c1] = g [R, Out] · W[:, c0..<c1]
                    decodeSerially(s, b, rows: 0..<out, columns: c0..<c1, into: strip)
                    serialProduct(a: gs.base, lda: out, b: strip, ldb: c1 - c0, transposeB: false, c: ds.base + c0, ldc: n,
                                  m: rows, n: c1 - c0, k: out)
                }
            }
        }
    }

    /// dx = g · W with W's rows split over the threads in 16-row blocks, each thread summing g[:, tile] · W[tile, :]
    /// over its tiles (`splitTileRows`) into its own partial dx [R, In]; the partials are added at the end. Measured as
    /// above (split / the shared row tiles / Float32): the default model's head, Q8_0 [49152, 576], at 84 rows 207–209 /
    /// 186–193 / 153–155, at 21 rows 166–168 / 121–127 / 97–102; Llama-3-8B's, Q6_K [128256, 4096], at 21 rows
    /// 145–146 / 120–122 / 78–79. By columns instead, these heads fell to 0.5–0.8× the shared row tiles (strips one
    /// block wide, all rows).
    private func splitBackwardByRows(_ s: WeightStorage, _ b: WeightBytes, _ g: UnsafePointer<Float>, rows: Int,
                                     _ dx: UnsafeMutablePointer<Float>) {
        let gs = SendableConstPointer(g)
        let (n, out) = (inputs, outputs)
        let tile = Self.splitTileRows(inputs: n), blocks = (out + 15) / 16
        // Every chunk gets at least one 16-row block.
        let per = (blocks + emendThreadCount - 1) / emendThreadCount, chunks = (blocks + per - 1) / per, part = rows * n
        TileScratch.withFloats(chunks * part) { partials in
            let ps = SendablePointer(partials)
            DispatchQueue.concurrentPerform(iterations: chunks) { ci in
                let lo = min(out, ci * per * 16), hi = min(out, lo + per * 16), mine = ps.base + ci * part
                let t = min(tile, hi - lo)
                TileScratch.withFloats(t * n + part) { tw in
                    let next = tw + t * n
                    for o0 in stride(from: lo, to: hi, by: t) {
                        let o1 = min(hi, o0 + t), c = o1 - o0, first = o0 == lo
                        // mine (+)= g[:, o0..<o1] · W[o0..<o1, :]
                        decodeSerially(s, b, rows: o0..<o1, columns: 0..<n, into: tw)
                        serialProduct(a: gs.base + o0, lda: out, b: tw, ldb: n, transposeB: false, c: first ? mine : next,
                                      ldc: n, m: rows, n: n, k: c)
                        if !first { for i in 0..<part { mine[i] += next[i] } }
                    }
                }
            }
            Self.sumPartials(partials, count: chunks, size: part, into: dx)
        }
    }

    /// C[m, n] = A[m, k] · op(B) on the calling thread alone, through oneDNN (the caller has checked it is present);
    /// sgemm if oneDNN refuses the product.
    private func serialProduct(a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
                               c: UnsafeMutablePointer<Float>, ldc: Int, m: Int, n: Int, k: Int) {
        let (brs, bcs) = transposeB ? (1, ldb) : (ldb, 1)
        if emend_dnnl_matmul_f32_serial(m, n, k, a, lda, 1, b, brs, bcs, c, ldc) == 0 { return }
        sgemm(transposeA: false, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
    }

    /// Rows × columns of W dequantised into `dst` (row stride columns.count) on the calling thread (the split kernels'
    /// threads each decode their own share; `dequantize` splits one range over all of them).
    private func decodeSerially(_ s: WeightStorage, _ b: WeightBytes, rows: Range<Int>, columns: Range<Int>,
                                into dst: UnsafeMutablePointer<Float>) {
        let w = b.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let rc = emend_quant_decode(s.rawValue, w, inputs, rows.lowerBound, rows.upperBound, columns.lowerBound,
                                    columns.upperBound, dst, columns.count)
        precondition(rc == 0, "emend_quant_decode refused \(s) rows \(rows) columns \(columns) of [\(outputs), \(inputs)]")
    }
}
