/* test_quant.c — weight types, half floats, activation quantization and ls_matmul.
 *
 * References: the CPU's own F16C conversion instructions for half floats; for the matrix
 * product, double-precision dots computed here from dequantized weights (whose bit-exactness
 * against the gguf package is tests/python/test_dequantize.py's job) and either the original
 * float activations (bounded by the activation quantization error) or the dequantized
 * activation quants (bounded by float rounding). Code paths and batchings must agree bit for
 * bit. */
#include "check.h"
#include "quant/quant.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double uniform(void) { return (double)(rng() >> 11) / 9007199254740992.0; }

static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* ---- half floats against F16C ------------------------------------------------------- */

__attribute__((target("f16c"))) static uint16_t hw_f32_to_f16(float f) {
    return (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT), 0);
}
__attribute__((target("f16c"))) static float hw_f16_to_f32(uint16_t h) {
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

static void test_half(void) {
    CHECK(ls_f32_to_f16(1.0f + 0x1p-11f) == 0x3C00, "f16: tie rounds down to even", "%04x",
          ls_f32_to_f16(1.0f + 0x1p-11f));
    CHECK(ls_f32_to_f16(1.0f + 3 * 0x1p-11f) == 0x3C02, "f16: tie rounds up to even", "%04x",
          ls_f32_to_f16(1.0f + 3 * 0x1p-11f));
    CHECK(ls_f32_to_f16(65519.0f) == 0x7BFF, "f16: 65519 -> 65504", "%04x", ls_f32_to_f16(65519.0f));
    CHECK(ls_f32_to_f16(65520.0f) == 0x7C00, "f16: 65520 (tie) overflows to inf", "%04x",
          ls_f32_to_f16(65520.0f));
    CHECK(ls_f32_to_f16(-1e9f) == 0xFC00, "f16: -1e9 -> -inf", "%04x", ls_f32_to_f16(-1e9f));
    CHECK(ls_f32_to_f16(0x1p-25f) == 0x0000, "f16: subnormal tie to even (0)", "%04x",
          ls_f32_to_f16(0x1p-25f));
    CHECK(ls_f32_to_f16(3 * 0x1p-25f) == 0x0002, "f16: subnormal tie to even (2)", "%04x",
          ls_f32_to_f16(3 * 0x1p-25f));
    CHECK(ls_f32_to_f16(-0.0f) == 0x8000, "f16: -0", "%04x", ls_f32_to_f16(-0.0f));
    uint16_t nan = ls_f32_to_f16(bits_f32(0x7FC00001u));
    CHECK((nan & 0x7C00) == 0x7C00 && (nan & 0x3FF), "f16: NaN stays NaN", "%04x", nan);
    CHECK(ls_bf16_to_f32(0x3F80) == 1.0f && ls_bf16_to_f32(0xC040) == -3.0f, "bf16: 1, -3", "%s", "");

    if (!__builtin_cpu_supports("f16c")) {
        CHECK(0, "f16: F16C reference available", "CPU lacks F16C");
        return;
    }
    int bad = 0, first = -1;
    for (uint32_t h = 0; h < 65536; h++) {
        float mine = ls_f16_to_f32((uint16_t)h), hw = hw_f16_to_f32((uint16_t)h);
        int is_nan = (h & 0x7C00) == 0x7C00 && (h & 0x3FF);
        int same = is_nan ? (mine != mine && (f32_bits(mine) | 0x400000) == f32_bits(hw))
                          : f32_bits(mine) == f32_bits(hw);
        if (!same && bad++ == 0) first = (int)h;
    }
    CHECK(bad == 0, "f16 -> f32: all 65536 halves as F16C", "%d differ, first %04x", bad, first);
    bad = 0;
    uint32_t first_bits = 0;
    for (int i = 0; i < 2000000; i++) {
        /* all exponents a half can reach or round into, plus random bit patterns */
        uint32_t u = (uint32_t)rng();
        if (i % 2) u = (u & 0x807FFFFFu) | (uint32_t)(96 + rng() % 50) << 23;
        float f = bits_f32(u);
        if (f != f) continue;
        if (ls_f32_to_f16(f) != hw_f32_to_f16(f) && bad++ == 0) first_bits = u;
    }
    CHECK(bad == 0, "f32 -> f16: 2M random floats as F16C (nearest even)", "%d differ, first %08x",
          bad, first_bits);
}

static void test_table(void) {
    static const struct { uint32_t id; const char *name; uint32_t elements, bytes; } want[] = {
        {0, "F32", 1, 4},     {1, "F16", 1, 2},       {2, "Q4_0", 32, 18},
        {6, "Q5_0", 32, 22},  {8, "Q8_0", 32, 34},    {12, "Q4_K", 256, 144},
        {13, "Q5_K", 256, 176}, {14, "Q6_K", 256, 210}, {30, "BF16", 1, 2},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const ls_dtype_info *d = ls_dtype_find(want[i].id);
        ok &= d && !strcmp(d->name, want[i].name) && d->block_elements == want[i].elements &&
              d->block_bytes == want[i].bytes;
    }
    CHECK(ok, "dtype table", "mismatch");
    CHECK(!ls_dtype_find(3) && !ls_dtype_find(10) && !ls_dtype_find(31) && !ls_dtype_find(99999),
          "dtype table: unsupported ids", "%s", "");
}

/* ---- activation quantization -------------------------------------------------------- */

static void random_activations(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        x[i] = (float)(uniform() * 2 - 1);
        if (rng() % 50 == 0) x[i] *= 30.0f; /* outliers, as in real activations */
        if (rng() % 97 == 0) x[i] = 0.0f;
    }
    for (int i = 0; i < 32 && i < n; i++) x[i] = 0.0f; /* one all-zero block */
}

