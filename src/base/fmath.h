/* fmath.h — lockstep's own elementary functions. Kernels never call libm: results must be
 * the same bits on every machine and libc. Each function is a fixed sequence of IEEE
 * operations (no FMA contraction: the build uses -ffp-contract=off), so every compiler and
 * code path gives identical results. The error bound of each is stated here and checked by
 * tests/unit/test_fmath.c against libm over dense samples. sqrtf is allowed: IEEE requires it
 * correctly rounded, and -fno-math-errno makes it one instruction.
 *
 * The hot ones (ls_expf, ls_silu, ls_gelu_tanh) are static inline and branch-free, so a
 * kernel loop that calls them can be vectorised by the compiler; a vector lane performs the
 * same IEEE operations as the scalar code, hence gives the same bits.
 *
 * Bounds, checked by tests/unit/test_fmath.c over every 64th float of each range plus
 * millions of random values, against libm evaluated in a wider format (ulp = spacing of
 * the result format at the exact value; "measured" = the worst seen on that sample):
 *   ls_expf       <= 1.5 ulp (measured 1.14), subnormal results included (ulp of the
 *                 subnormal grid); +inf exactly where float e^x overflows (x > 88.7228317),
 *                 0 for x < -103.98; e^0 = 1; NaN in, NaN out.
 *   ls_logf       <= 1 ulp (measured 0.50: computed in double, rounded once), subnormals
 *                 included; log ±0 = -inf, log x<0 = NaN, log +inf = +inf.
 *   ls_tanhf      <= 1 ulp and abs <= 1e-7 (measured 0.50 ulp, 3e-8); tanh(-0) = -0.
 *   ls_silu       <= 2.5 ulp (measured 2.33) of x / (1 + e^-x) where that is >= 1e-30.
 *   ls_gelu_tanh  abs error <= 2e-7 · max(1, |x|) (measured 1.2e-7) vs the formula in double.
 *   ls_sin/cos    |x| <= 2^20 (RoPE angles p·f, p < 2^20): <= 1.5 ulp (measured 1.10),
 *                 near the zeros too (3-part pi/2 reduction); NaN for |x| >= 2^30, inf, NaN.
 *   ls_pow        base > 0, |exponent·ln base| < 700: relative error < 5e-16 (measured
 *                 1.7e-16, 1.09 ulp); base < 0 or NaN → NaN; exponent 0 → 1; 0^e and
 *                 inf^e as usual; under/overflow → 0 / +inf; subnormal results right.
 */
#ifndef LS_FMATH_H
#define LS_FMATH_H

#include <stdint.h>
#include <string.h>

