/* matmul_avx512.c — the AVX-512 (VNNI) code path of ls_matmul. Same bits as
 * matmul_scalar.c: it follows the reduction order in quant.c's header comment.
 *
 * How it maps that order onto registers: a zmm holds the 16 lanes. For quantized weights a
 * "group" is 16 consecutive 32-element blocks; lane j is block 16g + j, so lane j of the
 * float accumulator receives exactly the blocks b with b % 16 == j, in order. The weights of
 * a group are unpacked (plain loads, nibble/bit work, then an in-register 16 x 8 dword
 * transpose; from packed.c's layout, the loads alone) into eight zmm W[k] whose lane j holds
 * elements 4k..4k+3 of block j as unsigned bytes; the activation row is stored in the same
 * interleaved order (matmul_kernels.h), so eight vpdpbusd give the 16 exact int32 block dots
 * with no horizontal sum. Signed Q8_0 weights are offset by +128 (xor 0x80) and corrected
 * with 128 * sum(x); Q4_0/Q5_0/Q6_K offsets likewise, all in exact integers. The float steps
 * then run in the canonical order, one vector op per step (separate mul and add, no FMA).
 * Float weights: element i goes to lane i % 16, 16 elements per step.
 *
 * Weight reuse: one unpacked group serves up to 8 tokens before the next group is read, so
 * prefill reads each weight row once per 8 tokens. A packed row's last group of 8 blocks or
 * fewer runs on ymm registers (lanes 0-7). None of this changes any lane's order. Packed
 * K-quant rows also take their one-token products here (packed_avx512.c has the others). */
#include "quant/matmul_kernels.h"

#include <immintrin.h>
#include <string.h>

#include "base/avx512_inline.h"
#include "quant/tail4_avx512.h"

#define INLINE static inline __attribute__((always_inline))

/* One group's weights, unpacked. */
typedef struct group {
    __m512i w[8];
    __m512 scale;           /* d_w per block (Q4_0/Q5_0/Q8_0, Q6_K), d*scale (Q4_K/Q5_K) */
    __m512 min;             /* dmin*min (Q4_K/Q5_K) */
    __m512i scale_lo, scale_hi; /* Q6_K int8 scales of the two 16-element halves */
} group;

INLINE __m512i pair(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

INLINE __m256i load32(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* 16 bytes twice: [p | p], for nibble types whose dwords 0-3 and 4-7 share bytes. */
INLINE __m256i load16x2(const uint8_t *p) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p));
}

INLINE uint32_t read_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const int32_t lane_block[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* The f16 scales of blocks order[0..15] of a group at w (blocks `bytes` apart, the scale
 * first) as floats, 0 for blocks >= count: plain 16-bit loads packed four to a qword. A
 * vpgatherdd here (microcoded on Zen 4) stalled prefill, where it is the group's first touch,
 * and cost a quarter of a one-token group's time. */
INLINE __m512 block_scales(const uint8_t *w, int bytes, const int32_t order[16], int count) {
    uint64_t d4[4];
    _Pragma("GCC unroll 4")
    for (int i = 0; i < 4; i++) {
        uint64_t v = 0;
        _Pragma("GCC unroll 4")
        for (int e = 0; e < 4; e++)
            if (order[4 * i + e] < count) v |= (uint64_t)ls_read_u16(w + order[4 * i + e] * bytes) << (16 * e);
        d4[i] = v;
    }
    return _mm512_cvtph_ps(_mm256_setr_epi64x((long long)d4[0], (long long)d4[1], (long long)d4[2], (long long)d4[3]));
}

/* Q4_K/Q5_K: the 16 sub-block scales d * sc and minimums dmin * m of one group from the
 * 16-byte super-block headers h0 and h1 (f16 d, f16 dmin, 12 bytes of 6-bit values; h1 is
 * not read unless two), lane i taking sub-block order[i] (0..7 of h0, 8..15 of h1). */
INLINE void k_scales(const uint8_t *h0, const uint8_t *h1, int two, __m128i order, __m512 *scale,
                     __m512 *min) {
    /* [d0, dmin0, d1, dmin1] by one conversion, then each spread over its eight lanes */
    __m128 dm = _mm_cvtph_ps(_mm_setr_epi32((int)read_u32(h0), two ? (int)read_u32(h1) : 0, 0, 0));
    __m512 dvec = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2),
                                        _mm512_castps128_ps512(dm));
    __m512 mvec = _mm512_permutexvar_ps(_mm512_setr_epi32(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3),
                                        _mm512_castps128_ps512(dm));
    /* ls_k_scale_min for 8 sub-blocks of each header at once (a 128-bit lane per header):
     * byte j of the result is scale j, byte 8 + j minimum j; with q the 12 bytes at 4:
     *   j < 4: scale q[j] & 63, min q[j+4] & 63
     *   j >= 4: scale (q[j+4] & 15) | (q[j-4] >> 6) << 4, min (q[j+4] >> 4) | (q[j] >> 6) << 4 */
    __m256i H = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)h0)),
                                        two ? _mm_loadu_si128((const __m128i *)h1) : _mm_setzero_si128(), 1);
    const __m256i low_at = _mm256_broadcastsi128_si256(_mm_setr_epi8(4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15));
    const __m256i high_at = _mm256_broadcastsi128_si256(_mm_setr_epi8(0, 0, 0, 0, 4, 5, 6, 7, 0, 0, 0, 0, 8, 9, 10, 11));
    const __m256i low_mask = _mm256_broadcastsi128_si256(_mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 15, 15, 15, 15));
    const __m256i high_mask = _mm256_broadcastsi128_si256(_mm_setr_epi8(0, 0, 0, 0, 48, 48, 48, 48, 0, 0, 0, 0, 48, 48, 48, 48));
    __m256i lo = _mm256_shuffle_epi8(H, low_at);
    lo = _mm256_mask_srli_epi16(lo, 0xC0C0, lo, 4); /* bytes 12-15 (minimums j >= 4): high nibble */
    lo = _mm256_and_si256(lo, low_mask);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(_mm256_shuffle_epi8(H, high_at), 2), high_mask);
    /* [scales 0 | mins 0 | scales 1 | mins 1] (8 bytes each) -> [scales 0, 1 | mins 0, 1] */
    __m256i sm = _mm256_permute4x64_epi64(_mm256_or_si256(lo, hi), _MM_SHUFFLE(3, 1, 2, 0));
    sm = _mm256_shuffle_epi8(sm, _mm256_broadcastsi128_si256(order));
    __m128i scb = _mm256_castsi256_si128(sm), mnb = _mm256_extracti128_si256(sm, 1);
    *scale = _mm512_mul_ps(dvec, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(scb)));
    *min = _mm512_mul_ps(mvec, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(mnb)));
}

