/* test_sample.c — Philox known answers, the uniform draw, and the sampling chain against a
 * straightforward reference written here (full sort, double precision, libm exp). */
#include "text/sample.h"
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- counting allocations: every malloc/calloc/realloc of the process ------------------ */
static long allocation_count;
#if defined(__SANITIZE_ADDRESS__)
/* from the sanitizer runtime (sanitizer/allocator_interface.h, not shipped with every gcc) */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
static void count_malloc(const volatile void *ptr, size_t size) {
    (void)ptr;
    (void)size;
    allocation_count++;
}
static void count_free(const volatile void *ptr) { (void)ptr; }
static void install_allocation_counter(void) {
    __sanitizer_install_malloc_and_free_hooks(count_malloc, count_free);
}
#else
/* glibc: the program's own malloc family replaces libc's; forward to glibc's internals. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
void *malloc(size_t size) {
    allocation_count++;
    return __libc_malloc(size);
}
void *calloc(size_t count, size_t size) {
    allocation_count++;
    return __libc_calloc(count, size);
}
void *realloc(void *ptr, size_t size) {
    allocation_count++;
    return __libc_realloc(ptr, size);
}
void free(void *ptr) { __libc_free(ptr); }
static void install_allocation_counter(void) {}
#endif

/* ---- test data ------------------------------------------------------------------------- */
static uint64_t rng_state = 12345;
static double random_unit(void) { /* splitmix64 → [0, 1) */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1p-53;
}
static double random_normal(void) {
    double u = random_unit(), v = random_unit();
    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * v);
}

/* ---- the reference: probabilities of every token under the chain ----------------------- */
static const double *sort_keys;
static int compare_desc(const void *a, const void *b) {
    int32_t ia = *(const int32_t *)a, ib = *(const int32_t *)b;
    if (sort_keys[ia] != sort_keys[ib]) return sort_keys[ia] > sort_keys[ib] ? -1 : 1;
    return ia < ib ? -1 : 1;
}

static void reference_probabilities(const float *logits, int32_t n, const ls_sampler_params *p,
                                    const int32_t *recent, int32_t n_recent, double *probs) {
    double *l = malloc((size_t)n * sizeof(double));
    int32_t *order = malloc((size_t)n * sizeof(int32_t));
    double *w = malloc((size_t)n * sizeof(double));
    for (int32_t i = 0; i < n; i++) {
        l[i] = logits[i];
        order[i] = i;
        probs[i] = 0.0;
    }
    if (p->repeat_penalty != 1.0f) {
        int32_t start = n_recent > p->repeat_last_n ? n_recent - p->repeat_last_n : 0;
        for (int32_t i = 0; i < n; i++) {
            int found = 0;
            for (int32_t j = start; j < n_recent; j++) found |= recent[j] == i;
            if (found) l[i] = l[i] > 0 ? l[i] / p->repeat_penalty : l[i] * p->repeat_penalty;
        }
    }
    sort_keys = l;
    qsort(order, (size_t)n, sizeof(int32_t), compare_desc);
    int32_t count = (p->top_k > 0 && p->top_k < n) ? p->top_k : n;
    double sum = 0.0;
    for (int32_t i = 0; i < count; i++) {
        w[i] = exp((l[order[i]] - l[order[0]]) / p->temperature);
        sum += w[i];
    }
    if (p->top_p < 1.0f) {
        double cumulative = 0.0;
        int32_t keep = 0;
        while (keep < count) {
            cumulative += w[keep++] / sum;
            if (cumulative >= p->top_p) break;
        }
        count = keep;
    }
    double kept_sum = 0.0;
    for (int32_t i = 0; i < count; i++) {
        if (p->min_p > 0.0f && w[i] < p->min_p) w[i] = 0.0;
        kept_sum += w[i];
    }
    for (int32_t i = 0; i < count; i++) probs[order[i]] = w[i] / kept_sum;
    free(l);
    free(order);
    free(w);
}

