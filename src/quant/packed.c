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
 *
 * A packed row takes exactly the bytes of the original row, so row r starts at r times the
 * original row size. Nothing here changes a value: the kernels' products, sums and float
 * steps are those of matmul_avx512.c's paths on the file's layout, in the same order, so the
 * bits are the same as every other code path's. */
#include "quant/matmul_kernels.h"

#include <string.h>

bool ls_packed_supported(ls_dtype type) {
    return ls_isa_current() == LS_ISA_AVX512 && (type == LS_Q8_0 || type == LS_Q4_0 || type == LS_Q5_0);
}

/* One group of c blocks from src (the file's layout) into dst. */
static void pack_group(ls_dtype type, const uint8_t *src, int c, uint8_t *dst) {
    if (type == LS_Q8_0) {
        for (int k = 0; k < 8; k++)
            for (int j = 0; j < c; j++)
                for (int e = 0; e < 4; e++) dst[(k * c + j) * 4 + e] = src[j * 34 + 2 + 4 * k + e] ^ 0x80;
        for (int j = 0; j < c; j++) memcpy(dst + 32 * c + 2 * j, src + j * 34, 2);
    } else if (type == LS_Q4_0) {
        for (int m = 0; m < 4; m++)
            for (int j = 0; j < c; j++) memcpy(dst + (m * c + j) * 4, src + j * 18 + 2 + 4 * m, 4);
        for (int j = 0; j < c; j++) memcpy(dst + 16 * c + 2 * j, src + j * 18, 2);
    } else { /* Q5_0 */
        for (int m = 0; m < 4; m++)
            for (int j = 0; j < c; j++) memcpy(dst + (m * c + j) * 4, src + j * 22 + 6 + 4 * m, 4);
        uint8_t *h = dst + 16 * c;
        memset(h, 0, 4 * (size_t)c);
        for (int k = 0; k < 8; k++)
            for (int j = 0; j < c; j++) {
                const uint8_t *qh = src + j * 22 + 2;
                uint32_t bits = ((uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
                                 (uint32_t)qh[3] << 24) >> (4 * k) & 0xF;
                int at = 4 * c * k + 4 * j; /* a multiple of 4: the nibble's place */
                h[at / 8] |= (uint8_t)(bits << (at % 8));
            }
        for (int j = 0; j < c; j++) memcpy(dst + 20 * c + 2 * j, src + j * 22, 2);
    }
}

void ls_pack_rows(ls_dtype type, const void *weights, int64_t n_in, int64_t row_first,
                  int64_t row_end, void *packed) {
    if (type != LS_Q8_0 && type != LS_Q4_0 && type != LS_Q5_0) return; /* no packed layout */
    const ls_dtype_info *info = ls_dtype_find(type);
    size_t row_bytes = (size_t)(n_in / 32) * info->block_bytes;
    int64_t blocks = n_in / 32;
    for (int64_t r = row_first; r < row_end; r++) {
        const uint8_t *src = (const uint8_t *)weights + (size_t)r * row_bytes;
        uint8_t *dst = (uint8_t *)packed + (size_t)r * row_bytes;
        for (int64_t b = 0; b < blocks; b += 16) {
            int c = blocks - b < 16 ? (int)(blocks - b) : 16;
            pack_group(type, src + b * info->block_bytes, c, dst + b * info->block_bytes);
        }
    }
}

void ls_matmul_packed(ls_dtype type, const void *packed, int64_t n_in, int64_t row_first,
                      int64_t row_end, const void *activations, int64_t n_tokens, float *out,
                      int64_t out_stride) {
    if (!ls_packed_supported(type) || n_in <= 0 || n_in % 32 || row_end <= row_first || n_tokens <= 0)
        return;
    if (n_tokens == 1)
        ls_matmul_packed_avx512(type, packed, n_in, row_first, row_end, activations, out);
    else
        ls_matmul_avx512_packed_tokens(type, packed, n_in, row_first, row_end, activations, n_tokens, out,
                                       out_stride);
}
