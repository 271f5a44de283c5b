/* test_fmath.c — lockstep's own math against libm (tests may call libm; the engine may not).
 * Error is measured in ulps of the exact result's format (float or double), with the
 * reference computed in a wider format (double for float functions, long double for double
 * ones) so the reference's own error is negligible. */
#include "base/fmath.h"
#include "check.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Spacing of floats at |ref| (subnormal spacing below FLT_MIN). */
static double float_ulp(double ref) {
    double a = fabs(ref);
    if (a < FLT_MIN) return ldexp(1.0, -149);
    int e;
    frexp(a, &e); /* a = m·2^e, m in [0.5, 1) */
    return ldexp(1.0, e - 24);
}

static long double double_ulp(long double ref) {
    long double a = fabsl(ref);
    if (a < DBL_MIN) return ldexpl(1.0L, -1074);
    int e;
    frexpl(a, &e);
    return ldexpl(1.0L, e - 53);
}

static float from_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_random(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double random_unit(void) { return (double)(next_random() >> 11) * 0x1p-53; }

typedef struct {
    double max_ulp;
    double max_abs;
    double worst_x;
    long count;
} error_stats;

static void track_float(error_stats *s, float x, float got, double ref) {
    if (isinf((float)ref)) { /* the exact result overflows float: only inf is right */
        if (got != (float)ref) {
            s->max_ulp = INFINITY;
            s->worst_x = x;
        }
        s->count++;
        return;
    }
    double err = fabs((double)got - ref);
    double ulps = err / float_ulp(ref);
    if (ulps > s->max_ulp) {
        s->max_ulp = ulps;
        s->worst_x = x;
    }
    if (err > s->max_abs) s->max_abs = err;
    s->count++;
}

static void test_expf(void) {
    error_stats s = {0};
    /* every 64th float in [-104, 89] (both signs), then random values */
    for (uint32_t b = 0; b < 0x7f800000u; b += 64) {
        float x = from_bits(b);
        if (x > 89.0f) break;
        track_float(&s, x, ls_expf(x), exp((double)x));
        if (x <= 104.0f) track_float(&s, -x, ls_expf(-x), exp(-(double)x));
    }
    for (int i = 0; i < 4000000; i++) {
        float x = (float)(random_unit() * 193.0 - 104.0);
        track_float(&s, x, ls_expf(x), exp((double)x));
    }
    printf("# ls_expf: %ld values, max %.3f ulp at x=%.9g\n", s.count, s.max_ulp, s.worst_x);
    CHECK(s.max_ulp <= 1.5, "expf max error <= 1.5 ulp", "max %.3f ulp at %.9g", s.max_ulp, s.worst_x);

    CHECK(ls_expf(0.0f) == 1.0f, "expf(0) == 1", "%.9g", ls_expf(0.0f));
    CHECK(isnan(ls_expf(NAN)), "expf(NaN) is NaN", "%g", ls_expf(NAN));
    CHECK(ls_expf(INFINITY) == INFINITY, "expf(+inf) = +inf", "%g", ls_expf(INFINITY));
    CHECK(ls_expf(-INFINITY) == 0.0f, "expf(-inf) = 0", "%g", ls_expf(-INFINITY));
    float last_finite = 88.0f; /* the largest float whose exp rounds to a finite float */
    while (isfinite((float)exp((double)nextafterf(last_finite, INFINITY))))
        last_finite = nextafterf(last_finite, INFINITY);
    float first_overflow = nextafterf(last_finite, INFINITY);
    printf("# float exp overflows above %.9g\n", last_finite);
    CHECK(isfinite(ls_expf(last_finite)) && ls_expf(first_overflow) == INFINITY,
          "expf overflows exactly where float exp does", "%g %g", ls_expf(last_finite),
          ls_expf(first_overflow));
    CHECK(ls_expf(-103.98f) == 0.0f && ls_expf(-103.9f) > 0.0f && ls_expf(-1000.0f) == 0.0f,
          "expf underflows to 0 below -103.97", "%g %g", ls_expf(-103.98f), ls_expf(-103.9f));
    CHECK(ls_expf(-100.0f) == expf(-100.0f), "expf subnormal result", "%a vs %a",
          ls_expf(-100.0f), expf(-100.0f));
}

static void test_logf(void) {
    error_stats s = {0};
    for (uint32_t b = 1; b < 0x7f800000u; b += 64) {
        float x = from_bits(b);
        track_float(&s, x, ls_logf(x), log((double)x));
    }
    for (int i = 0; i < 2000000; i++) {
        float x = (float)(random_unit() * 4.0);
        if (x > 0.0f) track_float(&s, x, ls_logf(x), log((double)x));
    }
    printf("# ls_logf: %ld values, max %.3f ulp at x=%.9g\n", s.count, s.max_ulp, s.worst_x);
    CHECK(s.max_ulp <= 1.0, "logf max error <= 1 ulp", "max %.3f ulp at %.9g", s.max_ulp, s.worst_x);
    CHECK(ls_logf(1.0f) == 0.0f, "logf(1) == 0", "%g", ls_logf(1.0f));
    CHECK(ls_logf(0.0f) == -INFINITY && ls_logf(-0.0f) == -INFINITY, "logf(0) = -inf", "%g",
          ls_logf(0.0f));
    CHECK(isnan(ls_logf(-1.0f)) && isnan(ls_logf(NAN)) && isnan(ls_logf(-INFINITY)),
          "logf of negative or NaN is NaN", "%g", ls_logf(-1.0f));
    CHECK(ls_logf(INFINITY) == INFINITY, "logf(inf) = inf", "%g", ls_logf(INFINITY));
    CHECK(ls_logf(from_bits(1)) == logf(from_bits(1)), "logf(smallest subnormal)", "%a",
          ls_logf(from_bits(1)));
}

static void test_tanhf(void) {
    error_stats s = {0};
    for (uint32_t b = 0; b < 0x7f800000u; b += 64) {
        float x = from_bits(b);
        if (x > 12.0f) break;
        track_float(&s, x, ls_tanhf(x), tanh((double)x));
        track_float(&s, -x, ls_tanhf(-x), tanh(-(double)x));
    }
    for (int i = 0; i < 2000000; i++) {
        float x = (float)(random_unit() * 20.0 - 10.0);
        track_float(&s, x, ls_tanhf(x), tanh((double)x));
    }
    printf("# ls_tanhf: %ld values, max %.3f ulp, max abs %.3g\n", s.count, s.max_ulp, s.max_abs);
    CHECK(s.max_abs <= 1e-7, "tanhf abs error <= 1e-7", "max %.3g", s.max_abs);
    CHECK(s.max_ulp <= 1.0, "tanhf max error <= 1 ulp", "max %.3f ulp at %.9g", s.max_ulp, s.worst_x);
    CHECK(ls_tanhf(100.0f) == 1.0f && ls_tanhf(-INFINITY) == -1.0f && isnan(ls_tanhf(NAN)),
          "tanhf special values", "%g %g", ls_tanhf(100.0f), ls_tanhf(-INFINITY));
    CHECK(signbit(ls_tanhf(-0.0f)) && ls_tanhf(-0.0f) == 0.0f, "tanhf(-0) = -0", "%g",
          ls_tanhf(-0.0f));
}

static void test_silu_gelu(void) {
    error_stats silu = {0}, gelu = {0};
    double gelu_scaled = 0.0;
    for (int i = 0; i < 3000000; i++) {
        float x = (float)(random_unit() * 60.0 - 30.0);
        if (i % 3 == 0) x = (float)(random_unit() * 8.0 - 4.0);
        double xd = x;
        double silu_ref = xd / (1.0 + exp(-xd));
        if (fabs(silu_ref) >= 1e-30) track_float(&silu, x, ls_silu(x), silu_ref);
        double u = sqrt(2.0 / M_PI) * (xd + 0.044715 * xd * xd * xd);
        double gelu_ref = 0.5 * xd * (1.0 + tanh(u));
        float g = ls_gelu_tanh(x);
        double scaled = fabs((double)g - gelu_ref) / fmax(1.0, fabs(xd));
        if (scaled > gelu_scaled) gelu_scaled = scaled;
        track_float(&gelu, x, g, gelu_ref);
    }
    printf("# ls_silu: max %.3f ulp; ls_gelu_tanh: max abs/max(1,|x|) %.3g\n", silu.max_ulp,
           gelu_scaled);
    CHECK(silu.max_ulp <= 2.5, "silu max error <= 2.5 ulp", "max %.3f ulp at %.9g", silu.max_ulp,
          silu.worst_x);
    CHECK(gelu_scaled <= 2e-7, "gelu_tanh abs error <= 2e-7 max(1,|x|)", "max %.3g", gelu_scaled);
    CHECK(ls_silu(-200.0f) == 0.0f && ls_silu(200.0f) == 200.0f && ls_gelu_tanh(1e20f) == 1e20f &&
              ls_gelu_tanh(-1e20f) == 0.0f && ls_gelu_tanh(0.0f) == 0.0f,
          "silu/gelu saturate cleanly", "%g %g %g", ls_silu(-200.0f), ls_gelu_tanh(1e20f),
          ls_gelu_tanh(-1e20f));
    CHECK(isnan(ls_silu(NAN)) && isnan(ls_gelu_tanh(NAN)), "silu/gelu propagate NaN", "-");
}

typedef struct {
    long double max_ulp;
    long double max_rel;
    double worst_x;
} double_stats;

static void track_double(double_stats *s, double x, double got, long double ref) {
    long double err = fabsl((long double)got - ref);
    long double ulps = err / double_ulp(ref);
    if (ulps > s->max_ulp) {
        s->max_ulp = ulps;
        s->worst_x = x;
    }
    if (fabsl(ref) > 1e-300L && err / fabsl(ref) > s->max_rel) s->max_rel = err / fabsl(ref);
}

static void test_sin_cos(void) {
    double_stats s = {0}, c = {0};
    /* RoPE: angle p · base^(-2i/d) for bases 1e4 and 1e6, d = 128, p up to 131072 */
    const double bases[2] = {1e4, 1e6};
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 64; i++) {
            double freq = powl(bases[b], -(long double)i / 64.0L);
            for (int p = 0; p <= 131072; p += (b == 0 ? 1 : 7)) {
                double angle = (double)p * freq;
                track_double(&s, angle, ls_sin(angle), sinl(angle));
                track_double(&c, angle, ls_cos(angle), cosl(angle));
            }
        }
    for (int i = 0; i < 2000000; i++) {
        double x = (random_unit() * 2.0 - 1.0) * ldexp(1.0, (int)(next_random() % 21));
        track_double(&s, x, ls_sin(x), sinl(x));
        track_double(&c, x, ls_cos(x), cosl(x));
    }
    /* near the zeros: doubles nearest k·pi/2 */
    for (int k = 1; k < 600000; k += 7) {
        double x = (double)((long double)k * 1.57079632679489661923132169163975144L);
        track_double(&s, x, ls_sin(x), sinl(x));
        track_double(&c, x, ls_cos(x), cosl(x));
    }
    printf("# ls_sin: max %.3Lf ulp (at %.17g); ls_cos: max %.3Lf ulp (at %.17g)\n", s.max_ulp,
           s.worst_x, c.max_ulp, c.worst_x);
    CHECK(s.max_ulp <= 1.5, "sin max error <= 1.5 ulp for |x| <= 2^20", "max %.3Lf at %.17g",
          s.max_ulp, s.worst_x);
    CHECK(c.max_ulp <= 1.5, "cos max error <= 1.5 ulp for |x| <= 2^20", "max %.3Lf at %.17g",
          c.max_ulp, c.worst_x);
    CHECK(ls_sin(0.0) == 0.0 && signbit(ls_sin(-0.0)) && ls_cos(0.0) == 1.0,
          "sin/cos at zero", "%g %g", ls_sin(-0.0), ls_cos(0.0));
    CHECK(isnan(ls_sin(NAN)) && isnan(ls_cos(INFINITY)) && isnan(ls_sin(1e300)),
          "sin/cos of NaN, inf, out of range: NaN", "%g", ls_sin(1e300));
}

