/* packed_avx512.c — the one-token matmul on packed Q8_0 / Q4_0 / Q5_0 rows (packed.c).
 *
 * Shapes: one activation row of n_in elements (matmul_kernels.h's quantized form), rows
 * [row_first, row_end) of the packed matrix, one float out per row.
 * Reduction order, the same as matmul_avx512.c's one-token path and so as every path's:
 * lane j of a float accumulator takes the blocks b with b % 16 == j in order of b; a
 * block's value is (weight scale * activation scale) * float(exact int32 dot), one mul,
 * one mul, one add per step; the 16 lanes end in the canonical tree. The int32 dot of a
 * block is summed here in a different grouping (four chains of two vpdpbusd; Q4_0's high
 * nibbles as 16 q, shifted back) than there, which changes nothing: integer sums are exact.
 * A row's last group of 8 blocks or fewer runs on ymm registers (group_step8), one of 4
 * blocks on zmm registers holding all of its chunks (tail4_avx512.h: Q5_0 rows of 640, one
 * thread, weights in L2, 26 -> 23 ns and 19 -> 15 ns a row in two runs; Q4_0 19 -> 11 and
 * 15 -> 11; two threads streaming 170 MiB of Q5_0, as a share of a plain read's rate:
 * 0.73-0.78 -> 0.78-0.86 with the prefetch change). The weights are prefetched ahead of the
 * row read (ls_prefetch_ahead). The rows' lane sums wait and are folded 16 at a time
 * (ls_lanes_tree512x16, the same sums): the cache-resident model's decode, whose rows of 288
 * are short, 2-4.5% faster in four in-process A/B runs; Gemma's, bound by DRAM, the same. */
#include "quant/matmul_kernels.h"

#include <immintrin.h>
#include <string.h>

#include "base/avx512_inline.h"
#include "quant/tail4_avx512.h"

#define INLINE static inline __attribute__((always_inline))

/* acc += the 16 (or c) block values of one group. w: the packed group; a: the activation's
 * group (q @0, d @512, sum @576). full: c == 16 (plain loads), else masked loads. */
