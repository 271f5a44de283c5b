/* runtime.c — threads, the barrier, and the state a program runs against.
 *
 * Thread 0 is the caller; threads 1..n-1 are started once, pinned to a CPU each, and wait
 * for a call. A call bumps `generation`; every thread then runs its tile of step 0, meets
 * the others at the barrier, runs its tile of step 1, and so on. The barrier is the only
 * atomic in the hot loop. Between calls a worker spins for a while, then sleeps on a futex,
 * so an idle engine does not burn CPUs (at once, after ls_runtime_park).
 *
 * The spin between calls is measured in time-stamp-counter ticks, not in pause
 * instructions: it must outlast what the caller does between two calls while generating
 * (sample a token, write it), or every token would cost a futex wake, a system call the
 * static-memory contract forbids (tests/python/test_contracts.py counts them). When there
 * are more threads than CPUs, a thread that waits yields its CPU after a short spin: the
 * thread it waits for may be queued behind it on the same CPU (without this, a tiny model
 * on 2 CPUs took 0.7 s a token with 3 threads and 2.5 s with 8; with it, 2 and 6 ms). That
 * sched_yield is a system call, so the no-system-call promise holds only for thread counts
 * up to the number of CPUs. */
#include "run/runtime.h"

#include <errno.h>
#include <immintrin.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fmath.h"
#include "base/huge_pages.h"
#include "quant/quant.h"
#include "run/packed_weights.h"

/* TSC ticks a worker spins after its last call before it sleeps: 2^29, 0.15-0.5 s at
 * 1-3.5 GHz, far longer than sampling and writing a token takes. */
#define SPIN_TICKS_BEFORE_SLEEP (1ull << 29)
#define SPIN_BEFORE_YIELD 64 /* pauses before an oversubscribed waiter yields its CPU */

typedef struct worker_arg {
    struct ls_runtime *runtime;
    int thread;
} worker_arg;

struct ls_runtime {
    ls_exec exec;
    worker_arg args[LS_MAX_THREADS];
    int caller_sense;            /* thread 0's barrier sense */
    int n_threads;
    bool oversubscribed;         /* more threads than CPUs: waiters yield (see the top) */
    pthread_t threads[LS_MAX_THREADS];
    bool started[LS_MAX_THREADS];
    _Atomic uint32_t generation; /* bumped once per call (and at shutdown) */
    _Atomic int sleepers;
    _Atomic bool park;           /* set by ls_runtime_park: sleep now, not after the spin */
    _Atomic int arrived;         /* barrier */
    _Atomic int sense;
    _Atomic bool stop;
    void *arena_memory, *kv_memory, *rope_memory, *scratch_memory;
    ls_packed_weights packed;
    int32_t *positions, *sequences; /* the per-row registers, [max_rows] each */
    uint64_t *trace;                /* ls_runtime_trace's buffer, or NULL */
};