static void test_activation_quantization(void) {
    const int64_t n = 640;
    float x[640], scales[20];
    int8_t q[640];
    random_activations(x, n);
    void *act = malloc(ls_activation_row_bytes(LS_Q8_0, n));
    ls_quantize_activation_row(LS_Q8_0, x, act, n);
    ls_activation_unpack(LS_Q8_0, act, n, scales, q);
    int scale_ok = 1, quant_ok = 1;
    for (int b = 0; b < 20; b++) {
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[32 * b + i]));
        scale_ok &= scales[b] == amax / 127.0f;
        for (int i = 0; i < 32; i++) {
            double err = fabs((double)x[32 * b + i] - (double)scales[b] * q[32 * b + i]);
            quant_ok &= err <= scales[b] * 0.5 * (1 + 1e-5) && q[32 * b + i] >= -127;
        }
    }
    CHECK(scale_ok, "activation: block scale = max|x| / 127", "%s", "");
    CHECK(quant_ok, "activation: |x - d q| <= d/2, |q| <= 127", "%s", "");
    free(act);
}

/* Every code path's activation quantization gives the scalar bytes (padding included) on
 * rows with NaN, inf, zero, -0 and subnormal blocks, tiny scales whose inverse overflows,
 * and exact round-half ties (x / d = k + 1/2, both parities). */
