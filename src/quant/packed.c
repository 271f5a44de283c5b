/* packed.c — weights copied into the layout of the AVX-512 kernels' inner loop (quant.h).
 *
 * The activation row keeps a group's 16 blocks interleaved so that one 64-byte load holds
 * elements 4k..4k+3 of each block (matmul_kernels.h). A packed weight row is cut the same
 * way, once, when the runtime starts, so that a decode step loads weights with plain loads
 * and needs no transpose, no gather and no horizontal fold (packed_avx512.c), and a prefill
 * step no transpose (matmul_avx512.c's unpack_packed):
 *
 *   Q8_0, a group of c blocks (c = 16, or what is left at the end of the row):
 *     uint8 q[8][c][4]   q[k][j][e] = (quant of element 4k+e of block j) xor 0x80
 *     f16   d[c]         block j's scale
 *   Q4_0, a group of c blocks:
 *     uint8 q[4][c][4]   q[m][j][e] = byte 4m+e of block j's 16 nibble bytes (low nibble:
 *                        element 4m+e, high nibble: element 16+4m+e)
 *     f16   d[c]
 *   Q5_0, a group of c blocks: q as Q4_0, then
 *     bits  h[8][c][4]   a bit stream (4c bytes): bit 4c k + 4j + e is the fifth bit of
 *                        element 4k+e of block j, so chunk k's 4c bits mask its byte lanes
 *     f16   d[c]
 *   K-quants, a group of c sub-blocks (c = 16: two super-blocks, or 8: the row's last one);
 *   sub-block j's element i is its 32-element block's element i, as above:
 *     Q4_K: nibbles as Q4_0 (16c bytes), then per super-block its 16 header bytes as in the
 *           file (f16 d, f16 dmin, 12 bytes of 6-bit scales and mins)
 *     Q5_K: nibbles and fifth-bit stream as Q5_0 (20c bytes), then the headers as Q4_K
 *     Q6_K: low nibbles as Q4_0 (16c bytes), then
 *           uint8 h[2][c][4]  bits 2i, 2i+1 of h[p][j][e]: the high two bits of element
 *                             4k+e of sub-block j, k = p + 2i
 *           int8  lo[c], hi[c] sub-block j's scales of elements 0..15 and 16..31
 *           f16   d[c/8]
 *
 * A packed row takes exactly the bytes of the original row, so row r starts at r times the
 * original row size. Nothing here changes a value: the kernels' products, sums and float
 * steps are those of matmul_avx512.c's paths on the file's layout, in the same order, so the
 * bits are the same as every other code path's. */
#include "quant/matmul_kernels.h"

#include <string.h>

static bool has_layout(ls_dtype type) {
    return type == LS_Q8_0 || type == LS_Q4_0 || type == LS_Q5_0 || type == LS_Q4_K || type == LS_Q5_K ||
           type == LS_Q6_K;
}

bool ls_packed_supported(ls_dtype type) {
    return ls_isa_current() == LS_ISA_AVX512 && has_layout(type);
}

/* The unsigned quants (Q4_K 0..15, Q5_K 0..31, Q6_K 0..63) of one super-block b. */
static void k_quants(ls_dtype type, const uint8_t *b, uint8_t q[256]) {
    for (int e = 0; e < 256; e++) {
        int j = e / 32, i = e % 32;
        if (type == LS_Q6_K) {
            int h = e / 128, c = j & 3;
            q[e] = (uint8_t)(((b[64 * h + 32 * (c & 1) + i] >> (4 * (c >> 1))) & 0x0F) |
                             ((b[128 + 32 * h + i] >> (2 * c)) & 3) << 4);
        } else {
            const uint8_t *qs = b + (type == LS_Q4_K ? 16 : 48);
            q[e] = (uint8_t)((qs[32 * (j / 2) + i] >> (4 * (j & 1))) & 0x0F);
            if (type == LS_Q5_K) q[e] |= (uint8_t)(((b[16 + i] >> j) & 1) << 4);
        }
    }
}

/* The nibbles (Q4_0 layout) of a group's 32 c quants q (sub-block j at 32 j) into dst, and,
 * for five-bit quants, their fifth bits as Q5_0's stream after them. */
static void pack_nibbles(const uint8_t *q, int c, int five_bits, uint8_t *dst) {
    for (int m = 0; m < 4; m++)
        for (int j = 0; j < c; j++)
            for (int e = 0; e < 4; e++)
                dst[(m * c + j) * 4 + e] = (uint8_t)((q[32 * j + 4 * m + e] & 0x0F) | (q[32 * j + 16 + 4 * m + e] & 0x0F) << 4);
    if (!five_bits) return;
    uint8_t *h = dst + 16 * c;
    memset(h, 0, 4 * (size_t)c);
    for (int k = 0; k < 8; k++)
        for (int j = 0; j < c; j++) { /* 4 bits (elements 4k..4k+3 of block j) at bit 4ck + 4j */
            const uint8_t *e = q + 32 * j + 4 * k;
            unsigned bits = (unsigned)(e[0] >> 4 & 1) | (unsigned)(e[1] >> 4 & 1) << 1 | (unsigned)(e[2] >> 4 & 1) << 2 |
                            (unsigned)(e[3] >> 4 & 1) << 3;
            int at = 4 * c * k + 4 * j; /* a multiple of 4: the nibble's place */
            h[at / 8] |= (uint8_t)(bits << (at % 8));
        }
}