static void futex_wait(_Atomic uint32_t *address, uint32_t expected) {
    syscall(SYS_futex, (uint32_t *)address, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *address) {
    syscall(SYS_futex, (uint32_t *)address, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

static void barrier(ls_runtime *r, int *local_sense) {
    *local_sense = !*local_sense;
    if (atomic_fetch_add_explicit(&r->arrived, 1, memory_order_acq_rel) == r->n_threads - 1) {
        atomic_store_explicit(&r->arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&r->sense, *local_sense, memory_order_release);
    } else {
        unsigned spins = 0;
        while (atomic_load_explicit(&r->sense, memory_order_acquire) != *local_sense) {
            _mm_pause();
            if (r->oversubscribed && ++spins % SPIN_BEFORE_YIELD == 0) sched_yield();
        }
    }
}

static void run_program(ls_runtime *r, int thread, int *local_sense) {
    const ls_program *p = r->exec.program;
    uint64_t *tr = r->trace ? r->trace + (size_t)thread * (1 + 2 * (size_t)p->n_steps) : NULL;
    if (tr) tr[0] = __rdtsc();
    for (int32_t i = 0; i < p->n_steps; i++) {
        ls_run_step(&r->exec, &p->steps[i], thread);
        if (tr) tr[1 + 2 * i] = __rdtsc();
        if (p->steps[i].barrier_after) barrier(r, local_sense);
        if (tr) tr[2 + 2 * i] = p->steps[i].barrier_after ? __rdtsc() : tr[1 + 2 * i];
    }
}

static void *worker(void *arg) {
    worker_arg *w = arg;
    ls_runtime *r = w->runtime;
    int local_sense = 0;
    uint32_t seen = 0;
    for (;;) {
        uint32_t now;
        unsigned spins = 0;
        uint64_t spin_start = __rdtsc();
        while ((now = atomic_load_explicit(&r->generation, memory_order_acquire)) == seen) {
            bool parked = atomic_load_explicit(&r->park, memory_order_relaxed);
            if (__rdtsc() - spin_start < SPIN_TICKS_BEFORE_SLEEP && !parked) {
                _mm_pause();
                if (r->oversubscribed && ++spins % SPIN_BEFORE_YIELD == 0) sched_yield();
                continue;
            }
            atomic_fetch_add(&r->sleepers, 1);
            if (atomic_load(&r->generation) == seen) futex_wait(&r->generation, seen);
            atomic_fetch_sub(&r->sleepers, 1);
        }
        seen = now;
        if (atomic_load(&r->stop)) return NULL;
        run_program(r, w->thread, &local_sense);
    }
}

static void pin(pthread_t thread, int index) {
    long n_cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (n_cpus < 1) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)(index % n_cpus), &set);
    pthread_setaffinity_np(thread, sizeof set, &set); /* best effort */
}

/* cos and sin of pos * scale * base^(-2i/dim) / divisor[i], in double, rounded once. */
static void fill_rope(float *out, const ls_rope_table *t, int64_t context) {
    int64_t half = t->dim / 2;
    for (int64_t i = 0; i < half; i++) {
        double frequency = ls_pow(t->base, -2.0 * (double)i / (double)t->dim);
        if (t->freq_divisors) frequency /= (double)t->freq_divisors[i];
        for (int64_t pos = 0; pos < context; pos++) {
            double theta = (double)pos * t->scale * frequency;
            out[(pos * half + i) * 2 + 0] = (float)ls_cos(theta);
            out[(pos * half + i) * 2 + 1] = (float)ls_sin(theta);
        }
    }
}

static void *aligned(size_t bytes, void **memory) {
    *memory = NULL;
    if (posix_memalign(memory, 64, bytes ? bytes : 64)) *memory = NULL;
    return *memory;
}

ls_runtime *ls_runtime_create(const ls_program *p, char *err) {
    ls_runtime *r = calloc(1, sizeof *r);
    if (!r) {
        ls_fail(err, "out of memory");
        return NULL;
    }
    r->n_threads = p->n_threads;
    long n_cpus = sysconf(_SC_NPROCESSORS_ONLN);
    r->oversubscribed = n_cpus > 0 && r->n_threads > n_cpus;
    r->exec.program = p;
    const ls_graph *g = &p->graph;
    int64_t half = g->rope[0].dim / 2;
    size_t kv_bytes = (size_t)p->max_sequences * (size_t)g->n_layers_kv * 2 * (size_t)p->context *
                      (size_t)g->kv_width * sizeof(float);
    r->positions = calloc((size_t)p->max_rows, sizeof *r->positions);
    r->sequences = calloc((size_t)p->max_rows, sizeof *r->sequences);
    r->exec.positions = r->positions;
    r->exec.sequences = r->sequences;
    size_t rope_bytes = (size_t)g->n_rope * (size_t)p->context * (size_t)half * 2 * sizeof(float);
    size_t scratch_bytes = ls_exec_scratch_floats(p) * sizeof(float);
    r->exec.arena = aligned(p->arena_bytes, &r->arena_memory);
    r->exec.kv = r->kv_memory = ls_alloc_huge(kv_bytes);
    float *rope = aligned(rope_bytes, &r->rope_memory);
    r->exec.scratch = aligned(scratch_bytes, &r->scratch_memory);
    if (!r->exec.arena || !r->exec.kv || !rope || !r->exec.scratch || !r->positions || !r->sequences) {
        ls_fail(err, "cannot allocate %.1f MiB for the arena, KV cache and tables",
                (double)(p->arena_bytes + kv_bytes + rope_bytes + scratch_bytes) / (1 << 20));
        ls_runtime_free(r);
        return NULL;
    }
    memset(r->exec.arena, 0, p->arena_bytes);
    memset(r->exec.kv, 0, kv_bytes);
    memset(r->exec.scratch, 0, scratch_bytes); /* attention reads lanes it never wrote (and ignores them) */
    for (int32_t t = 0; t < g->n_rope; t++)
        fill_rope(rope + (size_t)t * (size_t)p->context * (size_t)half * 2, &g->rope[t], p->context);
    r->exec.rope = rope;
    if (ls_packed_weights_create(&r->packed, p, err)) {
        ls_runtime_free(r);
        return NULL;
    }
    r->exec.packed = r->packed.by_node;

    pin(pthread_self(), 0);
    for (int i = 1; i < r->n_threads; i++) {
        r->args[i] = (worker_arg){r, i};
        if (pthread_create(&r->threads[i], NULL, worker, &r->args[i])) {
            ls_fail(err, "cannot start thread %d", i);
            ls_runtime_free(r);
            return NULL;
        }
        r->started[i] = true;
        pin(r->threads[i], i);
    }
    return r;
}

void ls_runtime_free(ls_runtime *r) {
    if (!r) return;
    atomic_store(&r->stop, true);
    atomic_fetch_add(&r->generation, 1);
    futex_wake_all(&r->generation);
    for (int i = 1; i < r->n_threads; i++)
        if (r->started[i]) pthread_join(r->threads[i], NULL);
    free(r->arena_memory);
    free(r->kv_memory);
    free(r->rope_memory);
    free(r->scratch_memory);
    ls_packed_weights_free(&r->packed);
    free(r->positions);
    free(r->sequences);
    free(r);
}

static int check_tokens(const ls_program *p, const int32_t *tokens, int64_t n, char *err) {
    if (n < 1 || n > p->max_rows)
        return ls_fail(err, "a call takes 1 to %lld tokens, not %lld", (long long)p->max_rows,
                       (long long)n);
    int64_t n_vocab = p->graph.nodes[p->graph.output].width;
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return ls_fail(err, "token id %d is outside the vocabulary (0..%lld)", tokens[i],
                           (long long)n_vocab - 1);
    return 0;
}

int ls_runtime_check(const ls_runtime *r, const int32_t *tokens, int64_t n, int64_t position,
                     char *err) {
    const ls_program *p = r->exec.program;
    if (check_tokens(p, tokens, n, err)) return -1;
    if (position < 0 || position + n > p->context)
        return ls_fail(err, "positions %lld..%lld do not fit the context of %lld tokens",
                       (long long)position, (long long)(position + n - 1), (long long)p->context);
    return 0;
}

int ls_runtime_check_batch(const ls_runtime *r, const int32_t *tokens, const int32_t *sequences,
                           const int32_t *positions, int64_t n, char *err) {
    const ls_program *p = r->exec.program;
    if (check_tokens(p, tokens, n, err)) return -1;
    for (int64_t i = 0; i < n; i++) {
        if (sequences[i] < 0 || sequences[i] >= p->max_sequences)
            return ls_fail(err, "row %lld: sequence %d is outside 0..%lld", (long long)i,
                           sequences[i], (long long)p->max_sequences - 1);
        if (positions[i] < 0 || positions[i] >= p->context)
            return ls_fail(err, "row %lld: position %d does not fit the context of %lld tokens",
                           (long long)i, positions[i], (long long)p->context);
    }
    return 0;
}

static const float *forward(ls_runtime *r, const int32_t *tokens, int64_t n) {
    const ls_program *p = r->exec.program;
    memcpy(r->exec.arena + p->buffers[p->tokens_buffer].offset, tokens, (size_t)n * sizeof *tokens);
    r->exec.n_rows = n;
    atomic_store_explicit(&r->park, false, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->generation, 1, memory_order_release);
    if (atomic_load(&r->sleepers) > 0) futex_wake_all(&r->generation);
    run_program(r, 0, &r->caller_sense);
    return (const float *)(r->exec.arena + p->buffers[p->logits_buffer].offset);
}

void ls_runtime_trace(ls_runtime *r, uint64_t *ticks) { r->trace = ticks; }

void ls_runtime_park(ls_runtime *r) {
    atomic_store(&r->park, true);
    while (atomic_load(&r->sleepers) < r->n_threads - 1) _mm_pause();
}

const float *ls_runtime_forward(ls_runtime *r, const int32_t *tokens, int64_t n,
                                int64_t position) {
    for (int64_t i = 0; i < n; i++) {
        r->positions[i] = (int32_t)(position + i);
        r->sequences[i] = 0;
    }
    return forward(r, tokens, n);
}

const float *ls_runtime_forward_batch(ls_runtime *r, const int32_t *tokens,
                                      const int32_t *sequences, const int32_t *positions,
                                      int64_t n) {
    memcpy(r->positions, positions, (size_t)n * sizeof *positions);
    memcpy(r->sequences, sequences, (size_t)n * sizeof *sequences);
    return forward(r, tokens, n);
}
