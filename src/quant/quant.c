/* quant.c — the ggml weight types: type table, half/bfloat16 conversion, dequantization,
 * the activation format of matrix products, and the dispatch to one code path.
 *
 * THE REDUCTION ORDER of ls_matmul (scalar, AVX2 and AVX-512 all follow it exactly, so
 * every path gives the same bits; nothing in it depends on n_tokens, the row range, the
 * thread count or the ISA):
 *
 *   dot(row r, token t):
 *     lanes[0..16) = +0.0f
 *     for each unit u in order:           lanes[u % 16] = lanes[u % 16] + partial(u)
 *     result = tree(lanes): lanes[i] + lanes[i+8] (i<8), then +4 (i<4), +2 (i<2), +1
 *   Every float operation is one IEEE f32 operation rounded to nearest; no FMA anywhere.
 *
 *   F32, F16, BF16 weights (activations are the f32 row itself): a unit is one element i,
 *     partial(i) = w_i * x_i                      (w converted to f32 exactly)
 *   Quantized weights (activations quantized per 32-element block, see below): a unit is a
 *     32-element block b (in K-quants: sub-block b % 8 of super-block b / 8). Integer sums
 *     are exact, so their order is free; the float steps are, in this order:
 *     Q4_0, Q5_0, Q8_0:  isum = sum_i (q_i - o) * x_i  (o = 8, 16, 0)
 *                        partial = (d_w * d_x) * (float)isum
 *     Q4_K, Q5_K:        isum = sum_i q_i * x_i,  xsum = sum_i x_i   (q_i unsigned)
 *                        a = d * scale_b, m = dmin * min_b           (exact: 11 x 6 bits)
 *                        partial = d_x * ((a * (float)isum) - (m * (float)xsum))
 *     Q6_K:              isum = scale_lo * sum_{i<16} (q_i - 32) x_i
 *                             + scale_hi * sum_{i>=16} (q_i - 32) x_i
 *                        partial = (d * d_x) * (float)isum
 *   where x_i are the activation quants and d_x the block's activation scale.
 *
 * ACTIVATION FORMAT (why not llama.cpp's Q8_0 / Q8_K): one format for every quantized weight
 * type: 32-element blocks, int8 quants q = round-to-nearest-even(x / d) with an f32 scale
 * d = max|x| / 127, plus the block's quant sums. llama.cpp rounds its Q8_0 activation scale
 * to f16 and, for K-quants, shares one scale over 256 elements (Q8_K), so one outlier in a
 * transformer activation costs precision to 255 neighbours. A 32-element f32 scale is at
 * least as accurate in every case, and the error of every product is bounded by
 * sum_i |w_i| * d_x / 2. The integer sums are exact (|isum| < 2^24, so (float)isum is exact
 * too). Layout: matmul_kernels.h. The scalar code below defines the bits; the AVX-512 path
 * (quant_avx512.c, taken when ls_isa_current() is avx512) gives the same bytes. */
#include "quant/quant.h"
#include "quant/matmul_kernels.h"

#include <string.h>

/* ---- half and bfloat16 ---------------------------------------------------------------- */