static void special_block(float *xb, int kind) {
    switch (kind) {
    case 0: for (int i = 0; i < 32; i++) xb[i] = 0.0f; break;
    case 1: for (int i = 0; i < 32; i++) xb[i] = (i & 1) ? -0.0f : 0.0f; break;
    case 2: xb[rng() % 32] = bits_f32(0x7FC00000u | (uint32_t)(rng() & 0xFFFF)); break; /* NaN */
    case 3: xb[rng() % 32] = bits_f32(0xFFC00001u); break;                           /* -NaN */
    case 4: xb[rng() % 32] = (rng() & 1) ? INFINITY : -INFINITY; break;
    case 5: /* d = 1: ties k + 1/2 for every k */
        for (int i = 0; i < 32; i++) xb[i] = (float)((int)(rng() % 254) - 127) + 0.5f;
        xb[rng() % 32] = (rng() & 1) ? 127.0f : -127.0f;
        break;
    case 6: /* d = 0.5 (amax 63.5): x / d = 2x, ties at x = (2k + 1) / 4 */
        for (int i = 0; i < 32; i++) xb[i] = (float)(2 * (int)(rng() % 127) - 126 + 1) * 0.25f;
        xb[rng() % 32] = 63.5f;
        break;
    case 7: /* subnormal: d is subnormal too, 1 / d overflows to inf */
        for (int i = 0; i < 32; i++) xb[i] = bits_f32((uint32_t)(rng() % 64)) * ((rng() & 1) ? 1.0f : -1.0f);
        break;
    case 8: /* huge: amax near FLT_MAX */
        for (int i = 0; i < 32; i++) xb[i] = (float)(uniform() * 2 - 1) * 3.4e38f;
        break;
    case 9: for (int i = 0; i < 32; i++) xb[i] = -1.0f; break; /* one value: all -127 */
    default: break; /* keep the random values */
    }
}

static void test_activation_paths(void) {
    static const int64_t sizes[] = {32, 96, 512, 544, 640, 2048, 2080};
    int identical = 1, paths = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        int64_t n = sizes[si];
        size_t bytes = ls_activation_row_bytes(LS_Q8_0, n);
        float *x = malloc(sizeof(float) * n);
        uint8_t *ref = malloc(bytes), *got = malloc(bytes);
        for (int trial = 0; trial < 40; trial++) {
            random_activations(x, n);
            for (int64_t b = 0; b < n / 32; b++) special_block(x + 32 * b, (int)(rng() % 14));
            ls_isa_select(LS_ISA_SCALAR);
            memset(ref, 0xAB, bytes);
            ls_quantize_activation_row(LS_Q4_K, x, ref, n);
            for (int isa = 1; isa < 3; isa++) {
                if (ls_isa_select((ls_isa)isa) != 0) continue;
                paths |= 1 << isa;
                memset(got, 0x5C, bytes); /* every byte must be written */
                ls_quantize_activation_row(LS_Q4_K, x, got, n);
                identical &= memcmp(ref, got, bytes) == 0;
            }
        }
        free(x), free(ref), free(got);
    }
    ls_isa_select(ls_isa_best());
    printf("# activation quantization paths compared with scalar:%s%s\n", paths & 2 ? " avx2" : "",
           paths & 4 ? " avx512" : "");
    CHECK(identical, "activation: every code path gives the scalar bytes (NaN, inf, ties, subnormal)",
          "%s", "bytes differ");
}

/* The scalar rounding itself: ties go to even (x / d = k + 1/2 with d = 1). */
static void test_activation_ties(void) {
    float x[32];
    for (int i = 0; i < 32; i++) x[i] = (float)(i - 16) + 0.5f; /* -15.5 .. 15.5 */
    x[31] = 127.0f;                                            /* d = 1 */
    void *act = malloc(ls_activation_row_bytes(LS_Q8_0, 32));
    float scale;
    int8_t q[32];
    int ok = 1;
    for (int isa = 0; isa < 3; isa++) {
        if (ls_isa_select((ls_isa)isa) != 0) continue;
        ls_quantize_activation_row(LS_Q8_0, x, act, 32);
        ls_activation_unpack(LS_Q8_0, act, 32, &scale, q);
        ok &= scale == 1.0f && q[31] == 127;
        for (int i = 0; i < 31; i++) {
            int lo = i - 16, even = (lo & 1) ? lo + 1 : lo; /* k + 1/2 -> the even one of k, k+1 */
            ok &= q[i] == even;
        }
    }
    ls_isa_select(ls_isa_best());
    CHECK(ok, "activation: halves round to even on every path", "%s", "");
    free(act);
}

/* ---- matmul ------------------------------------------------------------------------- */

