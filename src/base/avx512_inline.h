/* avx512_inline.h — register-level pieces the AVX-512 files share. Include it only from
 * files built with the AVX-512 flags (the *_avx512.c files). */
#ifndef LS_BASE_AVX512_INLINE_H
#define LS_BASE_AVX512_INLINE_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* The canonical end of every lane sum: 16 lanes folded l[i] + l[i + 8], then + 4, + 2, + 1
 * (ls_lanes_tree in quant/matmul_kernels.h is the scalar reference). */
static inline __attribute__((always_inline)) float ls_lanes_tree512(__m512 v) {
    __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
    return _mm_cvtss_f32(s1);
}

/* ls_lanes_tree512 of 16 vectors at once: out[r] = the tree of v[r]'s lanes, for r < 16. A
 * butterfly adds lanes i and i + 8 of two vectors in one instruction, then i and i + 4 of
 * four, i and i + 2 of eight, i and i + 1 of sixteen: each sum of the same two values, in the
 * same places, as ls_lanes_tree512's, so the same bits (4 instructions a vector against 8,
 * and no chain of dependent shuffles per row). The last add leaves vector 4j + i in lane
 * 4i + j; a permute puts them in order. */
static inline __attribute__((always_inline)) void ls_lanes_tree512x16(const __m512 v[16], float *out) {
    __m512 b[8], c[4], d[2];
    for (int p = 0; p < 8; p++) /* quarters 0-1 + 2-3: lanes i + (i + 8), two vectors */
        b[p] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    for (int p = 0; p < 4; p++) /* i + (i + 4): a vector a quarter */
        c[p] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * p], b[2 * p + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(b[2 * p], b[2 * p + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    for (int p = 0; p < 2; p++) /* i + (i + 2), within quarters */
        d[p] = _mm512_add_ps(_mm512_shuffle_ps(c[2 * p], c[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(c[2 * p], c[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    __m512 e = _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    _mm512_storeu_ps(out, _mm512_permutexvar_ps(order, e));
}

/* Software prefetch of a one-token product's weight stream. A decode step reads every weight
 * byte once, in order; on the Intel Xeon (Emerald Rapids) this project's machines moved to,
 * the hardware prefetchers alone left a thread reading packed rows at 10 GB/s where a plain
 * read got 15, and two threads at 19-23 GB/s where they got 24-28 (bandwidth limited by the
 * misses in flight, since the L2 streamer stops at every 4 KiB page). Two cursors run ahead
 * of the row being read: one fetches into L2 LS_PREFETCH_L2_BYTES ahead (many misses in
 * flight without holding the L1's few fill buffers), one moves those lines on into L1
 * LS_PREFETCH_L1_BYTES ahead (so that the kernel's loads do not wait on L2). Measured with
 * two threads streaming 170 MiB, as a share of a plain read's rate interleaved with them
 * (2026-12-05): Q8_0 rows of 640 0.83-0.85 with one cursor into L1 4 KiB ahead (the earlier
 * scheme), 0.89-0.90 into L2 alone 8-12 KiB ahead, 0.93-0.97 with both; Q6_K rows of 2048
 * 0.77-0.79 -> 0.86; Q5_0 and Q4_K, whose kernels are slower than the memory, unchanged
 * (0.72-0.8). NTA was slower. The Gemma 3 270M decode, the two schemes alternating every two
 * tokens in one process: 3.5-4.5% less time a token (7.37 vs 7.65 ms, 8.05 vs 8.38, 8.65 vs
 * 9.02, 10.12 vs 10.45); 1B Q4_0 3%, 1B Q8_0 (DRAM-bound) the same. Lines are prefetched
 * once each, never past `end` (the tile's last byte: the next bytes are the other thread's).
 * Addresses are compared as integers: the look-ahead may point past the weights' allocation. */
#define LS_PREFETCH_L1_BYTES 2048
#define LS_PREFETCH_L2_BYTES 12288

typedef struct ls_prefetch {
    uintptr_t l1, l2; /* the first line not yet prefetched into L1, into L2 */
    uintptr_t end;
} ls_prefetch;

static inline ls_prefetch ls_prefetch_start(const void *begin, const void *end) {
    uintptr_t first = (uintptr_t)begin & ~(uintptr_t)63;
    ls_prefetch p = {first, first, (uintptr_t)end};
    return p;
}

/* Prefetches up to the look-aheads past `reading` (the end of what is read next). */
static inline __attribute__((always_inline)) void ls_prefetch_ahead(ls_prefetch *p, const void *reading) {
    uintptr_t l2 = (uintptr_t)reading + LS_PREFETCH_L2_BYTES, l1 = (uintptr_t)reading + LS_PREFETCH_L1_BYTES;
    if (l2 > p->end) l2 = p->end;
    if (l1 > p->end) l1 = p->end;
    for (; p->l2 < l2; p->l2 += 64) _mm_prefetch((const char *)p->l2, _MM_HINT_T1);
    for (; p->l1 < l1; p->l1 += 64) _mm_prefetch((const char *)p->l1, _MM_HINT_T0);
}

/* Chunk k's fifth bits of a packed Q5_0 / Q5_K group of c blocks (packed.c: a stream of 4c
 * bytes, chunk k's 4c bits from bit 4ck), read without going past the stream and without a
 * copy through the stack (whose 8-byte reloads of a 64-byte store stalled: a row of 9 Q5_0
 * blocks cost 23 ns instead of 9). */
static inline __attribute__((always_inline)) uint64_t ls_fifth_bits(const uint8_t *h, int c, int k) {
    if (c == 16) {
        uint64_t v;
        memcpy(&v, h + 8 * k, 8);
        return v;
    }
    if (__builtin_constant_p(c) && c % 2 == 0) { /* chunk k is whole bytes: c/2 from byte ck/2 */
        uint64_t v = 0;
        memcpy(&v, h + c / 2 * k, (size_t)c / 2);
        return v;
    }
    int at = 4 * c * k, off = at / 8, avail = 4 * c - off;
    if (avail > 8) avail = 8;
    uint64_t v = (uint64_t)_mm_cvtsi128_si64(_mm_maskz_loadu_epi8((__mmask16)((1u << avail) - 1), h + off));
    return v >> (at % 8) & (((uint64_t)1 << (4 * c)) - 1);
}

/* The 16 x 8 dword transpose of a group of blocks. Input v[m] = [unit r | unit r + 4] (8
 * dwords each), r = m < 4 ? m : m + 4; output w[k] lane u = dword k of unit u. In-lane
 * unpacks, then 128-bit shuffles. */
static inline __attribute__((always_inline)) void ls_transpose16x8(const __m512i v[8], __m512i w[8]) {
    __m512i t[8], u[8];
    for (int i = 0; i < 8; i += 4) {
        t[i + 0] = _mm512_unpacklo_epi32(v[i + 0], v[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(v[i + 0], v[i + 1]);
        t[i + 2] = _mm512_unpacklo_epi32(v[i + 2], v[i + 3]);
        t[i + 3] = _mm512_unpackhi_epi32(v[i + 2], v[i + 3]);
        u[i + 0] = _mm512_unpacklo_epi64(t[i + 0], t[i + 2]); /* dwords 0, 4 of 4 units */
        u[i + 1] = _mm512_unpackhi_epi64(t[i + 0], t[i + 2]); /* 1, 5 */
        u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]); /* 2, 6 */
        u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]); /* 3, 7 */
    }
    for (int k = 0; k < 4; k++) {
        w[k] = _mm512_shuffle_i32x4(u[k], u[k + 4], _MM_SHUFFLE(2, 0, 2, 0));
        w[k + 4] = _mm512_shuffle_i32x4(u[k], u[k + 4], _MM_SHUFFLE(3, 1, 3, 1));
    }
}

#endif