/* The f16 at a in lanes 0-7 and the one at b (0 unless two) in lanes 8-15, as floats. */
INLINE __m512 f16_halves(const uint8_t *a, const uint8_t *b, int two) {
    __m128 v = _mm_cvtph_ps(_mm_cvtsi32_si128(ls_read_u16(a) | (two ? ls_read_u16(b) << 16 : 0)));
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                                 _mm512_castps128_ps512(v));
}

/* Q6_K in the file's layout: the scales d of super-blocks b0 and b1 (b1 not read unless two)
 * over their 8 lanes each, and the int8 scales of the 16 sub-blocks' two halves, lane i
 * taking sub-block order[i] (order: 16 bytes, order[i] and order[i + 8] the indices, within a
 * super-block's 16 scales, of lane i's lo and hi scale, the same for both super-blocks). */
INLINE void q6k_scales(const uint8_t *b0, const uint8_t *b1, int two, __m128i order, __m512 *d,
                       __m512i *lo, __m512i *hi) {
    *d = f16_halves(b0 + 208, b1 + 208, two);
    __m128i a = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(b0 + 192)), order);
    __m128i b = two ? _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(b1 + 192)), order) : _mm_setzero_si128();
    *lo = _mm512_cvtepi8_epi32(_mm_unpacklo_epi64(a, b));
    *hi = _mm512_cvtepi8_epi32(_mm_unpackhi_epi64(a, b));
}

/* Unpacks one group (blocks < 16 of them present; K-quants: 8 or 16) starting at w. */
INLINE void unpack(ls_dtype type, const uint8_t *w, int blocks, group *g) {
    const __m512i nib = _mm512_set1_epi8(0x0F);
    __m512i v[8];
    if (type == LS_Q8_0 || type == LS_Q4_0 || type == LS_Q5_0) {
        const int bytes = type == LS_Q8_0 ? 34 : type == LS_Q4_0 ? 18 : 22;
        g->scale = block_scales(w, bytes, lane_block, blocks);
        const int qs = type == LS_Q8_0 ? 2 : type == LS_Q4_0 ? 2 : 6;
        __m256i unit[16];
        uint32_t qh[16];
        _Pragma("GCC unroll 16")
        for (int u = 0; u < 16; u++) {
            const uint8_t *b = w + u * bytes;
            int in = u < blocks;
            unit[u] = type == LS_Q8_0 ? _mm256_maskz_loadu_epi8(in ? ~0u : 0, b + 2)
                                      : _mm256_broadcastsi128_si256(_mm_maskz_loadu_epi8(in ? 0xFFFF : 0, b + qs));
            qh[u] = type == LS_Q5_0 && in ? read_u32(b + 2) : 0;
        }
        _Pragma("GCC unroll 8")
        for (int m = 0; m < 8; m++) {
            int r = m < 4 ? m : m + 4;
            v[m] = pair(unit[r], unit[r + 4]);
            if (type == LS_Q8_0) {
                v[m] = _mm512_xor_si512(v[m], _mm512_set1_epi8((char)0x80));
                continue;
            }
            /* dwords 0-3 of a unit: low nibbles; 4-7: high nibbles */
            v[m] = _mm512_and_si512(
                _mm512_srlv_epi32(v[m], _mm512_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4, 0, 0, 0, 0, 4, 4, 4, 4)),
                nib);
            if (type == LS_Q5_0) {
                /* fifth bit of element 4e+i (dword e, byte i) is bit 4e+i of qh: spread byte
                 * e/2 over the dword, test bit i (+4 for odd e), add 16 where set */
                __m512i h = pair(_mm256_set1_epi32((int)qh[r]), _mm256_set1_epi32((int)qh[r + 4]));
                __m512i control = _mm512_setr_epi32(0, 0, 0x01010101, 0x01010101, 0x02020202, 0x02020202,
                                                    0x03030303, 0x03030303, 0, 0, 0x01010101, 0x01010101,
                                                    0x02020202, 0x02020202, 0x03030303, 0x03030303);
                __m512i bits = _mm512_set4_epi32((int)0x80402010, 0x08040201, (int)0x80402010, 0x08040201);
                __mmask64 high = _mm512_test_epi8_mask(_mm512_shuffle_epi8(h, control), bits);
                v[m] = _mm512_mask_add_epi8(v[m], high, v[m], _mm512_set1_epi8(16));
            }
        }
        ls_transpose16x8(v, g->w);
        return;
    }
    /* K-quants: units 0-7 = sub-blocks of super-block 0, 8-15 of super-block 1 */
    const int bytes = type == LS_Q4_K ? 144 : type == LS_Q5_K ? 176 : 210;
    const int supers = blocks / 8;
    if (type == LS_Q6_K) {
        g->min = _mm512_setzero_ps();
        q6k_scales(w, w + bytes, supers == 2, _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15),
                   &g->scale, &g->scale_lo, &g->scale_hi);
    } else {
        g->scale_lo = g->scale_hi = _mm512_setzero_si512();
        k_scales(w, w + bytes, supers == 2, _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                 &g->scale, &g->min);
    }
    _Pragma("GCC unroll 8")
    for (int m = 0; m < 8; m++) {
        /* units r = 8s + j and r + 4, j = m % 4 */
        const int s = m / 4, j = m % 4;
        if (s >= supers) {
            v[m] = _mm512_setzero_si512();
            continue;
        }
        const uint8_t *b = w + s * bytes;
        if (type == LS_Q4_K || type == LS_Q5_K) {
            /* sub-block j: nibbles at qs + 32 (j/2), low for even j; j + 4: 64 bytes on */
            const uint8_t *qs = b + (type == LS_Q4_K ? 16 : 48) + 32 * (j / 2);
            v[m] = _mm512_and_si512(_mm512_srli_epi32(pair(load32(qs), load32(qs + 64)), 4 * (j & 1)), nib);
            if (type == LS_Q5_K) { /* fifth bit of element i of sub-block j: bit j of qh[i] */
                __m512i h = _mm512_broadcast_i64x4(load32(b + 16));
                h = _mm512_srlv_epi32(h, pair(_mm256_set1_epi32(j), _mm256_set1_epi32(j + 4)));
                v[m] = _mm512_or_si512(v[m], _mm512_slli_epi32(_mm512_and_si512(h, _mm512_set1_epi8(1)), 4));
            }
        } else {
            /* Q6_K unit c (c = j, and j + 4 in the second half of the super-block):
             * low nibble of ql[64h + 32(c&1) + l] >> 4(c>>1), high bits qh[32h + l] >> 2c */
            const uint8_t *ql = b + 32 * (j & 1);
            __m512i lo = _mm512_and_si512(_mm512_srli_epi32(pair(load32(ql), load32(ql + 64)), 4 * (j >> 1)), nib);
            __m512i hi = _mm512_srli_epi32(_mm512_loadu_si512(b + 128), 2 * j);
            hi = _mm512_slli_epi32(_mm512_and_si512(hi, _mm512_set1_epi8(3)), 4);
            v[m] = _mm512_or_si512(lo, hi);
        }
    }
    ls_transpose16x8(v, g->w);
}

