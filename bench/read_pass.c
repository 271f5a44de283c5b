/* read_pass.c — see read_pass.h. */
#include "read_pass.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/huge_pages.h"

#define MAX_THREADS 64

struct lsb_reader {
    uint8_t *data;
    size_t bytes, share; /* share: each thread's bytes, a multiple of 256 */
    int threads;
    atomic_int ready, go; /* helpers waiting; 1: read */
    double end_ms[MAX_THREADS];
    uint64_t sink[MAX_THREADS];
};

typedef struct part {
    lsb_reader *reader;
    int index;
} part;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* 64-byte loads, four chains; the xor keeps them from being optimized away. */
__attribute__((target("avx512f"))) static uint64_t read_avx512(const uint8_t *p, size_t bytes) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 256 <= bytes; i += 256) {
        a0 = _mm512_xor_si512(a0, _mm512_load_si512(p + i));
        a1 = _mm512_xor_si512(a1, _mm512_load_si512(p + i + 64));
        a2 = _mm512_xor_si512(a2, _mm512_load_si512(p + i + 128));
        a3 = _mm512_xor_si512(a3, _mm512_load_si512(p + i + 192));
    }
    a0 = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
    return (uint64_t)_mm512_reduce_add_epi64(a0);
}

static uint64_t read_plain(const uint8_t *p, size_t bytes) {
    uint64_t a = 0, x;
    for (size_t i = 0; i + 8 <= bytes; i += 8) {
        memcpy(&x, p + i, 8);
        a ^= x;
    }
    return a;
}

static void read_share(lsb_reader *r, int index) {
    const uint8_t *p = r->data + (size_t)index * r->share;
    r->sink[index] = __builtin_cpu_supports("avx512f") ? read_avx512(p, r->share) : read_plain(p, r->share);
    r->end_ms[index] = now_ms();
}

static void *helper(void *arg) {
    part *w = arg;
    atomic_fetch_add(&w->reader->ready, 1);
    while (!atomic_load(&w->reader->go)) _mm_pause();
    read_share(w->reader, w->index);
    return NULL;
}

lsb_reader *lsb_reader_create(size_t bytes, int threads) {
    if (threads < 1 || threads > MAX_THREADS || bytes < 256 * (size_t)threads) return NULL;
    lsb_reader *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->threads = threads;
    r->share = bytes / (size_t)threads / 256 * 256;
    r->bytes = r->share * (size_t)threads;
    r->data = ls_alloc_huge(r->bytes);
    if (!r->data) {
        free(r);
        return NULL;
    }
    memset(r->data, 1, r->bytes);
    return r;
}

/* Thread t on CPU t % CPUs, as lockstep's runtime places its threads: an engine may have
 * pinned the caller to one CPU, and helpers would inherit it. */
static void one_cpu(cpu_set_t *set, int t) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    CPU_ZERO(set);
    CPU_SET(cpus > 0 ? (int)(t % cpus) : 0, set);
}

double lsb_reader_pass_ms(lsb_reader *r) {
    pthread_t id[MAX_THREADS];
    part parts[MAX_THREADS];
    int helpers = 0;
    cpu_set_t saved, set;
    bool restore = pthread_getaffinity_np(pthread_self(), sizeof saved, &saved) == 0;
    one_cpu(&set, 0);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set); /* best effort, as below */
    atomic_store(&r->ready, 0);
    atomic_store(&r->go, 0);
    for (; helpers < r->threads - 1; helpers++) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        one_cpu(&set, helpers + 1);
        pthread_attr_setaffinity_np(&attr, sizeof set, &set);
        parts[helpers] = (part){r, helpers + 1};
        int failed = pthread_create(&id[helpers], &attr, helper, &parts[helpers]);
        pthread_attr_destroy(&attr);
        if (failed) break;
    }
    while (atomic_load(&r->ready) < helpers) _mm_pause();
    double start = now_ms();
    atomic_store(&r->go, 1);
    if (helpers < r->threads - 1) start = -1; /* could not start them all */
    else read_share(r, 0);
    for (int t = 0; t < helpers; t++) pthread_join(id[t], NULL);
    if (restore) pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
    if (start < 0) return -1;
    double end = start;
    for (int t = 0; t < r->threads; t++)
        if (r->end_ms[t] > end) end = r->end_ms[t];
    return end - start;
}

void lsb_reader_free(lsb_reader *r) {
    if (!r) return;
    free(r->data);
    free(r);
}