static float bits_to_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t f32_to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Exact. NaN payloads are kept bit for bit (as numpy does), not quieted. */
float ls_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1F;
    uint32_t mantissa = h & 0x3FF;
    if (exponent == 0x1F) return bits_to_f32(sign | 0x7F800000u | (mantissa << 13));
    if (exponent == 0) {
        if (mantissa == 0) return bits_to_f32(sign);
        /* subnormal: normalize; value = mantissa * 2^-24 */
        int shift = 0;
        while (!(mantissa & 0x400)) {
            mantissa <<= 1;
            shift++;
        }
        mantissa &= 0x3FF;
        return bits_to_f32(sign | ((uint32_t)(113 - shift) << 23) | (mantissa << 13));
    }
    return bits_to_f32(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

/* Round to nearest, ties to even; overflow goes to infinity; NaN stays NaN (quiet, top
 * payload bits kept). */
uint16_t ls_f32_to_f16(float f) {
    uint32_t u = f32_to_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t exponent = (u >> 23) & 0xFF;
    uint32_t mantissa = u & 0x7FFFFF;
    if (exponent == 0xFF) {
        if (mantissa == 0) return sign | 0x7C00;
        return (uint16_t)(sign | 0x7E00 | (mantissa >> 13));
    }
    int e = (int)exponent - 127 + 15; /* biased half exponent */
    if (e >= 31) return sign | 0x7C00;
    if (e <= 0) {
        /* subnormal half (or zero): value = m * 2^-24, m = round(full_mantissa * 2^(e-1-13)) */
        if (e < -10) return sign; /* below half the smallest subnormal: rounds to zero */
        uint32_t full = mantissa | 0x800000;
        int shift = 14 - e; /* 14..24 */
        uint32_t kept = full >> shift;
        uint32_t rest = full & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rest > half || (rest == half && (kept & 1))) kept++;
        return (uint16_t)(sign | kept); /* kept == 0x400 becomes the smallest normal */
    }
    uint32_t kept = ((uint32_t)e << 10) | (mantissa >> 13);
    uint32_t rest = mantissa & 0x1FFF;
    if (rest > 0x1000 || (rest == 0x1000 && (kept & 1))) kept++; /* may carry into inf */
    return (uint16_t)(sign | kept);
}

float ls_bf16_to_f32(uint16_t h) { return bits_to_f32((uint32_t)h << 16); }

/* ---- dequantization (bit-exact with ggml / gguf.quants: the same f32 operations) ------ */

static void dequantize_q4_0(const uint8_t *b, float *y) {
    float d = ls_f16_to_f32(ls_read_u16(b));
    for (int i = 0; i < 16; i++) {
        y[i] = d * (float)((b[2 + i] & 0x0F) - 8);
        y[i + 16] = d * (float)((b[2 + i] >> 4) - 8);
    }
}

static void dequantize_q5_0(const uint8_t *b, float *y) {
    float d = ls_f16_to_f32(ls_read_u16(b));
    uint32_t qh = (uint32_t)b[2] | (uint32_t)b[3] << 8 | (uint32_t)b[4] << 16 |
                  (uint32_t)b[5] << 24;
    for (int i = 0; i < 16; i++) {
        int lo = (b[6 + i] & 0x0F) | (int)((qh >> i) & 1) << 4;
        int hi = (b[6 + i] >> 4) | (int)((qh >> (i + 16)) & 1) << 4;
        y[i] = d * (float)(lo - 16);
        y[i + 16] = d * (float)(hi - 16);
    }
}

static void dequantize_q8_0(const uint8_t *b, float *y) {
    float d = ls_f16_to_f32(ls_read_u16(b));
    for (int i = 0; i < 32; i++) y[i] = (float)(int8_t)b[2 + i] * d;
}

/* Q4_K: f16 d, f16 dmin, 12 B scales, 128 B nibbles: sub-block j uses bytes 32*(j/2)..+32,
 * low nibbles for even j, high for odd. Q5_K adds 32 B of high bits before the nibbles:
 * bit j of byte i is the fifth bit of element i of sub-block j. */
static void dequantize_q45_k(const uint8_t *b, float *y, int five_bits) {
    float d = ls_f16_to_f32(ls_read_u16(b));
    float dmin = ls_f16_to_f32(ls_read_u16(b + 2));
    const uint8_t *scales = b + 4;
    const uint8_t *qh = b + 16;
    const uint8_t *qs = five_bits ? b + 48 : b + 16;
    for (int j = 0; j < 8; j++) {
        int sc, m;
        ls_k_scale_min(scales, j, &sc, &m);
        float a = d * (float)sc;
        float mm = dmin * (float)m;
        for (int i = 0; i < 32; i++) {
            int q = (qs[32 * (j / 2) + i] >> (4 * (j & 1))) & 0x0F;
            if (five_bits) q |= ((qh[i] >> j) & 1) << 4;
            y[32 * j + i] = a * (float)q - mm;
        }
    }
}