static uint16_t random_scale_f16(double lo, double hi) {
    /* a positive normal half in [lo, hi), built from bits (no conversion under test) */
    double v = lo * pow(hi / lo, uniform());
    int e = 0;
    double m = frexp(v, &e); /* v = m 2^e, m in [0.5, 1) */
    int he = e - 1 + 15;
    uint16_t mant = (uint16_t)((m * 2 - 1) * 1024);
    return (uint16_t)(he << 10 | mant);
}

static void put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

static void random_weights(ls_dtype type, uint8_t *w, int64_t rows, int64_t n) {
    const ls_dtype_info *info = ls_dtype_find(type);
    int64_t blocks = rows * n / info->block_elements;
    for (int64_t i = 0; i < blocks * info->block_bytes; i++) w[i] = (uint8_t)rng();
    for (int64_t b = 0; b < blocks; b++) {
        uint8_t *p = w + b * info->block_bytes;
        switch (type) {
        case LS_F32: {
            float f = (float)(uniform() * 2 - 1);
            memcpy(p, &f, 4);
            break;
        }
        case LS_F16: put_u16(p, (uint16_t)(random_scale_f16(1e-3, 1) | (rng() & 1) << 15)); break;
        case LS_BF16: put_u16(p, (uint16_t)((0x3800 + rng() % 0x800) | (rng() & 1) << 15)); break;
        case LS_Q4_0: case LS_Q5_0: case LS_Q8_0: put_u16(p, random_scale_f16(1e-3, 0.05)); break;
        case LS_Q4_K: case LS_Q5_K:
            put_u16(p, random_scale_f16(1e-4, 5e-3));
            put_u16(p + 2, random_scale_f16(1e-4, 5e-3));
            break;
        case LS_Q6_K: put_u16(p + 208, random_scale_f16(1e-4, 5e-3)); break;
        }
    }
}

typedef struct case_result {
    int paths_identical, batch_invariant, within_quant_bound, matches_dequantized;
    double worst_quant_ratio, worst_round_ratio;
} case_result;

