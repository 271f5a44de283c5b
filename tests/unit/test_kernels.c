/* test_kernels.c — the AVX-512 inner loops of the runtime kernels (src/run/kernels_simd.h)
 * give the same bits as the scalar ones, which fix the reduction order; and the scalar lane
 * dot is within float rounding of a double-precision dot. Lengths cover whole vectors,
 * tails of every size and head/row widths the models use. The elementwise functions behind
 * GLU and the softmax (ls_expf, ls_silu, ls_gelu_tanh) are compared over every 64th float
 * bit pattern, specials and 4 million random inputs. */
#include "check.h"
#include "base/fmath.h"
#include "quant/quant.h"
#include "run/kernels_simd.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rng(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* values over many magnitudes and both signs, some exact zeros and negative zeros, so that
 * any change in the order of additions shows in the bits */
static float value(void) {
    uint64_t r = rng();
    if (r % 17 == 0) return (r >> 8) & 1 ? -0.0f : 0.0f;
    double m = (double)(r >> 11) / 9007199254740992.0 * 2.0 - 1.0;
    int e = (int)((r >> 5) % 40) - 20;
    return (float)ldexp(m, e);
}

static int same(const float *a, const float *b, int64_t n) { return memcmp(a, b, (size_t)n * 4) == 0; }

/* same bits, except that any two NaNs match: where two NaNs meet in a commutative add or
 * multiply, x86 returns the first operand's payload, and C lets the compiler swap the
 * operands of the scalar code (gcc 12 does in RoPE), so payloads are not promised there */
static int same_or_both_nan(const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], 4) && !(a[i] != a[i] && b[i] != b[i])) return 0;
    return 1;
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* The elementwise functions, scalar vs AVX-512, on one chunk of inputs: exp through the
 * softmax loop with shift 0 (x - 0 == x, -0 and NaN included), silu and gelu through GLU
 * with up = 1 (a · 1 == a). Returns the first input whose bits differ, via *bad. */
enum { CHUNK = 4096 };
static float all_ones[CHUNK];

static int64_t compare_functions(const float *x, int64_t n, int which, uint32_t *bad, float *got_scalar,
                                 float *got_vector) {
    static float y1[CHUNK], y2[CHUNK];
    if (which == 0) {
        const float zero = 0.0f;
        ls_exp_shifted_scalar(y1, x, &zero, 1, n);
        ls_exp_shifted_avx512(y2, x, &zero, 1, n);
    } else {
        ls_glu_scalar(y1, x, all_ones, n, which == 2);
        ls_glu_avx512(y2, x, all_ones, n, which == 2);
    }
    for (int64_t i = 0; i < n; i++)
        if (bits_of(y1[i]) != bits_of(y2[i])) {
            *bad = bits_of(x[i]);
            *got_scalar = y1[i];
            *got_vector = y2[i];
            return 1;
        }
    return 0;
}

/* Attention's blocks of queries (ls_scores, ls_attend): the AVX-512 tiles give the bits of
 * each query alone, dot by dot and axpy by axpy (so of the scalar versions), for every
 * block size 1..8, periods up to 16, key counts around the tile sizes and head widths with
 * and without a tail; entries of other queries are left alone. */
