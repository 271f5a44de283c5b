/* matmul_avx2.c — the AVX2 code path of ls_matmul. Same bits as matmul_scalar.c: it
 * follows the reduction order in quant.c's header comment.
 *
 * The 16 lanes live in two ymm halves (lanes 0-7, 8-15). A group of 16 blocks is unpacked
 * one half at a time (loads, nibble/bit work, an 8 x 8 dword transpose) into eight ymm W[k] (lane j: elements 4k..4k+3 of block j, as bytes),
 * matching the interleaved activation layout (matmul_kernels.h). The exact int32 block dots
 * come from vpmaddubsw (u8 x s8 -> pairs of int16: no saturation here, since |products| are
 * at most 128 * 127 * 2 < 32767 — Q8_0 uses |w| and sign(w) x, others have w <= 63) then
 * vpmaddwd with ones. Offsets (Q4_0 -8, Q5_0 -16, Q6_K -32) are removed with the quant
 * sums in exact integers, as in the AVX-512 path. The float steps are one vector op per step
 * in the canonical order (separate mul and add, no FMA). Float weights: element i goes to
 * lane i % 16; 16 elements per step as two ymm. Up to 4 tokens share one unpacked group. */
#include "quant/matmul_kernels.h"

#include <immintrin.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

INLINE float lanes_tree(__m256 lo, __m256 hi) {
    __m256 s8 = _mm256_add_ps(lo, hi);
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
    return _mm_cvtss_f32(s1);
}

typedef struct half_group {
    __m256i w[8];
    __m256 scale, min;
    __m256i scale_lo, scale_hi;
} half_group;

/* 8x8 dword transpose: v[u] = the 8 dwords of unit u; w[k] lane u = dword k of unit u. */
INLINE void transpose(const __m256i v[8], __m256i w[8]) {
    __m256i t[8], u[8];
    for (int i = 0; i < 8; i += 4) {
        t[i + 0] = _mm256_unpacklo_epi32(v[i + 0], v[i + 1]);
        t[i + 1] = _mm256_unpackhi_epi32(v[i + 0], v[i + 1]);
        t[i + 2] = _mm256_unpacklo_epi32(v[i + 2], v[i + 3]);
        t[i + 3] = _mm256_unpackhi_epi32(v[i + 2], v[i + 3]);
        u[i + 0] = _mm256_unpacklo_epi64(t[i + 0], t[i + 2]); /* dwords 0, 4 of 4 units */
        u[i + 1] = _mm256_unpackhi_epi64(t[i + 0], t[i + 2]); /* 1, 5 */
        u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]); /* 2, 6 */
        u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]); /* 3, 7 */
    }
    for (int k = 0; k < 4; k++) {
        w[k] = _mm256_permute2x128_si256(u[k], u[k + 4], 0x20);
        w[k + 4] = _mm256_permute2x128_si256(u[k], u[k + 4], 0x31);
    }
}