/* Q6_K: 128 B low nibbles, 64 B high 2-bit pairs, 16 int8 scales, f16 d. Element
 * 128h + 32c + l (h half, c 0..3, l 0..31): low nibble of ql[64h + 32(c&1) + l] shifted by
 * 4(c>>1), high bits (qh[32h + l] >> 2c) & 3; scale index (128h + 32c + l) / 16. */
static void dequantize_q6_k(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *scales = (const int8_t *)(b + 192);
    float d = ls_f16_to_f32(ls_read_u16(b + 208));
    for (int e = 0; e < 256; e++) {
        int h = e / 128, c = (e / 32) & 3, l = e & 31;
        int lo = (ql[64 * h + 32 * (c & 1) + l] >> (4 * (c >> 1))) & 0x0F;
        int hi = (qh[32 * h + l] >> (2 * c)) & 3;
        y[e] = (d * (float)scales[e / 16]) * (float)((lo | hi << 4) - 32);
    }
}

void ls_dequantize_row(ls_dtype type, const void *src, float *dst, int64_t n) {
    const ls_dtype_info *info = ls_dtype_find(type);
    if (!info) return;
    const uint8_t *s = src;
    if (type == LS_F32) {
        memcpy(dst, src, (size_t)n * 4);
        return;
    }
    if (type == LS_F16 || type == LS_BF16) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = ls_read_u16(s + 2 * i);
            dst[i] = type == LS_F16 ? ls_f16_to_f32(h) : ls_bf16_to_f32(h);
        }
        return;
    }
    int64_t blocks = n / info->block_elements;
    for (int64_t i = 0; i < blocks; i++) {
        const uint8_t *b = s + i * info->block_bytes;
        float *y = dst + i * info->block_elements;
        switch (type) {
        case LS_Q4_0: dequantize_q4_0(b, y); break;
        case LS_Q5_0: dequantize_q5_0(b, y); break;
        case LS_Q8_0: dequantize_q8_0(b, y); break;
        case LS_Q4_K: dequantize_q45_k(b, y, 0); break;
        case LS_Q5_K: dequantize_q45_k(b, y, 1); break;
        case LS_Q6_K: dequantize_q6_k(b, y); break;
        default: break;
        }
    }
}

/* ---- activation rows ------------------------------------------------------------------ */

size_t ls_activation_row_bytes(ls_dtype weight_type, int64_t n) {
    if (n <= 0 || !ls_dtype_find(weight_type)) return 0;
    if (ls_dtype_is_float(weight_type)) return ((size_t)n * 4 + 63) / 64 * 64;
    int64_t groups = (n / 32 + LS_ACT_GROUP_BLOCKS - 1) / LS_ACT_GROUP_BLOCKS;
    return (size_t)groups * LS_ACT_GROUP_BYTES;
}

bool ls_same_activation_format(ls_dtype a, ls_dtype b) {
    return ls_dtype_is_float(a) == ls_dtype_is_float(b);
}

/* Round to nearest even for |v| <= 127 without libm: adding 1.5 * 2^23 leaves no fraction
 * bits, so the addition itself rounds (to nearest even, the IEEE default). */
static int round_quant(float v) {
    if (!(v == v)) return 0; /* NaN (from an inf or NaN input): 0, never UB */
    if (v > 127.0f) v = 127.0f;
    if (v < -127.0f) v = -127.0f;
    float r = (v + 12582912.0f) - 12582912.0f;
    return (int)r;
}

