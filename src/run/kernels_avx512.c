/* kernels_avx512.c — AVX-512 versions of the loops in kernels_simd.h; same bits as the
 * scalar ones there (kernels.c), checked by tests/unit/test_kernels.c. */
#include "run/kernels_simd.h"

#include <immintrin.h>

#include "base/avx512_inline.h"
#include "base/fmath.h"

static inline __mmask16 tail_mask(int64_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

float ls_lane_dot_avx512(const float *a, const float *b, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_loadu_ps(a + i);
        __m512 y = b ? _mm512_loadu_ps(b + i) : x;
        acc = _mm512_add_ps(acc, _mm512_mul_ps(x, y));
    }
    if (i < n) { /* the scalar tail adds to lanes 0..n-i-1 only */
        __mmask16 m = tail_mask(n - i);
        __m512 x = _mm512_maskz_loadu_ps(m, a + i);
        __m512 y = b ? _mm512_maskz_loadu_ps(m, b + i) : x;
        acc = _mm512_mask_add_ps(acc, m, acc, _mm512_mul_ps(x, y));
    }
    return ls_lanes_tree512(acc);
}

/* width elements (up to 256) of o over all keys; chunks = ceil(width / 16) is a constant in
 * each copy the switch below makes, so the 16 accumulators stay in registers. */
static inline __attribute__((always_inline)) void attend_block(float *o, const float *s, float inv,
                                                              const float *v, int64_t stride,
                                                              int64_t keys, int64_t width, const int chunks) {
    __m512 acc[16];
    for (int c = 0; c < chunks; c++) acc[c] = _mm512_setzero_ps();
    for (int64_t j = 0; j < keys; j++) {
        __m512 w = _mm512_set1_ps(s[j] * inv);
        const float *row = v + j * stride;
        for (int c = 0; c < chunks; c++)
            acc[c] = _mm512_add_ps(acc[c], _mm512_mul_ps(w, _mm512_maskz_loadu_ps(tail_mask(width - 16 * c), row + 16 * c)));
    }
    for (int c = 0; c < chunks; c++) _mm512_mask_storeu_ps(o + 16 * c, tail_mask(width - 16 * c), acc[c]);
}

void ls_attend_avx512(float *o, const float *s, float inv, const float *v, int64_t stride,
                      int64_t keys, int64_t n) {
    for (int64_t d0 = 0; d0 < n; d0 += 256) {
        int64_t width = n - d0 < 256 ? n - d0 : 256;
        float *od = o + d0;
        const float *vd = v + d0;
        switch ((width + 15) / 16) {
#define CASE(c) case c: attend_block(od, s, inv, vd, stride, keys, width, c); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
        CASE(9) CASE(10) CASE(11) CASE(12) CASE(13) CASE(14) CASE(15) CASE(16)
#undef CASE
        }
    }
}

/* 128 elements (8 registers) of two heads' sums at a time: 16 accumulators. */
static inline __attribute__((always_inline)) void attend2_block(float *o0, float *o1, const float *s0,
                                                               const float *s1, float inv0, float inv1,
                                                               const float *v, int64_t stride, int64_t keys,
                                                               int64_t width, const int chunks) {
    __m512 a0[8], a1[8];
    for (int c = 0; c < chunks; c++) a0[c] = a1[c] = _mm512_setzero_ps();
    for (int64_t j = 0; j < keys; j++) {
        __m512 w0 = _mm512_set1_ps(s0[j] * inv0), w1 = _mm512_set1_ps(s1[j] * inv1);
        const float *row = v + j * stride;
        for (int c = 0; c < chunks; c++) {
            __m512 x = _mm512_maskz_loadu_ps(tail_mask(width - 16 * c), row + 16 * c);
            a0[c] = _mm512_add_ps(a0[c], _mm512_mul_ps(w0, x));
            a1[c] = _mm512_add_ps(a1[c], _mm512_mul_ps(w1, x));
        }
    }
    for (int c = 0; c < chunks; c++) {
        _mm512_mask_storeu_ps(o0 + 16 * c, tail_mask(width - 16 * c), a0[c]);
        _mm512_mask_storeu_ps(o1 + 16 * c, tail_mask(width - 16 * c), a1[c]);
    }
}

void ls_attend2_avx512(float *o0, float *o1, const float *s0, const float *s1, float inv0, float inv1,
                       const float *v, int64_t stride, int64_t keys, int64_t n) {
    for (int64_t d0 = 0; d0 < n; d0 += 128) {
        int64_t width = n - d0 < 128 ? n - d0 : 128;
        switch ((width + 15) / 16) {
#define CASE(c) case c: attend2_block(o0 + d0, o1 + d0, s0, s1, inv0, inv1, v + d0, stride, keys, width, c); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
        }
    }
}