/* The same group from the packed layout (packed.c): the chunks are already W[k], so plain
 * (masked, for a short last group) loads and the nibble, fifth-bit and Q6_K high-bit work,
 * no transpose. */
INLINE void unpack_packed(ls_dtype type, const uint8_t *w, int blocks, group *g) {
    const int full = blocks == 16;
    const __mmask64 bytes = full ? ~(__mmask64)0 : (((__mmask64)1 << (4 * blocks)) - 1);
#define CHUNK(at, k) (full ? _mm512_loadu_si512((at) + 64 * (k)) : _mm512_maskz_loadu_epi8(bytes, (at) + 4 * blocks * (k)))
    if (type == LS_Q8_0) {
        _Pragma("GCC unroll 8")
        for (int k = 0; k < 8; k++) g->w[k] = CHUNK(w, k);
    } else {
        const __m512i nib = _mm512_set1_epi8(0x0F);
        _Pragma("GCC unroll 4")
        for (int m = 0; m < 4; m++) {
            __m512i v = CHUNK(w, m);
            g->w[m] = _mm512_and_si512(v, nib);
            g->w[m + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), nib);
        }
        if (type == LS_Q5_0 || type == LS_Q5_K) { /* chunk k's fifth bits */
            _Pragma("GCC unroll 8")
            for (int k = 0; k < 8; k++)
                g->w[k] = _mm512_mask_add_epi8(g->w[k], (__mmask64)ls_fifth_bits(w + 16 * blocks, blocks, k), g->w[k],
                                               _mm512_set1_epi8(16));
        }
        if (type == LS_Q6_K) { /* W[k] |= bits 2i, 2i+1 of chunk p (k = p + 2i) at bit 4 */
            const uint8_t *h = w + 16 * blocks;
            const __m512i high = _mm512_set1_epi8(0x30);
            __m512i h0 = CHUNK(h, 0), h1 = CHUNK(h, 1);
            _Pragma("GCC unroll 8")
            for (int k = 0; k < 8; k++) {
                __m512i v = k & 1 ? h1 : h0;
                int i = k >> 1;
                v = i == 0 ? _mm512_slli_epi16(v, 4) : i == 1 ? _mm512_slli_epi16(v, 2) : i == 2 ? v : _mm512_srli_epi16(v, 2);
                g->w[k] = _mm512_or_si512(g->w[k], _mm512_and_si512(v, high));
            }
        }
    }
#undef CHUNK
    if (type == LS_Q4_K || type == LS_Q5_K) {
        const uint8_t *h = w + (type == LS_Q4_K ? 16 : 20) * blocks;
        k_scales(h, h + 16, full, _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                 &g->scale, &g->min);
        return;
    }
    const __mmask16 lanes = (__mmask16)((1u << blocks) - 1);
    if (type == LS_Q6_K) {
        g->scale = f16_halves(w + 26 * blocks, w + 26 * blocks + 2, full);
        g->scale_lo = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(lanes, w + 24 * blocks));
        g->scale_hi = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(lanes, w + 25 * blocks));
        return;
    }
    const uint8_t *scales = w + (type == LS_Q8_0 ? 32 : type == LS_Q4_0 ? 16 : 20) * blocks;
    g->scale = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(lanes, scales));
}

