// See include/emend_quant.h. Block layouts (little-endian; f16 = IEEE half; QK = elements per block):
//   Q4_0 (32, 18 B): d:f16, qs[16]      x = (q − 8)·d;  low nibbles → elements 0…15, high → 16…31
//   Q4_1 (32, 20 B): d, m:f16, qs[16]   x = q·d + m
//   Q5_0 (32, 22 B): d, qh:u32, qs[16]  q = nibble | (bit j of qh) << 4, x = (q − 16)·d
//   Q5_1 (32, 24 B): d, m, qh:u32, qs   x = q·d + m
//   Q8_0 (32, 34 B): d, qs:i8[32]       x = q·d
//   Q4_K (256, 144 B): d, dmin:f16, scales[12] (8 six-bit scale/min pairs), qs[128];
//                      sub-block j of 32: x = (d·sc_j)·q − dmin·m_j; 64 elements = 32 low then 32 high nibbles
//   Q5_K (256, 176 B): as Q4_K plus qh[32], each element's fifth bit
//   Q6_K (256, 210 B): ql[128] (low 4 bits), qh[64] (high 2 bits), scales:i8[16], d:f16;  x = (d·sc)·(q − 32)
//   Q2_K (256, 84 B): scales[16] (4-bit scale | 4-bit min << 4 per 16 elements), qs[64] (2 bits each), d, dmin:f16;
//                     x = (d·sc)·q − dmin·m
//   Q3_K (256, 110 B): hmask[32] (each element's third bit), qs[64] (low 2 bits), scales[12] (16 six-bit scales),
//                      d:f16;  x = (d·(sc − 32))·(q − 4·(1 − high bit))
//   In both, each 128-element half h reads qs[32h…32h+31] four times (bits 0–1, 2–3, 4–5, 6–7), 32 elements each,
//   and every 16 elements take the next scale.
// Goals in order: bit-exact with ggml's dequantize_row_* (and Emend's Swift reference), then fast. Exactness needs
// every dequantising multiply and add rounded on its own, so this file is compiled without fused multiply-add
// (`fp contract(off)`). The fused products (emend_quant_forward, emend_quant_backward) are in emend_quant_fused.c.
#include "emend_quant.h"
#include <string.h>

#include "emend_clones.h"

enum { T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8,
       T_Q2_K = 10, T_Q3_K = 11, T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14, T_BF16 = 30 };

/// Elements per block and bytes per block of a type; 0 when the type is unknown.
static void layout(int type, long *qk, long *bytes) {
    switch (type) {
    case T_F32:  *qk = 1;   *bytes = 4;   return;
    case T_F16:  *qk = 1;   *bytes = 2;   return;
    case T_BF16: *qk = 1;   *bytes = 2;   return;
    case T_Q4_0: *qk = 32;  *bytes = 18;  return;
    case T_Q4_1: *qk = 32;  *bytes = 20;  return;
    case T_Q5_0: *qk = 32;  *bytes = 22;  return;
    case T_Q5_1: *qk = 32;  *bytes = 24;  return;
    case T_Q8_0: *qk = 32;  *bytes = 34;  return;
    case T_Q2_K: *qk = 256; *bytes = 84;  return;
    case T_Q3_K: *qk = 256; *bytes = 110; return;
    case T_Q4_K: *qk = 256; *bytes = 144; return;
    case T_Q5_K: *qk = 256; *bytes = 176; return;
    case T_Q6_K: *qk = 256; *bytes = 210; return;
    default:     *qk = 0;   *bytes = 0;   return;
    }
}

long emend_quant_block_elements(int type) {
    long qk, bytes;
    layout(type, &qk, &bytes);
    return qk;
}

long emend_quant_row_bytes(int type, long in) {
    long qk, bytes;
    layout(type, &qk, &bytes);
    if (qk == 0 || in < 0 || in % qk != 0) return -1;
    return in / qk * bytes;
}

// MARK: - Dequantisation (no fused multiply-add)

#pragma clang fp contract(off)

// Inlined into each CLONES function, so that each is vectorised for its own instruction set.
#define INLINE __attribute__((always_inline)) static inline

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/// IEEE binary16 → binary32, exact (one vcvtph2ps where the CPU has F16C; NaN stays NaN).
static inline float half(uint16_t h) {
    _Float16 f;
    memcpy(&f, &h, 2);
    return (float)f;
}

INLINE void block_q4_0(const uint8_t *restrict p, float *restrict y) {
    const float d = half(rd16(p));
    const uint8_t *qs = p + 2;
    for (int j = 0; j < 16; j++) y[j] = (float)((qs[j] & 0xF) - 8) * d;
    for (int j = 0; j < 16; j++) y[j + 16] = (float)((qs[j] >> 4) - 8) * d;
}