static void test_pow(void) {
    double_stats s = {0};
    const double bases[4] = {1e4, 1e6, 5e5, 10000.0 * 8.0};
    for (int b = 0; b < 4; b++)
        for (int d = 32; d <= 256; d *= 2)
            for (int i = 0; i < d; i++) {
                double e = -(double)(2 * i) / (double)d;
                track_double(&s, bases[b], ls_pow(bases[b], e), powl(bases[b], e));
            }
    for (int i = 0; i < 1000000; i++) {
        double base = random_unit() * 1e9;
        if (i % 2) base = exp(random_unit() * 40.0 - 20.0);
        double e = random_unit() * 4.0 - 2.0;
        if (base > 0) track_double(&s, base, ls_pow(base, e), powl(base, e));
    }
    printf("# ls_pow: max %.3Lf ulp, max relative %.3Lg\n", s.max_ulp, s.max_rel);
    CHECK(s.max_rel < 5e-16L, "pow relative error < 5e-16", "max %.3Lg at base %.17g", s.max_rel,
          s.worst_x);
    CHECK(ls_pow(10000.0, 0.0) == 1.0 && ls_pow(2.0, 10.0) == 1024.0 && ls_pow(1e4, 0.5) == 100.0,
          "pow exact cases", "%.17g %.17g", ls_pow(2.0, 10.0), ls_pow(1e4, 0.5));
    CHECK(ls_pow(10.0, 400.0) == INFINITY && ls_pow(10.0, -400.0) == 0.0 &&
              isnan(ls_pow(-2.0, 0.5)) && isnan(ls_pow(NAN, 1.0)),
          "pow overflow, underflow, bad base", "%g %g", ls_pow(10.0, 400.0), ls_pow(10.0, -400.0));
    CHECK(ls_pow(2.0, -1074.0) == ldexp(1.0, -1074), "pow subnormal result", "%a",
          ls_pow(2.0, -1074.0));
}

static void report_speed(void) {
    static float data[1 << 16];
    for (int i = 0; i < (1 << 16); i++) data[i] = (float)(random_unit() * 20.0 - 10.0);
    float sink = 0.0f;
    clock_t start = clock();
    for (int rep = 0; rep < 100; rep++)
        for (int i = 0; i < (1 << 16); i++) sink += ls_expf(data[i]);
    double ns = (double)(clock() - start) / CLOCKS_PER_SEC * 1e9 / (100.0 * (1 << 16));
    printf("# ls_expf: %.2f ns per call (scalar loop with a serial sum) %g\n", ns, sink);
}

int main(void) {
    test_expf();
    test_logf();
    test_tanhf();
    test_silu_gelu();
    test_sin_cos();
    test_pow();
    report_speed();
    CHECK_EXIT();
}
