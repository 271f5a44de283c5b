/* tail4_avx512.h — a packed row's last group when it holds exactly 4 blocks (rows of 640,
 * 1152, ...: Gemma's), on full-width registers. Include it only from AVX-512 files.
 *
 * The group's quants (packed.c's layout with c = 4: chunk k's 16 bytes at 16k) are 64 bytes
 * of nibbles, or 128 bytes for Q8_0: two registers, lo = chunks 0-3 and hi = chunks 4-7, and
 * for Q5_0 the fifth bits of chunks 0-3 and 4-7 are exactly two 64-bit masks. The activation's
 * chunks 0-3 and 4-7 of blocks 0-3 (16 bytes each at 64k in its group) are gathered once into
 * two registers of the same shape, so that two vpdpbusd take the whole group; dword lane
 * 4m + j then holds chunks m and m + 4 of block j, and adding the four 128-bit quarters gives
 * block j's exact int32 dot in lane j. From there the float steps are those of a group step
 * on lanes 0-3 (same operations, same order: the same bits). One call's weights serve every
 * token (prefill), so they are decoded apart from the per-token work. */
#ifndef LS_QUANT_TAIL4_AVX512_H
#define LS_QUANT_TAIL4_AVX512_H

#include <immintrin.h>

#include "quant/matmul_kernels.h"

typedef struct ls_tail4 {
    __m512i lo, hi;   /* chunks 0-3 and 4-7 of the 4 blocks, unsigned */
    __m128 scale;     /* the 4 blocks' weight scales */
    int offset_log2;  /* the unsigned quants' offset: 128 (Q8_0), 16 (Q5_0), 8 (Q4_0) */
} ls_tail4;

/* The group at w (Q8_0, Q4_0 or Q5_0, packed, 4 blocks). */
static inline __attribute__((always_inline)) ls_tail4 ls_tail4_weights(ls_dtype type, const uint8_t *w) {
    ls_tail4 t;
    const uint8_t *scales;
    if (type == LS_Q8_0) {
        t.lo = _mm512_loadu_si512(w);
        t.hi = _mm512_loadu_si512(w + 64);
        t.offset_log2 = 7;
        scales = w + 128;
    } else {
        const __m512i nib = _mm512_set1_epi8(0x0F);
        __m512i v = _mm512_loadu_si512(w);
        t.lo = _mm512_and_si512(v, nib);
        t.hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), nib);
        if (type == LS_Q5_0) {
            const __m512i sixteen = _mm512_set1_epi8(16);
            t.lo = _mm512_mask_add_epi8(t.lo, _load_mask64((__mmask64 *)(w + 64)), t.lo, sixteen);
            t.hi = _mm512_mask_add_epi8(t.hi, _load_mask64((__mmask64 *)(w + 72)), t.hi, sixteen);
            t.offset_log2 = 4;
            scales = w + 80;
        } else {
            t.offset_log2 = 3;
            scales = w + 64;
        }
    }
    t.scale = _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)scales));
    return t;
}

/* The activation group at a (its 4 blocks): x[h] holds chunk 4h + m's 16 bytes at 16m. */
static inline __attribute__((always_inline)) void ls_tail4_activation(const uint8_t *a, __m512i x[2]) {
#define CHUNK(k) _mm_loadu_si128((const __m128i *)(a + 64 * (k))) /* inserts take literal lanes */
    for (int h = 0; h < 2; h++) {
        __m512i v = _mm512_castsi128_si512(CHUNK(4 * h));
        v = _mm512_inserti32x4(v, CHUNK(4 * h + 1), 1);
        v = _mm512_inserti32x4(v, CHUNK(4 * h + 2), 2);
        x[h] = _mm512_inserti32x4(v, CHUNK(4 * h + 3), 3);
    }
#undef CHUNK
}

/* acc lanes 0-3 += the 4 blocks' values for one token (x: its gathered chunks, a: its
 * activation group, for the sums and scales); lanes 4-15 keep theirs. */
static inline __attribute__((always_inline)) __m512 ls_tail4_token(const ls_tail4 *t, const __m512i x[2],
                                                                   const uint8_t *a, __m512 acc) {
    __m512i d = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), t->lo, x[0]), t->hi, x[1]);
    __m256i d8 = _mm256_add_epi32(_mm512_castsi512_si256(d), _mm512_extracti64x4_epi64(d, 1));
    __m128i dot = _mm_add_epi32(_mm256_castsi256_si128(d8), _mm256_extracti128_si256(d8, 1));
    __m128i sum = _mm_loadu_si128((const __m128i *)(a + LS_ACT_OFFSET_SUM));
    __m128i isum = _mm_sub_epi32(dot, _mm_slli_epi32(sum, t->offset_log2));
    __m128 dx = _mm_loadu_ps((const float *)(a + LS_ACT_OFFSET_SCALE));
    __m128 partial = _mm_mul_ps(_mm_mul_ps(t->scale, dx), _mm_cvtepi32_ps(isum));
    return _mm512_mask_add_ps(acc, 0x000F, acc, _mm512_castps128_ps512(partial));
}

#endif