/* acc lanes += partial(block) for the 16 blocks of one group and one token. */
INLINE __m512 token_step(ls_dtype type, const group *g, const uint8_t *a, __m512 acc,
                         __mmask16 mask) {
    __m512 dx = _mm512_loadu_ps(a + LS_ACT_OFFSET_SCALE);
    __m512i sum = _mm512_loadu_si512(a + LS_ACT_OFFSET_SUM);
    __m512 partial;
    if (type == LS_Q6_K) {
        __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
        _Pragma("GCC unroll 8")
        for (int k = 0; k < 4; k++) lo = _mm512_dpbusd_epi32(lo, g->w[k], _mm512_loadu_si512(a + 64 * k));
        _Pragma("GCC unroll 8")
        for (int k = 4; k < 8; k++) hi = _mm512_dpbusd_epi32(hi, g->w[k], _mm512_loadu_si512(a + 64 * k));
        __m512i sum_lo = _mm512_loadu_si512(a + LS_ACT_OFFSET_SUM_LO);
        lo = _mm512_sub_epi32(lo, _mm512_slli_epi32(sum_lo, 5));
        hi = _mm512_sub_epi32(hi, _mm512_slli_epi32(_mm512_sub_epi32(sum, sum_lo), 5));
        __m512i isum = _mm512_add_epi32(_mm512_mullo_epi32(lo, g->scale_lo),
                                        _mm512_mullo_epi32(hi, g->scale_hi));
        partial = _mm512_mul_ps(_mm512_mul_ps(g->scale, dx), _mm512_cvtepi32_ps(isum));
    } else {
        __m512i dot = _mm512_setzero_si512();
        _Pragma("GCC unroll 8")
        for (int k = 0; k < 8; k++) dot = _mm512_dpbusd_epi32(dot, g->w[k], _mm512_loadu_si512(a + 64 * k));
        if (type == LS_Q4_K || type == LS_Q5_K) {
            __m512 t = _mm512_sub_ps(_mm512_mul_ps(g->scale, _mm512_cvtepi32_ps(dot)),
                                     _mm512_mul_ps(g->min, _mm512_cvtepi32_ps(sum)));
            partial = _mm512_mul_ps(dx, t);
        } else {
            int offset_log2 = type == LS_Q8_0 ? 7 : type == LS_Q4_0 ? 3 : 4;
            __m512i isum = _mm512_sub_epi32(dot, _mm512_slli_epi32(sum, (unsigned)offset_log2));
            partial = _mm512_mul_ps(_mm512_mul_ps(g->scale, dx), _mm512_cvtepi32_ps(isum));
        }
    }
    return _mm512_mask_add_ps(acc, mask, acc, partial);
}

/* ---- a packed row's last group when it holds 8 blocks or fewer -------------------------
 * unpack_packed leaves such a group in the low halves of its registers (masked loads); the
 * per-token integer dots and float steps then run on those halves, 256-bit registers,
 * lanes 0-7: half the work of the full-width token_step, whose upper lanes would only be
 * masked off (Gemma's n_in 640 ends in a group of 4 blocks, 768 and K-quant rows of an odd
 * number of super-blocks in one of 8). The lanes and their order are token_step's.
 * Lanes >= count (mask) of acc keep their value. */
INLINE __m512 token_step8(ls_dtype type, const group *g, const uint8_t *a, __m512 acc, __mmask16 mask) {
#define W8(k) _mm512_castsi512_si256(g->w[k])
    __m256 dx = _mm256_loadu_ps((const float *)(a + LS_ACT_OFFSET_SCALE));
    __m256i sum = _mm256_loadu_si256((const __m256i *)(a + LS_ACT_OFFSET_SUM));
#define X8(k) _mm256_loadu_si256((const __m256i *)(a + 64 * (k)))
    __m256 partial;
    if (type == LS_Q6_K) {
        __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
        _Pragma("GCC unroll 4")
        for (int k = 0; k < 4; k++) lo = _mm256_dpbusd_epi32(lo, W8(k), X8(k));
        _Pragma("GCC unroll 4")
        for (int k = 4; k < 8; k++) hi = _mm256_dpbusd_epi32(hi, W8(k), X8(k));
        __m256i sum_lo = _mm256_loadu_si256((const __m256i *)(a + LS_ACT_OFFSET_SUM_LO));
        lo = _mm256_sub_epi32(lo, _mm256_slli_epi32(sum_lo, 5));
        hi = _mm256_sub_epi32(hi, _mm256_slli_epi32(_mm256_sub_epi32(sum, sum_lo), 5));
        __m256i isum = _mm256_add_epi32(_mm256_mullo_epi32(lo, _mm512_castsi512_si256(g->scale_lo)),
                                        _mm256_mullo_epi32(hi, _mm512_castsi512_si256(g->scale_hi)));
        partial = _mm256_mul_ps(_mm256_mul_ps(_mm512_castps512_ps256(g->scale), dx), _mm256_cvtepi32_ps(isum));
    } else {
        __m256i dot = _mm256_setzero_si256();
        _Pragma("GCC unroll 8")
        for (int k = 0; k < 8; k++) dot = _mm256_dpbusd_epi32(dot, W8(k), X8(k));
        if (type == LS_Q4_K || type == LS_Q5_K) {
            __m256 t = _mm256_sub_ps(_mm256_mul_ps(_mm512_castps512_ps256(g->scale), _mm256_cvtepi32_ps(dot)),
                                     _mm256_mul_ps(_mm512_castps512_ps256(g->min), _mm256_cvtepi32_ps(sum)));
            partial = _mm256_mul_ps(dx, t);
        } else {
            int offset_log2 = type == LS_Q8_0 ? 7 : type == LS_Q4_0 ? 3 : 4;
            __m256i isum = _mm256_sub_epi32(dot, _mm256_slli_epi32(sum, (unsigned)offset_log2));
            partial = _mm256_mul_ps(_mm256_mul_ps(_mm512_castps512_ps256(g->scale), dx), _mm256_cvtepi32_ps(isum));
        }
    }
#undef X8
#undef W8
    return _mm512_mask_add_ps(acc, mask, acc, _mm512_castps256_ps512(partial));
}