void ls_lane_dot2_avx512(const float *q0, const float *q1, const float *k, int64_t n, float out[2]) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 y = _mm512_loadu_ps(k + i);
        a0 = _mm512_add_ps(a0, _mm512_mul_ps(_mm512_loadu_ps(q0 + i), y));
        a1 = _mm512_add_ps(a1, _mm512_mul_ps(_mm512_loadu_ps(q1 + i), y));
    }
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 y = _mm512_maskz_loadu_ps(m, k + i);
        a0 = _mm512_mask_add_ps(a0, m, a0, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, q0 + i), y));
        a1 = _mm512_mask_add_ps(a1, m, a1, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, q1 + i), y));
    }
    out[0] = ls_lanes_tree512(a0);
    out[1] = ls_lanes_tree512(a1);
}

void ls_scale_mul_avx512(float *y, const float *x, float scale, const float *w, int64_t n) {
    __m512 s = _mm512_set1_ps(scale);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), s),
                                 _mm512_maskz_loadu_ps(m, w + i));
        _mm512_mask_storeu_ps(y + i, m, v);
    }
}

void ls_add_avx512(float *y, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i),
                                                      _mm512_maskz_loadu_ps(m, b + i)));
    }
}

void ls_scale_avx512(float *y, float s, int64_t n) {
    __m512 sv = _mm512_set1_ps(s);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, y + i), sv));
    }
}

void ls_glu_avx512(float *y, const float *gate, const float *up, int64_t n, int gelu) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
        __m512 a = gelu ? ls_gelu_tanh_x16(g) : ls_silu_x16(g);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(a, _mm512_maskz_loadu_ps(m, up + i)));
    }
}

void ls_exp_shifted_avx512(float *y, const float *x, float shift, int64_t n) {
    __m512 sv = _mm512_set1_ps(shift);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 v = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), sv);
        _mm512_mask_storeu_ps(y + i, m, ls_expf_x16(v));
    }
}

/* y0 = x0·c − x1·s, y1 = x0·s + x1·c with the source's operand order in every multiply, add
 * and subtract. Interleaved: 8 pairs per vector, c and s duplicated across each pair.
 * Split halves: 16 pairs per vector, c and s gathered from 32 interleaved angles.
 * Same bits as the scalar loop for all inputs but one case: where two NaNs of different
 * payloads meet in an add, the payload may differ (C lets the compiler swap the operands of
 * the scalar code, and gcc 12 does); NaN stays NaN in the same places. */
void ls_rope_head_avx512(float *y, const float *x, const float *angles, int64_t half, int interleaved) {
    if (interleaved) {
        int64_t n = 2 * half;
        for (int64_t i = 0; i < n; i += 16) {
            __mmask16 m = tail_mask(n - i);
            __m512 v = _mm512_maskz_loadu_ps(m, x + i);         /* x0 x1 x0 x1 ... */
            __m512 a = _mm512_maskz_loadu_ps(m, angles + i);    /* c  s  c  s  ... */
            __m512 swapped = _mm512_permute_ps(v, 0xB1);         /* x1 x0 ... */
            __m512 p = _mm512_mul_ps(v, _mm512_moveldup_ps(a));  /* x0·c, x1·c */
            __m512 q = _mm512_mul_ps(swapped, _mm512_movehdup_ps(a)); /* x1·s, x0·s */
            __m512 r = _mm512_mask_add_ps(_mm512_sub_ps(p, q), (__mmask16)0xAAAA, q, p);
            _mm512_mask_storeu_ps(y + i, m, r);
        }
        return;
    }
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int64_t i = 0; i < half; i += 16) {
        int64_t left = half - i;
        __mmask16 m = tail_mask(left);
        __mmask16 m_lo = tail_mask(2 * left), m_hi = left > 8 ? tail_mask(2 * left - 16) : 0;
        __m512 a_lo = _mm512_maskz_loadu_ps(m_lo, angles + 2 * i);
        __m512 a_hi = _mm512_maskz_loadu_ps(m_hi, angles + 2 * i + 16);
        __m512 c = _mm512_permutex2var_ps(a_lo, even, a_hi);
        __m512 sn = _mm512_permutex2var_ps(a_lo, odd, a_hi);
        __m512 x0 = _mm512_maskz_loadu_ps(m, x + i);
        __m512 x1 = _mm512_maskz_loadu_ps(m, x + half + i);
        __m512 y0 = _mm512_sub_ps(_mm512_mul_ps(x0, c), _mm512_mul_ps(x1, sn));
        __m512 y1 = _mm512_add_ps(_mm512_mul_ps(x0, sn), _mm512_mul_ps(x1, c));
        _mm512_mask_storeu_ps(y + i, m, y0);
        _mm512_mask_storeu_ps(y + half + i, m, y1);
    }
}
