// The two products on a weight matrix kept as stored blocks (F16, BF16, Q8_0, Q4_K, …), never expanded whole.
//
// Shapes: W [Out, In] stored; x [R, In]; g [R, Out]; a tile is T rows of W [T, In] or a strip of its columns [Out, C].
//   tiled (any R): forward dequantises T rows of W at a time into a scratch tile and runs y[:, tile] = x · tileᵀ
//          through oneDNN/sgemm; backward dequantises a strip of C columns of every row and runs
//          dx[:, strip] = g · strip, so each output element is written once. The dequantisation of a tile is split
//          over the threads; the product uses BLAS's own. Scratch: 4 MB, or 512 rows of W for 64+ rows of x
//          (16 MB at In 8192), whatever the size of W. A W much taller than wide (the output head) runs its
//          backward over tiles of rows instead, summing partial dx. From 256 rows of x, when oneDNN runs the product,
//          the tile is decoded straight into the blocked layout oneDNN's kernel reads ([16, 64] blocks,
//          `emend_dnnl_blocked_b`), so oneDNN does not copy it again: the decoding replaces oneDNN's own packing
//          instead of adding to it (`tiledPlain` keeps the plain scratch, for comparison). Scratch comes from
//          `TileScratch`, reused between calls.
//   split (R below `splitRowLimit` = 256, oneDNN present): at a few dozen rows decoding costs as much as the product,
//          and a tile decoded by all threads, then multiplied by all, travels through L3 twice. Here each thread takes
//          its own share of W (forward: 16-row blocks of W's rows; backward: whole blocks of its columns, or of its
//          rows for a W much taller than wide, summing a partial dx), decodes it tile by tile into a scratch the size
//          of its core's L2 (1 MB; a column strip is at least one block wide), and multiplies on its own (a one-thread
//          oneDNN product, `emend_dnnl_matmul_f32_serial`). In WeightMatrix+Split.swift.
//   fused (few rows, R ≤ `fusedRowLimit` = 16): the C kernels (emend_quant_fused.c) decode 32 elements of W at a time
//          into vector registers, per type, and use them at once with every row of x (forward, split over output
//          rows) or add them, scaled, into every row of dx (backward, split over column blocks, or over W's rows
//          into one dx per thread when W is larger than `fusedBackwardRowSplitBytes`). Nothing else is written.
//          Split over the threads only above `fusedSplitWork` multiply-adds per thread, through the spinning pool
//          (`parallelRangesSpinning`: generation calls about 200 of these products per token, 5–50 µs each).
//          `EmendBench weights`, 1 row, one thread: Q4_1 60, Q8_0 70, Q4_K 45, Q6_K 36 GFLOP/s (W [1536, 576],
//          AVX-512).
//   F32 stored: the bytes are W itself; both products go to BLAS directly on them.
// Accuracy: the dequantised values are exactly ggml's; the products differ from a Float32 product on the dequantised
// matrix only in the order of accumulation.

import CEmendKernels
import Dispatch

extension WeightMatrix {
    /// Which product kernel runs on stored blocks.
    public enum BlockKernel: Sendable, CaseIterable {
        /// fused up to `fusedRowLimit` rows, split below `splitRowLimit` (where `splitTakes`), tiled above.
        case automatic
        /// dequantise a tile, then a BLAS product (any number of rows); into oneDNN's blocked layout when oneDNN
        /// runs the product and there are at least `blockedLayoutRows` rows (see `tiledPlain`).
        case tiled
        /// `tiled` with the tile dequantised into a plain row-major scratch, which oneDNN then copies into its own
        /// layout on every call (for side-by-side measurement, and where oneDNN's layout is not one we pack).
        case tiledPlain
        /// dequantise a block and use it at once (any number of rows; fastest for few).
        case fused
        /// W split over the threads (the forward by rows, the backward by columns, or by rows for a tall W), each
        /// decoding tiles that stay in its own L2 cache and running a one-thread oneDNN product on them (any number of
        /// rows; fastest for a few dozen).
        case tiledSplit
    }

