/* matmul_kernels.h — what quant.c and the three matmul code paths share: the layout of a
 * quantized activation row, the canonical final tree, and the per-ISA entry points.
 * Internal to src/quant/. The reduction order itself is written in quant.c's header comment.
 *
 * Quantized activation row (for Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K weights): the n elements
 * are cut into 32-element blocks b = 0..n/32-1, and the blocks into groups of 16
 * (g = b / 16, lane j = b % 16). Each group takes LS_ACT_GROUP_BYTES bytes:
 *
 *   int8  q[8][16][4]  @0    q[k][j][e] = quant of element 4k+e of block 16g+j
 *                            (interleaved so that one 64-byte load holds 4 elements of each
 *                            of 16 blocks: one VNNI dot step fills 16 lanes = 16 blocks)
 *   float d[16]        @512  block scale d = max|x| / 127 (0 for an all-zero block)
 *   int32 sum[16]      @576  sum of the block's 32 quants (for the min and offset terms)
 *   int32 sum_lo[16]   @640  sum of the block's first 16 quants (Q6_K's 16-element scales)
 *
 * The last group of a row is padded with zero blocks (d = 0, quants 0). Float weight types
 * (F32, F16, BF16) take the activation row as plain f32, padded to a multiple of 64 bytes. */
#ifndef LS_QUANT_MATMUL_KERNELS_H
#define LS_QUANT_MATMUL_KERNELS_H

#include "quant/quant.h"

#include <stdint.h>

#define LS_ACT_GROUP_BLOCKS 16
#define LS_ACT_GROUP_BYTES 704
#define LS_ACT_OFFSET_SCALE 512
#define LS_ACT_OFFSET_SUM 576
#define LS_ACT_OFFSET_SUM_LO 640

static inline int ls_dtype_is_float(ls_dtype t) {
    return t == LS_F32 || t == LS_F16 || t == LS_BF16;
}

/* The canonical end of every dot product: 16 lane sums folded by a fixed pairwise tree,
 * lanes[i] + lanes[i+8], then +4, +2, +1. */
static inline float ls_lanes_tree(float lanes[16]) {
    for (int i = 0; i < 8; i++) lanes[i] = lanes[i] + lanes[i + 8];
    for (int i = 0; i < 4; i++) lanes[i] = lanes[i] + lanes[i + 4];
    for (int i = 0; i < 2; i++) lanes[i] = lanes[i] + lanes[i + 2];
    return lanes[0] + lanes[1];
}

static inline uint16_t ls_read_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* Q4_K/Q5_K: the 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes. */
static inline void ls_k_scale_min(const uint8_t *q, int j, int *scale, int *min) {
    if (j < 4) {
        *scale = q[j] & 63;
        *min = q[j + 4] & 63;
    } else {
        *scale = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
        *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

typedef void ls_matmul_fn(ls_dtype weight_type, const void *weights, int64_t n_in,
                          int64_t row_first, int64_t row_end, const void *activations,
                          int64_t n_tokens, float *out, int64_t out_stride);

ls_matmul_fn ls_matmul_scalar;
ls_matmul_fn ls_matmul_avx2;
ls_matmul_fn ls_matmul_avx512;

/* ls_quantize_activation_row for a quantized weight type on the AVX-512 path: the same bytes
 * as quant.c's scalar code (every byte of the row written, padding included). */
void ls_quantize_activation_row_avx512(const float *x, void *out, int64_t n);

/* The packed kernels: one token (packed_avx512.c), several (matmul_avx512.c, the prefill
 * path with packed loads instead of the transpose); packed.c checks the arguments. */
void ls_matmul_packed_avx512(ls_dtype type, const void *packed, int64_t n_in, int64_t row_first,
                             int64_t row_end, const void *activation, float *out);
ls_matmul_fn ls_matmul_avx512_packed_tokens;

#endif
