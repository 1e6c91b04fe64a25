// Matrix products through oneDNN (Debian: libdnnl-dev), the CPU library PyTorch itself uses.
// Float32 products, and bfloat16 products with Float32 accumulation and output.
//
// Every operand is a row-major matrix given by a pointer and two strides (elements between rows, between
// columns), so a transposed operand is a stride swap, never a copy. Each function returns 0 when it ran the
// product, and a non-zero oneDNN status when oneDNN refused it (the caller then falls back to OpenBLAS).
#ifndef EMEND_DNNL_H
#define EMEND_DNNL_H
#include <stdint.h>

/// C[m, n] = A[m, k] · B[k, n] in Float32. A(i, p) = a[i·a_rs + p·a_cs], B(p, j) = b[p·b_rs + j·b_cs],
/// C(i, j) = c[i·ldc + j] (overwritten).
int emend_dnnl_matmul_f32(long m, long n, long k,
                          const float *a, long a_rs, long a_cs,
                          const float *b, long b_rs, long b_cs,
                          float *c, long ldc);

/// emend_dnnl_matmul_f32 run by the calling thread alone (OpenMP's thread count set to 1 for the call and restored):
/// for products already split over Emend's own threads, each on its own tile. Nonzero when oneDNN or its OpenMP
/// runtime is missing.
int emend_dnnl_matmul_f32_serial(long m, long n, long k,
                                 const float *a, long a_rs, long a_cs,
                                 const float *b, long b_rs, long b_cs,
                                 float *c, long ldc);

/// The layout oneDNN's Float32 matmul C[m, n] = A[m, k] · B[k, n] runs fastest with (A and C row-major, row strides
/// lda and ldc): B(p, j) at (p / kb)·k_stride + (j / nb)·n_stride + (p % kb)·nb + j % nb, `size` floats in all,
/// zeros in the padding to whole blocks. On this project's CPUs kb is 16 and nb 64; oneDNN alone (a standalone
/// program, the default model's shapes at 84 and 640 rows) ran it 4–7% faster than a plain B and 10–37% faster than
/// the transposed B of x·Wᵀ, because it repacks any other layout into this one on every call.
typedef struct { long kb, nb, k_stride, n_stride, size; } emend_dnnl_blocked_b;

/// Fills *layout for that product; non-zero when oneDNN is unavailable or chose a layout of another pattern.
int emend_dnnl_blocked_b_layout(long m, long n, long k, long lda, long ldc, emend_dnnl_blocked_b *layout);

/// C[m, n] = A[m, k] · B[k, n] with B in the layout emend_dnnl_blocked_b_layout gave for the same arguments.
int emend_dnnl_matmul_f32_blocked(long m, long n, long k, const float *a, long lda, const float *b,
                                  float *c, long ldc);

/// C[m, n] = bf16(A)[m, k] · B[k, n] with B already in bfloat16 (raw bits), Float32 accumulation and output.
/// A is rounded to bfloat16 (round to nearest even) inside, into a scratch buffer.
int emend_dnnl_matmul_bf16(long m, long n, long k,
                           const float *a, long lda,
                           const uint16_t *b, long b_rs, long b_cs,
                           float *c, long ldc);

/// Rounds n floats to bfloat16 (round to nearest even; NaN stays NaN).
void emend_to_bf16(const float *x, uint16_t *y, long n);

/// 1 when oneDNN could be loaded (libdnnl.so.2), else 0 (every product then runs on OpenBLAS).
int emend_dnnl_available(void);

/// The threads oneDNN's OpenMP runtime uses for the calls above (default: every core).
void emend_dnnl_set_threads(int n);

/// 1 when this CPU runs bfloat16 products natively (AVX-512 BF16 or AMX), else 0 (oneDNN then emulates them,
/// slower than Float32).
int emend_dnnl_has_native_bf16(void);
#endif