/* One group of c blocks of Q8_0, Q4_0 or Q5_0 from src (the file's layout) into dst. */
static void pack_group(ls_dtype type, const uint8_t *src, int c, uint8_t *dst) {
    const int bytes = ls_dtype_find(type)->block_bytes;
    if (type == LS_Q8_0) {
        for (int k = 0; k < 8; k++)
            for (int j = 0; j < c; j++) { /* 4 quants at once, each xor 0x80 */
                uint32_t v;
                memcpy(&v, src + j * 34 + 2 + 4 * k, 4);
                v ^= 0x80808080u;
                memcpy(dst + (k * c + j) * 4, &v, 4);
            }
        for (int j = 0; j < c; j++) memcpy(dst + 32 * c + 2 * j, src + j * 34, 2);
        return;
    }
    /* The file's nibble bytes are already the packed ones (byte 4m+e: elements 4m+e and
     * 16+4m+e), and Q5_0's qh holds element i's fifth bit at bit i: both move as they are,
     * four bytes and four bits at a time (decoding to quants, as K-quants need, is 4x slower
     * and Gemma packs 45 MB of Q5_0 when the runtime starts). */
    const int qs = type == LS_Q4_0 ? 2 : 6;
    for (int m = 0; m < 4; m++)
        for (int j = 0; j < c; j++) memcpy(dst + (m * c + j) * 4, src + j * bytes + qs + 4 * m, 4);
    if (type == LS_Q5_0) {
        uint8_t *h = dst + 16 * c;
        memset(h, 0, 4 * (size_t)c);
        for (int k = 0; k < 8; k++)
            for (int j = 0; j < c; j++) {
                const uint8_t *qh = src + j * bytes + 2;
                uint32_t bits = ((uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
                                 (uint32_t)qh[3] << 24) >> (4 * k) & 0xF;
                int at = 4 * c * k + 4 * j; /* a multiple of 4: the nibble's place */
                h[at / 8] |= (uint8_t)(bits << (at % 8));
            }
    }
    uint8_t *d = dst + (type == LS_Q4_0 ? 16 : 20) * c;
    for (int j = 0; j < c; j++) memcpy(d + 2 * j, src + j * bytes, 2);
}

/* One group of c sub-blocks (c / 8 super-blocks) of a K-quant from src into dst. */
static void pack_k_group(ls_dtype type, const uint8_t *src, int c, uint8_t *dst) {
    const int bytes = ls_dtype_find(type)->block_bytes, supers = c / 8;
    uint8_t q[512];
    for (int s = 0; s < supers; s++) k_quants(type, src + s * bytes, q + 256 * s);
    if (type != LS_Q6_K) {
        pack_nibbles(q, c, type == LS_Q5_K, dst);
        uint8_t *header = dst + (type == LS_Q4_K ? 16 : 20) * c;
        for (int s = 0; s < supers; s++) memcpy(header + 16 * s, src + s * bytes, 16);
        return;
    }
    pack_nibbles(q, c, 0, dst);
    uint8_t *h = dst + 16 * c;
    memset(h, 0, 8 * (size_t)c);
    for (int k = 0; k < 8; k++)
        for (int j = 0; j < c; j++)
            for (int e = 0; e < 4; e++)
                h[((k & 1) * c + j) * 4 + e] |= (uint8_t)((q[32 * j + 4 * k + e] >> 4) << (2 * (k >> 1)));
    for (int j = 0; j < c; j++) {
        const uint8_t *scales = src + (j / 8) * bytes + 192;
        dst[24 * c + j] = scales[2 * (j % 8)];
        dst[25 * c + j] = scales[2 * (j % 8) + 1];
    }
    for (int s = 0; s < supers; s++) memcpy(dst + 26 * c + 2 * s, src + s * bytes + 208, 2);
}

void ls_pack_rows(ls_dtype type, const void *weights, int64_t n_in, int64_t row_first,
                  int64_t row_end, void *packed) {
    if (!has_layout(type)) return;
    const ls_dtype_info *info = ls_dtype_find(type);
    const int k_quant = info->block_elements == 256;
    size_t row_bytes = (size_t)(n_in / info->block_elements) * info->block_bytes;
    int64_t blocks = n_in / 32;
    for (int64_t r = row_first; r < row_end; r++) {
        const uint8_t *src = (const uint8_t *)weights + (size_t)r * row_bytes;
        uint8_t *dst = (uint8_t *)packed + (size_t)r * row_bytes;
        for (int64_t b = 0; b < blocks; b += 16) {
            int c = blocks - b < 16 ? (int)(blocks - b) : 16;
            /* 32-element block b's group starts at the same byte in both layouts */
            size_t at = (size_t)(k_quant ? b / 8 : b) * info->block_bytes;
            if (k_quant) pack_k_group(type, src + at, c, dst + at);
            else pack_group(type, src + at, c, dst + at);
        }
    }
}

void ls_matmul_packed(ls_dtype type, const void *packed, int64_t n_in, int64_t row_first,
                      int64_t row_end, const void *activations, int64_t n_tokens, float *out,
                      int64_t out_stride) {
    if (!ls_packed_supported(type) || n_in <= 0 || n_in % ls_dtype_find(type)->block_elements ||
        row_end <= row_first || n_tokens <= 0)
        return;
    if (n_tokens == 1 && ls_dtype_find(type)->block_elements == 32)
        ls_matmul_packed_avx512(type, packed, n_in, row_first, row_end, activations, out);
    else
        ls_matmul_avx512_packed_tokens(type, packed, n_in, row_first, row_end, activations, n_tokens, out,
                                       out_stride);
}