INLINE __m512 group_step(ls_dtype type, const uint8_t *w, const uint8_t *a, int c, int full,
                         __m512 acc) {
    const __mmask64 bytes = full ? ~(__mmask64)0 : (((__mmask64)1 << (4 * c)) - 1);
    const __mmask16 lanes = full ? 0xFFFF : (__mmask16)((1u << c) - 1);
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
    int offset_log2;
    const uint8_t *scales;
    if (type == LS_Q8_0) {
        /* chunk k (4c bytes): elements 4k..4k+3 of every block, +128 */
#define Q8(k) (full ? _mm512_loadu_si512(w + 64 * (k)) : _mm512_maskz_loadu_epi8(bytes, w + 4 * c * (k)))
#define X(k) _mm512_loadu_si512(a + 64 * (k))
        s0 = _mm512_dpbusd_epi32(s0, Q8(0), X(0));
        s1 = _mm512_dpbusd_epi32(s1, Q8(1), X(1));
        s2 = _mm512_dpbusd_epi32(s2, Q8(2), X(2));
        s3 = _mm512_dpbusd_epi32(s3, Q8(3), X(3));
        s0 = _mm512_dpbusd_epi32(s0, Q8(4), X(4));
        s1 = _mm512_dpbusd_epi32(s1, Q8(5), X(5));
        s2 = _mm512_dpbusd_epi32(s2, Q8(6), X(6));
        s3 = _mm512_dpbusd_epi32(s3, Q8(7), X(7));
        offset_log2 = 7;
        scales = w + 32 * c;
    } else { /* Q4_0, Q5_0: chunk m's low nibbles are elements 4m.., its high ones 16+4m.. */
        const __m512i nib = _mm512_set1_epi8(0x0F);
#define Q4(m) (full ? _mm512_loadu_si512(w + 64 * (m)) : _mm512_maskz_loadu_epi8(bytes, w + 4 * c * (m)))
        __m512i v0 = Q4(0), v1 = Q4(1), v2 = Q4(2), v3 = Q4(3);
        if (type == LS_Q4_0) {
            /* The high nibbles stay in place (16 q): their chains sum 16 x their dot, exactly,
             * and one arithmetic shift gives it back; this saves the per-chunk shifts, which
             * share port 0 with vpdpbusd (Q4_0 rows of 2048 streamed by two threads, as a
             * share of a plain read: 0.77 -> 0.80 from DRAM, 0.72 -> 0.79 from 16 MiB). */
            const __m512i high = _mm512_set1_epi8((char)0xF0);
            s0 = _mm512_dpbusd_epi32(s0, _mm512_and_si512(v0, nib), X(0));
            s1 = _mm512_dpbusd_epi32(s1, _mm512_and_si512(v1, nib), X(1));
            s2 = _mm512_dpbusd_epi32(s2, _mm512_and_si512(v0, high), X(4));
            s3 = _mm512_dpbusd_epi32(s3, _mm512_and_si512(v1, high), X(5));
            s0 = _mm512_dpbusd_epi32(s0, _mm512_and_si512(v2, nib), X(2));
            s1 = _mm512_dpbusd_epi32(s1, _mm512_and_si512(v3, nib), X(3));
            s2 = _mm512_dpbusd_epi32(s2, _mm512_and_si512(v2, high), X(6));
            s3 = _mm512_dpbusd_epi32(s3, _mm512_and_si512(v3, high), X(7));
            s2 = _mm512_srai_epi32(_mm512_add_epi32(s2, s3), 4);
            s3 = _mm512_setzero_si512();
            offset_log2 = 3;
            scales = w + 16 * c;
            goto sums;
        }
        __m512i u[8] = {_mm512_and_si512(v0, nib), _mm512_and_si512(v1, nib),
                        _mm512_and_si512(v2, nib), _mm512_and_si512(v3, nib),
                        _mm512_and_si512(_mm512_srli_epi16(v0, 4), nib),
                        _mm512_and_si512(_mm512_srli_epi16(v1, 4), nib),
                        _mm512_and_si512(_mm512_srli_epi16(v2, 4), nib),
                        _mm512_and_si512(_mm512_srli_epi16(v3, 4), nib)};
#undef Q4
        if (type == LS_Q5_0) { /* the fifth bits: chunk k's 4c bits of the stream after q */
            const __m512i sixteen = _mm512_set1_epi8(16);
            _Pragma("GCC unroll 8")
            for (int k = 0; k < 8; k++)
                u[k] = _mm512_mask_add_epi8(u[k], (__mmask64)ls_fifth_bits(w + 16 * c, full ? 16 : c, k), u[k], sixteen);
            offset_log2 = 4;
            scales = w + 20 * c;
        } else {
            offset_log2 = 3;
            scales = w + 16 * c;
        }
        s0 = _mm512_dpbusd_epi32(s0, u[0], X(0));
        s1 = _mm512_dpbusd_epi32(s1, u[1], X(1));
        s2 = _mm512_dpbusd_epi32(s2, u[2], X(2));
        s3 = _mm512_dpbusd_epi32(s3, u[3], X(3));
        s0 = _mm512_dpbusd_epi32(s0, u[4], X(4));
        s1 = _mm512_dpbusd_epi32(s1, u[5], X(5));
        s2 = _mm512_dpbusd_epi32(s2, u[6], X(6));
        s3 = _mm512_dpbusd_epi32(s3, u[7], X(7));
    }
sums:
#undef Q8
#undef X
    __m512i dot = _mm512_add_epi32(_mm512_add_epi32(s0, s1), _mm512_add_epi32(s2, s3));
    __m512i sum = _mm512_loadu_si512(a + LS_ACT_OFFSET_SUM);
    __m512i isum = _mm512_sub_epi32(dot, _mm512_slli_epi32(sum, (unsigned)offset_log2));
    __m256i d16 = full ? _mm256_loadu_si256((const __m256i *)scales) : _mm256_maskz_loadu_epi16(lanes, scales);
    __m512 scale = _mm512_cvtph_ps(d16);
    __m512 dx = _mm512_loadu_ps(a + LS_ACT_OFFSET_SCALE);
    __m512 partial = _mm512_mul_ps(_mm512_mul_ps(scale, dx), _mm512_cvtepi32_ps(isum));
    return full ? _mm512_add_ps(acc, partial) : _mm512_mask_add_ps(acc, lanes, acc, partial);
}

/* group_step for a last group of c <= 8 blocks, on 256-bit registers (lanes 0-7): half the
 * work of the full width, whose upper lanes would be masked off. Same lanes, same steps. */
