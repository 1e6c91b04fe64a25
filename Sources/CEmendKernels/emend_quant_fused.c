// See include/emend_quant.h: the two fused products, y = x·Wᵀ and dx = g·W, on W kept as stored blocks, for few
// rows of x (or g). Block layouts are listed at the top of emend_quant.c.
//
// Goals in order: (1) the result of a Float32 product on the dequantised matrix up to rounding order: each weight is
// decoded as q·d + m with one fused multiply-add instead of ggml's two roundings, and the sums are split over
// accumulators; (2) fast at 1 to 4 rows, the one-sequence generation path, where every weight is used 1–4 times per
// byte read and decoding is the cost.
//
// How: every stored row is a sequence of 32-element *units* (one legacy block, an eighth of a k-quant block, or 32
// halves). Each type has an inline `unit_*` that decodes one unit straight into two 16-lane Float32 vectors (clang
// vector extensions: one AVX-512 register, two AVX2 or four SSE/NEON registers) with no table, branch or buffer.
// The drivers below call it with the type and the row count as compile-time constants, so every (type, rows) pair
// is its own loop: forward keeps 2 or 4 accumulator vectors per row of x and reduces them once per output; backward
// streams the rows of W and adds each decoded unit, scaled by g, into dx.
// Each driver is built three times: AVX-512 (F, BW, VL, DQ), AVX2 + FMA + F16C, and the compiler's baseline (SSE2
// on x86-64, NEON on arm64); the entry points pick the best the CPU runs (__builtin_cpu_supports), capped by
// emend_quant_isa for tests and benchmarks.
// Measured (one thread, AVX-512, 1 row, W [1536, 576]): Q4_1 60, Q8_0 70, Q4_K 45, Q6_K 36 GFLOP/s, against 1–23
// before (one block dequantised into a stack buffer by a generic switch, then dotted).
// Widths that are not whole units (F16/BF16/F32 rows of in % 32 ≠ 0) and F32 take the generic path: dequantise
// 256 elements into a stack buffer with emend_quant_dequantize, then dot or add.
#include "emend_quant.h"
#include <stdint.h>
#include <string.h>

#pragma clang fp contract(fast)
// 16-lane vectors pass between always-inline helpers only, so the AVX ABI note for non-AVX-512 builds is moot.
#pragma clang diagnostic ignored "-Wpsabi"

enum { T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8,
       T_Q2_K = 10, T_Q3_K = 11, T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14, T_BF16 = 30 };

#define INLINE __attribute__((always_inline)) static inline

typedef float    f32x16 __attribute__((ext_vector_type(16)));
typedef int32_t  i32x16 __attribute__((ext_vector_type(16)));
typedef uint32_t u32x16 __attribute__((ext_vector_type(16)));
typedef uint16_t u16x16 __attribute__((ext_vector_type(16)));
typedef _Float16 f16x16 __attribute__((ext_vector_type(16)));
typedef uint8_t  u8x16  __attribute__((ext_vector_type(16)));
typedef int8_t   i8x16  __attribute__((ext_vector_type(16)));

#if defined(__x86_64__)
INLINE uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
#endif
INLINE uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
/// IEEE binary16 → binary32, exact. `level` ≥ 1 (F16C, or any arm64): the hardware conversion; the x86-64 baseline
/// has none (a library call per value), so there the bits are moved into place: exponent and fraction shifted up by
/// 13 and scaled by 2¹¹² (2^(127 − 15)), which also makes half subnormals exact; infinities and NaNs keep an
/// all-ones exponent.
INLINE float half(const int level, const uint8_t *p) {
#if defined(__x86_64__)
    if (level == 0) {
        const uint32_t h = rd16(p), em = h & 0x7FFF;
        uint32_t bits = em << 13;
        float f;
        memcpy(&f, &bits, 4);
        f *= 0x1p112f;
        memcpy(&bits, &f, 4);
        if (em >= 0x7C00) bits = em << 13 | 0x7F800000;
        bits |= (h & 0x8000) << 16;
        memcpy(&f, &bits, 4);
        return f;
    }
#endif
    _Float16 f;
    memcpy(&f, p, 2);
    return (float)f;
}
INLINE f32x16 load(const float *p) { f32x16 v; memcpy(&v, p, 64); return v; }
INLINE void store(float *p, f32x16 v) { memcpy(p, &v, 64); }
/// 16 bytes as 16 lanes of int32 (zero-extended).
INLINE i32x16 bytes16(const uint8_t *p) { u8x16 v; memcpy(&v, p, 16); return __builtin_convertvector(v, i32x16); }
INLINE f32x16 f32(i32x16 v) { return __builtin_convertvector(v, f32x16); }
typedef float f32x8 __attribute__((ext_vector_type(8)));
typedef float f32x4 __attribute__((ext_vector_type(4)));
/// The sum of the 16 lanes, by halving (stays in registers).
INLINE float hsum(f32x16 v) {
    const f32x8 a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7)
                  + __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    const f32x4 b = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
    return (b[0] + b[2]) + (b[1] + b[3]);
}

static const i32x16 lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

