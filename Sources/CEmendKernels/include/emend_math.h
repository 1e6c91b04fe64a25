// Elementwise kernels over long rows that Swift's SIMD types compile poorly (their lane-wise min/max and masks
// become scalar loops): exp for log-softmax and its gradient, the KL term, and the gated MLP's SiLU.
// Plain C loops that the compiler vectorises, built for AVX-512, AVX2 and plain x86-64 and picked at run time.
//
// exp: Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2, exp(x) = 2ⁿ·(1 + r + r²·P(r)) with the classic Cephes
// degree-5 polynomial; relative error ≤ 2 ulp on [−87.3, 88] (above 88, +∞: exp(88.7) is Float.max); 0 below, NaN stays NaN.
#ifndef EMEND_MATH_H
#define EMEND_MATH_H

/// y[i] = scale · exp(x[i] + shift), i < n (y may equal x).
void emend_exp(const float *x, float *y, long n, float shift, float scale);

/// Σ exp(x[i] + shift), i < n, in double.
double emend_sum_exp(const float *x, long n, float shift);

/// KL(p ‖ q) = Σ exp(lp[i])·(lp[i] − lq[i]) for log-probabilities, in double.
double emend_kl(const float *lp, const float *lq, long n);

/// out[i] = factor · exp(lp[i]) · (lp[i] − lq[i] − kl): the KL term's gradient with respect to the logits.
void emend_kl_gradient(const float *lp, const float *lq, float *out, long n, float factor, float kl);

/// key[i] = silu(gate[i]) · up[i], silu(x) = x·σ(x).
void emend_silu_mul(const float *gate, const float *up, float *key, long n);

/// The backward of emend_silu_mul: dgate = dkey·up·σ·(1 + x·(1 − σ)), dup = dkey·x·σ.
void emend_silu_mul_backward(const float *dkey, const float *gate, const float *up, float *dgate, float *dup, long n);
#endif
