/* quant_avx512.c — the AVX-512 code path of ls_quantize_activation_row for quantized weight
 * types. Same bits as the scalar reference in quant.c, which defines them; step by step:
 *
 *   amax  = max_i |x_i|, where a NaN counts as +inf. The scalar loop gives exactly this
 *           (the max of exact values does not depend on order; |-0| = +0 both ways).
 *   d     = amax / 127.0f; id = d != 0 ? 1.0f / d : 0     (one IEEE division each, per block)
 *   q_i   = x_i * id (one multiply), then NaN -> 0, clamp to [-127, 127], and round to
 *           nearest even (vcvtps2dq with explicit RNE, the same rounding the scalar
 *           magic-number addition does under the default rounding mode)
 *   sum, sum_lo: exact int32 sums (order free)
 *
 * One group of 16 blocks at a time: per block, the 32 quants are narrowed to 32 bytes (8
 * dwords); an in-register 16 x 8 dword transpose then puts dword k of the 16 blocks into one
 * zmm, which is row k of the interleaved layout (matmul_kernels.h). Every byte of each group,
 * padding blocks included, is written, so no memset is needed. */
#include "quant/matmul_kernels.h"

#include <immintrin.h>

#include "base/avx512_inline.h"

#define INLINE static inline __attribute__((always_inline))

/* 16 quants of x * id, as int32: NaN -> 0, clamp to +-127, round to nearest even. */
INLINE __m512i quantize16(__m512 x, __m512 id) {
    __m512 v = _mm512_mul_ps(x, id);
    __mmask16 number = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
    v = _mm512_min_ps(v, _mm512_set1_ps(127.0f));
    v = _mm512_max_ps(v, _mm512_set1_ps(-127.0f));
    v = _mm512_maskz_mov_ps(number, v);
    return _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

void ls_quantize_activation_row_avx512(const float *x, void *out, int64_t n) {
    uint8_t *o = out;
    const int64_t blocks = n / 32;
    const __m512 sign = _mm512_set1_ps(-0.0f), inf = _mm512_set1_ps(__builtin_inff());
    for (int64_t b0 = 0; b0 < blocks; b0 += LS_ACT_GROUP_BLOCKS) {
        uint8_t *group = o + (b0 / LS_ACT_GROUP_BLOCKS) * LS_ACT_GROUP_BYTES;
        const int count = blocks - b0 < LS_ACT_GROUP_BLOCKS ? (int)(blocks - b0) : LS_ACT_GROUP_BLOCKS;
        const float *xg = x + 32 * b0;
        /* pass 1: amax of each block, then the 16 scales at once */
        float amax[16];
        for (int j = 0; j < 16; j++) {
            if (j >= count) {
                amax[j] = 0.0f;
                continue;
            }
            __m512 a0 = _mm512_andnot_ps(sign, _mm512_loadu_ps(xg + 32 * j));
            __m512 a1 = _mm512_andnot_ps(sign, _mm512_loadu_ps(xg + 32 * j + 16));
            a0 = _mm512_mask_mov_ps(a0, _mm512_cmp_ps_mask(a0, a0, _CMP_UNORD_Q), inf);
            a1 = _mm512_mask_mov_ps(a1, _mm512_cmp_ps_mask(a1, a1, _CMP_UNORD_Q), inf);
            amax[j] = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
        }
        __m512 d = _mm512_div_ps(_mm512_loadu_ps(amax), _mm512_set1_ps(127.0f));
        __mmask16 nonzero = _mm512_cmp_ps_mask(d, _mm512_setzero_ps(), _CMP_NEQ_UQ);
        __m512 id = _mm512_maskz_div_ps(nonzero, _mm512_set1_ps(1.0f), d);
        float ids[16];
        _mm512_storeu_ps(ids, id);
        /* pass 2: quants, sums, and the interleaved layout */
        __m256i unit[16];
        int32_t sum[16], sum_lo[16];
        for (int j = 0; j < 16; j++) {
            if (j >= count) {
                unit[j] = _mm256_setzero_si256();
                sum[j] = sum_lo[j] = 0;
                continue;
            }
            __m512 idj = _mm512_set1_ps(ids[j]);
            __m512i q0 = quantize16(_mm512_loadu_ps(xg + 32 * j), idj);
            __m512i q1 = quantize16(_mm512_loadu_ps(xg + 32 * j + 16), idj);
            sum_lo[j] = _mm512_reduce_add_epi32(q0);
            sum[j] = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
            unit[j] = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm512_cvtepi32_epi8(q0)),
                                              _mm512_cvtepi32_epi8(q1), 1);
        }
        __m512i v[8], w[8];
        for (int m = 0; m < 8; m++) {
            int r = m < 4 ? m : m + 4;
            v[m] = _mm512_inserti64x4(_mm512_castsi256_si512(unit[r]), unit[r + 4], 1);
        }
        ls_transpose16x8(v, w);
        for (int k = 0; k < 8; k++) _mm512_storeu_si512(group + 64 * k, w[k]);
        _mm512_storeu_ps(group + LS_ACT_OFFSET_SCALE, d);
        _mm512_storeu_si512(group + LS_ACT_OFFSET_SUM, _mm512_loadu_si512(sum));
        _mm512_storeu_si512(group + LS_ACT_OFFSET_SUM_LO, _mm512_loadu_si512(sum_lo));
    }
}