static void run_case(ls_dtype type, int64_t n, int64_t tokens, case_result *res) {
    const ls_dtype_info *info = ls_dtype_find(type);
    const int64_t rows = 37;
    size_t row_bytes = (size_t)(n / info->block_elements) * info->block_bytes;
    size_t act_bytes = ls_activation_row_bytes(type, n);
    uint8_t *w = malloc(row_bytes * rows);
    float *x = malloc(sizeof(float) * n * tokens), *wd = malloc(sizeof(float) * n * rows);
    uint8_t *act = malloc(act_bytes * tokens);
    float *out[3], *one = malloc(sizeof(float) * rows), *split = malloc(sizeof(float) * rows * tokens);
    float *scales = malloc(sizeof(float) * (n / 32 + 1));
    int8_t *quants = malloc((size_t)n);
    random_weights(type, w, rows, n);
    random_activations(x, n * tokens);
    for (int64_t t = 0; t < tokens; t++)
        ls_quantize_activation_row(type, x + t * n, act + t * act_bytes, n);
    for (int64_t r = 0; r < rows; r++) ls_dequantize_row(type, w + r * row_bytes, wd + r * n, n);

    /* (1) every code path the CPU has, identical bits */
    int paths = 1;
    for (int isa = 0; isa < 3; isa++) {
        out[isa] = malloc(sizeof(float) * rows * tokens);
        memset(out[isa], 0xFF, sizeof(float) * rows * tokens);
        if (ls_isa_select((ls_isa)isa) != 0) {
            memcpy(out[isa], out[0], sizeof(float) * rows * tokens);
            continue;
        }
        ls_matmul(type, w, n, 0, rows, act, tokens, out[isa], rows);
        paths &= memcmp(out[isa], out[0], sizeof(float) * rows * tokens) == 0;
    }
    res->paths_identical &= paths;

    /* (2) batch invariance, under every path: one token alone, and row ranges split */
    int invariant = 1;
    for (int isa = 0; isa < 3; isa++) {
        if (ls_isa_select((ls_isa)isa) != 0) continue;
        for (int64_t t = 0; t < tokens; t += 2) {
            ls_matmul(type, w, n, 0, rows, act + t * act_bytes, 1, one, rows);
            invariant &= memcmp(one, out[0] + t * rows, sizeof(float) * rows) == 0;
        }
        ls_matmul(type, w, n, 0, 5, act, tokens, split, rows);
        ls_matmul(type, w, n, 5, 6, act, tokens, split, rows);
        ls_matmul(type, w, n, 6, rows, act, tokens, split, rows);
        invariant &= memcmp(split, out[0], sizeof(float) * rows * tokens) == 0;
        if (tokens > 1) { /* tokens 1.. as their own batch (different tiling of tokens) */
            ls_matmul(type, w, n, 0, rows, act + act_bytes, tokens - 1, split, rows);
            invariant &= memcmp(split, out[0] + rows, sizeof(float) * rows * (tokens - 1)) == 0;
        }
    }
    ls_isa_select(ls_isa_best());
    res->batch_invariant &= invariant;

    /* (3) against the original activations, (4) against the dequantized activations */
    int is_float = type == LS_F32 || type == LS_F16 || type == LS_BF16;
    for (int64_t t = 0; t < tokens; t++) {
        if (!is_float) ls_activation_unpack(type, act + t * act_bytes, n, scales, quants);
        for (int64_t r = 0; r < rows; r++) {
            double exact = 0, quant_bound = 0, dq = 0, dq_abs = 0, abs_sum = 0;
            for (int64_t i = 0; i < n; i++) {
                double wi = wd[r * n + i], xi = x[t * n + i];
                double xq = is_float ? xi : (double)scales[i / 32] * quants[i];
                exact += wi * xi;
                abs_sum += fabs(wi * xi);
                dq += wi * xq;
                dq_abs += fabs(wi * xq);
                if (!is_float) quant_bound += fabs(wi) * scales[i / 32] / 2;
            }
            double got = out[0][t * rows + r];
            double round_bound = 1e-5 * dq_abs + 1e-30;
            double bound3 = quant_bound * 1.01 + 1e-5 * (abs_sum + dq_abs) + 1e-6;
            double e3 = fabs(got - exact), e4 = fabs(got - dq);
            if (!(e3 <= bound3)) res->within_quant_bound = 0;
            if (!(e4 <= round_bound)) res->matches_dequantized = 0;
            if (e3 / bound3 > res->worst_quant_ratio) res->worst_quant_ratio = e3 / bound3;
            if (e4 / round_bound > res->worst_round_ratio) res->worst_round_ratio = e4 / round_bound;
        }
    }
    for (int isa = 0; isa < 3; isa++) free(out[isa]);
    free(w), free(x), free(wd), free(act), free(one), free(split), free(scales), free(quants);
}

