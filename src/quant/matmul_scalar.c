/* matmul_scalar.c — the reference code path of ls_matmul: plain C, one (row, token) dot at a
 * time, written to read like the reduction order in quant.c's header comment (16 lanes,
 * unit u into lane u % 16, then the pairwise tree). The SIMD paths must match it bit for bit.
 *
 * Shapes: weights [rows][n_in] in the file's block layout; activations [n_tokens][row bytes]
 * (matmul_kernels.h); out[t * out_stride + r]. */
#include "quant/matmul_kernels.h"

#include <string.h>

/* The activation quant of element i (0..31) of block b, its scale and its sums. */
typedef struct act_block {
    int8_t q[32];
    float d;
    int32_t sum, sum_lo;
} act_block;

static void load_act_block(const uint8_t *act, int64_t b, act_block *a) {
    const uint8_t *group = act + (b / LS_ACT_GROUP_BLOCKS) * LS_ACT_GROUP_BYTES;
    int j = (int)(b % LS_ACT_GROUP_BLOCKS);
    for (int i = 0; i < 32; i++) a->q[i] = (int8_t)group[(i / 4) * 64 + j * 4 + (i % 4)];
    memcpy(&a->d, group + LS_ACT_OFFSET_SCALE + 4 * j, 4);
    memcpy(&a->sum, group + LS_ACT_OFFSET_SUM + 4 * j, 4);
    memcpy(&a->sum_lo, group + LS_ACT_OFFSET_SUM_LO + 4 * j, 4);
}

/* partial(b) for the 32-element-block types. q: the block's 32 weight quants, offset
 * already removed. */
static float partial_simple(float dw, const int *q, const act_block *a) {
    int32_t isum = 0;
    for (int i = 0; i < 32; i++) isum += q[i] * a->q[i];
    return (dw * a->d) * (float)isum;
}

static float dot_quantized(ls_dtype type, const uint8_t *row, const uint8_t *act, int64_t n) {
    float lanes[16] = {0};
    int64_t blocks = n / 32;
    for (int64_t b = 0; b < blocks; b++) {
        act_block a;
        load_act_block(act, b, &a);
        int q[32];
        float partial = 0.0f;
        if (type == LS_Q4_0 || type == LS_Q5_0 || type == LS_Q8_0) {
            const uint8_t *w = row + b * ls_dtype_find(type)->block_bytes;
            float dw = ls_f16_to_f32(ls_read_u16(w));
            if (type == LS_Q4_0) {
                for (int i = 0; i < 16; i++) {
                    q[i] = (w[2 + i] & 0x0F) - 8;
                    q[i + 16] = (w[2 + i] >> 4) - 8;
                }
            } else if (type == LS_Q5_0) {
                uint32_t qh = (uint32_t)w[2] | (uint32_t)w[3] << 8 | (uint32_t)w[4] << 16 |
                              (uint32_t)w[5] << 24;
                for (int i = 0; i < 16; i++) {
                    q[i] = ((w[6 + i] & 0x0F) | (int)((qh >> i) & 1) << 4) - 16;
                    q[i + 16] = ((w[6 + i] >> 4) | (int)((qh >> (i + 16)) & 1) << 4) - 16;
                }
            } else {
                for (int i = 0; i < 32; i++) q[i] = (int8_t)w[2 + i];
            }
            partial = partial_simple(dw, q, &a);
        } else if (type == LS_Q4_K || type == LS_Q5_K) {
            int five = type == LS_Q5_K;
            const uint8_t *w = row + (b / 8) * (five ? 176 : 144);
            int j = (int)(b % 8), sc, m;
            ls_k_scale_min(w + 4, j, &sc, &m);
            const uint8_t *qs = (five ? w + 48 : w + 16) + 32 * (j / 2);
            int32_t isum = 0;
            for (int i = 0; i < 32; i++) {
                int v = (qs[i] >> (4 * (j & 1))) & 0x0F;
                if (five) v |= ((w[16 + i] >> j) & 1) << 4;
                isum += v * a.q[i];
            }
            float scale = ls_f16_to_f32(ls_read_u16(w)) * (float)sc;
            float min = ls_f16_to_f32(ls_read_u16(w + 2)) * (float)m;
            partial = a.d * ((scale * (float)isum) - (min * (float)a.sum));
        } else if (type == LS_Q6_K) {
            const uint8_t *w = row + (b / 8) * 210;
            int c = (int)(b % 8), h = c / 4, cc = c & 3;
            const uint8_t *ql = w + 64 * h + 32 * (cc & 1), *qh = w + 128 + 32 * h;
            const int8_t *scales = (const int8_t *)(w + 192) + 2 * c;
            int32_t lo = 0, hi = 0;
            for (int i = 0; i < 32; i++) {
                int v = ((ql[i] >> (4 * (cc >> 1))) & 0x0F) | ((qh[i] >> (2 * cc)) & 3) << 4;
                if (i < 16) lo += (v - 32) * a.q[i];
                else hi += (v - 32) * a.q[i];
            }
            int32_t isum = scales[0] * lo + scales[1] * hi;
            partial = (ls_f16_to_f32(ls_read_u16(w + 208)) * a.d) * (float)isum;
        }
        lanes[b % 16] = lanes[b % 16] + partial;
    }
    return ls_lanes_tree(lanes);
}

static float dot_float(ls_dtype type, const uint8_t *row, const float *x, int64_t n) {
    float lanes[16] = {0};
    for (int64_t i = 0; i < n; i++) {
        float w;
        if (type == LS_F32) memcpy(&w, row + 4 * i, 4);
        else if (type == LS_F16) w = ls_f16_to_f32(ls_read_u16(row + 2 * i));
        else w = ls_bf16_to_f32(ls_read_u16(row + 2 * i));
        lanes[i % 16] = lanes[i % 16] + w * x[i];
    }
    return ls_lanes_tree(lanes);
}

void ls_matmul_scalar(ls_dtype weight_type, const void *weights, int64_t n_in,
                      int64_t row_first, int64_t row_end, const void *activations,
                      int64_t n_tokens, float *out, int64_t out_stride) {
    const ls_dtype_info *info = ls_dtype_find(weight_type);
    size_t row_bytes = (size_t)(n_in / info->block_elements) * info->block_bytes;
    size_t act_bytes = ls_activation_row_bytes(weight_type, n_in);
    for (int64_t t = 0; t < n_tokens; t++) {
        const uint8_t *act = (const uint8_t *)activations + t * act_bytes;
        for (int64_t r = row_first; r < row_end; r++) {
            const uint8_t *row = (const uint8_t *)weights + r * row_bytes;
            out[t * out_stride + r] = ls_dtype_is_float(weight_type)
                                          ? dot_float(weight_type, row, (const float *)act, n_in)
                                          : dot_quantized(weight_type, row, act, n_in);
        }
    }
}
