// Weight matrices kept in their GGUF stored type: dequantisation of any part of one, and the two products the
// editors need (y = x·Wᵀ and dx = g·W) fused with the dequantisation for few rows.
//
// Shapes: W [out, in] row-major, each row `in` elements stored as in/QK blocks (QK = 1 for F32/F16/BF16, 32 for the
// legacy quants, 256 for the k-quants); a row takes emend_quant_row_bytes(type, in) bytes and rows are contiguous.
// x [rows, in] (row stride ldx); g [rows, out] (ldg); y [rows, out] (ldy); dx [rows, in] (lddx).
//
// Type ids are ggml's (ggml.h): F32 0, F16 1, Q4_0 2, Q4_1 3, Q5_0 6, Q5_1 7, Q8_0 8, Q2_K 10, Q3_K 11, Q4_K 12,
// Q5_K 13, Q6_K 14, BF16 30 (Q2_K and Q3_K have no unit decoders: their products dequantise 256 elements at a time).
// Every function returns 0, or -1 for a type it does not know or a column range not on block bounds.
// The dequantised values are bit-exact with ggml's dequantize_row_* (Float32 math in the same order, no fused
// multiply-add). The products accumulate in Float32 in an order of their own, and decode each weight as q·d + m with
// one fused multiply-add: the result of a Float32 product on the dequantised matrix up to rounding order.
#ifndef EMEND_QUANT_H
#define EMEND_QUANT_H
#include <stdint.h>
#include "emend_dnnl.h"

/// Bytes of one stored row of `in` elements, or -1 when the type is unknown or `in` is not a whole number of blocks.
long emend_quant_row_bytes(int type, long in);

/// Elements per block of a type (1 for F32/F16/BF16, 32 for the legacy quants, 256 for the k-quants), 0 when unknown.
long emend_quant_block_elements(int type);

/// dst[(r − r0)·ldd + (c − c0)] = W[r, c] for r in [r0, r1), c in [c0, c1); c0 and c1 on block bounds.
int emend_quant_dequantize(int type, const void *w, long in, long r0, long r1, long c0, long c1,
                           float *dst, long ldd);

/// y[r, o] = Σ_c x[r, c]·W[o, c] for r < rows, o in [o0, o1) (overwritten). Each 32-element unit of W is decoded
/// into vector registers and used at once for up to 4 rows of x (emend_quant_fused.c); nothing else is written.
int emend_quant_forward(int type, const void *w, long in, long o0, long o1,
                        const float *x, long rows, long ldx, float *y, long ldy);

/// dx[r, c] = Σ_o g[r, o]·W[o, c] for r < rows, c in [c0, c1) on block bounds (overwritten), o < out.
int emend_quant_backward(int type, const void *w, long in, long out, long c0, long c1,
                         const float *g, long rows, long ldg, float *dx, long lddx);

/// As emend_quant_dequantize, by the fused kernels' unit decoders (SIMD; each weight q·d + m in one rounding, so within
/// an ulp of ggml's two-rounding values): the dequantisation of the tiled products. Falls back to
/// emend_quant_dequantize for F32 and for bounds that are not whole blocks.
int emend_quant_decode(int type, const void *w, long in, long r0, long r1, long c0, long c1, float *dst, long ldd);

/// The forward's B = Wᵀ in oneDNN's blocked layout `l` (emend_dnnl_blocked_b), decoded as emend_quant_decode:
/// B(p, j) = W[o0 + j, p] for p < in, j < o1 − o0, written for the nb-blocks of j in [jb0, jb1), zeros in the
/// padding. -1 for bad bounds or a layout whose blocks are not whole 16×16 tiles (the caller then decodes plainly).
int emend_quant_pack_forward(int type, const void *w, long in, long o0, long o1, long jb0, long jb1,
                             const emend_dnnl_blocked_b *l, float *dst);

/// The backward's B = W[:, c0..<c1] in the blocked layout `l`: B(p, j) = W[p, c0 + j] for p < out, j < c1 − c0,
/// written for the kb-blocks of p in [pb0, pb1), zeros in the padding; c0 and c1 on block bounds (or c1 = in).
int emend_quant_pack_backward(int type, const void *w, long in, long out, long c0, long c1, long pb0, long pb1,
                              const emend_dnnl_blocked_b *l, float *dst);

/// 1 when the two packers above take layout `l` (blocks of whole 16×16 tiles, nb dividing 256), else 0.
int emend_quant_pack_supported(const emend_dnnl_blocked_b *l);

/// Which build of the fused products runs: 2 AVX-512, 1 AVX2 + FMA + F16C, 0 the portable baseline (SSE2 on
/// x86-64, NEON on arm64); the best the CPU runs, capped by `cap` (kept for later calls when cap ≥ 0, unchanged when
/// cap < 0; for tests and benchmarks). Returns the level now in use.
int emend_quant_isa(int cap);
#endif