INLINE __m256i load32(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* Unpacks blocks [0, count) (count <= 8) of the 8 blocks at w; for K-quants w is the start
 * of one super-block (count 8). */
INLINE void unpack(ls_dtype type, const uint8_t *w, int count, half_group *g) {
    const __m256i nib = _mm256_set1_epi8(0x0F);
    __m256i v[8];
    if (type == LS_Q8_0 || type == LS_Q4_0 || type == LS_Q5_0) {
        const int bytes = type == LS_Q8_0 ? 34 : type == LS_Q4_0 ? 18 : 22;
        uint16_t d[8];
        for (int u = 0; u < 8; u++) d[u] = u < count ? ls_read_u16(w + u * bytes) : 0;
        g->scale = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d));
        _Pragma("GCC unroll 8")
        for (int u = 0; u < 8; u++) {
            const uint8_t *b = w + u * bytes;
            if (u >= count) {
                v[u] = _mm256_setzero_si256();
                continue;
            }
            if (type == LS_Q8_0) {
                v[u] = load32(b + 2);
                continue;
            }
            /* dwords 0-3: low nibbles of the 16 bytes, dwords 4-7: high nibbles */
            __m256i q = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(b + (type == LS_Q4_0 ? 2 : 6))));
            v[u] = _mm256_and_si256(_mm256_srlv_epi32(q, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), nib);
            if (type == LS_Q5_0) { /* bit 4e+i of qh -> bit 4 of byte i of dword e */
                uint32_t qh;
                memcpy(&qh, b + 2, 4);
                __m256i control = _mm256_setr_epi32(0, 0, 0x01010101, 0x01010101, 0x02020202,
                                                    0x02020202, 0x03030303, 0x03030303);
                __m256i bits = _mm256_setr_epi32(0x08040201, (int)0x80402010, 0x08040201, (int)0x80402010,
                                                 0x08040201, (int)0x80402010, 0x08040201, (int)0x80402010);
                __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), control);
                __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bits), bits);
                v[u] = _mm256_or_si256(v[u], _mm256_and_si256(set, _mm256_set1_epi8(16)));
            }
        }
        transpose(v, g->w);
        return;
    }
    float scale[8] = {0}, min[8] = {0};
    int32_t scale_lo[8] = {0}, scale_hi[8] = {0};
    if (type == LS_Q6_K) {
        float d = ls_f16_to_f32(ls_read_u16(w + 208));
        for (int c = 0; c < 8; c++) {
            scale[c] = d;
            scale_lo[c] = (int8_t)w[192 + 2 * c];
            scale_hi[c] = (int8_t)w[193 + 2 * c];
        }
    } else {
        float d = ls_f16_to_f32(ls_read_u16(w)), dmin = ls_f16_to_f32(ls_read_u16(w + 2));
        for (int c = 0; c < 8; c++) {
            int sc, m;
            ls_k_scale_min(w + 4, c, &sc, &m);
            scale[c] = d * (float)sc;
            min[c] = dmin * (float)m;
        }
    }
    g->scale = _mm256_loadu_ps(scale);
    g->min = _mm256_loadu_ps(min);
    g->scale_lo = _mm256_loadu_si256((const __m256i *)scale_lo);
    g->scale_hi = _mm256_loadu_si256((const __m256i *)scale_hi);
    _Pragma("GCC unroll 8")
    for (int j = 0; j < 8; j++) {
        if (type == LS_Q4_K || type == LS_Q5_K) {
            const uint8_t *qs = w + (type == LS_Q4_K ? 16 : 48) + 32 * (j / 2);
            v[j] = _mm256_and_si256(_mm256_srli_epi32(load32(qs), 4 * (j & 1)), nib);
            if (type == LS_Q5_K) { /* bit j of qh[i] */
                __m256i h = _mm256_and_si256(_mm256_srli_epi32(load32(w + 16), j), _mm256_set1_epi8(1));
                v[j] = _mm256_or_si256(v[j], _mm256_slli_epi32(h, 4));
            }
        } else { /* Q6_K unit c = j: h = c/4, cc = c%4 */
            const int h = j / 4, cc = j % 4;
            __m256i lo = _mm256_and_si256(_mm256_srli_epi32(load32(w + 64 * h + 32 * (cc & 1)), 4 * (cc >> 1)), nib);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi32(load32(w + 128 + 32 * h), 2 * cc), _mm256_set1_epi8(3));
            v[j] = _mm256_or_si256(lo, _mm256_slli_epi32(hi, 4));
        }
    }
    transpose(v, g->w);
}

/* Exact int32 dot of 4 bytes per lane: w unsigned (or signed, for Q8_0), x signed. */
INLINE __m256i dot4(ls_dtype type, __m256i w, __m256i x) {
    if (type == LS_Q8_0) {
        x = _mm256_sign_epi8(x, w);
        w = _mm256_abs_epi8(w);
    }
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
}

/* acc += partial for the 8 blocks of one half group, one token; a: the group's activation,
 * lane offset 32 * half inside each 64-byte row of quants. */
