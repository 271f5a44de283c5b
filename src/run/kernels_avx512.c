/* kernels_avx512.c — AVX-512 versions of the loops in kernels_simd.h; same bits as the
 * scalar ones there (kernels.c), checked by tests/unit/test_kernels.c. */
#include "run/kernels_simd.h"

#include <immintrin.h>

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
    __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(acc), _mm512_extractf32x8_ps(acc, 1));
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
    return _mm_cvtss_f32(s1);
}

void ls_axpy_avx512(float *y, float w, const float *x, int64_t n) {
    __m512 wv = _mm512_set1_ps(w);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, y + i);
        v = _mm512_add_ps(v, _mm512_mul_ps(wv, _mm512_maskz_loadu_ps(m, x + i)));
        _mm512_mask_storeu_ps(y + i, m, v);
    }
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