    /// Rows of x (or g) up to which `automatic` runs the fused kernel: it decodes W once per 4 rows, the tiled one once
    /// per call but then pays a dequantised tile and a BLAS call per 256 rows of W. Measured (`EmendBench models`,
    /// 8 sequences generated at once on the default model): fused 432 tokens/s, tiled 114.
    public static let fusedRowLimit = 16

    /// Multiply-adds a fused product needs before it is split over the threads, per thread: 2¹⁵, about 1 µs at the
    /// kernels' one-row speed, several times what handing a range to a spinning pool worker costs. Measured on the
    /// default model's one-sequence generation (`scripts/check-llamacpp.py emend-speed`): 224–240 tokens/s against
    /// 175–222 at 2¹⁸, where its Q, K, V and O projections ran on the calling thread alone.
    public static let fusedSplitWork = 1 << 15

    /// The build of the fused kernels in use: 2 AVX-512, 1 AVX2 + FMA + F16C, 0 the portable baseline (SSE2 on
    /// x86-64, NEON on arm64) — the best this CPU runs, unless capped.
    public static var fusedKernelLevel: Int { Int(emend_quant_isa(-1)) }

    /// Caps the fused kernels' build at `level` (2, 1 or 0) for every later call, so that tests and benchmarks can run
    /// the narrower builds on a wider CPU; returns the level now in use. Not for concurrent use with products.
    @discardableResult
    public static func capFusedKernelLevel(_ level: Int) -> Int { Int(emend_quant_isa(Int32(max(0, level)))) }

    /// y = x · Wᵀ with a chosen kernel (for benchmarks and tests; `forward(_:)` picks itself). Dense W ignores `kernel`.
    public func forward(_ x: Tensor, kernel: BlockKernel) -> Tensor {
        guard case let .stored(s, b) = payload else { return forward(x) }
        precondition(x.rank == 2 && x.shape[1] == inputs, "WeightMatrix.forward: input \(x.shape) for W [\(outputs), \(inputs)]")
        return storedForward(x, s, b, kernel: kernel)
    }

    /// dx = g · W with a chosen kernel (for benchmarks and tests; `backward(_:)` picks itself).
    public func backward(_ g: Tensor, kernel: BlockKernel) -> Tensor {
        guard case let .stored(s, b) = payload else { return backward(g) }
        precondition(g.rank == 2 && g.shape[1] == outputs, "WeightMatrix.backward: gradient \(g.shape) for W [\(outputs), \(inputs)]")
        return storedBackward(g, s, b, kernel: kernel)
    }