INLINE __m256 token_step(ls_dtype type, const half_group *g, const uint8_t *a, int half,
                         __m256 acc) {
    const int off = 32 * half;
    __m256 dx = _mm256_loadu_ps((const float *)(a + LS_ACT_OFFSET_SCALE + off));
    __m256i sum = _mm256_loadu_si256((const __m256i *)(a + LS_ACT_OFFSET_SUM + off));
#define X(k) _mm256_loadu_si256((const __m256i *)(a + 64 * (k) + off))
    __m256 partial;
    if (type == LS_Q6_K) {
        __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
        _Pragma("GCC unroll 8")
        for (int k = 0; k < 4; k++) lo = _mm256_add_epi32(lo, dot4(type, g->w[k], X(k)));
        _Pragma("GCC unroll 8")
        for (int k = 4; k < 8; k++) hi = _mm256_add_epi32(hi, dot4(type, g->w[k], X(k)));
        __m256i sum_lo = _mm256_loadu_si256((const __m256i *)(a + LS_ACT_OFFSET_SUM_LO + off));
        lo = _mm256_sub_epi32(lo, _mm256_slli_epi32(sum_lo, 5));
        hi = _mm256_sub_epi32(hi, _mm256_slli_epi32(_mm256_sub_epi32(sum, sum_lo), 5));
        __m256i isum = _mm256_add_epi32(_mm256_mullo_epi32(lo, g->scale_lo),
                                        _mm256_mullo_epi32(hi, g->scale_hi));
        partial = _mm256_mul_ps(_mm256_mul_ps(g->scale, dx), _mm256_cvtepi32_ps(isum));
    } else {
        __m256i dot = _mm256_setzero_si256();
        _Pragma("GCC unroll 8")
        for (int k = 0; k < 8; k++) dot = _mm256_add_epi32(dot, dot4(type, g->w[k], X(k)));
        if (type == LS_Q4_K || type == LS_Q5_K) {
            __m256 t = _mm256_sub_ps(_mm256_mul_ps(g->scale, _mm256_cvtepi32_ps(dot)),
                                     _mm256_mul_ps(g->min, _mm256_cvtepi32_ps(sum)));
            partial = _mm256_mul_ps(dx, t);
        } else {
            if (type != LS_Q8_0)
                dot = _mm256_sub_epi32(dot, _mm256_slli_epi32(sum, type == LS_Q4_0 ? 3 : 4));
            partial = _mm256_mul_ps(_mm256_mul_ps(g->scale, dx), _mm256_cvtepi32_ps(dot));
        }
    }
#undef X
    /* lanes past the row's last block get partial = +0 (zero scales): adding it is exact */
    return _mm256_add_ps(acc, partial);
}

INLINE void rows_quantized(ls_dtype type, const int nt, const uint8_t *weights,
                           size_t row_bytes, int64_t n_in, int64_t row_first, int64_t row_end,
                           const uint8_t *act, size_t act_bytes, float *out, int64_t out_stride) {
    const int64_t blocks = n_in / 32;
    const int k_quant = type == LS_Q4_K || type == LS_Q5_K || type == LS_Q6_K;
    const int bytes = type == LS_Q8_0 ? 34 : type == LS_Q4_0 ? 18 : type == LS_Q5_0 ? 22
                      : type == LS_Q4_K ? 144 : type == LS_Q5_K ? 176 : 210;
    for (int64_t r = row_first; r < row_end; r++) {
        const uint8_t *row = weights + r * row_bytes;
        __m256 acc[4][2];
        _Pragma("GCC unroll 8")
        for (int t = 0; t < nt; t++) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
        for (int64_t b0 = 0; b0 < blocks; b0 += 8) {
            int count = blocks - b0 < 8 ? (int)(blocks - b0) : 8;
            int half = (int)((b0 / 8) & 1);
            const uint8_t *w = k_quant ? row + (b0 / 8) * bytes : row + b0 * bytes;
            half_group g;
            unpack(type, w, count, &g);
            const uint8_t *a = act + (b0 / 16) * LS_ACT_GROUP_BYTES;
            _Pragma("GCC unroll 8")
            for (int t = 0; t < nt; t++)
                acc[t][half] = token_step(type, &g, a + t * act_bytes, half, acc[t][half]);
        }
        _Pragma("GCC unroll 8")
        for (int t = 0; t < nt; t++) out[t * out_stride + r] = lanes_tree(acc[t][0], acc[t][1]);
    }
}