static inline float ls_float_from_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint32_t ls_float_bits(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

/* e^x. Steps, in this order:
 *   clamp x to [-104, 89] (beyond, the true result already rounds to 0 or +inf, and the
 *     clamped value still does; NaN passes the clamps unchanged and propagates);
 *   k = round-to-nearest-even(x · log2 e) by adding and subtracting 1.5·2^23;
 *   r = (x − k·ln2_hi) − k·ln2_lo, ln2_hi has 16 significant bits so k·ln2_hi is exact
 *     (Cody–Waite), |r| <= ln2/2;
 *   e^r = 1 + (r + r²·q(r)), q a degree-4 near-minimax fit of (e^r − 1 − r)/r² (error of the
 *     fit 0.17 ulp), Horner order;
 *   multiply by 2^(k/2) then by 2^(k − k/2), both built from exponent bits: the first product
 *     is exact, the second rounds once, which also gives correctly-scaled subnormals. */
static inline float ls_expf(float x) {
    x = x < -104.0f ? -104.0f : x;
    x = x > 89.0f ? 89.0f : x;
    const float shifter = 0x1.8p23f;
    float t = x * 0x1.715476p+0f + shifter;
    float kf = t - shifter;
    int32_t k = (int32_t)(ls_float_bits(t) - ls_float_bits(shifter));
    float r = (x - kf * 0x1.62e4p-1f) - kf * 0x1.7f7d1cp-20f;
    float q = 0x1.6d27cap-10f;
    q = q * r + 0x1.11ef92p-7f;
    q = q * r + 0x1.5554fep-5f;
    q = q * r + 0x1.5554fap-3f;
    q = q * r + 0.5f;
    float p = 1.0f + (r + (r * r) * q);
    int32_t k1 = k / 2, k2 = k - k1; /* both in [-75, 64] */
    float s1 = ls_float_from_bits((uint32_t)(k1 + 127) << 23);
    float s2 = ls_float_from_bits((uint32_t)(k2 + 127) << 23);
    return (p * s1) * s2;
}

/* x · sigmoid(x) = x / (1 + e^-x): one exp, one add, one division. */
static inline float ls_silu(float x) {
    return x / (1.0f + ls_expf(-x));
}

/* 0.5·x·(1 + tanh(u)), u = sqrt(2/pi)·(x + 0.044715·x³), computed as the identical
 * x / (1 + e^(−2u)) (0.5·(1 + tanh u) = sigmoid(2u)): one exp and one division, no
 * cancellation for negative x. Order: x³ = (x·x)·x; u2 = 2·sqrt(2/pi) · (x + 0.044715·x³). */
static inline float ls_gelu_tanh(float x) {
    float cube = (x * x) * x;
    float u2 = 0x1.988454p+0f * (x + 0.044715f * cube); /* 2·sqrt(2/pi) = 1.5957691 */
    return x / (1.0f + ls_expf(-u2));
}

/* AVX-512 versions of the three hot functions above, for files built with the AVX-512 flags
 * (kernels_avx512.c): each lane performs the scalar function's IEEE operations in the same
 * order with the same operands in the same positions, so every lane gives the scalar bits
 * (checked by tests/unit/test_kernels.c over the whole float range). Separate multiplies
 * and adds, never FMA. The clamps use max/min with the constant first: VMAXPS(c, x) is
 * c > x ? c : x, exactly the scalar x < c ? c : x, NaN x included. k / 2 truncates toward
 * zero as C's does: (k + sign bit of k) >> 1, arithmetic. */
#if defined(__AVX512F__)
#include <immintrin.h>

static inline __m512 ls_expf_x16(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
    const __m512 shifter = _mm512_set1_ps(0x1.8p23f);
    __m512 t = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(0x1.715476p+0f)), shifter);
    __m512 kf = _mm512_sub_ps(t, shifter);
    __m512i k = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_castps_si512(shifter));
    __m512 r = _mm512_sub_ps(_mm512_sub_ps(x, _mm512_mul_ps(kf, _mm512_set1_ps(0x1.62e4p-1f))),
                             _mm512_mul_ps(kf, _mm512_set1_ps(0x1.7f7d1cp-20f)));
    __m512 q = _mm512_set1_ps(0x1.6d27cap-10f);
    q = _mm512_add_ps(_mm512_mul_ps(q, r), _mm512_set1_ps(0x1.11ef92p-7f));
    q = _mm512_add_ps(_mm512_mul_ps(q, r), _mm512_set1_ps(0x1.5554fep-5f));
    q = _mm512_add_ps(_mm512_mul_ps(q, r), _mm512_set1_ps(0x1.5554fap-3f));
    q = _mm512_add_ps(_mm512_mul_ps(q, r), _mm512_set1_ps(0.5f));
    __m512 p = _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(r, _mm512_mul_ps(_mm512_mul_ps(r, r), q)));
    __m512i k1 = _mm512_srai_epi32(_mm512_add_epi32(k, _mm512_srli_epi32(k, 31)), 1);
    __m512i k2 = _mm512_sub_epi32(k, k1);
    const __m512i bias = _mm512_set1_epi32(127);
    __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(k1, bias), 23));
    __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(k2, bias), 23));
    return _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
}

/* -x as the scalar code computes it: the sign bit flipped (NaN included). */
static inline __m512 ls_negate_x16(__m512 x) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u)));
}

static inline __m512 ls_silu_x16(__m512 x) {
    return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), ls_expf_x16(ls_negate_x16(x))));
}

static inline __m512 ls_gelu_tanh_x16(__m512 x) {
    __m512 cube = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
    __m512 u2 = _mm512_mul_ps(_mm512_set1_ps(0x1.988454p+0f),
                              _mm512_add_ps(x, _mm512_mul_ps(_mm512_set1_ps(0.044715f), cube)));
    return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), ls_expf_x16(ls_negate_x16(u2))));
}
#endif

float ls_logf(float x);
float ls_tanhf(float x);

/* Double-precision helpers for tables built once at load (RoPE angles, frequencies). */
double ls_sin(double x);
double ls_cos(double x);
double ls_pow(double base, double exponent);

#endif
