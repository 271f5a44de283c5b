/* fmath.c — the colder elementary functions: logf, tanhf (computed in double and rounded
 * once, so within about half an ulp of float), and the double-precision sin, cos and pow
 * used to build RoPE tables at load. No libm: every step is an IEEE add, multiply,
 * divide or bit manipulation, in the order written. Bounds are in fmath.h. */
#include "base/fmath.h"

#include <stdint.h>
#include <string.h>

static double double_from_bits(uint64_t bits) {
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static uint64_t double_bits(double d) {
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return bits;
}

static double double_nan(void) { return double_from_bits(0x7ff8000000000000ull); }
static double double_inf(void) { return double_from_bits(0x7ff0000000000000ull); }

/* ln 2 = LN2_HI + LN2_LO to ~106 bits (LN2_HI is ln 2 rounded to double). */
#define LN2_HI 0x1.62e42fefa39efp-1
#define LN2_LO 0x1.abc9e3b39803fp-56
/* Cody–Waite split for exp: LN2_CW_HI has 32 significant bits, so k·LN2_CW_HI is exact
 * for |k| < 2^21. */
#define LN2_CW_HI 0x1.62e42fefp-1
#define LN2_CW_LO 0x1.473de6af278edp-34

/* Exact sum a + b = s + e (Knuth's TwoSum, 6 operations, no precondition). */
static void two_sum(double a, double b, double *s, double *e) {
    double sum = a + b;
    double bv = sum - a;
    double av = sum - bv;
    *s = sum;
    *e = (a - av) + (b - bv);
}

/* Exact product a·b = p + e without FMA (Dekker: split each factor into 26-bit halves).
 * Requires |a|, |b| < 2^995 so the split does not overflow. */
static void split(double a, double *hi, double *lo) {
    double t = 134217729.0 * a; /* 2^27 + 1 */
    *hi = t - (t - a);
    *lo = a - *hi;
}

static void two_product(double a, double b, double *p, double *e) {
    double ah, al, bh, bl;
    *p = a * b;
    split(a, &ah, &al);
    split(b, &bh, &bl);
    *e = ((ah * bh - *p) + ah * bl + al * bh) + al * bl;
}

/* 2^k for k in [-1022, 1023], from exponent bits. */
static double power_of_two(int k) {
    return double_from_bits((uint64_t)(k + 1023) << 52);
}

/* e^r − 1 for |r| <= 0.35: r + r²·Σ_{n=0..13} r^n/(n+2)! (Taylor; truncation < 1e-18
 * relative), Horner from the highest term. */
static double expm1_reduced(double r) {
    static const double inverse_factorial[14] = {
        1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
        1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0,
        1.0 / 87178291200.0, 1.0 / 1307674368000.0};
    double q = inverse_factorial[13];
    for (int n = 12; n >= 0; n--) q = q * r + inverse_factorial[n];
    return r + (r * r) * q;
}

/* e^(hi + lo), |lo| <= ulp(hi). k = round(hi / ln2); ρ = (hi − k·LN2_CW_HI) + c with
 * c = lo − k·LN2_CW_LO; e^ρ ≈ 1 + (em + c·(1 + em)), em = expm1(hi − k·LN2_CW_HI);
 * then two exact-exponent scalings by 2^(k/2) and 2^(k − k/2) (one rounding, subnormals
 * right). */
static double exp_double_double(double hi, double lo) {
    if (hi != hi) return hi + hi;
    if (hi > 709.8) return double_inf();
    if (hi < -745.2) return 0.0;
    const double shifter = 0x1.8p52;
    double kf = (hi * 0x1.71547652b82fep+0 + shifter) - shifter;
    int k = (int)kf;
    double r = hi - kf * LN2_CW_HI;
    double c = lo - kf * LN2_CW_LO;
    double em = expm1_reduced(r);
    double p = 1.0 + (em + c * (1.0 + em));
    int k1 = k / 2;
    return (p * power_of_two(k1)) * power_of_two(k - k1);
}

/* ln x as a double-double (hi, lo) for finite x > 0.
 * x = 2^e·m with m in (sqrt(1/2), sqrt 2]; f = m − 1 (exact); s = f/(m + 1) to double-double
 * precision; ln m = 2 atanh s = 2s + s·z·Σ_{n=0..11} 2z^n/(2n+3), z = s² <= 0.0295
 * (truncation < 1e-19 relative); ln x = e·ln 2 + ln m, summed in double-double. */
static void log_double_double(double x, double *out_hi, double *out_lo) {
    int e = 0;
    if (x < 0x1p-1022) {
        x *= 0x1p54;
        e = -54;
    }
    uint64_t bits = double_bits(x);
    e += (int)(bits >> 52) - 1023;
    double m = double_from_bits((bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull);
    if (m > 0x1.6a09e667f3bcdp+0) {
        m *= 0.5;
        e += 1;
    }
    double f = m - 1.0;
    double dh, dl;
    two_sum(m, 1.0, &dh, &dl);
    double sh = f / dh;
    double ph, pl;
    two_product(sh, dh, &ph, &pl);
    double sl = (((f - ph) - pl) - sh * dl) / dh;

    double z = sh * sh;
    double series = 2.0 / 25.0;
    for (int n = 10; n >= 0; n--) series = series * z + 2.0 / (double)(2 * n + 3);
    double correction = (sh * z) * series;

    /* ln m = 2sh + (2sl + correction) */
    double tail = 2.0 * sl + correction;
    double log_m_hi = 2.0 * sh + tail;
    double log_m_lo = tail - (log_m_hi - 2.0 * sh);

    /* e·ln 2 = (e·LN2_HI exactly as a pair) + e·LN2_LO */
    double eh, el;
    two_product((double)e, LN2_HI, &eh, &el);
    el += (double)e * LN2_LO;

    double sum, sum_err;
    two_sum(eh, log_m_hi, &sum, &sum_err);
    sum_err += el + log_m_lo;
    *out_hi = sum + sum_err;
    *out_lo = sum_err - (*out_hi - sum);
}

float ls_logf(float x) {
    if (x != x) return x + x;
    if (x < 0.0f) return (float)double_nan();
    if (x == 0.0f) return (float)-double_inf();
    if (x == (float)double_inf()) return x;
    double hi, lo;
    log_double_double((double)x, &hi, &lo);
    return (float)(hi + lo);
}

static int signbit_float(float x) { return (int)(ls_float_bits(x) >> 31); }

/* tanh in double, rounded once: |x| < 0.17: em/(em + 2) with em = e^(2|x|) − 1 (no
 * cancellation); else 1 − 2/(e^(2|x|) + 1); sign restored at the end. */
float ls_tanhf(float x) {
    if (x != x) return x + x;
    double ax = x < 0.0f ? -(double)x : (double)x;
    double t;
    if (ax < 0.17) {
        double em = expm1_reduced(2.0 * ax);
        t = em / (em + 2.0);
    } else if (ax > 20.0) {
        t = 1.0;
    } else {
        t = 1.0 - 2.0 / (exp_double_double(2.0 * ax, 0.0) + 1.0);
    }
    return (float)(signbit_float(x) ? -t : t);
}

/* ---- sin and cos ---------------------------------------------------------------------
 * Reduction: k = round(x·2/pi), y = x − k·pi/2 with pi/2 = P1 + P2 + P3 (33 + 33 + 53 bits):
 * x − k·P1 and k·P2 are exact for |k| < 2^20, the rest is carried as a double-double
 * (hi, lo), |hi| <= pi/4. Kernels on [-pi/4, pi/4], Taylor (truncation < 1e-17):
 *   sin(hi + lo) = hi + hi³·S(hi²) + lo·(1 − hi²/2)
 *   cos(hi + lo) = 1 − hi²/2 + hi⁴·C(hi²) − lo·hi, with 1 − hi²/2 summed carefully.
 * Quadrant k mod 4 picks ±sin or ±cos. */
#define PIO2_1 0x1.921fb544p+0
#define PIO2_2 0x1.0b4611a6p-34
#define PIO2_3 0x1.3198a2e037073p-69

static double sin_kernel(double hi, double lo) {
    double z = hi * hi;
    /* S(z) = −1/3! + z/5! − z²/7! + ... + z⁶/15! */
    double s = 1.0 / 1307674368000.0;
    s = s * z - 1.0 / 6227020800.0;
    s = s * z + 1.0 / 39916800.0;
    s = s * z - 1.0 / 362880.0;
    s = s * z + 1.0 / 5040.0;
    s = s * z - 1.0 / 120.0;
    s = s * z + 1.0 / 6.0;
    /* now s = 1/3! − z/5! + ...; sin = hi − hi·z·s */
    return hi + (lo * (1.0 - 0.5 * z) - (hi * z) * s);
}

static double cos_kernel(double hi, double lo) {
    double z = hi * hi;
    /* C(z) = 1/4! − z/6! + z²/8! − ... + z⁶/16! (cos = 1 − z/2 + z²·C) */
    double c = 1.0 / 20922789888000.0;
    c = c * z - 1.0 / 87178291200.0;
    c = c * z + 1.0 / 479001600.0;
    c = c * z - 1.0 / 3628800.0;
    c = c * z + 1.0 / 40320.0;
    c = c * z - 1.0 / 720.0;
    c = c * z + 1.0 / 24.0;
    double half_z = 0.5 * z;
    double w = 1.0 - half_z;
    /* w rounds; recover the part of (1 − half_z) that w lost, exactly (|half_z| <= 0.31) */
    double lost = (1.0 - w) - half_z;
    return w + (lost + ((z * z) * c - hi * lo));
}

/* Reduces x; returns the quadrant (k mod 4), or -1 when |x| is out of range or NaN. */
static int reduce_half_pi(double x, double *hi, double *lo) {
    if (!(x < 0x1p30 && x > -0x1p30)) return -1;
    const double shifter = 0x1.8p52;
    double kf = (x * 0x1.45f306dc9c883p-1 + shifter) - shifter;
    double r1 = x - kf * PIO2_1; /* exact */
    double a = kf * PIO2_2;      /* exact */
    double y, ye;
    two_sum(r1, -a, &y, &ye);
    double tail = ye - kf * PIO2_3;
    *hi = y + tail;
    *lo = tail - (*hi - y);
    return (int)((int64_t)kf & 3);
}

double ls_sin(double x) {
    double hi, lo;
    int quadrant = reduce_half_pi(x, &hi, &lo);
    if (quadrant < 0) return double_nan();
    if (x == 0.0) return x; /* keeps the sign of zero */
    switch (quadrant) {
    case 0: return sin_kernel(hi, lo);
    case 1: return cos_kernel(hi, lo);
    case 2: return -sin_kernel(hi, lo);
    default: return -cos_kernel(hi, lo);
    }
}

double ls_cos(double x) {
    double hi, lo;
    int quadrant = reduce_half_pi(x, &hi, &lo);
    if (quadrant < 0) return double_nan();
    switch (quadrant) {
    case 0: return cos_kernel(hi, lo);
    case 1: return -sin_kernel(hi, lo);
    case 2: return -cos_kernel(hi, lo);
    default: return sin_kernel(hi, lo);
    }
}

/* base^exponent = e^(exponent · ln base), with ln base and the product in double-double. */
double ls_pow(double base, double exponent) {
    if (exponent == 0.0) return 1.0;
    if (base != base || exponent != exponent) return base + exponent;
    if (base < 0.0) return double_nan();
    if (base == 1.0) return 1.0;
    if (base == 0.0) return exponent > 0.0 ? 0.0 : double_inf();
    if (base == double_inf()) return exponent > 0.0 ? double_inf() : 0.0;
    double lh, ll;
    log_double_double(base, &lh, &ll);
    double y = exponent * lh;
    if (!(y < 1000.0 && y > -1000.0)) return exp_double_double(y, 0.0); /* 0, inf */
    double ph, pl;
    two_product(exponent, lh, &ph, &pl);
    pl += exponent * ll;
    double hi = ph + pl;
    double lo = pl - (hi - ph);
    return exp_double_double(hi, lo);
}