// MARK: - One unit of 32 elements per type: *lo = elements 0…15, *hi = 16…31

// Q4_0 (32 elements, 18 B): d:f16, qs[16]. Element j < 16 is the low nibble of qs[j], element 16 + j its high
// nibble; x = (q − 8)·d = q·d − 8d.
INLINE void unit_q4_0(const int level, const uint8_t *b, f32x16 *lo, f32x16 *hi) {
    const float d = half(level, b), m = -8 * d;
    const i32x16 q = bytes16(b + 2);
    *lo = f32(q & 0xF) * d + m;
    *hi = f32(q >> 4) * d + m;
}

// Q4_1 (32, 20 B): d, m:f16, qs[16]; nibbles as Q4_0; x = q·d + m.
INLINE void unit_q4_1(const int level, const uint8_t *b, f32x16 *lo, f32x16 *hi) {
    const float d = half(level, b), m = half(level, b + 2);
    const i32x16 q = bytes16(b + 4);
    *lo = f32(q & 0xF) * d + m;
    *hi = f32(q >> 4) * d + m;
}

// Q5_0 (32, 22 B): d, qh:u32, qs[16]; element j's fifth bit is bit j of qh; x = (q − 16)·d.
INLINE void unit_q5_0(const int level, const uint8_t *b, f32x16 *lo, f32x16 *hi) {
    const float d = half(level, b), m = -16 * d;
    const u32x16 qh = (u32x16)rd32(b + 2);
    const i32x16 q = bytes16(b + 6);
    const i32x16 h0 = (i32x16)((qh >> (u32x16)lane) & 1) << 4, h1 = (i32x16)((qh >> (u32x16)(lane + 16)) & 1) << 4;
    *lo = f32((q & 0xF) | h0) * d + m;
    *hi = f32((q >> 4) | h1) * d + m;
}

// Q5_1 (32, 24 B): d, m, qh:u32, qs[16]; bits as Q5_0; x = q·d + m.
INLINE void unit_q5_1(const int level, const uint8_t *b, f32x16 *lo, f32x16 *hi) {
    const float d = half(level, b), m = half(level, b + 2);
    const u32x16 qh = (u32x16)rd32(b + 4);
    const i32x16 q = bytes16(b + 8);
    const i32x16 h0 = (i32x16)((qh >> (u32x16)lane) & 1) << 4, h1 = (i32x16)((qh >> (u32x16)(lane + 16)) & 1) << 4;
    *lo = f32((q & 0xF) | h0) * d + m;
    *hi = f32((q >> 4) | h1) * d + m;
}

// Q8_0 (32, 34 B): d, qs:i8[32]; x = q·d.
INLINE void unit_q8_0(const int level, const uint8_t *b, f32x16 *lo, f32x16 *hi) {
    const float d = half(level, b);
    i8x16 q0, q1;
    memcpy(&q0, b + 2, 16);
    memcpy(&q1, b + 18, 16);
    *lo = __builtin_convertvector(q0, f32x16) * d;
    *hi = __builtin_convertvector(q1, f32x16) * d;
}