/* ---- checks ---------------------------------------------------------------------------- */
static void test_philox(void) {
    /* Random123's kat_vectors, "philox4x32 10" lines: counter, key → output */
    static const uint32_t vectors[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int v = 0; v < 3; v++) {
        uint32_t out[4];
        ls_philox4x32(vectors[v], vectors[v] + 4, out);
        int same = memcmp(out, vectors[v] + 6, sizeof out) == 0;
        char name[64];
        snprintf(name, sizeof name, "philox4x32-10 known answer %d", v);
        CHECK(same, name, "got %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
    }
}

static void test_uniform(void) {
    CHECK(ls_random_uniform(7, 3, 99) == ls_random_uniform(7, 3, 99),
          "same (seed, sequence, position) → same number", "-");
    int differ_seed = 0, differ_sequence = 0;
    for (uint64_t pos = 0; pos < 100; pos++) {
        differ_seed += ls_random_uniform(7, 3, pos) != ls_random_uniform(8, 3, pos);
        differ_sequence += ls_random_uniform(7, 3, pos) != ls_random_uniform(7, 4, pos);
    }
    CHECK(differ_seed >= 99 && differ_sequence >= 99, "seed and sequence change the numbers",
          "%d %d of 100 differ", differ_seed, differ_sequence);
    /* 10000 positions into 100 bins: chi-square with 99 degrees of freedom */
    int bins[100] = {0};
    float lowest = 1.0f, highest = 0.0f;
    for (uint64_t pos = 0; pos < 10000; pos++) {
        float u = ls_random_uniform(42, 0, pos);
        if (u < lowest) lowest = u;
        if (u > highest) highest = u;
        int b = (int)(u * 100.0f);
        bins[b < 100 ? b : 99]++;
    }
    double chi2 = 0.0;
    for (int b = 0; b < 100; b++) chi2 += (bins[b] - 100.0) * (bins[b] - 100.0) / 100.0;
    /* mean 99, sd 14: 99 + 6 sd is far in the tail; below 50 would be suspiciously even */
    CHECK(chi2 < 183.0 && chi2 > 50.0, "uniform draws pass chi-square (100 bins, 10000 draws)",
          "chi2 = %.1f", chi2);
    CHECK(lowest >= 0.0f && highest < 1.0f, "uniform draws lie in [0, 1)", "%g %g", lowest,
          highest);
}

static void test_greedy(void) {
    ls_sampler_params p = ls_sampler_defaults();
    p.temperature = 0.0f;
    float logits[6] = {1.0f, 3.0f, -2.0f, 3.0f, 0.5f, 3.0f};
    ls_sampler *s = ls_sampler_create(&p, 6);
    int32_t token = ls_sampler_sample(s, logits, NULL, 0, 0, 0);
    CHECK(token == 1, "greedy = argmax, lowest id on ties", "got %d", token);
    ls_sampler_free(s);
    /* with the penalty, the repeated best token loses: 3/2 = 1.5 < 3 */
    p.repeat_penalty = 2.0f;
    s = ls_sampler_create(&p, 6);
    int32_t recent[2] = {1, 3};
    token = ls_sampler_sample(s, logits, recent, 2, 0, 0);
    CHECK(token == 5, "greedy after repetition penalty", "got %d", token);
    ls_sampler_free(s);
    CHECK(ls_sampler_create(&p, 0) == NULL && ls_sampler_create(NULL, 5) == NULL,
          "create refuses an empty vocabulary", "-");
}

/* ls_argmax against the plain loop (first strict improvement) on rows with ties, NaNs,
 * signed zeros and infinities, of every length around the 16-lane blocks. */
static void test_argmax(void) {
    int ok = 1;
    uint64_t state = 12345;
    float x[200];
    for (int n = 1; n <= 200 && ok; n++)
        for (int rep = 0; rep < 40; rep++) {
            for (int i = 0; i < n; i++) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                int kind = (int)(state >> 59); /* 0..31 */
                float v = (float)((int)(state >> 40 & 15) - 8); /* small integers: many ties */
                x[i] = kind == 0 ? NAN : kind == 1 ? -0.0f : kind == 2 ? INFINITY : kind == 3 ? -INFINITY : v;
            }
            int32_t want = 0;
            for (int i = 1; i < n; i++)
                if (x[i] > x[want]) want = i;
            int32_t got = ls_argmax(x, n);
            if (got != want) {
                ok = 0;
                printf("# n %d: got %d, want %d\n", n, got, want);
                break;
            }
        }
    CHECK(ok, "argmax = the plain loop (ties, NaN, signed zeros, infinities, n = 1..200)", "%s", "-");
}