static void test_attention_blocks(void) {
    enum { KEYS = 37, DIM = 300, STRIDE = 311 };
    static float k[KEYS * STRIDE], v[KEYS * STRIDE], qs[8 * DIM], s1[KEYS * 16], s2[KEYS * 16], w[KEYS * 16];
    static float o1[8 * DIM], o2[8 * DIM];
    for (int i = 0; i < KEYS * STRIDE; i++) k[i] = value(), v[i] = value();
    for (int i = 0; i < 8 * DIM; i++) qs[i] = value();
    for (int i = 0; i < KEYS * 16; i++) w[i] = value();
    static const int64_t dims[] = {1, 15, 16, 17, 64, 100, 256, 300}, key_counts[] = {1, 3, 4, 5, 16, 17, 37};
    int scores_same = 1, scores_alone = 1, attend_same = 1, attend_alone = 1, untouched = 1;
    for (int nq = 1; nq <= LS_ATTENTION_QUERIES; nq++)
        for (int p = 1; p <= 16; p *= 2) {
            if (p < nq) continue;
            const float *q[8];
            float *a1[8], *a2[8];
            for (int i = 0; i < nq; i++) q[i] = qs + (size_t)((i * 3) % 8) * DIM, a1[i] = o1 + i * DIM, a2[i] = o2 + i * DIM;
            for (int di = 0; di < 8; di++)
                for (int ki = 0; ki < 7; ki++) {
                    int64_t n = dims[di], keys = key_counts[ki];
                    float scale = value();
                    for (int i = 0; i < KEYS * 16; i++) s1[i] = s2[i] = 12345.0f;
                    ls_scores_scalar(q, nq, k, STRIDE, keys, n, scale, s1, p);
                    ls_scores_avx512(q, nq, k, STRIDE, keys, n, scale, s2, p);
                    scores_same &= same(s1, s2, KEYS * 16);
                    for (int64_t j = 0; j < keys; j++)
                        for (int i = 0; i < p; i++) {
                            float alone = ls_lane_dot_scalar(q[i < nq ? i : 0], k + j * STRIDE, n) * scale;
                            if (i < nq) scores_alone &= memcmp(&alone, &s2[j * p + i], 4) == 0;
                            else untouched &= s2[j * p + i] == 12345.0f;
                        }
                    for (int i = 0; i < 8 * DIM; i++) o1[i] = o2[i] = value();
                    ls_attend_scalar(a1, nq, w, p, v, STRIDE, keys, n);
                    ls_attend_avx512(a2, nq, w, p, v, STRIDE, keys, n);
                    attend_same &= same(o1, o2, 8 * DIM);
                    /* query nq - 1 alone, from the same start, by the axpy of each key */
                    static float y[DIM];
                    for (int64_t d = 0; d < n; d++) y[d] = 0;
                    for (int i = 0; i < 8 * DIM; i++) o2[i] = 0;
                    ls_attend_avx512(a2, nq, w, p, v, STRIDE, keys, n);
                    for (int64_t j = 0; j < keys; j++) ls_axpy_scalar(y, w[j * p + nq - 1], v + j * STRIDE, n);
                    attend_alone &= same(y, o2 + (nq - 1) * DIM, n);
                }
        }
    CHECK(scores_same, "attention scores, blocks of 1..8 queries: AVX-512 bits == scalar bits", "%s", "");
    CHECK(scores_alone, "attention scores: each = its own lane dot times the scale", "%s", "");
    CHECK(untouched, "attention scores: the period's other entries are left alone", "%s", "");
    CHECK(attend_same, "attention weighted sums, blocks of 1..8 queries: AVX-512 bits == scalar bits", "%s", "");
    CHECK(attend_alone, "attention weighted sum: each query's = its own axpy key by key", "%s", "");
}