/* Rows [row_first, row_end) for `nt` tokens starting at act (stride act_bytes). */
INLINE void rows_quantized(ls_dtype type, const int packed, const int nt, const uint8_t *weights,
                           size_t row_bytes, int64_t n_in, int64_t row_first, int64_t row_end,
                           const uint8_t *act, size_t act_bytes, float *out, int64_t out_stride) {
    const int64_t blocks = n_in / 32;
    /* a packed last group of 4 blocks: tail4_avx512.h, each token's chunks gathered here */
    const bool tail4 = packed && blocks % 16 == 4 && (type == LS_Q8_0 || type == LS_Q4_0 || type == LS_Q5_0);
    const uint8_t *tail_act = act + (blocks / 16) * LS_ACT_GROUP_BYTES;
    __m512i x4[8][2];
    _Pragma("GCC unroll 8")
    for (int t = 0; t < nt; t++) {
        x4[t][0] = x4[t][1] = _mm512_setzero_si512();
        if (tail4) ls_tail4_activation(tail_act + t * act_bytes, x4[t]);
    }
    ls_prefetch prefetch = ls_prefetch_start(weights + row_first * row_bytes, weights + row_end * row_bytes);
    for (int64_t r = row_first; r < row_end; r++) {
        const uint8_t *row = weights + r * row_bytes;
        if (nt == 1) ls_prefetch_ahead(&prefetch, row + row_bytes);
        __m512 acc[8];
        _Pragma("GCC unroll 8")
        for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
        for (int64_t b0 = 0; b0 < blocks; b0 += 16) {
            int count = blocks - b0 < 16 ? (int)(blocks - b0) : 16;
            __mmask16 mask = (__mmask16)((1u << count) - 1);
            const uint8_t *w;
            if (type == LS_Q8_0 || type == LS_Q4_0 || type == LS_Q5_0)
                w = row + b0 * (type == LS_Q8_0 ? 34 : type == LS_Q4_0 ? 18 : 22);
            else
                w = row + (b0 / 8) * (type == LS_Q4_K ? 144 : type == LS_Q5_K ? 176 : 210);
            const uint8_t *a = act + (b0 / 16) * LS_ACT_GROUP_BYTES;
            if (tail4 && count == 4) {
                ls_tail4 g = ls_tail4_weights(type, w);
                _Pragma("GCC unroll 8")
                for (int t = 0; t < nt; t++) acc[t] = ls_tail4_token(&g, x4[t], a + t * act_bytes, acc[t]);
                continue;
            }
            if (packed && count <= 8) {
                group g;
                unpack_packed(type, w, count, &g);
                _Pragma("GCC unroll 8")
                for (int t = 0; t < nt; t++) acc[t] = token_step8(type, &g, a + t * act_bytes, acc[t], mask);
                continue;
            }
            group g;
            if (packed) unpack_packed(type, w, count, &g);
            else unpack(type, w, count, &g);
            _Pragma("GCC unroll 8")
            for (int t = 0; t < nt; t++) acc[t] = token_step(type, &g, a + t * act_bytes, acc[t], mask);
        }
        _Pragma("GCC unroll 8")
        for (int t = 0; t < nt; t++) out[t * out_stride + r] = ls_lanes_tree512(acc[t]);
    }
}

INLINE __m512 load_weights_f(ls_dtype type, const uint8_t *row, int64_t i, __mmask16 m) {
    if (type == LS_F32) return _mm512_maskz_loadu_ps(m, row + 4 * i);
    __m256i h = _mm256_maskz_loadu_epi16(m, row + 2 * i);
    if (type == LS_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

INLINE void rows_float(ls_dtype type, const int packed, const int nt, const uint8_t *weights, size_t row_bytes,
                       int64_t n_in, int64_t row_first, int64_t row_end, const uint8_t *act,
                       size_t act_bytes, float *out, int64_t out_stride) {
    (void)packed; /* float weights are never packed */
    for (int64_t r = row_first; r < row_end; r++) {
        const uint8_t *row = weights + r * row_bytes;
        __m512 acc[8];
        _Pragma("GCC unroll 8")
        for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
        for (int64_t i = 0; i < n_in; i += 16) {
            __mmask16 m = n_in - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n_in - i)) - 1);
            __m512 w = load_weights_f(type, row, i, m);
            _Pragma("GCC unroll 8")
            for (int t = 0; t < nt; t++) {
                __m512 x = _mm512_maskz_loadu_ps(m, (const float *)(act + t * act_bytes) + i);
                acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(w, x));
            }
        }
        _Pragma("GCC unroll 8")
        for (int t = 0; t < nt; t++) out[t * out_stride + r] = ls_lanes_tree512(acc[t]);
    }
}

/* ---- one token: the weights in their natural order ------------------------------------
 *
 * A single token (decode) gets no weight reuse, so the weight transpose above would be paid
 * once per byte. Instead the token's activation is rearranged once per call into natural
 * order (block b's 32 quants at 32 b), and each pair of blocks of a group is one vpdpbusd
 * against the weights as they lie in the file: P_k holds the 16 dword partial sums of units
 * 2k and 2k+1 (four 128-bit lanes: lo half of 2k, hi half of 2k, lo and hi of 2k+1). A
 * fixed add tree of exact int32 sums folds the eight P_k into one vector whose lane i holds
 * unit T[i] (T below); scales, minimums and activation sums are kept in that same lane
 * order, so every lane runs the canonical float steps for its block, and the accumulator is
 * put back into canonical lane order once per row, before the tree. Integer sums are exact,
 * so the different grouping of the integer additions changes no bit. */

#define NATURAL_MAX 16384 /* elements; longer rows take the path above */

static const int32_t lane_unit[16] = {0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15};
static const int32_t unit_lane[16] = {0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15};

typedef struct natural {
    int8_t q[NATURAL_MAX];                   /* block b's quants at 32 b */
    float dx[NATURAL_MAX / 32];              /* group g, lane i: block 16 g + T[i] */
    int32_t sum[NATURAL_MAX / 32];           /* same order: the block's quant sum */
    int32_t sum_lo[NATURAL_MAX / 32];        /* its first 16 quants */
    int32_t sum_hi[NATURAL_MAX / 32];        /* its last 16 */
} natural;

