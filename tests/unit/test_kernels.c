/* test_kernels.c — the AVX-512 inner loops of the runtime kernels (src/run/kernels_simd.h)
 * give the same bits as the scalar ones, which fix the reduction order; and the scalar lane
 * dot is within float rounding of a double-precision dot. Lengths cover whole vectors,
 * tails of every size and head/row widths the models use. */
#include "check.h"
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

int main(void) {
    if (ls_isa_select(LS_ISA_AVX512) != 0) {
        printf("# this CPU has no AVX-512: only the scalar loops run\n");
        CHECK(1, "kernels: AVX-512 not available, nothing to compare", "%s", "");
        CHECK_EXIT();
    }
    enum { MAX = 1100 };
    static float a[MAX], b[MAX], w[MAX], y1[MAX], y2[MAX];
    int dot_same = 1, dot_self_same = 1, axpy_same = 1, scale_same = 1, add_same = 1, bound = 1;
    int64_t first_bad = -1;
    double worst = 0;
    for (int64_t n = 1; n <= MAX; n += n < 80 ? 1 : 61) {
        for (int rep = 0; rep < 4; rep++) {
            for (int64_t i = 0; i < n; i++) a[i] = value(), b[i] = value(), w[i] = value();
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
            memcpy(y1, w, (size_t)n * 4);
            memcpy(y2, w, (size_t)n * 4);
            ls_axpy_scalar(y1, scale, a, n);
            ls_axpy_avx512(y2, scale, a, n);
            axpy_same &= same(y1, y2, n);
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
    CHECK(axpy_same, "y += w x: AVX-512 bits == scalar bits", "%s", "");
    CHECK(scale_same, "y = (x scale) w: AVX-512 bits == scalar bits", "%s", "");
    CHECK(add_same, "y = a + b (also in place): AVX-512 bits == scalar bits", "%s", "");

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