static void test_top_k_only(void) {
    ls_sampler_params p = ls_sampler_defaults();
    p.temperature = 5.0f; /* flat: every kept token is likely */
    p.top_k = 3;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    enum { N = 50 };
    float logits[N];
    for (int i = 0; i < N; i++) logits[i] = (float)random_normal();
    logits[17] = 10.0f;
    logits[4] = 9.0f;
    logits[33] = 9.0f; /* tie with 4 */
    logits[40] = 9.0f; /* tie, higher id: must lose */
    ls_sampler *s = ls_sampler_create(&p, N);
    int counts[N] = {0};
    for (uint64_t pos = 0; pos < 3000; pos++) counts[ls_sampler_sample(s, logits, NULL, 0, 0, pos)]++;
    int others = 3000 - counts[17] - counts[4] - counts[33];
    CHECK(others == 0 && counts[17] > 0 && counts[4] > 0 && counts[33] > 0,
          "top-k 3: only the top 3 appear (ties by lower id)", "17:%d 4:%d 33:%d other:%d",
          counts[17], counts[4], counts[33], others);
    ls_sampler_free(s);
}

/* Empirical frequencies over 20000 positions vs the reference probabilities. */
static void compare_with_reference(const char *name, const ls_sampler_params *p, int32_t n,
                                   int32_t n_recent) {
    float *logits = malloc((size_t)n * sizeof(float));
    double *probs = malloc((size_t)n * sizeof(double));
    long *counts = calloc((size_t)n, sizeof(long));
    int32_t *recent = malloc((size_t)(n_recent + 1) * sizeof(int32_t));
    for (int32_t i = 0; i < n; i++) logits[i] = (float)(2.0 * random_normal());
    for (int32_t i = 0; i < n_recent; i++) recent[i] = (int32_t)(random_unit() * 20.0); /* ids 0..19 */
    for (int32_t i = 0; i < 20; i++) logits[i] = (float)(3.0 + random_normal()); /* repeated ones are strong */
    reference_probabilities(logits, n, p, recent, n_recent, probs);
    ls_sampler *s = ls_sampler_create(p, n);
    const int draws = 20000;
    for (int pos = 0; pos < draws; pos++) {
        int32_t t = ls_sampler_sample(s, logits, recent, n_recent, 5, (uint64_t)pos);
        if (t >= 0 && t < n) counts[t]++;
    }
    /* chi-square over tokens expected >= 5 times, the rest pooled in one bin */
    double chi2 = 0.0, pooled_expected = 0.0;
    long pooled_observed = 0, impossible = 0;
    int bins = 0, possible = 0;
    for (int32_t i = 0; i < n; i++) {
        double expected = probs[i] * draws;
        if (probs[i] == 0.0) {
            impossible += counts[i];
        } else if (possible++, expected >= 5.0) {
            chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
            bins++;
        } else {
            pooled_expected += expected;
            pooled_observed += counts[i];
        }
    }
    if (pooled_expected > 0.0) {
        chi2 += (pooled_observed - pooled_expected) * (pooled_observed - pooled_expected) /
                pooled_expected;
        bins++;
    }
    double dof = bins > 1 ? bins - 1 : 1;
    double limit = dof + 6.0 * sqrt(2.0 * dof) + 10.0;
    char label[128];
    snprintf(label, sizeof label, "frequencies match reference: %s", name);
    CHECK(impossible == 0 && chi2 < limit, label, "impossible %ld, chi2 %.1f, limit %.1f (%d bins)",
          impossible, chi2, limit, bins);
    printf("# %s: %d bins, %d tokens possible, chi2 %.1f (dof %.0f)\n", name, bins, possible, chi2, dof);
    ls_sampler_free(s);
    free(logits);
    free(probs);
    free(counts);
    free(recent);
}