static void natural_from_activation(const uint8_t *act, int64_t n_in, natural *x) {
    int64_t blocks = n_in / 32, groups = (blocks + 15) / 16;
    for (int64_t g = 0; g < groups; g++) {
        const uint8_t *group = act + g * LS_ACT_GROUP_BYTES;
        for (int j = 0; j < 16; j++) {
            int64_t b = 16 * g + j;
            int64_t t = 16 * g + unit_lane[j];
            float d;
            int32_t sum, sum_lo;
            memcpy(&d, group + LS_ACT_OFFSET_SCALE + 4 * j, 4);
            memcpy(&sum, group + LS_ACT_OFFSET_SUM + 4 * j, 4);
            memcpy(&sum_lo, group + LS_ACT_OFFSET_SUM_LO + 4 * j, 4);
            x->dx[t] = b < blocks ? d : 0.0f;
            x->sum[t] = b < blocks ? sum : 0;
            x->sum_lo[t] = b < blocks ? sum_lo : 0;
            x->sum_hi[t] = b < blocks ? sum - sum_lo : 0;
            if (b >= blocks) continue;
            for (int k = 0; k < 8; k++) memcpy(x->q + 32 * b + 4 * k, group + 64 * k + 4 * j, 4);
        }
    }
}

/* Folds P[0..8) to 16 unit sums in lane order T (halves added), or, with lo/hi, keeps the
 * sums of the two 16-element halves apart (Q6_K's two scales). */
INLINE void fold(const __m512i P[8], __m512i *lo, __m512i *hi) {
    __m512i R[4], S[2];
    for (int m = 0; m < 4; m++)
        R[m] = _mm512_add_epi32(_mm512_unpacklo_epi32(P[2 * m], P[2 * m + 1]),
                                _mm512_unpackhi_epi32(P[2 * m], P[2 * m + 1]));
    for (int n = 0; n < 2; n++)
        S[n] = _mm512_add_epi32(_mm512_unpacklo_epi64(R[2 * n], R[2 * n + 1]),
                                _mm512_unpackhi_epi64(R[2 * n], R[2 * n + 1]));
    *lo = _mm512_shuffle_i32x4(S[0], S[1], _MM_SHUFFLE(2, 0, 2, 0));
    *hi = _mm512_shuffle_i32x4(S[0], S[1], _MM_SHUFFLE(3, 1, 3, 1));
}

INLINE __m512i load_pair(const uint8_t *a, const uint8_t *b, __mmask32 ma, __mmask32 mb) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_maskz_loadu_epi8(ma, a)),
                              _mm256_maskz_loadu_epi8(mb, b), 1);
}

INLINE __m512i bcast16x2(const uint8_t *a, const uint8_t *b, __mmask16 ma, __mmask16 mb) {
    __m512i lo = _mm512_broadcast_i32x4(_mm_maskz_loadu_epi8(ma, a));
    return _mm512_mask_broadcast_i32x4(lo, 0xFF00, _mm_maskz_loadu_epi8(mb, b));
}

/* acc (lane order T) += the partials of one group: `count` blocks (16, or fewer at the end
 * of a row; K-quants 8 or 16) starting at w, the activation's group at x (index 16 g). */