INLINE void block_q4_1(const uint8_t *restrict p, float *restrict y) {
    const float d = half(rd16(p)), m = half(rd16(p + 2));
    for (int j = 0; j < 16; j++) {
        y[j] = (float)(p[4 + j] & 0xF) * d + m;
        y[j + 16] = (float)(p[4 + j] >> 4) * d + m;
    }
}

INLINE void block_q5_0(const uint8_t *restrict p, float *restrict y) {
    const float d = half(rd16(p));
    const uint32_t qh = rd32(p + 2);
    for (int j = 0; j < 16; j++) {
        int h0 = (int)((qh >> j) & 1) << 4, h1 = (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = (float)(((p[6 + j] & 0xF) | h0) - 16) * d;
        y[j + 16] = (float)(((p[6 + j] >> 4) | h1) - 16) * d;
    }
}

INLINE void block_q5_1(const uint8_t *restrict p, float *restrict y) {
    const float d = half(rd16(p)), m = half(rd16(p + 2));
    const uint32_t qh = rd32(p + 4);
    for (int j = 0; j < 16; j++) {
        int h0 = (int)((qh >> j) & 1) << 4, h1 = (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = (float)((p[8 + j] & 0xF) | h0) * d + m;
        y[j + 16] = (float)((p[8 + j] >> 4) | h1) * d + m;
    }
}

INLINE void block_q8_0(const uint8_t *restrict p, float *restrict y) {
    const float d = half(rd16(p));
    const int8_t *qs = (const int8_t *)(p + 2);
    for (int j = 0; j < 32; j++) y[j] = (float)qs[j] * d;
}

/// The six-bit (scale, min) pair of sub-block j (0…7) from the 12 packed bytes s: pairs 0–3 are the low 6 bits of
/// bytes 0–3 / 4–7; pairs 4–7 take 4 bits from bytes 8–11 and their top 2 bits from bytes 0–3 / 4–7.
INLINE void scale_min_k4(int j, const uint8_t *s, float *sc, float *m) {
    if (j < 4) {
        *sc = (float)(s[j] & 63);
        *m = (float)(s[j + 4] & 63);
    } else {
        *sc = (float)((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
        *m = (float)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

INLINE void block_q4_k(const uint8_t *restrict p, float *restrict y) {
    const float d = half(rd16(p)), dmin = half(rd16(p + 2));
    const uint8_t *scales = p + 4, *qs = p + 16;
    for (int g = 0; g < 4; g++) {
        float sc1, m1, sc2, m2;
        scale_min_k4(2 * g, scales, &sc1, &m1);
        scale_min_k4(2 * g + 1, scales, &sc2, &m2);
        const float d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2;
        const uint8_t *q = qs + 32 * g;
        float *o = y + 64 * g;
        for (int l = 0; l < 32; l++) {
            o[l] = d1 * (float)(q[l] & 0xF) - mm1;
            o[l + 32] = d2 * (float)(q[l] >> 4) - mm2;
        }
    }
}

INLINE void block_q5_k(const uint8_t *restrict p, float *restrict y) {
    const float d = half(rd16(p)), dmin = half(rd16(p + 2));
    const uint8_t *scales = p + 4, *qh = p + 16, *qs = p + 48;
    for (int g = 0; g < 4; g++) {
        float sc1, m1, sc2, m2;
        scale_min_k4(2 * g, scales, &sc1, &m1);
        scale_min_k4(2 * g + 1, scales, &sc2, &m2);
        const float d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2;
        const uint8_t u1 = (uint8_t)(1 << (2 * g)), u2 = (uint8_t)(2 << (2 * g));
        const uint8_t *q = qs + 32 * g;
        float *o = y + 64 * g;
        for (int l = 0; l < 32; l++) {
            o[l] = d1 * (float)((q[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - mm1;
            o[l + 32] = d2 * (float)((q[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - mm2;
        }
    }
}

INLINE void block_q6_k(const uint8_t *restrict p, float *restrict y) {
    const float d = half(rd16(p + 208));
    for (int h = 0; h < 2; h++) {  // 128 elements each: ql[64], qh[32], scales[8]
        const uint8_t *ql = p + 64 * h, *qh = p + 128 + 32 * h;
        const int8_t *sc = (const int8_t *)(p + 192 + 8 * h);
        for (int k = 0; k < 4; k++) {  // quarter k: a nibble of ql[l] or ql[l + 32], bits 2k…2k+1 of qh[l]
            const uint8_t *lo = ql + (k & 1) * 32;
            const int shift = (k >> 1) * 4;
            for (int half16 = 0; half16 < 2; half16++) {  // 16 elements share a scale
                const float ds = d * (float)sc[half16 + 2 * k];
                float *o = y + 128 * h + 32 * k + 16 * half16;
                for (int i = 0; i < 16; i++) {
                    const int l = 16 * half16 + i;
                    const int q = (int)(((lo[l] >> shift) & 0xF) | (((qh[l] >> (2 * k)) & 3) << 4)) - 32;
                    o[i] = ds * (float)q;
                }
            }
        }
    }
}

INLINE void block_q2_k(const uint8_t *restrict p, float *restrict y) {
    const uint8_t *scales = p, *qs = p + 16;
    const float d = half(rd16(p + 80)), dmin = half(rd16(p + 82));
    for (int h = 0; h < 2; h++)
        for (int k = 0; k < 4; k++)           // bits 2k…2k+1 of qs[32h + l]
            for (int s16 = 0; s16 < 2; s16++) {  // 16 elements share a scale and a min
                const uint8_t sc = scales[8 * h + 2 * k + s16];
                const float dl = d * (float)(sc & 0xF), ml = dmin * (float)(sc >> 4);
                const uint8_t *q = qs + 32 * h + 16 * s16;
                float *o = y + 128 * h + 32 * k + 16 * s16;
                for (int l = 0; l < 16; l++) o[l] = dl * (float)((q[l] >> (2 * k)) & 3) - ml;
            }
}

/// Q3_K's 16 six-bit scales from its 12 packed bytes: the low 4 bits of scale j are the low nibble of byte j (j < 8)
/// or the high nibble of byte j − 8; the top 2 bits are bits 2·(j / 4)…2·(j / 4)+1 of byte 8 + j % 4.
INLINE int scale_k3(int j, const uint8_t *s) {
    const int low = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
    return low | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4);
}

INLINE void block_q3_k(const uint8_t *restrict p, float *restrict y) {
    const uint8_t *hmask = p, *qs = p + 32, *scales = p + 96;
    const float d = half(rd16(p + 108));
    for (int h = 0; h < 2; h++)
        for (int k = 0; k < 4; k++) {          // bits 2k…2k+1 of qs[32h + l]; high bit 4h + k of hmask[l]
            const uint8_t m = (uint8_t)(1 << (4 * h + k));
            for (int s16 = 0; s16 < 2; s16++) {
                const float dl = d * (float)(scale_k3(8 * h + 2 * k + s16, scales) - 32);
                const uint8_t *q = qs + 32 * h + 16 * s16, *hm = hmask + 16 * s16;
                float *o = y + 128 * h + 32 * k + 16 * s16;
                for (int l = 0; l < 16; l++) o[l] = dl * (float)((int)((q[l] >> (2 * k)) & 3) - ((hm[l] & m) ? 0 : 4));
            }
        }
}

#define BLOCKS(QK, BYTES, FN) \
    for (long b = e0 / (QK); b < (e0 + n) / (QK); b++) FN(row + (BYTES) * b, y + (QK) * (b - e0 / (QK)))

/// y[i] = element e0 + i of one stored row, i < n; e0 and n are on block bounds (checked by the callers).
INLINE void dequantize_span(int type, const uint8_t *restrict row, long e0, long n, float *restrict y) {
    switch (type) {
    case T_F32:  memcpy(y, row + 4 * e0, (size_t)n * 4); break;
    case T_F16:  for (long i = 0; i < n; i++) y[i] = half(rd16(row + 2 * (e0 + i))); break;
    case T_BF16:
        for (long i = 0; i < n; i++) {
            uint32_t bits = (uint32_t)rd16(row + 2 * (e0 + i)) << 16;
            memcpy(y + i, &bits, 4);
        }
        break;
    case T_Q4_0: BLOCKS(32, 18, block_q4_0); break;
    case T_Q4_1: BLOCKS(32, 20, block_q4_1); break;
    case T_Q5_0: BLOCKS(32, 22, block_q5_0); break;
    case T_Q5_1: BLOCKS(32, 24, block_q5_1); break;
    case T_Q8_0: BLOCKS(32, 34, block_q8_0); break;
    case T_Q2_K: BLOCKS(256, 84, block_q2_k); break;
    case T_Q3_K: BLOCKS(256, 110, block_q3_k); break;
    case T_Q4_K: BLOCKS(256, 144, block_q4_k); break;
    case T_Q5_K: BLOCKS(256, 176, block_q5_k); break;
    case T_Q6_K: BLOCKS(256, 210, block_q6_k); break;
    default: break;
    }
}

/// The row bytes, or -1 when the type is unknown, `in` is not whole blocks, or [c0, c1) is not on block bounds.
static long checked_row_bytes(int type, long in, long c0, long c1) {
    long qk, bytes;
    layout(type, &qk, &bytes);
    if (qk == 0 || in % qk != 0 || c0 < 0 || c1 > in || c0 > c1 || c0 % qk != 0 || c1 % qk != 0) return -1;
    return in / qk * bytes;
}

CLONES
int emend_quant_dequantize(int type, const void *w, long in, long r0, long r1, long c0, long c1, float *dst, long ldd) {
    const long rb = checked_row_bytes(type, in, c0, c1);
    if (rb < 0) return -1;
    const uint8_t *base = (const uint8_t *)w;
    for (long r = r0; r < r1; r++) dequantize_span(type, base + r * rb, c0, c1 - c0, dst + (r - r0) * ldd);
    return 0;
}