static void test_matmul(void) {
    static const ls_dtype types[] = {LS_F32, LS_F16, LS_BF16, LS_Q4_0, LS_Q5_0,
                                     LS_Q8_0, LS_Q4_K, LS_Q5_K, LS_Q6_K};
    /* 5632: 8 quantized activation rows overflow L1, the AVX-512 kernels take 4 tokens at once */
    static const int64_t sizes[] = {256, 640, 2048, 5632}, token_counts[] = {1, 3, 17};
    printf("# code paths on this CPU: best %s\n", ls_isa_name(ls_isa_best()));
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        ls_dtype type = types[ti];
        const ls_dtype_info *info = ls_dtype_find(type);
        case_result res = {1, 1, 1, 1, 0, 0};
        for (int si = 0; si < 4; si++) {
            if (sizes[si] % info->block_elements) continue;
            for (int ki = 0; ki < 3; ki++) run_case(type, sizes[si], token_counts[ki], &res);
        }
        char name[128];
        snprintf(name, sizeof name, "matmul %s: scalar, avx2, avx512 give identical bits", info->name);
        CHECK(res.paths_identical, name, "outputs differ");
        snprintf(name, sizeof name, "matmul %s: batch invariant (1 vs 17 tokens, row splits)", info->name);
        CHECK(res.batch_invariant, name, "outputs differ");
        snprintf(name, sizeof name, "matmul %s: within activation-quantization bound of exact dot", info->name);
        CHECK(res.within_quant_bound, name, "worst error / bound = %.3f", res.worst_quant_ratio);
        snprintf(name, sizeof name, "matmul %s: equals dot of dequantized operands to 1e-5", info->name);
        CHECK(res.matches_dequantized, name, "worst error / bound = %.3f", res.worst_round_ratio);
        printf("# %s: worst error/bound %.3g (quantization), %.3g (rounding)\n", info->name,
               res.worst_quant_ratio, res.worst_round_ratio);
    }
    CHECK(ls_matmul_token_group(LS_Q8_0, 2048) == 8 && ls_matmul_token_group(LS_Q8_0, 5632) == 4 &&
              ls_matmul_token_group(LS_Q4_K, 5632) == 4 && ls_matmul_token_group(LS_F16, 5632) == 8,
          "matmul: 4 tokens at once where 8 quantized activation rows overflow L1 (rows of 5632)", "%d %d",
          ls_matmul_token_group(LS_Q8_0, 2048), ls_matmul_token_group(LS_Q8_0, 5632));
}

/* Prefill on big matrices: the AVX-512 path takes rows in blocks of ~192 KiB of weights with
 * all tokens per block; a matrix of several blocks must still give the scalar bits. */
static void test_matmul_row_blocks(void) {
    static const ls_dtype types[] = {LS_Q8_0, LS_Q4_K};
    const int64_t n = 2048, rows = 301, tokens = 19;
    int ok = 1;
    for (int ti = 0; ti < 2; ti++) {
        ls_dtype type = types[ti];
        const ls_dtype_info *info = ls_dtype_find(type);
        size_t row_bytes = (size_t)(n / info->block_elements) * info->block_bytes;
        size_t act_bytes = ls_activation_row_bytes(type, n);
        uint8_t *w = malloc(row_bytes * rows), *act = malloc(act_bytes * tokens);
        float *x = malloc(sizeof(float) * n * tokens);
        float *ref = malloc(sizeof(float) * rows * tokens), *got = malloc(sizeof(float) * rows * tokens);
        random_weights(type, w, rows, n);
        random_activations(x, n * tokens);
        for (int64_t t = 0; t < tokens; t++) ls_quantize_activation_row(type, x + t * n, act + t * act_bytes, n);
        ls_isa_select(LS_ISA_SCALAR);
        ls_matmul(type, w, n, 0, rows, act, tokens, ref, rows);
        for (int isa = 1; isa < 3; isa++) {
            if (ls_isa_select((ls_isa)isa) != 0) continue;
            memset(got, 0xFF, sizeof(float) * rows * tokens);
            ls_matmul(type, w, n, 0, 150, act, tokens, got, rows); /* two thread tiles */
            ls_matmul(type, w, n, 150, rows, act, tokens, got, rows);
            ok &= memcmp(ref, got, sizeof(float) * rows * tokens) == 0;
        }
        ls_isa_select(ls_isa_best());
        free(w), free(act), free(x), free(ref), free(got);
    }
    CHECK(ok, "matmul Q8_0, Q4_K: 301 x 2048 (several row blocks), 19 tokens: every path = scalar",
          "%s", "outputs differ");
}

/* Packed weights (the AVX-512 kernels on packed.c's layout): the same bits as the scalar
 * path, for 1, 3, 5 and 19 tokens (the kernels take 8, 4, 2 and 1 at a time), rows with and without a partial last group, whole and in
 * thread-like row ranges. Skipped (and said so) on a CPU without AVX-512. */