INLINE __m512 group_step8(ls_dtype type, const uint8_t *w, const uint8_t *a, int c, __m512 acc) {
    const __mmask32 bytes = (__mmask32)(((uint64_t)1 << (4 * c)) - 1);
    const __mmask16 lanes = (__mmask16)((1u << c) - 1);
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    __m256i u[8];
    int offset_log2;
    const uint8_t *scales;
#define W8(k) _mm256_maskz_loadu_epi8(bytes, w + 4 * c * (k))
    if (type == LS_Q8_0) {
        _Pragma("GCC unroll 8")
        for (int k = 0; k < 8; k++) u[k] = W8(k);
        offset_log2 = 7;
        scales = w + 32 * c;
    } else {
        const __m256i nib = _mm256_set1_epi8(0x0F);
        _Pragma("GCC unroll 4")
        for (int m = 0; m < 4; m++) {
            __m256i v = W8(m);
            u[m] = _mm256_and_si256(v, nib);
            u[m + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
        }
        if (type == LS_Q5_0) { /* the fifth bits: chunk k's 4c bits of the stream after q */
            _Pragma("GCC unroll 8")
            for (int k = 0; k < 8; k++)
                u[k] = _mm256_mask_add_epi8(u[k], (__mmask32)ls_fifth_bits(w + 16 * c, c, k), u[k], _mm256_set1_epi8(16));
            offset_log2 = 4;
            scales = w + 20 * c;
        } else {
            offset_log2 = 3;
            scales = w + 16 * c;
        }
    }
#undef W8
#define X8(k) _mm256_loadu_si256((const __m256i *)(a + 64 * (k)))
    s0 = _mm256_dpbusd_epi32(s0, u[0], X8(0));
    s1 = _mm256_dpbusd_epi32(s1, u[1], X8(1));
    s2 = _mm256_dpbusd_epi32(s2, u[2], X8(2));
    s3 = _mm256_dpbusd_epi32(s3, u[3], X8(3));
    s0 = _mm256_dpbusd_epi32(s0, u[4], X8(4));
    s1 = _mm256_dpbusd_epi32(s1, u[5], X8(5));
    s2 = _mm256_dpbusd_epi32(s2, u[6], X8(6));
    s3 = _mm256_dpbusd_epi32(s3, u[7], X8(7));
#undef X8
    __m256i dot = _mm256_add_epi32(_mm256_add_epi32(s0, s1), _mm256_add_epi32(s2, s3));
    __m256i sum = _mm256_loadu_si256((const __m256i *)(a + LS_ACT_OFFSET_SUM));
    __m256i isum = _mm256_sub_epi32(dot, _mm256_slli_epi32(sum, (unsigned)offset_log2));
    __m256 scale = _mm256_cvtph_ps(_mm_maskz_loadu_epi16((__mmask8)lanes, scales));
    __m256 dx = _mm256_loadu_ps((const float *)(a + LS_ACT_OFFSET_SCALE));
    __m256 partial = _mm256_mul_ps(_mm256_mul_ps(scale, dx), _mm256_cvtepi32_ps(isum));
    return _mm512_mask_add_ps(acc, lanes, acc, _mm512_castps256_ps512(partial));
}

/* A row's last group of `rest` blocks (1..15), with rest a constant in each case: the masks
 * and the fifth bits' reads are then fixed (a Q5_0 row of 640 elements ends in 4 blocks, whose
 * fifth bits computed at run time cost more than its full group). rows_packed takes a group of
 * 4 to tail4_avx512.h's step before it gets here (moving that into this switch cost 9% on Q5_0
 * rows of 640 from L2); case 4 stays so that the function is whole. */
INLINE __m512 tail_step(ls_dtype type, const uint8_t *w, const uint8_t *a, int rest, __m512 acc) {
    switch (rest) {
#define TAIL(c) case c: return c <= 8 ? group_step8(type, w, a, c, acc) : group_step(type, w, a, c, 0, acc);
    TAIL(1) TAIL(2) TAIL(3) TAIL(4) TAIL(5) TAIL(6) TAIL(7) TAIL(8)
    TAIL(9) TAIL(10) TAIL(11) TAIL(12) TAIL(13) TAIL(14) TAIL(15)
#undef TAIL
    default: return acc;
    }
}

INLINE void rows_packed(ls_dtype type, const uint8_t *packed, size_t row_bytes, size_t block_bytes,
                        int64_t n_in, int64_t row_first, int64_t row_end, const uint8_t *act,
                        float *out) {
    const int64_t blocks = n_in / 32, full = blocks / 16;
    const int rest = (int)(blocks % 16);
    const uint8_t *tail_act = act + full * LS_ACT_GROUP_BYTES;
    __m512i x4[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
    if (rest == 4) ls_tail4_activation(tail_act, x4);
    ls_prefetch prefetch = ls_prefetch_start(packed + row_first * row_bytes, packed + row_end * row_bytes);
    __m512 sums[16]; /* rows [r - held, r) wait for their trees, 16 at a time */
    int held = 0;
    for (int64_t r = row_first; r < row_end; r++) {
        const uint8_t *row = packed + r * row_bytes;
        ls_prefetch_ahead(&prefetch, row + row_bytes);
        __m512 acc = _mm512_setzero_ps();
        for (int64_t g = 0; g < full; g++)
            acc = group_step(type, row + g * 16 * block_bytes, act + g * LS_ACT_GROUP_BYTES, 16, 1, acc);
        if (rest == 4) {
            ls_tail4 t = ls_tail4_weights(type, row + full * 16 * block_bytes);
            acc = ls_tail4_token(&t, x4, tail_act, acc);
        }
        else if (rest) acc = tail_step(type, row + full * 16 * block_bytes, tail_act, rest, acc);
        sums[held++] = acc;
        if (held == 16) {
            ls_lanes_tree512x16(sums, out + r - 15);
            held = 0;
        }
    }
    for (int i = 0; i < held; i++) out[row_end - held + i] = ls_lanes_tree512(sums[i]);
}

void ls_matmul_packed_avx512(ls_dtype type, const void *packed, int64_t n_in, int64_t row_first,
                             int64_t row_end, const void *activation, float *out) {
    if (type == LS_Q8_0)
        rows_packed(LS_Q8_0, packed, (size_t)(n_in / 32) * 34, 34, n_in, row_first, row_end, activation, out);
    else if (type == LS_Q4_0)
        rows_packed(LS_Q4_0, packed, (size_t)(n_in / 32) * 18, 18, n_in, row_first, row_end, activation, out);
    else if (type == LS_Q5_0)
        rows_packed(LS_Q5_0, packed, (size_t)(n_in / 32) * 22, 22, n_in, row_first, row_end, activation, out);
}