INLINE __m512 natural_group(ls_dtype type, const uint8_t *w, const natural *x, int64_t g,
                            int count, __m512 acc, int tail) {
    const __m512i nib = _mm512_set1_epi8(0x0F);
    const int8_t *xq = x->q + 512 * g;
    __m512i P[8];
    __mmask16 lanes = 0xFFFF;
    if (tail) {
        lanes = 0;
        for (int i = 0; i < 16; i++) lanes |= (__mmask16)((lane_unit[i] < count) << i);
    }
    if (type == LS_Q8_0 || type == LS_Q4_0 || type == LS_Q5_0) {
        const int bytes = type == LS_Q8_0 ? 34 : type == LS_Q4_0 ? 18 : 22;
        __m512 scale = block_scales(w, bytes, lane_unit, tail ? count : 16); /* in lane order T */
        _Pragma("GCC unroll 8")
        for (int k = 0; k < 8; k++) {
            if (tail && 2 * k >= count) { /* no block in this pair: its partials are 0 */
                P[k] = _mm512_setzero_si512();
                continue;
            }
            const uint8_t *b0 = w + (2 * k) * bytes, *b1 = w + (2 * k + 1) * bytes;
            int in0 = !tail || 2 * k < count, in1 = !tail || 2 * k + 1 < count;
            __m512i v;
            if (type == LS_Q8_0) {
                v = load_pair(b0 + 2, b1 + 2, in0 ? ~0u : 0, in1 ? ~0u : 0);
                v = _mm512_xor_si512(v, _mm512_set1_epi8((char)0x80));
            } else {
                const int qs = type == LS_Q4_0 ? 2 : 6;
                v = bcast16x2(b0 + qs, b1 + qs, in0 ? 0xFFFF : 0, in1 ? 0xFFFF : 0);
                v = _mm512_and_si512(_mm512_srlv_epi64(v, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4)), nib);
                if (type == LS_Q5_0) {
                    uint32_t h0 = in0 ? read_u32(b0 + 2) : 0, h1 = in1 ? read_u32(b1 + 2) : 0;
                    __mmask64 high = (__mmask64)h0 | (__mmask64)h1 << 32;
                    v = _mm512_mask_add_epi8(v, high, v, _mm512_set1_epi8(16));
                }
            }
            P[k] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), v, _mm512_loadu_si512(xq + 64 * k));
        }
        __m512i lo, hi;
        fold(P, &lo, &hi);
        int offset_log2 = type == LS_Q8_0 ? 7 : type == LS_Q4_0 ? 3 : 4;
        __m512i sum = _mm512_loadu_si512(x->sum + 16 * g);
        __m512i isum = _mm512_sub_epi32(_mm512_add_epi32(lo, hi), _mm512_slli_epi32(sum, (unsigned)offset_log2));
        __m512 dx = _mm512_loadu_ps(x->dx + 16 * g);
        __m512 partial = _mm512_mul_ps(_mm512_mul_ps(scale, dx), _mm512_cvtepi32_ps(isum));
        return tail ? _mm512_mask_add_ps(acc, lanes, acc, partial) : _mm512_add_ps(acc, partial);
    }
    const int bytes = type == LS_Q4_K ? 144 : type == LS_Q5_K ? 176 : 210;
    const int supers = count / 8;
    __m512i sc_lo = _mm512_setzero_si512(), sc_hi = _mm512_setzero_si512();
    __m512 scale, min = _mm512_setzero_ps();
    {
        const uint8_t *s0 = w, *s1 = w + bytes;
        int two = supers == 2;
        if (type == LS_Q6_K) {
            /* unit c takes scales 2c (lo) and 2c + 1 (hi), in lane order T */
            q6k_scales(s0, s1, two, _mm_setr_epi8(0, 4, 8, 12, 2, 6, 10, 14, 1, 5, 9, 13, 3, 7, 11, 15), &scale,
                       &sc_lo, &sc_hi);
        } else {
            k_scales(s0, s1, two, _mm_setr_epi8(0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15), &scale, &min);
        }
    }
    _Pragma("GCC unroll 8")
    for (int k = 0; k < 8; k++) {
        const int s = k / 4, j = 2 * (k % 4); /* units j and j + 1 of super-block s */
        if (s >= supers) {
            P[k] = _mm512_setzero_si512();
            continue;
        }
        const uint8_t *b = w + s * bytes;
        __m512i v;
        if (type == LS_Q4_K || type == LS_Q5_K) {
            const uint8_t *qs = b + (type == LS_Q4_K ? 16 : 48) + 32 * (j / 2);
            v = _mm512_broadcast_i64x4(load32(qs));
            v = _mm512_and_si512(_mm512_srlv_epi64(v, _mm512_setr_epi64(0, 0, 0, 0, 4, 4, 4, 4)), nib);
            if (type == LS_Q5_K) {
                __m512i h = _mm512_broadcast_i64x4(load32(b + 16));
                __m512i bit = _mm512_mask_mov_epi8(_mm512_set1_epi8((char)(1 << j)),
                                                   0xFFFFFFFF00000000ull, _mm512_set1_epi8((char)(1 << (j + 1))));
                v = _mm512_mask_add_epi8(v, _mm512_test_epi8_mask(h, bit), v, _mm512_set1_epi8(16));
            }
        } else {
            /* Q6_K units c = j, j + 1: half h = j / 4, low nibbles of ql[64h .. 64h + 64)
             * shifted by 4 ((j % 4) / 2), high pairs qh[32h + l] >> 2 (j % 4) and + 2 */
            const int h = j / 4, c = j % 4;
            __m512i lo = _mm512_loadu_si512(b + 64 * h);
            lo = _mm512_and_si512(_mm512_srli_epi64(lo, (unsigned)(4 * (c / 2))), nib);
            __m512i hb = _mm512_broadcast_i64x4(load32(b + 128 + 32 * h));
            hb = _mm512_srlv_epi64(hb, _mm512_setr_epi64(2 * c, 2 * c, 2 * c, 2 * c,
                                                         2 * c + 2, 2 * c + 2, 2 * c + 2, 2 * c + 2));
            hb = _mm512_slli_epi64(_mm512_and_si512(hb, _mm512_set1_epi8(3)), 4);
            v = _mm512_or_si512(lo, hb);
        }
        P[k] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), v, _mm512_loadu_si512(xq + 64 * k));
    }
    __m512i lo, hi;
    fold(P, &lo, &hi);
    __m512 dx = _mm512_loadu_ps(x->dx + 16 * g);
    __m512 partial;
    if (type == LS_Q6_K) {
        lo = _mm512_sub_epi32(lo, _mm512_slli_epi32(_mm512_loadu_si512(x->sum_lo + 16 * g), 5));
        hi = _mm512_sub_epi32(hi, _mm512_slli_epi32(_mm512_loadu_si512(x->sum_hi + 16 * g), 5));
        __m512i isum = _mm512_add_epi32(_mm512_mullo_epi32(lo, sc_lo), _mm512_mullo_epi32(hi, sc_hi));
        partial = _mm512_mul_ps(_mm512_mul_ps(scale, dx), _mm512_cvtepi32_ps(isum));
    } else {
        __m512i sum = _mm512_loadu_si512(x->sum + 16 * g);
        __m512 t = _mm512_sub_ps(_mm512_mul_ps(scale, _mm512_cvtepi32_ps(_mm512_add_epi32(lo, hi))),
                                 _mm512_mul_ps(min, _mm512_cvtepi32_ps(sum)));
        partial = _mm512_mul_ps(dx, t);
    }
    return tail ? _mm512_mask_add_ps(acc, lanes, acc, partial) : _mm512_add_ps(acc, partial);
}

INLINE void rows_natural(ls_dtype type, const uint8_t *weights, size_t row_bytes, int64_t n_in,
                         int64_t row_first, int64_t row_end, const natural *x, float *out) {
    const int64_t blocks = n_in / 32, full = blocks / 16;
    const int rest = (int)(blocks % 16);
    const size_t group_bytes = (type == LS_Q8_0 ? 34 : type == LS_Q4_0 ? 18 : type == LS_Q5_0 ? 22
                                : type == LS_Q4_K ? 288 : type == LS_Q5_K ? 352 : 420) *
                               (ls_dtype_find(type)->block_elements == 32 ? 16 : 1);
    const __m512i to_canonical = _mm512_loadu_si512(unit_lane);
    for (int64_t r = row_first; r < row_end; r++) {
        const uint8_t *row = weights + r * row_bytes;
        __m512 acc = _mm512_setzero_ps();
        for (int64_t g = 0; g < full; g++) acc = natural_group(type, row + g * group_bytes, x, g, 16, acc, 0);
        if (rest) acc = natural_group(type, row + full * group_bytes, x, full, rest, acc, 1);
        out[r] = ls_lanes_tree512(_mm512_permutexvar_ps(to_canonical, acc));
    }
}