static void test_matmul_packed(void) {
    static const ls_dtype types[] = {LS_Q8_0, LS_Q4_0, LS_Q5_0, LS_Q4_K, LS_Q5_K, LS_Q6_K};
    /* last groups of every length, 1 to 15 blocks (32: 1, 64: 2, ..., 480: 15, 640: 4,
     * 1056: 1; each length has a kernel of its own); K-quants take the multiples of 256:
     * 256, 768 and 2304 end in half a group */
    static const int64_t sizes[] = {32,  64,  96,  128, 160, 192, 224, 256,  288,  320,  352,
                                    384, 416, 448, 480, 512, 640, 768, 1056, 2048, 2304},
                         token_counts[] = {1, 3, 5, 19};
    if (ls_isa_select(LS_ISA_AVX512) != 0) {
        printf("# packed matmul: this CPU has no AVX-512, nothing to check\n");
        return;
    }
    for (int ti = 0; ti < (int)(sizeof types / sizeof types[0]); ti++) {
        ls_dtype type = types[ti];
        const ls_dtype_info *info = ls_dtype_find(type);
        int ok = 1, supported = 1;
        for (int si = 0; si < (int)(sizeof sizes / sizeof sizes[0]); si++)
            for (int ki = 0; ki < (int)(sizeof token_counts / sizeof token_counts[0]); ki++) {
                const int64_t n = sizes[si], rows = 37, tokens = token_counts[ki];
                if (n % info->block_elements) continue;
                size_t row_bytes = (size_t)(n / info->block_elements) * info->block_bytes;
                size_t act_bytes = ls_activation_row_bytes(type, n);
                uint8_t *w = malloc(row_bytes * rows), *packed = malloc(row_bytes * rows);
                uint8_t *act = malloc(act_bytes * tokens);
                float *x = malloc(sizeof(float) * n * tokens), *ref = malloc(sizeof(float) * rows * tokens);
                float *got = malloc(sizeof(float) * rows * tokens);
                random_weights(type, w, rows, n);
                random_activations(x, n * tokens);
                for (int64_t t = 0; t < tokens; t++) ls_quantize_activation_row(type, x + t * n, act + t * act_bytes, n);
                ls_isa_select(LS_ISA_SCALAR);
                ls_matmul(type, w, n, 0, rows, act, tokens, ref, rows);
                ls_isa_select(LS_ISA_AVX512);
                supported &= ls_packed_supported(type);
                memset(packed, 0xEE, row_bytes * rows);
                ls_pack_rows(type, w, n, 0, 20, packed);
                ls_pack_rows(type, w, n, 20, rows, packed);
                memset(got, 0xFF, sizeof(float) * rows * tokens);
                ls_matmul_packed(type, packed, n, 0, 13, act, tokens, got, rows);
                ls_matmul_packed(type, packed, n, 13, rows, act, tokens, got, rows);
                ok &= memcmp(ref, got, sizeof(float) * rows * tokens) == 0;
                free(w), free(packed), free(act), free(x), free(ref), free(got);
            }
        char name[128];
        snprintf(name, sizeof name, "packed matmul %s: AVX-512 packs it", info->name);
        CHECK(supported, name, "%s", "ls_packed_supported is false");
        snprintf(name, sizeof name, "packed matmul %s: n_in 32..2304 (last groups 1-15 blocks), 1/3/5/19 tokens, row ranges = scalar bits", info->name);
        CHECK(ok, name, "%s", "outputs differ");
    }
    ls_isa_select(LS_ISA_SCALAR);
    CHECK(!ls_packed_supported(LS_Q8_0), "packed matmul: not offered on the scalar path", "%s", "it is");
    ls_isa_select(ls_isa_best());
}

int main(void) {
    test_table();
    test_half();
    test_activation_quantization();
    test_activation_paths();
    test_activation_ties();
    test_matmul();
    test_matmul_row_blocks();
    test_matmul_packed();
    CHECK_EXIT();
}