void ls_quantize_activation_row(ls_dtype weight_type, const float *x, void *out, int64_t n) {
    if (ls_dtype_is_float(weight_type)) {
        size_t bytes = ls_activation_row_bytes(weight_type, n);
        memcpy(out, x, (size_t)n * 4);
        memset((uint8_t *)out + n * 4, 0, bytes - (size_t)n * 4);
        return;
    }
    if (ls_isa_current() == LS_ISA_AVX512) { /* same bits (quant_avx512.c) */
        ls_quantize_activation_row_avx512(x, out, n);
        return;
    }
    uint8_t *o = out;
    memset(o, 0, ls_activation_row_bytes(weight_type, n));
    int64_t blocks = n / 32;
    for (int64_t b = 0; b < blocks; b++) {
        const float *xb = x + 32 * b;
        uint8_t *group = o + (b / LS_ACT_GROUP_BLOCKS) * LS_ACT_GROUP_BYTES;
        int j = (int)(b % LS_ACT_GROUP_BLOCKS);
        float amax = 0.0f;
        for (int i = 0; i < 32; i++) {
            float a = xb[i] < 0 ? -xb[i] : xb[i];
            if (!(a <= amax)) amax = a == a ? a : bits_to_f32(0x7F800000u); /* NaN: inf */
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        int32_t sum = 0, sum_lo = 0;
        for (int i = 0; i < 32; i++) {
            int q = round_quant(xb[i] * id);
            group[(i / 4) * 64 + j * 4 + (i % 4)] = (uint8_t)(int8_t)q;
            sum += q;
            if (i < 16) sum_lo += q;
        }
        memcpy(group + LS_ACT_OFFSET_SCALE + 4 * j, &d, 4);
        memcpy(group + LS_ACT_OFFSET_SUM + 4 * j, &sum, 4);
        memcpy(group + LS_ACT_OFFSET_SUM_LO + 4 * j, &sum_lo, 4);
    }
}

void ls_activation_unpack(ls_dtype weight_type, const void *activation, int64_t n,
                          float *scales, int8_t *quants) {
    const uint8_t *a = activation;
    if (ls_dtype_is_float(weight_type)) return;
    for (int64_t b = 0; b < n / 32; b++) {
        const uint8_t *group = a + (b / LS_ACT_GROUP_BLOCKS) * LS_ACT_GROUP_BYTES;
        int j = (int)(b % LS_ACT_GROUP_BLOCKS);
        memcpy(&scales[b], group + LS_ACT_OFFSET_SCALE + 4 * j, 4);
        for (int i = 0; i < 32; i++)
            quants[32 * b + i] = (int8_t)group[(i / 4) * 64 + j * 4 + (i % 4)];
    }
}

/* ---- dispatch ------------------------------------------------------------------------- */

int ls_matmul_token_group(ls_dtype weight_type, int64_t n_in) {
    const size_t l1_bytes = 48 * 1024;
    if (ls_dtype_is_float(weight_type)) return 8;
    return 8 * ls_activation_row_bytes(weight_type, n_in) <= l1_bytes ? 8 : 4;
}

void ls_matmul(ls_dtype weight_type, const void *weights, int64_t n_in, int64_t row_first,
               int64_t row_end, const void *activations, int64_t n_tokens, float *out,
               int64_t out_stride) {
    const ls_dtype_info *info = ls_dtype_find(weight_type);
    if (!info || n_in <= 0 || n_in % info->block_elements || row_end <= row_first ||
        n_tokens <= 0)
        return;
    if (!ls_dtype_is_float(weight_type) && n_in % 32) return;
    switch (ls_isa_current()) {
    case LS_ISA_AVX512:
        ls_matmul_avx512(weight_type, weights, n_in, row_first, row_end, activations,
                         n_tokens, out, out_stride);
        break;
    case LS_ISA_AVX2:
        ls_matmul_avx2(weight_type, weights, n_in, row_first, row_end, activations, n_tokens,
                       out, out_stride);
        break;
    default:
        ls_matmul_scalar(weight_type, weights, n_in, row_first, row_end, activations,
                         n_tokens, out, out_stride);
        break;
    }
}