static void test_against_reference(void) {
    ls_sampler_params p = ls_sampler_defaults();
    p.seed = 2024;
    compare_with_reference("defaults (T 0.8, k 40, p 0.95, min-p 0.05)", &p, 1000, 0);
    p.temperature = 1.3f; p.top_k = 0; p.top_p = 1.0f; p.min_p = 0.0f;
    compare_with_reference("T 1.3 only", &p, 300, 0);
    /* flat enough that the best 1024 of 1500 hold less than 0.9: the prefix must grow */
    p.temperature = 3.0f; p.top_k = 0; p.top_p = 0.9f; p.min_p = 0.0f;
    compare_with_reference("T 3, top-p 0.9 without top-k, 1500 tokens", &p, 1500, 0);
    p.temperature = 1.5f; p.top_k = 100; p.top_p = 0.8f; p.min_p = 0.1f;
    compare_with_reference("T 1.5, k 100, p 0.8, min-p 0.1", &p, 2000, 0);
    p.temperature = 1.0f; p.top_k = 0; p.top_p = 1.0f; p.min_p = 0.02f;
    compare_with_reference("min-p 0.02 only", &p, 1000, 0);
    p.temperature = 1.0f; p.top_k = 50; p.top_p = 1.0f; p.min_p = 0.0f;
    p.repeat_penalty = 1.5f; p.repeat_last_n = 16;
    compare_with_reference("penalty 1.5 over the last 16, k 50", &p, 1000, 40);
}

static void test_large_vocabulary_and_no_allocation(void) {
    enum { N = 262144 };
    float *logits = malloc(N * sizeof(float));
    for (int32_t i = 0; i < N; i++) logits[i] = (float)(3.0 * random_normal());
    int32_t recent[64];
    for (int i = 0; i < 64; i++) recent[i] = (int32_t)(random_unit() * N);
    ls_sampler_params p = ls_sampler_defaults();
    p.repeat_penalty = 1.1f;
    ls_sampler *s = ls_sampler_create(&p, N);
    long before = allocation_count;
    int32_t first = -1, same = 1;
    clock_t start = clock();
    for (uint64_t pos = 0; pos < 200; pos++) {
        int32_t t = ls_sampler_sample(s, logits, recent, 64, 0, pos);
        if (pos == 0) first = t;
    }
    double ms = (double)(clock() - start) / CLOCKS_PER_SEC * 1e3 / 200.0;
    long allocations = allocation_count - before;
    same = ls_sampler_sample(s, logits, recent, 64, 0, 0) == first;
    CHECK(allocations == 0, "sampling allocates nothing (262144 vocab, 200 draws)", "%ld",
          allocations);
    CHECK(same, "same position → same token", "-");
    printf("# 262144-token vocabulary, defaults + penalty: %.3f ms per sample\n", ms);
    CHECK(ms < 20.0, "sampling a 262144 vocabulary with top-k 40 is fast", "%.3f ms", ms);

    ls_sampler_params q = p;
    q.top_k = 0; /* top-p 0.95 over the whole vocabulary */
    ls_sampler *t = ls_sampler_create(&q, N);
    before = allocation_count;
    start = clock();
    for (uint64_t pos = 0; pos < 5; pos++) ls_sampler_sample(t, logits, recent, 64, 0, pos);
    ms = (double)(clock() - start) / CLOCKS_PER_SEC * 1e3 / 5.0;
    printf("# 262144-token vocabulary, top-p 0.95 without top-k: %.3f ms per sample\n", ms);
    CHECK(allocation_count == before, "top-p without top-k allocates nothing", "-");
    ls_sampler_free(t);
    ls_sampler_free(s);
    free(logits);
}

int main(void) {
    install_allocation_counter();
    long before = allocation_count;
    ls_sampler_params defaults = ls_sampler_defaults();
    ls_sampler_free(ls_sampler_create(&defaults, 10));
    CHECK(allocation_count > before, "the allocation counter sees allocations", "-");
    test_philox();
    test_uniform();
    test_greedy();
    test_argmax();
    test_top_k_only();
    test_against_reference();
    test_large_vocabulary_and_no_allocation();
    CHECK_EXIT();
}