    /// Rows `rows` of W in Float32: [rows.count, In] (a tile, for tests and for materialising an edited matrix).
    public func dequantizedRows(_ rows: Range<Int>) -> Tensor {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= outputs, "WeightMatrix.dequantizedRows: \(rows) of \(outputs) rows")
        let s: WeightStorage, b: WeightBytes
        switch payload {
        case let .dense(w, _): return w.sliced(axis: 0, rows)
        case let .stored(storage, bytes): (s, b) = (storage, bytes)
        }
        let n = rows.count * inputs
        let out = [Float](unsafeUninitializedCapacity: n) { p, initialized in
            if n > 0 { dequantize(s, b, rows: rows, columns: 0..<inputs, into: p.baseAddress!, stride: inputs) }
            initialized = n
        }
        return Tensor(shape: [rows.count, inputs], scalars: out)
    }

    // MARK: - Forward

    func storedForward(_ x: Tensor, _ s: WeightStorage, _ b: WeightBytes, kernel: BlockKernel) -> Tensor {
        storedProduct(x, width: outputs, inner: inputs, s, kernel: kernel, backward: false) { path, xp, r, yp in
            switch path {
            case .blas: product(a: xp, lda: inputs, b: f32Base(b), ldb: inputs, transposeB: true, c: yp, ldc: outputs,
                                m: r, n: outputs, k: inputs)
            case .fused: fusedForward(s, b, xp, rows: r, yp)
            case .tiled: tiledForward(s, b, xp, rows: r, yp, blocked: true)
            case .tiledPlain: tiledForward(s, b, xp, rows: r, yp, blocked: false)
            case .tiledSplit: splitForward(s, b, xp, rows: r, yp)
            }
        }
    }

    private func fusedForward(_ s: WeightStorage, _ b: WeightBytes, _ x: UnsafePointer<Float>, rows: Int,
                              _ y: UnsafeMutablePointer<Float>) {
        let w = SendableConstPointer(b.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
        let xs = SendableConstPointer(x), ys = SendablePointer(y)
        let (n, out, type) = (inputs, outputs, s.rawValue)
        parallelRangesSpinning(outputs, grain: max(1, Self.fusedSplitWork / max(inputs * rows, 1))) { o in
            let rc = emend_quant_forward(type, w.base, n, o.lowerBound, o.upperBound, xs.base, rows, n, ys.base, out)
            precondition(rc == 0, "emend_quant_forward refused \(s) [\(out), \(n)]")
        }
    }

    private func tiledForward(_ s: WeightStorage, _ b: WeightBytes, _ x: UnsafePointer<Float>, rows: Int,
                              _ y: UnsafeMutablePointer<Float>, blocked: Bool) {
        // Many rows: 512-row tiles (16 MB at In 8192), since every tile re-packs all of x inside BLAS.
        // Fewer rows: tiles of the 4 MB scratch, at least 64 rows of W (each tile costs a oneDNN call and a split over
        // the threads: at 21 rows, the default model's head [49152, 576] ran at 56 GFLOP/s in 256-row tiles and
        // 147–172 in 1,820-row ones, the Float32 product at 192–217; `EmendBench models` and `weights`).
        let tile = min(outputs, max(rows >= 64 ? 512 : 64, Self.scratchElements / max(inputs, 1)))
        // The product goes to a contiguous [R, T] block and is copied into y's columns: oneDNN wrote y directly
        // (row stride Out ≠ T) at about half its speed (measured, Q4_K W [2048, 8192], R 512).
        // One tile covering all of W writes y directly (its row stride is then the tile's).
        let whole = tile == outputs
        // The blocked layout of the largest tile, which every smaller one fits in.
        let layout = blocked ? Self.blockedLayout(m: rows, n: tile, k: inputs, lda: inputs, ldc: tile) : nil
        let tileElements = max(tile * inputs, layout?.size ?? 0)
        TileScratch.withFloats(tileElements + (whole ? 0 : rows * tile)) { scratch in
            let w = scratch, part = whole ? y : w + tileElements
            for o0 in stride(from: 0, to: outputs, by: tile) {
                let o1 = min(outputs, o0 + tile), t = o1 - o0
                // part = x [R, In] · tile[T, In]ᵀ; y[:, o0..<o1] = part
                if !(layout != nil && blockedForward(s, b, x, rows: rows, o0..<o1, scratch: w, capacity: tileElements, part)) {
                    dequantize(s, b, rows: o0..<o1, columns: 0..<inputs, into: w, stride: inputs, exact: false)
                    product(a: x, lda: inputs, b: w, ldb: inputs, transposeB: true, c: part, ldc: t, m: rows, n: t, k: inputs)
                }
                if !whole { for r in 0..<rows { (y + r * outputs + o0).update(from: part + r * t, count: t) } }
            }
        }
    }

    /// part [R, T] = x · W[o, :]ᵀ for o in `rows` of W, with the tile decoded into oneDNN's blocked layout for this
    /// product (split over the threads by its 64-column blocks); false when oneDNN refuses the layout or the product
    /// (the caller then runs the plain path, which overwrites everything).
    private func blockedForward(_ s: WeightStorage, _ b: WeightBytes, _ x: UnsafePointer<Float>, rows: Int,
                                _ tile: Range<Int>, scratch: UnsafeMutablePointer<Float>, capacity: Int,
                                _ part: UnsafeMutablePointer<Float>) -> Bool {
        let t = tile.count
        guard let l = Self.blockedLayout(m: rows, n: t, k: inputs, lda: inputs, ldc: t), l.size <= capacity else { return false }
        let w = SendableConstPointer(b.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)), d = SendablePointer(scratch)
        let (n, type, layout) = (inputs, s.rawValue, l)
        let nBlocks = (t + l.nb - 1) / l.nb
        parallelRanges(nBlocks, grain: max(1, 32_768 / max(l.nb * n, 1))) { jb in
            var l = layout
            let rc = emend_quant_pack_forward(type, w.base, n, tile.lowerBound, tile.upperBound, jb.lowerBound, jb.upperBound,
                                              &l, d.base)
            precondition(rc == 0, "emend_quant_pack_forward refused \(s) [\(t), \(n)] blocks \(jb)")
        }
        return emend_dnnl_matmul_f32_blocked(rows, t, inputs, x, inputs, scratch, part, t) == 0
    }

    // MARK: - Backward

    func storedBackward(_ g: Tensor, _ s: WeightStorage, _ b: WeightBytes, kernel: BlockKernel) -> Tensor {
        storedProduct(g, width: inputs, inner: outputs, s, kernel: kernel, backward: true) { path, gp, r, dp in
            switch path {
            case .blas: product(a: gp, lda: outputs, b: f32Base(b), ldb: inputs, transposeB: false, c: dp, ldc: inputs,
                                m: r, n: inputs, k: outputs)
            case .fused: fusedBackward(s, b, gp, rows: r, dp)
            case .tiled: tiledBackward(s, b, gp, rows: r, dp, blocked: true)
            case .tiledPlain: tiledBackward(s, b, gp, rows: r, dp, blocked: false)
            case .tiledSplit: splitBackward(s, b, gp, rows: r, dp)
            }
        }
    }

    private func fusedBackward(_ s: WeightStorage, _ b: WeightBytes, _ g: UnsafePointer<Float>, rows: Int,
                               _ dx: UnsafeMutablePointer<Float>) {
        let w = SendableConstPointer(b.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
        let gs = SendableConstPointer(g), ds = SendablePointer(dx)
        let (n, out, type, bs) = (inputs, outputs, s.rawValue, s.blockSize)
        let chunks = min(emendThreadCount, outputs * inputs * rows / Self.fusedSplitWork)
        if chunks > 1 && b.bytes.count > Self.fusedBackwardRowSplitBytes {
            // A large W: each thread streams whole rows of its own range of W into its own dx, summed at the end
            // (split over columns, each thread read half of every row, at a quarter of the speed; W [14336, 4096]).
            let rowBytes = b.bytes.count / outputs, size = (outputs + chunks - 1) / chunks, part = rows * n
            TileScratch.withFloats(chunks * part) { partials in
                let ps = SendablePointer(partials)
                DispatchQueue.concurrentPerform(iterations: chunks) { c in
                    let o0 = min(out, c * size), o1 = min(out, o0 + size)
                    let rc = emend_quant_backward(type, w.base + o0 * rowBytes, n, o1 - o0, 0, n,
                                                  gs.base + o0, rows, out, ps.base + c * part, n)
                    precondition(rc == 0, "emend_quant_backward refused \(s) [\(out), \(n)]")
                }
                Self.sumPartials(partials, count: chunks, size: part, into: dx)
            }
            return
        }
        parallelRangesSpinning(inputs / bs, grain: max(1, Self.fusedSplitWork / max(outputs * bs * rows, 1))) { cb in
            let rc = emend_quant_backward(type, w.base, n, out, cb.lowerBound * bs, cb.upperBound * bs,
                                          gs.base, rows, out, ds.base, n)
            precondition(rc == 0, "emend_quant_backward refused \(s) [\(out), \(n)]")
        }
    }

    /// Bytes of W above which the fused backward splits W's rows over the threads (each summing into its own dx)
    /// rather than its columns: about where W leaves the last-level cache. Measured (`EmendBench weights`, 1 row):
    /// the column split is ahead on W of 9.4 MB (Q4_K [2048, 8192]), the row split from 17.8 MB (Q8_0, same shape).
    static let fusedBackwardRowSplitBytes = 12 << 20

    private func tiledBackward(_ s: WeightStorage, _ b: WeightBytes, _ g: UnsafePointer<Float>, rows: Int,
                               _ dx: UnsafeMutablePointer<Float>, blocked: Bool) {
        // A strip of whole blocks, at least one block and about `scratchElements` elements.
        let bs = s.blockSize
        let width = min(inputs, max(bs, Self.scratchElements / outputs / bs * bs))
        if width < min(inputs, Self.narrowestStrip) || outputs * width > 4 * Self.scratchElements {
            return tiledBackwardByRows(s, b, g, rows: rows, dx, blocked: blocked)
        }
        // The blocked layout of the widest strip (every narrower one fits in it); the product writes dx in place.
        let layout = blocked ? Self.blockedLayout(m: rows, n: width, k: outputs, lda: outputs, ldc: inputs) : nil
        let stripElements = max(outputs * width, layout?.size ?? 0)
        TileScratch.withFloats(stripElements) { scratch in
            for c0 in stride(from: 0, to: inputs, by: width) {
                let c1 = min(inputs, c0 + width)
                // dx[:, c0..<c1] = g [R, Out] · strip [Out, c1 − c0]
                if layout != nil && blockedBackward(s, b, g, rows: rows, wRows: 0..<outputs, columns: c0..<c1,
                                                    scratch: scratch, capacity: stripElements, dx + c0) { continue }
                dequantize(s, b, rows: 0..<outputs, columns: c0..<c1, into: scratch, stride: c1 - c0, exact: false)
                product(a: g, lda: outputs, b: scratch, ldb: c1 - c0, transposeB: false, c: dx + c0,
                        ldc: inputs, m: rows, n: c1 - c0, k: outputs)
            }
        }
    }

    /// Column strips narrower than this, or of more than 16 MB (a strip is at least one block wide), run as row tiles
    /// instead (`tiledBackwardByRows`).
    static let narrowestStrip = 256

    /// dx = Σ over tiles of T rows of W of g[:, tile] · W[tile, :]: the first tile writes dx, each later one a partial
    /// [R, In] added into it (R·In additions per R·In·T multiply-adds). For W much taller than wide, where column
    /// strips of the scratch would be a few columns wide and all of W tall. Measured (`EmendBench weights`, g·W at 21
    /// rows): the default model's tied head, Q8_0 [49152, 576], 133 GFLOP/s as 32-column strips, 183 as row tiles
    /// (Float32 182; at 84 rows 277 and 364, Float32 271); Llama-3-8B's head, Q6_K [128256, 4096], 121 as 256-column
    /// strips (131 MB each), 181 as row tiles (Float32 136–142), level at 300 rows.
    private func tiledBackwardByRows(_ s: WeightStorage, _ b: WeightBytes, _ g: UnsafePointer<Float>, rows: Int,
                                     _ dx: UnsafeMutablePointer<Float>, blocked: Bool) {
        let tile = min(outputs, max(64, Self.scratchElements / max(inputs, 1)))
        let layout = blocked ? Self.blockedLayout(m: rows, n: inputs, k: tile, lda: outputs, ldc: inputs) : nil
        let tileElements = max(tile * inputs, layout?.size ?? 0)
        TileScratch.withFloats(tileElements + rows * inputs) { scratch in
            let w = scratch, partial = w + tileElements
            for o0 in stride(from: 0, to: outputs, by: tile) {
                let o1 = min(outputs, o0 + tile), out = o0 == 0 ? dx : partial
                // out [R, In] = g[:, o0..<o1] · W[o0..<o1, :]
                if !(layout != nil && blockedBackward(s, b, g + o0, rows: rows, wRows: o0..<o1, columns: 0..<inputs,
                                                      scratch: w, capacity: tileElements, out)) {
                    dequantize(s, b, rows: o0..<o1, columns: 0..<inputs, into: w, stride: inputs, exact: false)
                    product(a: g + o0, lda: outputs, b: w, ldb: inputs, transposeB: false, c: out, ldc: inputs,
                            m: rows, n: inputs, k: o1 - o0)
                }
                if o0 > 0 { for i in 0..<(rows * inputs) { dx[i] += partial[i] } }
            }
        }
    }

    /// out [R, columns] (row stride In) = g[:, wRows] · W[wRows, columns] (`g` already at column wRows.lowerBound,
    /// row stride Out), with that block of W decoded into oneDNN's blocked layout (split over the threads by its
    /// 16-row blocks); false when oneDNN refuses the layout or the product (the caller then runs the plain path).
    private func blockedBackward(_ s: WeightStorage, _ b: WeightBytes, _ g: UnsafePointer<Float>, rows: Int,
                                 wRows: Range<Int>, columns: Range<Int>, scratch: UnsafeMutablePointer<Float>,
                                 capacity: Int, _ out: UnsafeMutablePointer<Float>) -> Bool {
        let (k, c) = (wRows.count, columns.count)
        guard let l = Self.blockedLayout(m: rows, n: c, k: k, lda: outputs, ldc: inputs), l.size <= capacity else { return false }
        let rowBytes = b.bytes.count / outputs
        let w = SendableConstPointer(b.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + wRows.lowerBound * rowBytes)
        let d = SendablePointer(scratch)
        let (n, type, layout) = (inputs, s.rawValue, l)
        parallelRanges((k + l.kb - 1) / l.kb, grain: max(1, 32_768 / max(l.kb * c, 1))) { pb in
            var l = layout
            let rc = emend_quant_pack_backward(type, w.base, n, k, columns.lowerBound, columns.upperBound, pb.lowerBound,
                                               pb.upperBound, &l, d.base)
            precondition(rc == 0, "emend_quant_pack_backward refused \(s) rows \(wRows) columns \(columns) of \(n)")
        }
        return emend_dnnl_matmul_f32_blocked(rows, c, k, g, outputs, scratch, out, inputs) == 0
    }

    /// Rows of x (or g) from which the tiled products decode into oneDNN's blocked layout. Measured side by side
    /// (`EmendBench weights`, tiled-kernel table, six runs): at 640 rows the blocked x·Wᵀ was ahead of the plain one in
    /// every comparison on the default model's four Q4_1 shapes, by 1–10%, and level with the Float32 product
    /// (0.98–1.07×); at 512 rows within the machine's noise of it; at 21–84 rows, where decoding rather than the product
    /// is the cost, the forward's transposing decode is up to 15% behind the plain one.
    static let blockedLayoutRows = 256

    /// oneDNN's blocked layout for B in C[m, n] = A[m, k] · B (row strides lda, ldc), when oneDNN runs this product
    /// (the size `oneDNNProduct` takes), m is at least `blockedLayoutRows` and the layout is one the packers write;
    /// nil otherwise.
    static func blockedLayout(m: Int, n: Int, k: Int, lda: Int, ldc: Int) -> emend_dnnl_blocked_b? {
        guard m >= blockedLayoutRows, n > 0, k > 0, MatmulBackend.oneDNNTakes(m: m, n: n, k: k) else { return nil }
        var l = emend_dnnl_blocked_b()
        guard emend_dnnl_blocked_b_layout(m, n, k, lda, ldc, &l) == 0, emend_quant_pack_supported(&l) != 0 else { return nil }
        return l
    }

    // MARK: - Helpers

    /// How one product runs: BLAS on F32 bytes, or one of the two block kernels.
    enum ProductPath: String { case blas = "BLAS", fused, tiled, tiledPlain = "tiled plain", tiledSplit = "tiled split" }

    /// out [R, width] = the product `body` computes from `a` [R, inner] along `path`, timed by `MatmulProfile`;
    /// zeros when either extent is empty (an empty sum).
    private func storedProduct(_ a: Tensor, width: Int, inner: Int, _ s: WeightStorage, kernel: BlockKernel, backward: Bool,
                               _ body: (ProductPath, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>) -> Void) -> Tensor {
        let r = a.shape[0]
        if r == 0 || width == 0 || inner == 0 { return Tensor.zeros([r, width]) }
        let path: ProductPath = s == .f32 ? .blas
            : kernel == .fused || (kernel == .automatic && r <= Self.fusedRowLimit) ? .fused
            : kernel == .tiledSplit || (kernel == .automatic && splitTakes(rows: r, backward: backward)) ? .tiledSplit
            : kernel == .tiledPlain ? .tiledPlain : .tiled
        let out = MatmulProfile.measure(rows: r, inner: inner, outer: width, precision: "\(s) \(path.rawValue) \(backward ? "g·W" : "x·Wᵀ")") {
            [Float](unsafeUninitializedCapacity: r * width) { p, initialized in
                a.scalars.withUnsafeBufferPointer { body(path, $0.baseAddress!, r, p.baseAddress!) }
                initialized = r * width
            }
        }
        return Tensor(shape: [r, width], scalars: out)
    }

    /// The stored bytes (nil for a dense matrix).
    var storedBytes: WeightBytes? {
        if case let .stored(_, b) = payload { return b }
        return nil
    }

    /// Floats in one scratch tile or strip (4 MB): large enough for BLAS to run at full speed, small enough to
    /// stay in the last-level cache.
    static let scratchElements = 1 << 20

    /// dst[i·stride + j] = W[rows.lowerBound + i, columns.lowerBound + j], split over the threads by rows.
    /// - exact: ggml's values bit for bit (`dequantizedRows`, export); otherwise the SIMD unit decoders the fused
    ///   kernels use (within an ulp of them; 5–15× faster for the legacy types), for the tiled products' scratch.
    /// out[i] = Σ over c < count of partials[c · size + i], for i < size (per-thread partial results of one product).
    static func sumPartials(_ partials: UnsafePointer<Float>, count: Int, size: Int, into out: UnsafeMutablePointer<Float>) {
        out.update(from: partials, count: size)
        for c in 1..<max(count, 1) { for i in 0..<size { out[i] += partials[c * size + i] } }
    }

    func dequantize(_ s: WeightStorage, _ b: WeightBytes, rows: Range<Int>, columns: Range<Int>,
                    into dst: UnsafeMutablePointer<Float>, stride: Int, exact: Bool = true) {
        let w = SendableConstPointer(b.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)), d = SendablePointer(dst)
        let (n, type, r0) = (inputs, s.rawValue, rows.lowerBound)
        parallelRanges(rows.count, grain: max(1, 32_768 / max(columns.count, 1))) { r in
            let rc = (exact ? emend_quant_dequantize : emend_quant_decode)(type, w.base, n, r0 + r.lowerBound, r0 + r.upperBound,
                                            columns.lowerBound, columns.upperBound, d.base + r.lowerBound * stride, stride)
            precondition(rc == 0, "emend_quant_dequantize refused \(s) columns \(columns) of \(n)")
        }
    }

    /// The stored bytes of an F32 matrix as floats (`init(storage:…)` copies misaligned ones).
    private func f32Base(_ b: WeightBytes) -> UnsafePointer<Float> {
        b.bytes.baseAddress!.assumingMemoryBound(to: Float.self)
    }

    /// C[m, n] = A[m, k] · op(B) (B [k, n], or [n, k] transposed) through oneDNN when it takes it, else sgemm.
    private func product(a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
                         c: UnsafeMutablePointer<Float>, ldc: Int, m: Int, n: Int, k: Int) {
        if oneDNNProduct(transposeA: false, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                         c: c, ldc: ldc) { return }
        sgemm(transposeA: false, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
    }
}