static void matmul_natural(ls_dtype type, const uint8_t *w, size_t row_bytes, int64_t n_in,
                           int64_t row_first, int64_t row_end, const uint8_t *act, float *out) {
    natural x __attribute__((aligned(64)));
    natural_from_activation(act, n_in, &x);
    switch (type) {
    case LS_Q4_0: rows_natural(LS_Q4_0, w, row_bytes, n_in, row_first, row_end, &x, out); break;
    case LS_Q5_0: rows_natural(LS_Q5_0, w, row_bytes, n_in, row_first, row_end, &x, out); break;
    case LS_Q8_0: rows_natural(LS_Q8_0, w, row_bytes, n_in, row_first, row_end, &x, out); break;
    case LS_Q4_K: rows_natural(LS_Q4_K, w, row_bytes, n_in, row_first, row_end, &x, out); break;
    case LS_Q5_K: rows_natural(LS_Q5_K, w, row_bytes, n_in, row_first, row_end, &x, out); break;
    case LS_Q6_K: rows_natural(LS_Q6_K, w, row_bytes, n_in, row_first, row_end, &x, out); break;
    default: break;
    }
}

#define TILE(fn, TYPE, NT) fn(TYPE, packed, NT, w, row_bytes, n_in, block_first, block_end, a, act_bytes, o, out_stride)

/* Weight bytes of one row block in prefill (well inside a 1 MiB L2 next to the activations). */
#define ROW_BLOCK_BYTES (192u * 1024u)

#define DISPATCH_NT(fn, TYPE)          \
    switch (nt) {                      \
    case 8: TILE(fn, TYPE, 8); break;  \
    case 4: TILE(fn, TYPE, 4); break;  \
    case 2: TILE(fn, TYPE, 2); break;  \
    default: TILE(fn, TYPE, 1); break; \
    }

/* Rows in blocks of about ROW_BLOCK_BYTES of weights, all tokens for one block before the
 * next: the block is read from memory once and then served from L2 to every chunk of 8
 * tokens (token chunks outermost read the whole matrix once per 8 tokens, which made
 * prefill memory-bound: a Q8_0 group of 544 bytes per 64 vpdpbusd). A one-token call has
 * nothing to reuse: its tile is one block, read once with the weights prefetched ahead
 * (ls_prefetch_ahead). packed: the weights are in packed.c's layout (quantized types only). */
INLINE void matmul_blocks(ls_dtype weight_type, const int packed, const uint8_t *w, size_t row_bytes,
                          int64_t n_in, int64_t row_first, int64_t row_end, const void *activations,
                          size_t act_bytes, int64_t n_tokens, float *out, int64_t out_stride) {
    int64_t rows_per_block = n_tokens == 1 ? row_end - row_first : (int64_t)(ROW_BLOCK_BYTES / row_bytes);
    const int most = ls_matmul_token_group(weight_type, n_in);
    if (rows_per_block < 1) rows_per_block = 1;
    for (int64_t block_first = row_first; block_first < row_end; block_first += rows_per_block) {
        int64_t block_end = row_end - block_first < rows_per_block ? row_end : block_first + rows_per_block;
        for (int64_t t0 = 0; t0 < n_tokens;) {
            int64_t left = n_tokens - t0;
            int nt = left >= most ? most : left >= 4 ? 4 : left >= 2 ? 2 : 1;
            const uint8_t *a = (const uint8_t *)activations + t0 * act_bytes;
            float *o = out + t0 * out_stride;
            switch (weight_type) {
            case LS_Q4_0: DISPATCH_NT(rows_quantized, LS_Q4_0); break;
            case LS_Q5_0: DISPATCH_NT(rows_quantized, LS_Q5_0); break;
            case LS_Q8_0: DISPATCH_NT(rows_quantized, LS_Q8_0); break;
            case LS_Q4_K: DISPATCH_NT(rows_quantized, LS_Q4_K); break;
            case LS_Q5_K: DISPATCH_NT(rows_quantized, LS_Q5_K); break;
            case LS_Q6_K: DISPATCH_NT(rows_quantized, LS_Q6_K); break;
            case LS_F32: if (!packed) DISPATCH_NT(rows_float, LS_F32); break;
            case LS_F16: if (!packed) DISPATCH_NT(rows_float, LS_F16); break;
            case LS_BF16: if (!packed) DISPATCH_NT(rows_float, LS_BF16); break;
            }
            t0 += nt;
        }
    }
}

void ls_matmul_avx512(ls_dtype weight_type, const void *weights, int64_t n_in,
                      int64_t row_first, int64_t row_end, const void *activations,
                      int64_t n_tokens, float *out, int64_t out_stride) {
    const ls_dtype_info *info = ls_dtype_find(weight_type);
    size_t row_bytes = (size_t)(n_in / info->block_elements) * info->block_bytes;
    size_t act_bytes = ls_activation_row_bytes(weight_type, n_in);
    if (n_tokens == 1 && !ls_dtype_is_float(weight_type) && n_in <= NATURAL_MAX) {
        matmul_natural(weight_type, weights, row_bytes, n_in, row_first, row_end, activations, out);
        return;
    }
    matmul_blocks(weight_type, 0, weights, row_bytes, n_in, row_first, row_end, activations, act_bytes,
                  n_tokens, out, out_stride);
}

void ls_matmul_avx512_packed_tokens(ls_dtype weight_type, const void *packed, int64_t n_in,
                                    int64_t row_first, int64_t row_end, const void *activations,
                                    int64_t n_tokens, float *out, int64_t out_stride) {
    const ls_dtype_info *info = ls_dtype_find(weight_type);
    size_t row_bytes = (size_t)(n_in / info->block_elements) * info->block_bytes;
    matmul_blocks(weight_type, 1, packed, row_bytes, n_in, row_first, row_end, activations,
                  ls_activation_row_bytes(weight_type, n_in), n_tokens, out, out_stride);
}
