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

/* ---- attention ------------------------------------------------------------------------
 *
 * Scores: a tile of QB queries x KB keys (QB * KB = 16) keeps 16 accumulators, one per dot,
 * lane l of each taking elements l, l + 16, ... in order (ls_lane_dot's lanes); each chunk of
 * a key row is loaded once for the QB queries, each chunk of a query once for the KB keys.
 * The 16 dots are then folded together, level by level of the canonical tree (l[i] + l[i+8],
 * + 4, + 2, + 1, the lower lane the first operand): fold16 below leaves dot m in lane
 * 4 (m % 4) + m / 4, and a permutation puts it where the scores go. */

/* A[m] -> lane 4 (m % 4) + m / 4 of the result holds A[m]'s canonical tree. */
static inline __attribute__((always_inline)) __m512 fold16(const __m512 A[16]) {
    __m512 X[8], Y[4], Z[2];
    _Pragma("GCC unroll 16")
    for (int p = 0; p < 8; p++) /* [l0..7 of A2p | of A2p+1] + [l8..15 | l8..15] */
        X[p] = _mm512_add_ps(_mm512_shuffle_f32x4(A[2 * p], A[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(A[2 * p], A[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    _Pragma("GCC unroll 16")
    for (int p = 0; p < 4; p++) /* quarters: [s0..3 of A4p..A4p+3] + [s4..7] */
        Y[p] = _mm512_add_ps(_mm512_shuffle_f32x4(X[2 * p], X[2 * p + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(X[2 * p], X[2 * p + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    _Pragma("GCC unroll 16")
    for (int p = 0; p < 2; p++) /* quarter q: [s0, s1 of A8p+q, of A8p+4+q] + [s2, s3] */
        Z[p] = _mm512_add_ps(_mm512_shuffle_ps(Y[2 * p], Y[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(Y[2 * p], Y[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    /* quarter q: [s0 of Aq, A4+q, A8+q, A12+q] + [s1 ...] */
    return _mm512_add_ps(_mm512_shuffle_ps(Z[0], Z[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_ps(Z[0], Z[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

/* One tile: queries q[0..QB), keys k[0..KB) (rows of n), dot (query a, key b) = A[a KB + b];
 * returns the 16 dots times scale with dot (a, b) in lane b QB + a. */
static inline __attribute__((always_inline)) __m512 scores_tile(const float *const q[], const float *const k[],
                                                               int64_t n, __m512 scale, const int QB,
                                                               const int KB) {
    __m512 A[16];
    _Pragma("GCC unroll 16")
    for (int m = 0; m < 16; m++) A[m] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 kv[16];
        _Pragma("GCC unroll 16")
        for (int b = 0; b < KB; b++) kv[b] = _mm512_loadu_ps(k[b] + i);
        _Pragma("GCC unroll 16")
        for (int a = 0; a < QB; a++) {
            __m512 qv = _mm512_loadu_ps(q[a] + i);
            _Pragma("GCC unroll 16")
            for (int b = 0; b < KB; b++) A[a * KB + b] = _mm512_add_ps(A[a * KB + b], _mm512_mul_ps(qv, kv[b]));
        }
    }
    if (i < n) { /* the tail adds to lanes 0..n-i-1 only */
        __mmask16 m = tail_mask(n - i);
        __m512 kv[16];
        _Pragma("GCC unroll 16")
        for (int b = 0; b < KB; b++) kv[b] = _mm512_maskz_loadu_ps(m, k[b] + i);
        _Pragma("GCC unroll 16")
        for (int a = 0; a < QB; a++) {
            __m512 qv = _mm512_maskz_loadu_ps(m, q[a] + i);
            _Pragma("GCC unroll 16")
            for (int b = 0; b < KB; b++)
                A[a * KB + b] = _mm512_mask_add_ps(A[a * KB + b], m, A[a * KB + b], _mm512_mul_ps(qv, kv[b]));
        }
    }
    /* dot m = a KB + b sits in lane 4 (m % 4) + m / 4; move it to lane b QB + a */
    int32_t from[16];
    _Pragma("GCC unroll 16")
    for (int a = 0; a < QB; a++)
        _Pragma("GCC unroll 16")
        for (int b = 0; b < KB; b++) {
            int m = a * KB + b;
            from[b * QB + a] = 4 * (m % 4) + m / 4;
        }
    return _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_loadu_si512(from), fold16(A)), scale);
}

static inline __attribute__((always_inline)) void scores_with(const float *const q[], int nq, const float *k,
                                                             int64_t stride, int64_t keys, int64_t n,
                                                             float scale, float *s, int p, const int QB) {
    const int KB = 16 / QB;
    const __m512 sc = _mm512_set1_ps(scale);
    for (int64_t j0 = 0; j0 < keys; j0 += KB) {
        int kn = keys - j0 < KB ? (int)(keys - j0) : KB;
        const float *kr[16];
        _Pragma("GCC unroll 16")
        for (int b = 0; b < KB; b++) kr[b] = k + (j0 + (b < kn ? b : kn - 1)) * stride; /* repeats unstored */
        /* the next tile's key rows, ahead: a decode's KV rows come from memory (the token's
         * weight stream evicted them), in runs too short for the hardware prefetchers */
        for (int64_t b = j0 + KB; b < keys && b < j0 + 2 * KB; b++)
            for (int64_t x = 0; x < n; x += 16) _mm_prefetch((const char *)(k + b * stride + x), _MM_HINT_T0);
        _Pragma("GCC unroll 16")
        for (int i0 = 0; i0 < nq; i0 += QB) {
            int qn = nq - i0 < QB ? nq - i0 : QB;
            const float *qr[4];
            _Pragma("GCC unroll 16")
            for (int a = 0; a < QB; a++) qr[a] = q[i0 + (a < qn ? a : qn - 1)];
            __m512 r = scores_tile(qr, kr, n, sc, QB, KB);
            if (p == QB && qn == QB) { /* the tile's kn keys are contiguous in s */
                _mm512_mask_storeu_ps(s + j0 * p, tail_mask((int64_t)kn * QB), r);
                continue;
            }
            /* key b's qn scores from lane b QB: shifted so that lane b QB lands at its place */
            _Pragma("GCC unroll 16")
            for (int b = 0; b < kn; b++)
                _mm512_mask_storeu_ps(s + (j0 + b) * p + i0 - b * QB, (__mmask16)(((1u << qn) - 1) << (b * QB)), r);
        }
    }
}

void ls_scores_avx512(const float *const q[], int nq, const float *k, int64_t stride, int64_t keys,
                      int64_t n, float scale, float *s, int p) {
    if (p == 1) scores_with(q, nq, k, stride, keys, n, scale, s, p, 1);
    else if (p == 2) scores_with(q, nq, k, stride, keys, n, scale, s, p, 2);
    else scores_with(q, nq, k, stride, keys, n, scale, s, p, 4);
}

/* The weighted sum: nq queries x C chunks of 16 elements (nq C <= 16 accumulators) over all
 * keys, then the next 16 C elements; the chunk of the value row ATTEND_AHEAD keys on is
 * prefetched. Traced on Gemma 3 270M decode (2 threads) at position 1000, both prefetches:
 * attention 3.3 -> 2.6 ms a token; at position 3000 5.7 -> 5.0; at 40, 160 -> 145 us. */
#define ATTEND_AHEAD 8

static inline __attribute__((always_inline)) void attend_with(float *const o[], const float *w, int p,
                                                             const float *v, int64_t stride, int64_t keys,
                                                             int64_t n, const int nq) {
    const int C = nq <= 2 ? 8 : nq <= 4 ? 4 : 2;
    for (int64_t d0 = 0; d0 < n; d0 += 16 * C) {
        __mmask16 m[8];
        __m512 acc[16];
        _Pragma("GCC unroll 16")
        for (int c = 0; c < C; c++) m[c] = d0 + 16 * c < n ? tail_mask(n - d0 - 16 * c) : 0;
        _Pragma("GCC unroll 16")
        for (int i = 0; i < nq; i++)
            _Pragma("GCC unroll 16")
            for (int c = 0; c < C; c++) acc[i * C + c] = _mm512_maskz_loadu_ps(m[c], o[i] + d0 + 16 * c);
        for (int64_t j = 0; j < keys; j++) {
            const float *row = v + j * stride + d0;
            if (j + ATTEND_AHEAD < keys) { /* the same for the value rows */
                _Pragma("GCC unroll 16")
                for (int c = 0; c < C; c++) _mm_prefetch((const char *)(row + ATTEND_AHEAD * stride + 16 * c), _MM_HINT_T0);
            }
            __m512 x[8];
            _Pragma("GCC unroll 16")
            for (int c = 0; c < C; c++) x[c] = _mm512_maskz_loadu_ps(m[c], row + 16 * c);
            _Pragma("GCC unroll 16")
            for (int i = 0; i < nq; i++) {
                __m512 wv = _mm512_set1_ps(w[j * p + i]);
                _Pragma("GCC unroll 16")
                for (int c = 0; c < C; c++) acc[i * C + c] = _mm512_add_ps(acc[i * C + c], _mm512_mul_ps(wv, x[c]));
            }
        }
        _Pragma("GCC unroll 16")
        for (int i = 0; i < nq; i++)
            _Pragma("GCC unroll 16")
            for (int c = 0; c < C; c++) _mm512_mask_storeu_ps(o[i] + d0 + 16 * c, m[c], acc[i * C + c]);
    }
}

void ls_attend_avx512(float *const o[], int nq, const float *w, int p, const float *v, int64_t stride,
                      int64_t keys, int64_t n) {
    switch (nq) {
#define CASE(c) case c: attend_with(o, w, p, v, stride, keys, n, c); break;
    CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    default: break;
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

void ls_exp_shifted_avx512(float *y, const float *x, const float *shift, int p, int64_t n) {
    float lanes[16];
    for (int l = 0; l < 16; l++) lanes[l] = shift[l % p];
    __m512 sv = _mm512_loadu_ps(lanes); /* p divides 16: the same pattern in every vector */
    const __m512 lowest = _mm512_set1_ps(LS_SOFTMAX_EXP_FLOOR);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 v = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), sv);
        /* the scalar d < floor: ordered, so NaN is kept and its exp stays NaN; the max with
         * the constant first is the scalar d < floor ? floor : d, NaN included */
        __mmask16 kept = (__mmask16)~_mm512_cmp_ps_mask(v, lowest, _CMP_LT_OQ);
        _mm512_mask_storeu_ps(y + i, m, _mm512_maskz_mov_ps(kept, ls_expf_x16(_mm512_max_ps(lowest, v))));
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
