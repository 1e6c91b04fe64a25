// See include/emend_math.h.
#include "emend_math.h"
#include <stdint.h>
#include <string.h>
#include "emend_clones.h"

static inline float exp_lane(float x) {
    const float hi = 88.0f, lo = -87.33654f;  // above hi, 2ⁿ would leave the exponent range
    float v = x < lo ? lo : (x > hi ? hi : x);
    float t = v * 1.44269504f + 12582912.0f;      // 1.5·2²³: t's low mantissa bits hold round(v / ln2)
    float n = t - 12582912.0f;
    v = v - n * 0.693359375f;
    v = v + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * v + 1.3981999507e-3f;
    p = p * v + 8.3334519073e-3f;
    p = p * v + 4.1665795894e-2f;
    p = p * v + 1.6666665459e-1f;
    p = p * v + 5.0000001201e-1f;
    p = p * (v * v) + v + 1.0f;
    int32_t ti, mi; float m = 12582912.0f;
    memcpy(&ti, &t, 4); memcpy(&mi, &m, 4);
    int32_t bits = (ti - mi + 127) << 23;
    float scale; memcpy(&scale, &bits, 4);
    float y = p * scale;
    y = x < lo ? 0.0f : y;
    y = x > hi ? __builtin_inff() : y;
    return x != x ? x : y;
}

static inline float sigmoid_lane(float x) { return 1.0f / (1.0f + exp_lane(-x)); }

CLONES void emend_exp(const float *x, float *y, long n, float shift, float scale) {
    for (long i = 0; i < n; i++) y[i] = scale * exp_lane(x[i] + shift);
}

CLONES double emend_sum_exp(const float *x, long n, float shift) {
    double total = 0;
    for (long i = 0; i < n; i += 256) {
        _Pragma("clang fp reassociate(on)")
        float s = 0;
        long end = i + 256 < n ? i + 256 : n;
        for (long j = i; j < end; j++) s += exp_lane(x[j] + shift);
        total += s;
    }
    return total;
}

CLONES double emend_kl(const float *lp, const float *lq, long n) {
    double total = 0;
    for (long i = 0; i < n; i += 256) {
        _Pragma("clang fp reassociate(on)")
        float s = 0;
        long end = i + 256 < n ? i + 256 : n;
        for (long j = i; j < end; j++) s += exp_lane(lp[j]) * (lp[j] - lq[j]);
        total += s;
    }
    return total;
}

CLONES void emend_kl_gradient(const float *lp, const float *lq, float *out, long n, float factor, float kl) {
    for (long i = 0; i < n; i++) out[i] = factor * exp_lane(lp[i]) * (lp[i] - lq[i] - kl);
}

CLONES void emend_silu_mul(const float *gate, const float *up, float *key, long n) {
    for (long i = 0; i < n; i++) { float x = gate[i]; key[i] = x * sigmoid_lane(x) * up[i]; }
}

CLONES void emend_silu_mul_backward(const float *dkey, const float *gate, const float *up, float *dgate, float *dup, long n) {
    for (long i = 0; i < n; i++) {
        float x = gate[i], s = sigmoid_lane(x);
        dgate[i] = dkey[i] * up[i] * (s * (1.0f + x * (1.0f - s)));
        dup[i] = dkey[i] * (x * s);
    }
}