INLINE __m256 load8_weights(ls_dtype type, const uint8_t *p) {
    if (type == LS_F32) return _mm256_loadu_ps((const float *)p);
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (type == LS_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

INLINE void rows_float(ls_dtype type, const int nt, const uint8_t *weights, size_t row_bytes,
                       int64_t n_in, int64_t row_first, int64_t row_end, const uint8_t *act,
                       size_t act_bytes, float *out, int64_t out_stride) {
    const int es = type == LS_F32 ? 4 : 2;
    for (int64_t r = row_first; r < row_end; r++) {
        const uint8_t *row = weights + r * row_bytes;
        __m256 acc[4][2];
        _Pragma("GCC unroll 8")
        for (int t = 0; t < nt; t++) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
        for (int64_t i = 0; i < n_in; i += 16) {
            uint8_t tail[64];
            const uint8_t *p = row + i * es;
            if (n_in - i < 16) { /* zero-padded copy; the activation row is zero-padded too */
                memset(tail, 0, sizeof tail);
                memcpy(tail, p, (size_t)(n_in - i) * (size_t)es);
                p = tail;
            }
            __m256 w0 = load8_weights(type, p), w1 = load8_weights(type, p + 8 * es);
            _Pragma("GCC unroll 8")
            for (int t = 0; t < nt; t++) {
                const float *x = (const float *)(act + t * act_bytes) + i;
                acc[t][0] = _mm256_add_ps(acc[t][0], _mm256_mul_ps(w0, _mm256_loadu_ps(x)));
                acc[t][1] = _mm256_add_ps(acc[t][1], _mm256_mul_ps(w1, _mm256_loadu_ps(x + 8)));
            }
        }
        _Pragma("GCC unroll 8")
        for (int t = 0; t < nt; t++) out[t * out_stride + r] = lanes_tree(acc[t][0], acc[t][1]);
    }
}

#define TILE(fn, TYPE, NT) fn(TYPE, NT, w, row_bytes, n_in, row_first, row_end, a, act_bytes, o, out_stride)

#define DISPATCH_NT(fn, TYPE)          \
    switch (nt) {                      \
    case 4: TILE(fn, TYPE, 4); break;  \
    case 2: TILE(fn, TYPE, 2); break;  \
    default: TILE(fn, TYPE, 1); break; \
    }

void ls_matmul_avx2(ls_dtype weight_type, const void *weights, int64_t n_in,
                    int64_t row_first, int64_t row_end, const void *activations,
                    int64_t n_tokens, float *out, int64_t out_stride) {
    const ls_dtype_info *info = ls_dtype_find(weight_type);
    size_t row_bytes = (size_t)(n_in / info->block_elements) * info->block_bytes;
    size_t act_bytes = ls_activation_row_bytes(weight_type, n_in);
    const uint8_t *w = weights;
    for (int64_t t0 = 0; t0 < n_tokens;) {
        int64_t left = n_tokens - t0;
        int nt = left >= 4 ? 4 : left >= 2 ? 2 : 1;
        const uint8_t *a = (const uint8_t *)activations + t0 * act_bytes;
        float *o = out + t0 * out_stride;
        switch (weight_type) {
        case LS_Q4_0: DISPATCH_NT(rows_quantized, LS_Q4_0); break;
        case LS_Q5_0: DISPATCH_NT(rows_quantized, LS_Q5_0); break;
        case LS_Q8_0: DISPATCH_NT(rows_quantized, LS_Q8_0); break;
        case LS_Q4_K: DISPATCH_NT(rows_quantized, LS_Q4_K); break;
        case LS_Q5_K: DISPATCH_NT(rows_quantized, LS_Q5_K); break;
        case LS_Q6_K: DISPATCH_NT(rows_quantized, LS_Q6_K); break;
        case LS_F32: DISPATCH_NT(rows_float, LS_F32); break;
        case LS_F16: DISPATCH_NT(rows_float, LS_F16); break;
        case LS_BF16: DISPATCH_NT(rows_float, LS_BF16); break;
        }
        t0 += nt;
    }
}