int main(void) {
    if (ls_isa_select(LS_ISA_AVX512) != 0) {
        printf("# this CPU has no AVX-512: only the scalar loops run\n");
        CHECK(1, "kernels: AVX-512 not available, nothing to compare", "%s", "");
        CHECK_EXIT();
    }
    enum { MAX = 1100 };
    static float a[MAX], b[MAX], y1[MAX], y2[MAX];
    int dot_same = 1, dot_self_same = 1, scale_same = 1, add_same = 1, bound = 1;
    int64_t first_bad = -1;
    double worst = 0;
    for (int64_t n = 1; n <= MAX; n += n < 80 ? 1 : 61) {
        for (int rep = 0; rep < 4; rep++) {
            for (int64_t i = 0; i < n; i++) a[i] = value(), b[i] = value();
            float d1 = ls_lane_dot_scalar(a, b, n), d2 = ls_lane_dot_avx512(a, b, n);
            if (memcmp(&d1, &d2, 4)) dot_same = 0, first_bad = first_bad < 0 ? n : first_bad;
            float s1 = ls_lane_dot_scalar(a, NULL, n), s2 = ls_lane_dot_avx512(a, NULL, n);
            if (memcmp(&s1, &s2, 4)) dot_self_same = 0;
            double exact = 0, magnitude = 0;
            for (int64_t i = 0; i < n; i++) {
                exact += (double)a[i] * b[i];
                magnitude += fabs((double)a[i] * b[i]);
            }
            /* n / 16 + 4 + 1 roundings of partial sums, each <= 2^-24 of the magnitude */
            double allowed = ((double)n / 16 + 6) * 0x1p-24 * magnitude + 1e-38;
            double err = fabs(d1 - exact) / allowed;
            if (err > worst) worst = err;
            if (!(err <= 1.0)) bound = 0;

            float scale = value();
            ls_scale_mul_scalar(y1, a, scale, b, n);
            ls_scale_mul_avx512(y2, a, scale, b, n);
            scale_same &= same(y1, y2, n);
            ls_add_scalar(y1, a, b, n);
            ls_add_avx512(y2, a, b, n);
            add_same &= same(y1, y2, n);
            /* in place, as the arena's lifetime sharing allows */
            memcpy(y1, a, (size_t)n * 4);
            memcpy(y2, a, (size_t)n * 4);
            ls_add_scalar(y1, y1, b, n);
            ls_add_avx512(y2, y2, b, n);
            add_same &= same(y1, y2, n);
        }
    }
    CHECK(dot_same, "lane dot a.b: AVX-512 bits == scalar bits, n = 1..1100", "first n %lld",
          (long long)first_bad);
    CHECK(dot_self_same, "lane dot a.a (sum of squares): AVX-512 bits == scalar bits", "%s", "");
    CHECK(bound, "lane dot: within the float rounding bound of a double dot",
          "worst error/bound %.3g", worst);
    printf("# lane dot: worst error/bound %.3g\n", worst);
    test_attention_blocks();
    CHECK(scale_same, "y = (x scale) w: AVX-512 bits == scalar bits", "%s", "");
    CHECK(add_same, "y = a + b (also in place): AVX-512 bits == scalar bits", "%s", "");

    /* exp, silu, gelu: every 64th float bit pattern (both signs, subnormals, inf, NaNs of
     * many payloads), the specials and clamp edges, and 4 million random patterns */
    static const char *names[3] = {"exp", "silu", "gelu_tanh"};
    for (int i = 0; i < CHUNK; i++) all_ones[i] = 1.0f;
    static float chunk[CHUNK];
    const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, from_bits(0x7f800001u),
                              from_bits(0xffbfffffu), from_bits(0x7fc12345u), 3.4028235e38f,
                              -3.4028235e38f, 1e-45f, -1e-45f, 1.17549435e-38f, -104.0f,
                              -104.00001f, -103.99999f, 89.0f, 89.00001f, 88.99999f, 88.7228317f,
                              88.7228394f, -87.3365f, -103.972f, -88.0f, 0.5f, -0.5f, 1.0f, -1.0f,
                              0x1p-24f, -0x1p-24f, 0.3465736f, -0.3465736f, 12582912.0f, -12582912.0f,
                              44.0f, -44.0f, 10.0f, -10.0f};
    for (int which = 0; which < 3; which++) {
        uint32_t bad = 0;
        float got1 = 0, got2 = 0;
        int64_t wrong = 0, count = 0;
        int64_t n_special = (int64_t)(sizeof specials / sizeof specials[0]);
        wrong += compare_functions(specials, n_special, which, &bad, &got1, &got2);
        count += n_special;
        for (uint64_t start = 0; start < (1ull << 32) && !wrong; start += 64ull * CHUNK) {
            for (int i = 0; i < CHUNK; i++) chunk[i] = from_bits((uint32_t)(start + 64ull * (uint64_t)i));
            wrong += compare_functions(chunk, CHUNK, which, &bad, &got1, &got2);
            count += CHUNK;
        }
        for (int rep = 0; rep < 4000000 / CHUNK && !wrong; rep++) {
            for (int i = 0; i < CHUNK; i++) {
                uint64_t r = rng();
                /* half of them uniform over patterns, half over [-110, 110] where the
                 * functions do their work */
                chunk[i] = r & 1 ? from_bits((uint32_t)(r >> 32))
                                 : (float)((double)(r >> 11) / 9007199254740992.0 * 220.0 - 110.0);
            }
            wrong += compare_functions(chunk, CHUNK, which, &bad, &got1, &got2);
            count += CHUNK;
        }
        CHECK(!wrong, "elementwise: AVX-512 bits == scalar bits over the float range",
              "%s: input 0x%08x gives scalar 0x%08x, avx512 0x%08x", names[which], bad,
              bits_of(got1), bits_of(got2));
        printf("# %s: %lld inputs compared\n", names[which], (long long)count);
    }
    /* and the vector exp is the scalar function, not merely equal to the scalar loop: ls_expf
     * down to the floor, 0 below it (e^-87.5 and e^-100, 1.0e-38 and 3.7e-44, are subnormal
     * floats that ls_expf gives: the softmax drops them) */
    {
        float x[7] = {0.0f, 1.0f, -1.0f, 88.0f, -87.0f, -87.5f, -100.0f}, y[7];
        const float zero = 0.0f;
        ls_exp_shifted_avx512(y, x, &zero, 1, 7);
        int ok = 1;
        for (int i = 0; i < 5; i++) ok &= bits_of(y[i]) == bits_of(ls_expf(x[i]));
        CHECK(ok && y[0] == 1.0f && y[4] > 0, "exp row: each element is ls_expf of it", "%s", "");
        CHECK(y[5] == 0 && y[6] == 0 && ls_expf(x[5]) > 0 && ls_expf(x[6]) > 0,
              "exp row: 0 below e^-87, where ls_expf is not", "%g %g", y[5], y[6]);
    }

    /* rows of every length: GLU with random up, exp with a shift, the embedding scale, RoPE
     * in both layouts; out of place and in place */
    int glu_same = 1, exp_same = 1, scale_row_same = 1, rope_same = 1, rope_in_place = 1;
    static float angles[2 * MAX], x2[MAX];
    for (int64_t n = 1; n <= MAX; n += n < 80 ? 1 : 61) {
        for (int64_t i = 0; i < n; i++) {
            a[i] = value() * 1e4f, b[i] = value();
            a[i] = a[i] > 200.0f ? (float)(i % 200) - 100.0f : a[i]; /* some in the working range */
        }
        for (int gelu = 0; gelu < 2; gelu++) {
            ls_glu_scalar(y1, a, b, n, gelu);
            ls_glu_avx512(y2, a, b, n, gelu);
            glu_same &= same(y1, y2, n);
            memcpy(x2, a, (size_t)n * 4);
            ls_glu_avx512(x2, x2, b, n, gelu);
            glu_same &= same(y1, x2, n);
        }
        float shift = value() * 100.0f;
        ls_exp_shifted_scalar(y1, a, &shift, 1, n);
        ls_exp_shifted_avx512(y2, a, &shift, 1, n);
        exp_same &= same(y1, y2, n);
        memcpy(x2, a, (size_t)n * 4);
        ls_exp_shifted_avx512(x2, x2, &shift, 1, n);
        exp_same &= same(y1, x2, n);
        /* interleaved queries: element i shifted by shifts[i % 4], = ls_expf of it */
        float shifts[4] = {shift, -shift, 0.5f * shift, 0.0f};
        ls_exp_shifted_avx512(y2, a, shifts, 4, n);
        for (int64_t i = 0; i < n; i++) {
            float d = a[i] - shifts[i % 4];
            y1[i] = d < LS_SOFTMAX_EXP_FLOOR ? 0.0f : ls_expf(d);
        }
        exp_same &= same(y1, y2, n);
        memcpy(y1, a, (size_t)n * 4);
        memcpy(y2, a, (size_t)n * 4);
        ls_scale_scalar(y1, 16.0f + shift, n);
        ls_scale_avx512(y2, 16.0f + shift, n);
        scale_row_same &= same(y1, y2, n);
        if (n % 2) continue;
        int64_t half = n / 2;
        for (int64_t i = 0; i < half; i++) {
            double angle = (double)(i + 1) * (double)(n + 7) * 0.37; /* cos/sin pairs */
            angles[2 * i] = (float)cos(angle), angles[2 * i + 1] = (float)sin(angle);
            if (i % 13 == 5) angles[2 * i] = value(), angles[2 * i + 1] = value(); /* any */
        }
        /* NaNs of two payloads: NaN in, NaN out, in the same places */
        float saved[2] = {a[0], a[n - 1]};
        if (n % 8 == 2) a[0] = from_bits(0x7fc00001u), a[n - 1] = from_bits(0xffc00002u);
        for (int style = 0; style < 2; style++) {
            ls_rope_head_scalar(y1, a, angles, half, style);
            ls_rope_head_avx512(y2, a, angles, half, style);
            rope_same &= same_or_both_nan(y1, y2, n);
            memcpy(x2, a, (size_t)n * 4);
            ls_rope_head_avx512(x2, x2, angles, half, style);
            rope_in_place &= same_or_both_nan(y1, x2, n);
        }
        a[0] = saved[0], a[n - 1] = saved[1];
    }
    CHECK(glu_same, "GLU rows (silu, gelu; in place too): AVX-512 bits == scalar bits", "%s", "");
    CHECK(exp_same, "softmax exp rows (in place too): AVX-512 bits == scalar bits", "%s", "");
    CHECK(scale_row_same, "embedding row scale: AVX-512 bits == scalar bits", "%s", "");
    CHECK(rope_same, "RoPE heads, split and interleaved: AVX-512 bits == scalar bits", "%s", "");
    CHECK(rope_in_place, "RoPE heads in place: AVX-512 bits == scalar bits", "%s", "");

    /* RoPE rotates the documented pairs: split halves pair x[i] with x[i + half],
     * interleaved x[2i] with x[2i + 1]; a rotation by 90 degrees maps (x0, x1) to (-x1, x0) */
    {
        float xs[6] = {1, 2, 3, 4, 5, 6}, quarter[6] = {0, 1, 0, 1, 0, 1}, r1[6], r2[6];
        ls_rope_head_avx512(r1, xs, quarter, 3, 0);
        ls_rope_head_avx512(r2, xs, quarter, 3, 1);
        int ok = r1[0] == -4 && r1[3] == 1 && r1[2] == -6 && r1[5] == 3 && r2[0] == -2 && r2[1] == 1 &&
                 r2[4] == -6 && r2[5] == 5;
        CHECK(ok, "RoPE: the pairs of each layout", "split %g %g interleaved %g %g", r1[0], r1[3], r2[0], r2[1]);
    }

    /* the order is the documented one, not just the same in both: lane 0 gets elements 0
     * and 16, and 1e8 + 1 - 1e8 = 0 in float while the other groupings give 1 */
    float big[32] = {0};
    big[0] = 1e8f, big[16] = 1.0f, big[1] = -1e8f;
    float ones[32];
    for (int i = 0; i < 32; i++) ones[i] = 1.0f;
    float o1 = ls_lane_dot_scalar(big, ones, 32), o2 = ls_lane_dot_avx512(big, ones, 32);
    CHECK(o1 == 0.0f && o2 == 0.0f, "lane dot: element 16 joins lane 0 before the fold",
          "scalar %g avx512 %g", o1, o2);
    CHECK_EXIT();
}