/// The six-bit (scale, min) pair of sub-block j (0…7) of a Q4_K/Q5_K block from its 12 packed bytes s: pairs 0–3
/// are the low 6 bits of bytes 0–3 / 4–7; pairs 4–7 take 4 bits from bytes 8–11 and their top 2 bits from
/// bytes 0–3 / 4–7.
INLINE void scale_min(int j, const uint8_t *s, float *sc, float *m) {
    if (j < 4) {
        *sc = (float)(s[j] & 63);
        *m = (float)(s[j + 4] & 63);
    } else {
        *sc = (float)((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
        *m = (float)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

// Q4_K (256, 144 B): d, dmin:f16, scales[12], qs[128]. Unit j (sub-block j) reads the 32 bytes qs[32·(j/2)…]:
// their low nibbles for even j, high for odd; x = (d·sc_j)·q − dmin·m_j.
INLINE void unit_q4_k(const int level, const uint8_t *b, int j, f32x16 *lo, f32x16 *hi) {
    float sc, mn;
    scale_min(j, b + 4, &sc, &mn);
    const float d = half(level, b) * sc, m = -(half(level, b + 2) * mn);
    const uint8_t *qs = b + 16 + 32 * (j / 2);
    const int shift = 4 * (j & 1);
    *lo = f32((bytes16(qs) >> shift) & 0xF) * d + m;
    *hi = f32((bytes16(qs + 16) >> shift) & 0xF) * d + m;
}

// Q5_K (256, 176 B): as Q4_K with qh[32] before qs: element l of unit j takes bit j of qh[l] as its fifth bit.
INLINE void unit_q5_k(const int level, const uint8_t *b, int j, f32x16 *lo, f32x16 *hi) {
    float sc, mn;
    scale_min(j, b + 4, &sc, &mn);
    const float d = half(level, b) * sc, m = -(half(level, b + 2) * mn);
    const uint8_t *qh = b + 16, *qs = b + 48 + 32 * (j / 2);
    const int shift = 4 * (j & 1);
    *lo = f32(((bytes16(qs) >> shift) & 0xF) | (((bytes16(qh) >> j) & 1) << 4)) * d + m;
    *hi = f32(((bytes16(qs + 16) >> shift) & 0xF) | (((bytes16(qh + 16) >> j) & 1) << 4)) * d + m;
}

// Q6_K (256, 210 B): ql[128], qh[64], scales:i8[16], d:f16. Unit j lies in half h = j/4 (ql + 64h, qh + 32h,
// scales + 8h) as quarter k = j%4: element l < 32 is nibble k/2 of ql[32·(k%2) + l], plus bits 2k…2k+1 of qh[l]
// as bits 4–5; x = (d·sc)·(q − 32), sc = scales[2k] for l < 16 and scales[2k + 1] above.
INLINE void unit_q6_k(const int level, const uint8_t *b, int j, f32x16 *lo, f32x16 *hi) {
    const int h = j / 4, k = j % 4;
    const uint8_t *ql = b + 64 * h + 32 * (k & 1), *qh = b + 128 + 32 * h;
    const int8_t *sc = (const int8_t *)(b + 192 + 8 * h) + 2 * k;
    const float d = half(level, b + 208), d0 = d * (float)sc[0], d1 = d * (float)sc[1];
    const int shift = 4 * (k >> 1);
    const i32x16 q0 = ((bytes16(ql) >> shift) & 0xF) | (((bytes16(qh) >> (2 * k)) & 3) << 4);
    const i32x16 q1 = ((bytes16(ql + 16) >> shift) & 0xF) | (((bytes16(qh + 16) >> (2 * k)) & 3) << 4);
    *lo = f32(q0 - 32) * d0;
    *hi = f32(q1 - 32) * d1;
}

// F16 (1, 2 B) and BF16 (1, 2 B): a unit is 32 consecutive values. BF16 is the high half of a Float32.
/// 16 halves → Float32, as `half` does one (the moved bits on the x86-64 baseline).
INLINE f32x16 halves16(const int level, const uint8_t *p) {
#if defined(__x86_64__)
    if (level == 0) {
        u16x16 h;
        memcpy(&h, p, 32);
        const u32x16 h32 = __builtin_convertvector(h, u32x16), em = h32 & 0x7FFF;
        const u32x16 scaled = (u32x16)((f32x16)(em << 13) * 0x1p112f);
        const u32x16 bits = (em >= 0x7C00) ? (em << 13 | 0x7F800000) : scaled;
        return (f32x16)(bits | (h32 & 0x8000) << 16);
    }
#endif
    f16x16 h;
    memcpy(&h, p, 32);
    return __builtin_convertvector(h, f32x16);
}

INLINE void unit_f16(const int level, const uint8_t *b, f32x16 *lo, f32x16 *hi) {
    *lo = halves16(level, b);
    *hi = halves16(level, b + 32);
}

INLINE void unit_bf16(const uint8_t *b, f32x16 *lo, f32x16 *hi) {
    u16x16 h0, h1;
    memcpy(&h0, b, 32);
    memcpy(&h1, b + 32, 32);
    *lo = (f32x16)(__builtin_convertvector(h0, u32x16) << 16);
    *hi = (f32x16)(__builtin_convertvector(h1, u32x16) << 16);
}

/// Units per block and bytes per block of the types with a unit decoder; 0 for the others.
INLINE void unit_layout(int type, int *units, int *bytes) {
    switch (type) {
    case T_F16: case T_BF16: *units = 1; *bytes = 64; return;
    case T_Q4_0: *units = 1; *bytes = 18;  return;
    case T_Q4_1: *units = 1; *bytes = 20;  return;
    case T_Q5_0: *units = 1; *bytes = 22;  return;
    case T_Q5_1: *units = 1; *bytes = 24;  return;
    case T_Q8_0: *units = 1; *bytes = 34;  return;
    case T_Q4_K: *units = 8; *bytes = 144; return;
    case T_Q5_K: *units = 8; *bytes = 176; return;
    case T_Q6_K: *units = 8; *bytes = 210; return;
    default:     *units = 0; *bytes = 0;   return;
    }
}

/// Unit j of the block at b (type and j are constants after inlining).
INLINE void unit(const int level, const int type, const uint8_t *b, int j, f32x16 *lo, f32x16 *hi) {
    switch (type) {
    case T_F16:  unit_f16(level, b, lo, hi); return;
    case T_BF16: unit_bf16(b, lo, hi); return;
    case T_Q4_0: unit_q4_0(level, b, lo, hi); return;
    case T_Q4_1: unit_q4_1(level, b, lo, hi); return;
    case T_Q5_0: unit_q5_0(level, b, lo, hi); return;
    case T_Q5_1: unit_q5_1(level, b, lo, hi); return;
    case T_Q8_0: unit_q8_0(level, b, lo, hi); return;
    case T_Q4_K: unit_q4_k(level, b, j, lo, hi); return;
    case T_Q5_K: unit_q5_k(level, b, j, lo, hi); return;
    case T_Q6_K: unit_q6_k(level, b, j, lo, hi); return;
    default:     *lo = 0; *hi = 0; return;
    }
}

// MARK: - Drivers (type and row count constant)

/// y[r, o] = Σ_c x[r, c]·W[o, c] for r < NR, o in [o0, o1). Per output and row of x, two accumulators (a unit's
/// halves); at one or two rows, two more for odd units, so that the additions into one accumulator (4 cycles apart)
/// do not limit the loop, and at three or four two only, so that 2·NR accumulators stay in registers.
INLINE void forward_rows(const int level, const int type, const int NR, const uint8_t *w, long rb, long in, long o0, long o1,
                         const float *x, long ldx, float *y, long ldy) {
    int upb, bytes;
    unit_layout(type, &upb, &bytes);
    const long units = in / 32;
    const int step = upb == 1 ? 2 : upb;  // units per pass: two legacy blocks, or one k-quant block
    for (long o = o0; o < o1; o++) {
        const uint8_t *row = w + o * rb;
        const int odd = NR <= 2 ? 2 : 0;  // where odd units' accumulators start
        f32x16 acc[4][4] = {{0}};
        for (long u = 0; u < units; u += step) {
#pragma clang loop unroll(full)
            for (int j = 0; j < step; j++) {
                if (upb == 1 && u + j == units) break;  // an odd last legacy block (k-quant rows are whole blocks)
                f32x16 lo, hi;
                unit(level, type, row + (u + j) / upb * bytes, j % upb, &lo, &hi);
                const float *xu = x + 32 * (u + j);
                for (int r = 0; r < NR; r++) {
                    acc[r][odd * (j & 1)] += lo * load(xu + r * ldx);
                    acc[r][odd * (j & 1) + 1] += hi * load(xu + r * ldx + 16);
                }
            }
        }
        for (int r = 0; r < NR; r++) y[r * ldy + o] = hsum((acc[r][0] + acc[r][1]) + (acc[r][2] + acc[r][3]));
    }
}

/// dx[r, c] += Σ_k g[r, o + k]·W[o + k, c] for r < NR, k < NO (1 or 2 rows of W at a time, halving the loads and
/// stores of dx), c over blocks [b0, b1) of the rows.
INLINE void backward_span(const int level, const int type, const int NR, const int NO, const uint8_t *w, long rb,
                          long o, long b0, long b1, const float *g, long ldg, float *dx, long lddx) {
    int upb, bytes;
    unit_layout(type, &upb, &bytes);
    float gs[2][4];
    for (int k = 0; k < NO; k++)
        for (int r = 0; r < NR; r++) gs[k][r] = g[r * ldg + o + k];
    for (long bi = b0; bi < b1; bi++) {
#pragma clang loop unroll(full)
        for (int j = 0; j < upb; j++) {
            f32x16 lo[2], hi[2];
            for (int k = 0; k < NO; k++) unit(level, type, w + (o + k) * rb + bi * bytes, j, &lo[k], &hi[k]);
            for (int r = 0; r < NR; r++) {
                float *d = dx + r * lddx + 32 * ((bi - b0) * upb + j);
                f32x16 a = load(d), b = load(d + 16);
                for (int k = 0; k < NO; k++) {
                    a += lo[k] * gs[k][r];
                    b += hi[k] * gs[k][r];
                }
                store(d, a);
                store(d + 16, b);
            }
        }
    }
}

/// dx[r, c] = Σ_o g[r, o]·W[o, c] for r < NR, c in [c0, c1) (on block bounds), o < out: dx ← 0, then the rows of W
/// in turn, the span [c0, c1) of each decoded a unit at a time and added, scaled by g[r, o], into dx. W is read row
/// after row (the strided alternative, a strip of columns down all rows in registers, ran at a tenth of the speed on
/// W [14336, 4096]), and dx (≤ 4 rows of the span) stays in the first-level cache. Two rows of W at a time when W
/// fits in 4 MiB (cache-resident: about 1.7 times the speed at 4 rows); one at a time above, where two interleaved
/// rows ran at a fifth of the speed of one (W [49152, 576] Q8_0, W [14336, 4096]; measured, not explained).
INLINE void backward_rows(const int level, const int type, const int NR, const uint8_t *w, long rb, long out,
                          long c0, long c1, const float *g, long ldg, float *dx, long lddx) {
    int upb, bytes;
    unit_layout(type, &upb, &bytes);
    const long b0 = c0 / (32 * upb), b1 = c1 / (32 * upb);
    for (int r = 0; r < NR; r++) memset(dx + r * lddx, 0, sizeof(float) * (size_t)(c1 - c0));
    long o = 0;
    if (out * rb <= 4L << 20)
        for (; o + 1 < out; o += 2) backward_span(level, type, NR, 2, w, rb, o, b0, b1, g, ldg, dx, lddx);
    for (; o < out; o++) backward_span(level, type, NR, 1, w, rb, o, b0, b1, g, ldg, dx, lddx);
}

/// Rows of x in groups of 4, then the rest, each group with its own constant row count.
#define BY_ROWS(CALL, rows, stride)                                                   \
    for (long r0 = 0; r0 < (rows); r0 += 4) {                                         \
        const long nr = (rows) - r0 < 4 ? (rows) - r0 : 4;                            \
        switch (nr) {                                                                 \
        case 4: CALL(4); break;                                                       \
        case 3: CALL(3); break;                                                       \
        case 2: CALL(2); break;                                                       \
        default: CALL(1); break;                                                      \
        }                                                                             \
    }

/// The type as a constant, for every type with a unit decoder.
#define BY_TYPE(CALL)                                                                 \
    switch (type) {                                                                   \
    case T_F16:  CALL(T_F16); break;                                                  \
    case T_BF16: CALL(T_BF16); break;                                                 \
    case T_Q4_0: CALL(T_Q4_0); break;                                                 \
    case T_Q4_1: CALL(T_Q4_1); break;                                                 \
    case T_Q5_0: CALL(T_Q5_0); break;                                                 \
    case T_Q5_1: CALL(T_Q5_1); break;                                                 \
    case T_Q8_0: CALL(T_Q8_0); break;                                                 \
    case T_Q4_K: CALL(T_Q4_K); break;                                                 \
    case T_Q5_K: CALL(T_Q5_K); break;                                                 \
    case T_Q6_K: CALL(T_Q6_K); break;                                                 \
    default: break;                                                                   \
    }

INLINE void forward_units(const int level, int type, const uint8_t *w, long rb, long in, long o0, long o1,
                          const float *x, long rows, long ldx, float *y, long ldy) {
#define FWD_NR(NR) forward_rows(level, T, NR, w, rb, in, o0, o1, x + r0 * ldx, ldx, y + r0 * ldy, ldy)
#define FWD_TYPE(TYPE) { const int T = TYPE; BY_ROWS(FWD_NR, rows, ldx) }
    BY_TYPE(FWD_TYPE)
#undef FWD_NR
#undef FWD_TYPE
}

INLINE void backward_units(const int level, int type, const uint8_t *w, long rb, long out, long c0, long c1,
                           const float *g, long rows, long ldg, float *dx, long lddx) {
#define BWD_NR(NR) backward_rows(level, T, NR, w, rb, out, c0, c1, g + r0 * ldg, ldg, dx + r0 * lddx + c0, lddx)
#define BWD_TYPE(TYPE) { const int T = TYPE; BY_ROWS(BWD_NR, rows, ldg) }
    BY_TYPE(BWD_TYPE)
#undef BWD_NR
#undef BWD_TYPE
}

/// dst[(r − r0)·ldd + c − c0] = W[r, c] for r in [r0, r1), c in [c0, c1) (whole blocks): the tiled products'
/// dequantisation, by the unit decoders (each weight q·d + m in one rounding, as the fused kernels use it).
INLINE void decode_rows(const int level, const int type, const uint8_t *w, long rb, long r0, long r1, long c0, long c1,
                        float *dst, long ldd) {
    int upb, bytes;
    unit_layout(type, &upb, &bytes);
    const long b0 = c0 / (32 * upb), b1 = c1 / (32 * upb);
    for (long r = r0; r < r1; r++) {
        const uint8_t *row = w + r * rb;
        float *d = dst + (r - r0) * ldd;
        for (long bi = b0; bi < b1; bi++) {
#pragma clang loop unroll(full)
            for (int j = 0; j < upb; j++) {
                f32x16 lo, hi;
                unit(level, type, row + bi * bytes, j, &lo, &hi);
                float *u = d + 32 * ((bi - b0) * upb + j);
                store(u, lo);
                store(u + 16, hi);
            }
        }
    }
}

INLINE void decode_units(const int level, int type, const uint8_t *w, long rb, long r0, long r1, long c0, long c1,
                         float *dst, long ldd) {
#define DEC_TYPE(TYPE) decode_rows(level, TYPE, w, rb, r0, r1, c0, c1, dst, ldd)
    BY_TYPE(DEC_TYPE)
#undef DEC_TYPE
}

// MARK: - One build per instruction set

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define AVX2 __attribute__((target("avx2,fma,f16c")))

#if defined(__x86_64__)
AVX512 static void forward_avx512(int type, const uint8_t *w, long rb, long in, long o0, long o1,
                                  const float *x, long rows, long ldx, float *y, long ldy) {
    forward_units(2, type, w, rb, in, o0, o1, x, rows, ldx, y, ldy);
}
AVX2 static void forward_avx2(int type, const uint8_t *w, long rb, long in, long o0, long o1,
                              const float *x, long rows, long ldx, float *y, long ldy) {
    forward_units(1, type, w, rb, in, o0, o1, x, rows, ldx, y, ldy);
}
AVX512 static void backward_avx512(int type, const uint8_t *w, long rb, long out, long c0, long c1,
                                   const float *g, long rows, long ldg, float *dx, long lddx) {
    backward_units(2, type, w, rb, out, c0, c1, g, rows, ldg, dx, lddx);
}
AVX2 static void backward_avx2(int type, const uint8_t *w, long rb, long out, long c0, long c1,
                               const float *g, long rows, long ldg, float *dx, long lddx) {
    backward_units(1, type, w, rb, out, c0, c1, g, rows, ldg, dx, lddx);
}
AVX512 static void decode_avx512(int type, const uint8_t *w, long rb, long r0, long r1, long c0, long c1, float *dst, long ldd) {
    decode_units(2, type, w, rb, r0, r1, c0, c1, dst, ldd);
}
AVX2 static void decode_avx2(int type, const uint8_t *w, long rb, long r0, long r1, long c0, long c1, float *dst, long ldd) {
    decode_units(1, type, w, rb, r0, r1, c0, c1, dst, ldd);
}
#endif
static void decode_base(int type, const uint8_t *w, long rb, long r0, long r1, long c0, long c1, float *dst, long ldd) {
    decode_units(0, type, w, rb, r0, r1, c0, c1, dst, ldd);
}
static void forward_base(int type, const uint8_t *w, long rb, long in, long o0, long o1,
                         const float *x, long rows, long ldx, float *y, long ldy) {
    forward_units(0, type, w, rb, in, o0, o1, x, rows, ldx, y, ldy);
}
static void backward_base(int type, const uint8_t *w, long rb, long out, long c0, long c1,
                          const float *g, long rows, long ldg, float *dx, long lddx) {
    backward_units(0, type, w, rb, out, c0, c1, g, rows, ldg, dx, lddx);
}

/// The best build this CPU runs: 2 AVX-512 (F, BW, VL, DQ), 1 AVX2 + FMA + F16C, 0 the baseline.
static int detected_isa(void) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512dq")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) return 1;
#endif
    return 0;
}

static int isa_cap = 2;  // set by emend_quant_isa, so that tests and benchmarks can run the narrower builds

int emend_quant_isa(int cap) {
    if (cap >= 0) __atomic_store_n(&isa_cap, cap, __ATOMIC_RELAXED);
    const int c = __atomic_load_n(&isa_cap, __ATOMIC_RELAXED), d = detected_isa();
    return c < d ? c : d;
}

static int isa(void) { return emend_quant_isa(-1); }

// MARK: - Generic path (F32, Q2_K and Q3_K, which have no unit decoders, and F16/BF16 rows that are not whole units)

enum { CHUNK = 256, GROUP = 8 };  // elements dequantised at a time; rows of x per pass

static float dot(const float *a, const float *b, long n) {
#pragma clang fp reassociate(on)
    float s = 0;
    for (long i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static void forward_generic(int type, const void *w, long in, long o0, long o1,
                            const float *x, long rows, long ldx, float *y, long ldy) {
    float buf[CHUNK] __attribute__((aligned(64)));
    for (long r0 = 0; r0 < rows; r0 += GROUP) {
        const long nr = rows - r0 < GROUP ? rows - r0 : GROUP;
        for (long o = o0; o < o1; o++) {
            float acc[GROUP] = {0};
            for (long c = 0; c < in; c += CHUNK) {
                const long n = in - c < CHUNK ? in - c : CHUNK;
                emend_quant_dequantize(type, w, in, o, o + 1, c, c + n, buf, n);
                for (long r = 0; r < nr; r++) acc[r] += dot(buf, x + (r0 + r) * ldx + c, n);
            }
            for (long r = 0; r < nr; r++) y[(r0 + r) * ldy + o] = acc[r];
        }
    }
}

static void backward_generic(int type, const void *w, long in, long out, long c0, long c1,
                             const float *g, long rows, long ldg, float *dx, long lddx) {
    float buf[CHUNK] __attribute__((aligned(64)));
    for (long r = 0; r < rows; r++)
        for (long c = c0; c < c1; c++) dx[r * lddx + c] = 0;
    for (long c = c0; c < c1; c += CHUNK) {
        const long n = c1 - c < CHUNK ? c1 - c : CHUNK;
        for (long o = 0; o < out; o++) {
            emend_quant_dequantize(type, w, in, o, o + 1, c, c + n, buf, n);
            for (long r = 0; r < rows; r++) {
                const float a = g[r * ldg + o];
                float *d = dx + r * lddx + c;
                for (long i = 0; i < n; i++) d[i] += a * buf[i];
            }
        }
    }
}

// MARK: - Entry points

/// NAME_avx512, NAME_avx2 or NAME_base, the widest build `isa()` allows, called with the remaining arguments.
#if defined(__x86_64__)
#define BY_ISA(NAME, ...)                                                             \
    switch (isa()) {                                                                  \
    case 2: NAME##_avx512(__VA_ARGS__); break;                                        \
    case 1: NAME##_avx2(__VA_ARGS__); break;                                          \
    default: NAME##_base(__VA_ARGS__); break;                                         \
    }
#else
#define BY_ISA(NAME, ...) NAME##_base(__VA_ARGS__)
#endif

/// Whether the unit drivers take this type and these column bounds.
static int by_units(int type, long in, long c0, long c1) {
    int upb, bytes;
    unit_layout(type, &upb, &bytes);
    return upb > 0 && in % 32 == 0 && c0 % 32 == 0 && c1 % 32 == 0;
}

int emend_quant_forward(int type, const void *w, long in, long o0, long o1,
                        const float *x, long rows, long ldx, float *y, long ldy) {
    const long rb = emend_quant_row_bytes(type, in);
    if (rb < 0 || o0 > o1) return -1;
    if (!by_units(type, in, 0, in)) {
        forward_generic(type, w, in, o0, o1, x, rows, ldx, y, ldy);
        return 0;
    }
    BY_ISA(forward, type, (const uint8_t *)w, rb, in, o0, o1, x, rows, ldx, y, ldy);
    return 0;
}

int emend_quant_backward(int type, const void *w, long in, long out, long c0, long c1,
                         const float *g, long rows, long ldg, float *dx, long lddx) {
    const long rb = emend_quant_row_bytes(type, in), qk = emend_quant_block_elements(type);
    if (rb < 0 || c0 < 0 || c1 > in || c0 > c1 || c0 % qk != 0 || c1 % qk != 0) return -1;
    if (!by_units(type, in, c0, c1)) {
        backward_generic(type, w, in, out, c0, c1, g, rows, ldg, dx, lddx);
        return 0;
    }
    BY_ISA(backward, type, (const uint8_t *)w, rb, out, c0, c1, g, rows, ldg, dx, lddx);
    return 0;
}

int emend_quant_decode(int type, const void *w, long in, long r0, long r1, long c0, long c1, float *dst, long ldd) {
    const long rb = emend_quant_row_bytes(type, in);
    int upb, bytes;
    unit_layout(type, &upb, &bytes);
    if (rb < 0 || upb == 0 || in % 32 != 0 || c0 < 0 || c1 > in || c0 > c1 || c0 % (32 * upb) != 0 || c1 % (32 * upb) != 0) {
        return emend_quant_dequantize(type, w, in, r0, r1, c0, c1, dst, ldd);
    }
    BY_ISA(decode, type, (const uint8_t *)w, rb, r0, r1, c0, c1, dst, ldd);
    return 0;
}

// MARK: - B in oneDNN's blocked layout (the tiled products)
//
// The tiled products hand oneDNN a dequantised B in the blocked layout its Float32 matmul runs fastest with
// (emend_dnnl_blocked_b: [kb, nb] blocks, kb and nb multiples of 16), instead of a plain one it would copy into
// that layout itself on every call. The forward's B is Wᵀ, so its W rows are decoded 16 at a time into a small
// buffer and transposed 16×16 in registers; the backward's B is W itself, decoded row by row and moved in runs of nb.

enum { PACK_CHUNK = 256, PACK_LD = PACK_CHUNK + 16 };  // columns decoded at a time; buffer row stride (+64 bytes
                                                        // so that 16 rows do not share a few cache sets)

/// Rows 0..15 of `out` (row stride ldo) = columns 0..15 of the 16×16 block at src (row stride lds): four stages,
/// each swapping the off-diagonal d×d blocks of every 2d×2d block (d = 8, 4, 2, 1).
INLINE void transpose16(const float *src, long lds, float *out, long ldo) {
    f32x16 r[16];
    for (int i = 0; i < 16; i++) memcpy(&r[i], src + i * lds, sizeof(f32x16));
    // Each stage pairs rows i and i + D (bit D of i clear): lanes with bit D clear keep a's, the others take b's
    // lane − D; b's lanes with bit D clear take a's lane + D.
#define PAIR_8 r[i] = __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23); \
               r[i + 8] = __builtin_shufflevector(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
#define PAIR_4 r[i] = __builtin_shufflevector(a, b, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27); \
               r[i + 4] = __builtin_shufflevector(a, b, 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
#define PAIR_2 r[i] = __builtin_shufflevector(a, b, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29); \
               r[i + 2] = __builtin_shufflevector(a, b, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
#define PAIR_1 r[i] = __builtin_shufflevector(a, b, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30); \
               r[i + 1] = __builtin_shufflevector(a, b, 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
#define STAGE(D) for (int i = 0; i < 16; i++) { if (i & D) continue; const f32x16 a = r[i], b = r[i + D]; PAIR_##D }
    STAGE(8) STAGE(4) STAGE(2) STAGE(1)
#undef STAGE
#undef PAIR_8
#undef PAIR_4
#undef PAIR_2
#undef PAIR_1
    for (int i = 0; i < 16; i++) memcpy(out + i * ldo, &r[i], sizeof(f32x16));
}

/// The 16 columns [j, j + 16) of the forward's B, p < kpad: `buf` holds W rows j… (16 of them, zero past the last)
/// for columns [c, c + n) at row stride PACK_LD; each 16×16 block goes to rows p of B.
INLINE void transpose_chunk(const float *buf, long c, long n, const emend_dnnl_blocked_b *l, float *col) {
    for (long p0 = c; p0 < c + n; p0 += 16)
        transpose16(buf + (p0 - c), PACK_LD, col + (p0 / l->kb) * l->k_stride + (p0 % l->kb) * l->nb, l->nb);
}
#if defined(__x86_64__)
AVX512 static void transpose_chunk_avx512(const float *buf, long c, long n, const emend_dnnl_blocked_b *l, float *col) {
    transpose_chunk(buf, c, n, l, col);
}
AVX2 static void transpose_chunk_avx2(const float *buf, long c, long n, const emend_dnnl_blocked_b *l, float *col) {
    transpose_chunk(buf, c, n, l, col);
}
#endif
static void transpose_chunk_base(const float *buf, long c, long n, const emend_dnnl_blocked_b *l, float *col) {
    transpose_chunk(buf, c, n, l, col);
}

/// Blocks of whole 16×16 tiles, nb dividing PACK_CHUNK (the backward moves decoded chunks in runs of nb).
int emend_quant_pack_supported(const emend_dnnl_blocked_b *l) {
    return l->kb > 0 && l->nb > 0 && l->kb % 16 == 0 && l->nb % 16 == 0 && PACK_CHUNK % l->nb == 0;
}

int emend_quant_pack_forward(int type, const void *w, long in, long o0, long o1, long jb0, long jb1,
                             const emend_dnnl_blocked_b *l, float *dst) {
    const long n = o1 - o0;
    if (emend_quant_row_bytes(type, in) < 0 || !emend_quant_pack_supported(l) || o0 < 0 || o0 > o1 || jb0 < 0
        || jb0 > jb1 || jb1 * l->nb > n + l->nb - 1) return -1;
    // Columns are decoded PACK_CHUNK at a time (whole blocks: 256 is a multiple of every block size), rounded up to
    // whole 16-column tiles (the decoded columns past `in` are zeros); B's rows past those, up to whole kb, are zeros.
    const long kpad = (in + l->kb - 1) / l->kb * l->kb, in16 = (in + 15) / 16 * 16;
    float buf[16 * PACK_LD] __attribute__((aligned(64)));
    for (long jb = jb0; jb < jb1; jb++) {
        for (long j = jb * l->nb; j < (jb + 1) * l->nb; j += 16) {
            float *col = dst + jb * l->n_stride + j % l->nb;
            const long r0 = o0 + (j < n ? j : n), r1 = o0 + (j + 16 < n ? j + 16 : n);
            for (long c = 0; c < in; c += PACK_CHUNK) {
                const long m = in - c < PACK_CHUNK ? in - c : PACK_CHUNK, m16 = (m + 15) / 16 * 16;
                if (r1 > r0) {
                    const int rc = emend_quant_decode(type, w, in, r0, r1, c, c + m, buf, PACK_LD);
                    if (rc != 0) return rc;
                }
                for (long r = r1 - r0; r < 16; r++) memset(buf + r * PACK_LD, 0, (size_t)m16 * sizeof(float));
                if (m16 > m) for (long r = 0; r < r1 - r0; r++) memset(buf + r * PACK_LD + m, 0, (size_t)(m16 - m) * sizeof(float));
                BY_ISA(transpose_chunk, buf, c, m16, l, col);
            }
            for (long p = in16; p < kpad; p++)
                memset(col + (p / l->kb) * l->k_stride + (p % l->kb) * l->nb, 0, 16 * sizeof(float));
        }
    }
    return 0;
}

int emend_quant_pack_backward(int type, const void *w, long in, long out, long c0, long c1, long pb0, long pb1,
                              const emend_dnnl_blocked_b *l, float *dst) {
    const long qk = emend_quant_block_elements(type), n = c1 - c0;
    if (emend_quant_row_bytes(type, in) < 0 || qk <= 0 || !emend_quant_pack_supported(l) || c0 < 0 || c1 > in || c0 > c1
        || c0 % qk != 0 || (c1 % qk != 0 && c1 != in) || pb0 < 0 || pb0 > pb1 || pb1 * l->kb > out + l->kb - 1) return -1;
    const long nblocks = (n + l->nb - 1) / l->nb;
    float buf[16 * PACK_LD] __attribute__((aligned(64)));
    for (long pb = pb0; pb < pb1; pb++) {
        for (long p0 = pb * l->kb; p0 < (pb + 1) * l->kb; p0 += 16) {
            const long r1 = p0 + 16 < out ? p0 + 16 : out;
            float *blk = dst + pb * l->k_stride + (p0 % l->kb) * l->nb;
            for (long c = 0; c < nblocks * l->nb; c += PACK_CHUNK) {
                // Columns [c, c + m) of B: PACK_CHUNK (whole blocks of W, whole nb), or the last nb-blocks.
                const long span = nblocks * l->nb - c, m = span < PACK_CHUNK ? span : PACK_CHUNK;
                const long valid = n - c < m ? (n - c > 0 ? n - c : 0) : m;
                if (p0 < out && valid > 0) {
                    const int rc = emend_quant_decode(type, w, in, p0, r1, c0 + c, c0 + c + valid, buf, PACK_LD);
                    if (rc != 0) return rc;
                }
                for (long r = 0; r < 16; r++) {
                    float *row = buf + r * PACK_LD;
                    if (p0 + r >= out) memset(row, 0, (size_t)m * sizeof(float));
                    else if (valid < m) memset(row + valid, 0, (size_t)(m - valid) * sizeof(float));
                    for (long j = 0; j < m; j += l->nb)
                        memcpy(blk + ((c + j) / l->nb) * l->n_stride + r * l->nb, row + j, (size_t)l->nb * sizeof(float));
                }
            }
        }
    }
    return 0;
}
