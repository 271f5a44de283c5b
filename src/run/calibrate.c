/* calibrate.c — measuring read bandwidth, kernel throughput and barrier cost (calibrate.h).
 *
 * A measurement runs a job on T threads at once: a team of T pinned threads (thread i on CPU
 * i, the caller on CPU 0) meets at a spin barrier, the clock starts, each runs its part of
 * the job, all meet again, the clock stops. A figure is the fastest of several such runs.
 * The caller's CPU affinity is restored at the end.
 *
 * This machine's two CPUs are virtual: for seconds at a time the host may run them on one
 * core's two hardware threads, or run something else beside them, and a 2-thread figure
 * then reads up to half its real value. The bandwidth, matmul and kernel sweeps therefore go
 * over all their cases again and again, a few runs each, keeping each case's best, until a
 * sweep improves no figure by more than 2%: a case's samples are spread over the whole
 * sweep rather than taken in one burst, and a sweep that met a slow spell is done again. */
#include "run/calibrate.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/huge_pages.h"
#include "quant/quant.h"
#include "run/runtime.h"
#include "run/workload.h"

#define REPEATS 7
#define MIN_PASSES 3    /* sweeps over the bandwidth, matmul and kernel cases, at least */
#define MAX_PASSES 12   /* ... and at most: until a sweep improves no figure by 2% */
#define PASS_REPEATS 3  /* runs per case in one sweep */
#define DRAM_BYTES ((size_t)256 << 20) /* the read sweep's largest working set */
#define TARGET_SECONDS 0.002 /* length of one timed run */

/* ---- a team of pinned threads ------------------------------------------------------- */

typedef void job_fn(void *ctx, int thread, int64_t iterations);

typedef struct team {
    int n; /* threads in the team, all spinning between runs */
    bool quit;
    job_fn *fn;
    void *ctx;
    int64_t iterations;
    _Atomic int arrived;
    _Atomic int sense;
    int local_sense[LS_MACHINE_THREADS];
    pthread_t threads[LS_MACHINE_THREADS];
} team;

typedef struct member {
    team *team;
    int thread;
} member;

/* The runtime's barrier (runtime.c), the same code. */
static void team_barrier(team *t, int thread) {
    int sense = t->local_sense[thread] = !t->local_sense[thread];
    if (atomic_fetch_add_explicit(&t->arrived, 1, memory_order_acq_rel) == t->n - 1) {
        atomic_store_explicit(&t->arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&t->sense, sense, memory_order_release);
    } else {
        while (atomic_load_explicit(&t->sense, memory_order_acquire) != sense) _mm_pause();
    }
}

static void pin_self(int cpu) {
    long n_cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (n_cpus < 1) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)(cpu % n_cpus), &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set); /* best effort */
}

/* A team of T threads spins between its runs, as the runtime's workers do between steps, and
 * lives while figures for T threads are taken: on this virtual machine a thread started (a
 * CPU woken) for each run measured low for its first milliseconds, and a thread spinning
 * beside a 1-thread run slowed it by up to half, so T-thread figures come from a team of
 * exactly T. */
static void *member_main(void *arg) {
    member *mb = arg;
    team *t = mb->team;
    pin_self(mb->thread);
    for (;;) {
        team_barrier(t, mb->thread);
        if (t->quit) return NULL;
        t->fn(t->ctx, mb->thread, t->iterations);
        team_barrier(t, mb->thread);
    }
}

static team the_team = {.n = 1};
static member the_members[LS_MACHINE_THREADS];

static void team_stop(void) {
    team *t = &the_team;
    t->quit = true;
    if (t->n > 1) team_barrier(t, 0);
    for (int i = 1; i < t->n; i++) pthread_join(t->threads[i], NULL);
    memset(t, 0, sizeof *t);
    t->n = 1;
}

static void spin_run(void *ctx, int thread, int64_t iterations) {
    (void)ctx, (void)thread;
    double end = ls_now_s() + 1e-3 * (double)iterations;
    while (ls_now_s() < end) _mm_pause();
}

static double team_run(int n, job_fn *fn, void *ctx, int64_t iterations);

/* Replaces the team by one of n threads, warmed up for 20 ms (-1 when one cannot start). */
static int team_start(int n) {
    team *t = &the_team;
    team_stop();
    t->n = n; /* the members wait for n arrivals */
    for (int i = 1; i < n; i++) {
        the_members[i] = (member){t, i};
        if (pthread_create(&t->threads[i], NULL, member_main, &the_members[i])) {
            t->n = i; /* the started ones; team_stop lets them go */
            return -1;
        }
    }
    pin_self(0);
    return team_run(n, spin_run, NULL, 20) < 0 ? -1 : 0;
}

/* Seconds of one run of fn on n threads (-1 when the threads cannot start). */
static double team_run(int n, job_fn *fn, void *ctx, int64_t iterations) {
    team *t = &the_team;
    if (n != t->n && team_start(n)) return -1;
    t->fn = fn;
    t->ctx = ctx;
    t->iterations = iterations;
    team_barrier(t, 0);
    double start = ls_now_s();
    fn(ctx, 0, iterations);
    team_barrier(t, 0);
    return ls_now_s() - start;
}

/* Every timed run of a case, seconds per iteration: their sum, count and the fastest. */
typedef struct run_stats {
    double sum, fastest;
    int64_t runs;
} run_stats;

static void run_stats_add(run_stats *st, double seconds) {
    st->sum += seconds;
    st->runs++;
    if (st->fastest == 0 || seconds < st->fastest) st->fastest = seconds;
}

/* The mean run over the fastest (1 without runs): how much longer than its best a case takes
 * on average on this host. */
static double run_stats_stretch(const run_stats *st) {
    return st->runs > 0 ? st->sum / (double)st->runs / st->fastest : 1;
}

/* Iterations so that one run takes about TARGET_SECONDS, then the best of `repeats` runs:
 * returns seconds per iteration (-1 on failure); each run also goes into *stats if given. */
static double best_of_runs(int n, job_fn *fn, void *ctx, int repeats, run_stats *stats) {
    int64_t iterations = 1;
    double s;
    for (;;) {
        s = team_run(n, fn, ctx, iterations);
        if (s < 0) return -1;
        if (s >= TARGET_SECONDS / 4 || iterations >= ((int64_t)1 << 30)) break;
        iterations *= 4;
    }
    if (s < TARGET_SECONDS) iterations = (int64_t)((double)iterations * TARGET_SECONDS / (s > 1e-9 ? s : 1e-9)) + 1;
    double best = 1e30;
    for (int r = 0; r < repeats; r++) {
        s = team_run(n, fn, ctx, iterations);
        if (s < 0) return -1;
        if (s < best) best = s;
        if (stats) run_stats_add(stats, s / (double)iterations);
    }
    return best / (double)iterations;
}

static double best_of(int n, job_fn *fn, void *ctx, int repeats) { return best_of_runs(n, fn, ctx, repeats, NULL); }

static double best_per_iteration(int n, job_fn *fn, void *ctx) { return best_of(n, fn, ctx, REPEATS); }

/* Keeps the larger of *best and v; true when v beats *best by more than 2%. */
static bool keep_best(double *best, double v) {
    bool better = v > *best * 1.02;
    if (v > *best) *best = v;
    return better;
}

/* The same for seconds (0: none yet): keeps the smaller. */
static bool keep_fastest(double *best, double s) {
    bool better = *best == 0 || s < *best * 0.98;
    if (*best == 0 || s < *best) *best = s;
    return better;
}

/* Whether to sweep again after `done` sweeps. */
static bool sweep_again(int done, bool improved) {
    return done < MIN_PASSES || (improved && done < MAX_PASSES);
}

/* ---- read bandwidth ------------------------------------------------------------------ */

typedef struct read_job {
    const uint8_t *data;
    size_t bytes;      /* the whole working set; thread i reads its 1/n share */
    int n;
    _Atomic uint64_t sink;
} read_job;

__attribute__((target("avx2"))) static uint64_t sum_avx2(const uint8_t *p, size_t bytes) {
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    for (size_t i = 0; i + 128 <= bytes; i += 128) {
        a = _mm256_add_epi64(a, _mm256_load_si256((const __m256i *)(p + i)));
        b = _mm256_add_epi64(b, _mm256_load_si256((const __m256i *)(p + i + 32)));
        c = _mm256_add_epi64(c, _mm256_load_si256((const __m256i *)(p + i + 64)));
        d = _mm256_add_epi64(d, _mm256_load_si256((const __m256i *)(p + i + 96)));
    }
    __m256i s = _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
    return (uint64_t)_mm256_extract_epi64(s, 0) + (uint64_t)_mm256_extract_epi64(s, 3);
}

static uint64_t sum_sse2(const uint8_t *p, size_t bytes) {
    __m128i a = _mm_setzero_si128(), b = a, c = a, d = a;
    for (size_t i = 0; i + 64 <= bytes; i += 64) {
        a = _mm_add_epi64(a, _mm_load_si128((const __m128i *)(p + i)));
        b = _mm_add_epi64(b, _mm_load_si128((const __m128i *)(p + i + 16)));
        c = _mm_add_epi64(c, _mm_load_si128((const __m128i *)(p + i + 32)));
        d = _mm_add_epi64(d, _mm_load_si128((const __m128i *)(p + i + 48)));
    }
    __m128i s = _mm_add_epi64(_mm_add_epi64(a, b), _mm_add_epi64(c, d));
    return (uint64_t)_mm_cvtsi128_si64(s);
}

/* The sum of bytes (a multiple of 128) at p, 32-byte aligned: every byte read once, on every
 * call. The empty asm keeps gcc from seeing a pure function whose value it may reuse: read_run
 * calls it on the same bytes in a loop, and gcc 12 hoisted the call out of it (so working sets
 * that one pass reads in under 0.5 ms "read" at 10^11 GB/s and more). */
static uint64_t sum_bytes(const uint8_t *p, size_t bytes) {
    __asm__ volatile("" ::: "memory");
    return __builtin_cpu_supports("avx2") ? sum_avx2(p, bytes) : sum_sse2(p, bytes);
}

static void read_run(void *ctx, int thread, int64_t iterations) {
    read_job *j = ctx;
    size_t share = j->bytes / (size_t)j->n / 128 * 128;
    const uint8_t *p = j->data + share * (size_t)thread;
    uint64_t sum = 0;
    for (int64_t it = 0; it < iterations; it++) sum += sum_bytes(p, share);
    atomic_fetch_add_explicit(&j->sink, sum, memory_order_relaxed);
}

/* ---- matmul -------------------------------------------------------------------------- */

#define MATMUL_N_IN 1024
#define MATMUL_WEIGHT_BYTES LS_MACHINE_MATMUL_BYTES /* per thread: fits in L2 */

typedef struct matmul_job {
    ls_dtype type;
    int n_tokens;
    int64_t n_in;
    int64_t rows;
    int64_t rows_per_thread; /* > 0: all threads share weights[0], thread i takes its rows */
    uint8_t *weights[LS_MACHINE_THREADS];
    uint8_t *packed[LS_MACHINE_THREADS]; /* the same packed, where the runtime reads that */
    uint8_t *activations[LS_MACHINE_THREADS];
    float *out[LS_MACHINE_THREADS];
} matmul_job;

/* Rows [first, end) of weights[w] (its packed copy where the runtime reads that) for n tokens. */
static void matmul_once(const matmul_job *j, int w, int64_t first, int64_t end, int n_tokens, float *out) {
    if (j->packed[w])
        ls_matmul_packed(j->type, j->packed[w], j->n_in, first, end, j->activations[w], n_tokens, out, j->rows);
    else
        ls_matmul(j->type, j->weights[w], j->n_in, first, end, j->activations[w], n_tokens, out, j->rows);
}

static void matmul_run(void *ctx, int thread, int64_t iterations) {
    matmul_job *j = ctx;
    if (j->rows_per_thread > 0) { /* one shared matrix, a share of its rows each */
        int64_t first = j->rows_per_thread * thread;
        for (int64_t it = 0; it < iterations; it++)
            matmul_once(j, 0, first, first + j->rows_per_thread, 1, j->out[0]);
        return;
    }
    for (int64_t it = 0; it < iterations; it++) matmul_once(j, thread, 0, j->rows, j->n_tokens, j->out[thread]);
}

/* One matmul case: a weight type and a row size (measure_matmul). */
static void matmul_case_free(matmul_job *job) {
    for (int t = 0; t < LS_MACHINE_THREADS; t++) {
        free(job->weights[t]);
        free(job->packed[t]);
        free(job->activations[t]);
        free(job->out[t]);
    }
}

static int matmul_case_init(matmul_job *job, ls_dtype type, int64_t n_in, int n_threads) {
    const ls_dtype_info *info = ls_dtype_find(type);
    size_t row_bytes = (size_t)n_in / info->block_elements * info->block_bytes;
    size_t act_bytes = ls_activation_row_bytes(type, n_in);
    *job = (matmul_job){.type = type, .n_in = n_in, .rows = MATMUL_WEIGHT_BYTES / (int64_t)row_bytes / 16 * 16};
    float x[MATMUL_N_IN];
    for (int i = 0; i < MATMUL_N_IN; i++) x[i] = (float)((i * 37) % 101 - 50) / 50.0f;
    for (int t = 0; t < n_threads; t++) {
        void *w = NULL, *a = NULL, *o = NULL;
        if (posix_memalign(&w, 64, (size_t)job->rows * row_bytes)) w = NULL;
        if (posix_memalign(&a, 64, 8 * act_bytes)) a = NULL;
        if (posix_memalign(&o, 64, (size_t)(8 * job->rows) * sizeof(float))) o = NULL;
        job->weights[t] = w;
        job->activations[t] = a;
        job->out[t] = o;
        if (!w || !a || !o) return -1;
        memset(w, 0x11, (size_t)job->rows * row_bytes); /* normal f16/bf16/f32 values */
        for (int r = 0; r < 8; r++) ls_quantize_activation_row(type, x, (uint8_t *)a + r * act_bytes, n_in);
        if (ls_packed_supported(type)) {
            void *pk = NULL;
            if (posix_memalign(&pk, 64, (size_t)job->rows * row_bytes)) return -1;
            ls_pack_rows(type, w, n_in, 0, job->rows, pk);
            job->packed[t] = pk;
        }
    }
    return 0;
}

/* ---- the in-place factor --------------------------------------------------------------
 * The figures above are each kernel's fastest runs, alone, on operands it reads again and
 * again. In a program the kernels run one after another on operands the step before just
 * wrote, each phase ends with its slowest thread, and on a shared host a vCPU does not always
 * have its core: for a fraction of a second at a time the host runs another guest beside it,
 * and compute-bound code then runs at about 0.7 of its speed (one vCPU alone, the Q8_0
 * product in L2, the fastest of 50 runs of 1.5 ms: 83-122 against 141 GMAC/s in 23 of 50
 * such figures in one minute here, in none of 20 in another).
 *
 * compute_stretch[T-1] is therefore fitted to a real program: the workload's prefill (workload.h)
 * on T threads, the faster of INPLACE_RUNS runs, sampled at the start of every sweep of the
 * bandwidth, matmul, streaming and kernel measurements (about 12 to 50 times a thread count, spread
 * over the whole calibration), is the cost model's prediction with the compute stretched by it at
 * the lower quartile of the samples: the prefill as the host lets it run most of the time, as
 * bench's fastest repeat is (25 calibrations in 50 minutes, two threads, read their fastest sample
 * at 20.5-21.3 ms, the medians of 15 at 21.2-23.6: in a busy minute more than half of the samples
 * ran slow). The cost model stretches compute-bound steps by it (cost.h). It replaces a figure
 * sampled from the Q8_0 product alone on all T threads (the mean of the slowest thread over the
 * fastest sample): that one read 1.04-1.54 over calibrations minutes apart while the fastest
 * prefill of 512 tokens of the small bench model held at 52-54 ms; the prefills of the two bench
 * models at stretch 1 read 1.14-1.23 of their predictions, and a model of the workload's shape
 * 1.16-1.20, in one minute.
 *
 * The samples need the whole calibration: the host's contention moves within seconds, and
 * the figure describes its usual state (bench does not re-measure it, ls_calibrate_now). */

#define INPLACE_RUNS 2     /* prefills a sample: the faster counts */
#define INPLACE_SAMPLES 48 /* at most, a thread count */

typedef struct inplace {
    ls_workload *work;
    double seconds[LS_MACHINE_THREADS][INPLACE_SAMPLES];
    int n[LS_MACHINE_THREADS];
} inplace;

/* One sample on t threads (nothing without c, or when the runtime cannot start: the sweep
 * after it reports that). The team stops first: its threads spin between runs on the CPUs
 * the runtime's threads take; the next run starts it again. */
static void inplace_sample(inplace *c, int t) {
    if (!c || c->n[t - 1] == INPLACE_SAMPLES) return;
    team_stop();
    double s = ls_workload_prefill(c->work, t, INPLACE_RUNS);
    if (s > 0) c->seconds[t - 1][c->n[t - 1]++] = s;
}

/* qsort's order for doubles, ascending */
static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int inplace_result(inplace *c, ls_machine *m, int t_lo, int t_hi, FILE *log, char *err) {
    for (int t = t_lo; t <= t_hi; t++) {
        int n = c->n[t - 1];
        if (n == 0) return ls_fail(err, "the workload's runtime could not start on %d threads", t);
        qsort(c->seconds[t - 1], (size_t)n, sizeof(double), by_value);
        double quartile = c->seconds[t - 1][(n - 1) / 4];
        m->compute_stretch[t - 1] = 1;
        double at_rates = ls_workload_predict(c->work, t, m);
        m->workload_ms[t - 1] = quartile * 1e3;
        m->compute_stretch[t - 1] = ls_workload_fit(c->work, t, m, quartile);
        if (log)
            fprintf(log, "in place, %d thread(s): the workload's prefill %.2f-%.2f ms (%d samples, lower quartile %.2f), "
                    "predicted %.2f at the calibrated rates: compute stretch %.3f\n", t, c->seconds[t - 1][0] * 1e3,
                    c->seconds[t - 1][n - 1] * 1e3, n, quartile * 1e3, at_rates * 1e3, m->compute_stretch[t - 1]);
    }
    return 0;
}

/* ---- the runtime's other kernels, each on a one-step program ------------------------- */

#define PROBE_WIDTH 2048
#define PROBE_ROWS 16
#define PROBE_CONTEXT 512
#define PROBE_HEAD_DIM 256
#define PROBE_KV_WIDTH 256

typedef struct probe {
    ls_program program;
    ls_node node;
    ls_step step;
    ls_buffer buffers[3];
    ls_weight weight;
    ls_exec exec;
    int32_t positions[PROBE_ROWS], sequences[PROBE_ROWS]; /* rows t at position t, sequence 0 */
    void *memory;
} probe;

typedef struct probe_job {
    probe probes[LS_MACHINE_THREADS];
} probe_job;

/* The probe kinds: the rates, then attention with long and with short rows. */
#define PROBE_ATTENTION LS_RATE_COUNT
#define PROBE_ATTENTION_SHORT (LS_RATE_COUNT + 1)

static void probe_run(void *ctx, int thread, int64_t iterations) {
    probe *pr = &((probe_job *)ctx)->probes[thread];
    for (int64_t it = 0; it < iterations; it++) ls_run_step(&pr->exec, &pr->step, thread);
}

/* Sets up a probe of `rate` for `thread`; returns the units of work of one run, 0 on
 * failure. Memory: one block, carved into arena, KV cache, RoPE table, scratch, weight. */
static double probe_init(probe *pr, int rate, int thread, int head_dim) {
    memset(pr, 0, sizeof *pr);
    size_t arena_bytes = 3 * (size_t)PROBE_ROWS * PROBE_WIDTH * 4 + 4096;
    size_t kv_bytes = 2 * (size_t)PROBE_CONTEXT * PROBE_KV_WIDTH * 4;
    size_t rope_bytes = (size_t)PROBE_CONTEXT * PROBE_HEAD_DIM * 4;
    size_t scratch_bytes = (size_t)LS_MACHINE_THREADS * LS_ATTENTION_QUERIES * PROBE_CONTEXT * 4; /* ls_exec_scratch_floats */
    size_t weight_bytes = (size_t)64 * PROBE_WIDTH * 2; /* Q8_0 table of 64 rows, or F32 vector */
    size_t total = arena_bytes + kv_bytes + rope_bytes + scratch_bytes + weight_bytes;
    if (posix_memalign(&pr->memory, 64, total)) return 0;
    uint8_t *base = pr->memory;
    /* Values that keep every kernel on its ordinary path: small, varied, finite. */
    uint32_t state = 2463534242u; /* xorshift: values like activations, no pattern to predict */
    for (size_t i = 0; i < total / 4; i++) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        ((float *)base)[i] = (float)((int32_t)(state >> 8) - (1 << 23)) / (float)(1 << 22);
    }
    uint8_t *weight = base + arena_bytes + kv_bytes + rope_bytes + scratch_bytes;

    ls_program *p = &pr->program;
    ls_node *n = &pr->node;
    ls_step *s = &pr->step;
    p->graph.nodes = n;
    p->graph.n_nodes = 1;
    p->graph.kv_width = PROBE_KV_WIDTH;
    p->graph.n_layers_kv = 1;
    p->steps = s;
    p->n_steps = 1;
    p->buffers = pr->buffers;
    p->n_buffers = 3;
    p->n_threads = LS_MACHINE_THREADS;
    p->max_rows = PROBE_ROWS;
    p->context = PROBE_CONTEXT;
    for (int b = 0; b < 3; b++) {
        pr->buffers[b].offset = (uint64_t)b * PROBE_ROWS * PROBE_WIDTH * 4;
        pr->buffers[b].bytes = (uint64_t)PROBE_ROWS * PROBE_WIDTH * 4;
        pr->buffers[b].row_bytes = PROBE_WIDTH * 4;
    }
    n->src[0] = n->src[1] = n->src[2] = -1;
    n->width = PROBE_WIDTH;
    n->weight = &pr->weight;
    pr->weight.type = LS_F32;
    pr->weight.data = weight;
    pr->weight.n_in = PROBE_WIDTH;
    pr->weight.n_out = 1;
    s->node = 0;
    s->in[0] = 0;
    s->in[1] = 1;
    s->in[2] = -1;
    s->out = 2;
    int64_t work = PROBE_ROWS;
    double units = (double)PROBE_ROWS * PROBE_WIDTH;
    pr->exec.n_rows = PROBE_ROWS;
    for (int t = 0; t < PROBE_ROWS; t++) pr->positions[t] = t;
    pr->exec.positions = pr->positions;
    pr->exec.sequences = pr->sequences;
    switch (rate) {
    case LS_RATE_EMBED: {
        s->kernel = LS_K_EMBED;
        pr->weight.type = LS_Q8_0;
        pr->weight.n_out = 64;
        memset(weight, 0x11, weight_bytes);
        n->p.scale = 1.0f;
        int32_t *tokens = (int32_t *)base;
        for (int t = 0; t < PROBE_ROWS; t++) tokens[t] = (t * 7) % 64;
        break;
    }
    case LS_RATE_RMSNORM:
        s->kernel = LS_K_RMSNORM;
        n->p.eps = 1e-6f;
        break;
    case LS_RATE_QUANTIZE:
        s->kernel = LS_K_QUANTIZE;
        pr->weight.type = LS_Q8_0;
        pr->buffers[2].row_bytes = (int64_t)ls_activation_row_bytes(LS_Q8_0, PROBE_WIDTH);
        break;
    case LS_RATE_ADD:
        s->kernel = LS_K_ADD;
        work = PROBE_WIDTH;
        break;
    case LS_RATE_GLU_GELU:
    case LS_RATE_GLU_SILU:
        s->kernel = LS_K_GLU;
        n->p.activation = rate == LS_RATE_GLU_GELU ? LS_ACT_GELU_TANH : LS_ACT_SILU;
        work = PROBE_WIDTH;
        break;
    case LS_RATE_ROPE:
        s->kernel = LS_K_ROPE;
        n->p.rope.table = 0;
        n->p.rope.n_heads = PROBE_WIDTH / PROBE_HEAD_DIM;
        n->p.rope.head_dim = PROBE_HEAD_DIM;
        n->p.rope.style = LS_ROPE_HALVES;
        break;
    case LS_RATE_KV_STORE:
        s->kernel = LS_K_KV_STORE;
        n->p.attention.layer = 0;
        units = (double)PROBE_ROWS * PROBE_KV_WIDTH * 2;
        break;
    case PROBE_ATTENTION:      /* 16 rows at positions 240..255, 4 query heads on 1 KV head */
    case PROBE_ATTENTION_SHORT: /* the same at positions 0..15 */
        s->kernel = LS_K_ATTENTION;
        n->width = 4 * head_dim;
        n->p.attention.layer = 0;
        n->p.attention.n_head = 4;
        n->p.attention.n_head_kv = 1;
        n->p.attention.head_dim = head_dim;
        n->p.attention.window = 0;
        n->p.attention.scale = 0.0625f;
        units = 0;
        for (int t = 0; t < PROBE_ROWS; t++) {
            pr->positions[t] = (rate == PROBE_ATTENTION ? 240 : 0) + t;
            units += 4.0 * (pr->positions[t] + 1); /* (head, key) pairs */
        }
        work = 4;
        break;
    default:
        return 0;
    }
    s->work = work;
    for (int i = 0; i <= LS_MAX_THREADS; i++) s->tile[i] = i <= thread ? 0 : work;
    pr->exec.program = p;
    pr->exec.arena = base;
    pr->exec.kv = (float *)(base + arena_bytes);
    pr->exec.rope = (const float *)(base + arena_bytes + kv_bytes);
    pr->exec.scratch = (float *)(base + arena_bytes + kv_bytes + rope_bytes);
    return units;
}

/* ---- barrier ------------------------------------------------------------------------- */

/* A barrier as the runtime meets one: each thread writes its part of a buffer (a matmul's
 * output tile, say), all meet, and each then reads the part another thread wrote, which
 * crosses from that thread's cache. BARRIER_HANDOFF bytes change hands per thread: about
 * one activation row of the models here (Gemma 3 270M: 640 to 2048 floats in all). */
#define BARRIER_HANDOFF 2048

typedef struct barrier_job {
    team inner;
    _Alignas(64) float parts[LS_MACHINE_THREADS][BARRIER_HANDOFF / sizeof(float)];
    float sink[LS_MACHINE_THREADS];
} barrier_job;

static void barrier_run(void *ctx, int thread, int64_t iterations) {
    barrier_job *j = ctx;
    const int n = BARRIER_HANDOFF / (int)sizeof(float);
    float *mine = j->parts[thread];
    const float *theirs = j->parts[(thread + 1) % j->inner.n];
    float sum = 0;
    for (int64_t it = 0; it < iterations; it++) {
        for (int i = 0; i < n; i++) mine[i] = (float)it;
        team_barrier(&j->inner, thread);
        for (int i = 0; i < n; i += 16) sum += theirs[i]; /* one read per cache line */
        team_barrier(&j->inner, thread);                 /* before the next writes */
    }
    j->sink[thread] = sum;
}

/* ---- the whole calibration ----------------------------------------------------------- */

/* memory: DRAM_BYTES bytes or more; thread counts t_lo..t_hi */
static int measure_bandwidth(ls_machine *m, const uint8_t *memory, inplace *ip, int t_lo, int t_hi, FILE *log,
                             char *err) {
    static const double sizes_kib[LS_MACHINE_SIZES] = {256,   512,   1024,  2048,  4096,  8192,
                                                       16384, 24576, 32768, 49152, 65536, DRAM_BYTES >> 10};
    m->n_sizes = LS_MACHINE_SIZES;
    for (int s = 0; s < LS_MACHINE_SIZES; s++) m->size_bytes[s] = sizes_kib[s] * 1024;
    for (int t = t_lo; t <= t_hi; t++)
        for (int pass = 0, improved = 1; sweep_again(pass, improved); pass++) {
            improved = 0;
            inplace_sample(ip, t);
            for (int s = 0; s < LS_MACHINE_SIZES; s++) {
                read_job job = {.data = memory, .bytes = (size_t)m->size_bytes[s], .n = t};
                double s_per_pass = best_of(t, read_run, &job, PASS_REPEATS);
                if (s_per_pass <= 0) return ls_fail(err, "cannot start %d threads", t);
                double gbs = (double)(job.bytes / (size_t)t / 128 * 128) * t / s_per_pass / 1e9;
                improved |= keep_best(&m->read_gbs[t - 1][s], gbs);
            }
        }
    for (int s = 0; log && s < LS_MACHINE_SIZES; s++) {
        fprintf(log, "read %8.0f KiB:", sizes_kib[s]);
        for (int t = t_lo; t <= t_hi; t++) fprintf(log, " %6.1f GB/s (%d)", m->read_gbs[t - 1][s], t);
        fputc('\n', log);
    }
    return 0;
}

/* Rows of 1024, 512, 256, 288 and 640 elements: two full groups of 16 blocks, one, a last
 * group of 8 blocks, one of 9, one group and a last one of 4 (the cost model's fixed cost per
 * row, cost per group and costs of the three kinds of partial last group). K-quants take n_in
 * in 256s: their rows of "288" are rows of 256 again and of "640" rows of 512 (their last
 * group is never otherwise). */
#define MATMUL_ROW_SIZES 5
static const int64_t matmul_row_sizes[MATMUL_ROW_SIZES] = {1024, 512, 256, 288, 640};

static double (*matmul_table(ls_machine *m, int size))[LS_MACHINE_THREADS][LS_MACHINE_GROUPS] {
    double (*const tables[MATMUL_ROW_SIZES])[LS_MACHINE_THREADS][LS_MACHINE_GROUPS] = {
        m->matmul_gmacs, m->matmul_gmacs_512, m->matmul_gmacs_256, m->matmul_gmacs_288, m->matmul_gmacs_640};
    return tables[size];
}

static int64_t matmul_row_size(ls_dtype type, int size) {
    int64_t n = matmul_row_sizes[size];
    return n % ls_dtype_find(type)->block_elements ? n / 256 * 256 : n;
}

static int measure_matmul(ls_machine *m, inplace *ip, FILE *log, char *err) {
    const int cases = MATMUL_ROW_SIZES * LS_MACHINE_TYPES;
    matmul_job *jobs = calloc((size_t)cases, sizeof *jobs); /* [type][row size] */
    if (!jobs) return ls_fail(err, "out of memory");
    int rc = 0;
    for (int c = 0; c < cases && !rc; c++)
        if (matmul_case_init(&jobs[c], ls_machine_types[c / MATMUL_ROW_SIZES],
                             matmul_row_size(ls_machine_types[c / MATMUL_ROW_SIZES], c % MATMUL_ROW_SIZES), m->n_threads))
            rc = ls_fail(err, "cannot allocate the %s matmul's buffers",
                         ls_dtype_find(ls_machine_types[c / MATMUL_ROW_SIZES])->name);
    for (int t = 1; t <= m->n_threads && !rc; t++)
        for (int pass = 0, improved = 1; !rc && sweep_again(pass, improved); pass++) {
            improved = 0;
            inplace_sample(ip, t);
            for (int c = 0; c < cases && !rc; c++)
                for (int g = 0; g < LS_MACHINE_GROUPS; g++) {
                    matmul_job *job = &jobs[c];
                    job->n_tokens = 1 << g;
                    double s = best_of(t, matmul_run, job, PASS_REPEATS);
                    if (s <= 0) {
                        rc = ls_fail(err, "cannot start %d threads", t);
                        break;
                    }
                    double gmacs = (double)job->rows * (double)job->n_in * job->n_tokens * t / s / 1e9;
                    improved |= keep_best(&matmul_table(m, c % MATMUL_ROW_SIZES)[c / MATMUL_ROW_SIZES][t - 1][g], gmacs);
                }
        }
    for (int c = 0; c < cases; c++) matmul_case_free(&jobs[c]);
    free(jobs);
    for (int k = 0; log && !rc && k < LS_MACHINE_TYPES; k++) {
        fprintf(log, "matmul %-5s GMAC/s, tokens 1 2 4 8, rows of 1024 | 512 | 256 | 288 | 640:", ls_dtype_find(ls_machine_types[k])->name);
        for (int t = 1; t <= m->n_threads; t++) {
            fprintf(log, " [%d]", t);
            for (int size = 0; size < MATMUL_ROW_SIZES; size++) {
                for (int g = 0; g < LS_MACHINE_GROUPS; g++) fprintf(log, " %.1f", matmul_table(m, size)[k][t - 1][g]);
                if (size + 1 < MATMUL_ROW_SIZES) fprintf(log, " |");
            }
        }
        fputc('\n', log);
    }
    return rc;
}

/* ---- one-token products over the last-level cache and DRAM ----------------------------
 * The runtime's decode reads each matrix once a token, from wherever the model's working
 * set lives, with the kernel it runs (packed where it packs); cost.h's slowdown comes from
 * these rates over the L2 ones. The buffer is the bandwidth sweep's, as rows of 1024 of each
 * type in turn (its bytes, 0x11, are valid values of every type, packed or not); thread i
 * takes the i-th share of the rows, as the runtime's tiles do.
 *
 * The three sizes: the last-level cache, and two beyond it as it is on most machines. Here
 * the last-level cache is 260 MiB, shared with the host's other guests, and a stream over 256
 * MiB finds part of itself there (the default model's decode does too: its working set is 236
 * MiB); over 1 GiB the products stream 10-20% slower than over 256 MiB in the same minute
 * (Q8_0, two threads), as the decode of a 1.1-GiB model does. One run of each type over 1 GiB
 * a sweep (a run is a whole pass, 35 ms or more), three over the others. A sweep takes the
 * sizes from the largest, each size's types one after the other, as a decode's tokens stream
 * the same weights one after the other: the last-level cache then keeps what it keeps of a
 * working set about its own size
 * (with each type's 1 GiB pass between its 256 MiB runs, the streams over 256 MiB read 10-20%
 * slower and the default model's decode, 236 MiB, ran 0.79-0.88 of its prediction).
 *
 * Those rates are the fastest runs too. How much longer a run takes on average on this host,
 * as the slowest of its t threads, is stream_stretch[t-1][s]: for each type, the mean of all
 * its runs over its fastest, then the mean over the types (a run is one pass over 256 MiB,
 * about a decoded token of the default model, or over 1 GiB, or a few passes over 16 MiB: 2
 * ms or more). Like compute, a stream shares the core with the host's other guests (the
 * product's arithmetic) and the memory system with everything on the host. */

/* G multiply-adds/s of t threads streaming one-token products of `type` on rows of n_in over
 * ws bytes of memory (a share of the rows each), the best of a few runs; -1 when the threads
 * cannot start. act: room for the activation row, x its n_in values; out: a float per row;
 * stats, when given, collects every run. */
static double stream_gmacs(ls_dtype type, int64_t n_in, double ws, int t, uint8_t *memory, const float *x,
                           void *act, float *out, int repeats, run_stats *stats) {
    const ls_dtype_info *info = ls_dtype_find(type);
    size_t row_bytes = (size_t)n_in / info->block_elements * info->block_bytes;
    int64_t rows = (int64_t)(ws / (double)row_bytes) / t * t;
    ls_quantize_activation_row(type, x, act, n_in);
    matmul_job job = {.type = type, .n_tokens = 1, .n_in = n_in, .rows = rows, .rows_per_thread = rows / t};
    job.weights[0] = memory;
    job.packed[0] = ls_packed_supported(type) ? memory : NULL;
    job.activations[0] = act;
    job.out[0] = out;
    double s = best_of_runs(t, matmul_run, &job, repeats, stats);
    return s > 0 ? (double)rows * (double)n_in / s / 1e9 : -1;
}

/* Over the first n_streams sizes. */
static int measure_stream(ls_machine *m, uint8_t *memory, inplace *ip, int t_lo, int t_hi, int n_streams, FILE *log,
                          char *err) {
    size_t act_bytes = ls_activation_row_bytes(LS_Q8_0, MATMUL_N_IN) + 4096; /* the largest */
    void *act = NULL, *out = NULL;
    if (posix_memalign(&act, 64, act_bytes)) act = NULL;
    /* a float per row of the largest stream, a row >= 512 B */
    if (posix_memalign(&out, 64, (size_t)ls_machine_stream_bytes[LS_MACHINE_STREAMS - 1] / 512 * sizeof(float)))
        out = NULL;
    if (!act || !out) {
        free(act);
        free(out);
        return ls_fail(err, "out of memory");
    }
    float x[MATMUL_N_IN];
    for (int i = 0; i < MATMUL_N_IN; i++) x[i] = (float)((i * 37) % 101 - 50) / 50.0f;
    int rc = 0;
    for (int t = t_lo; t <= t_hi && !rc; t++) {
        run_stats runs[LS_MACHINE_TYPES][LS_MACHINE_STREAMS] = {0};
        for (int pass = 0, improved = 1; !rc && sweep_again(pass, improved); pass++) {
            improved = 0;
            inplace_sample(ip, t);
            /* the largest size first, each size's types in a row after one untimed pass: a
             * size's runs meet the cache as a decode's tokens do, each after the last */
            for (int i = n_streams - 1; i >= 0 && !rc; i--) {
                const bool last = i == LS_MACHINE_STREAMS - 1;
                double ws = ls_machine_stream_bytes[i];
                if (!last && stream_gmacs(ls_machine_types[0], MATMUL_N_IN, ws, t, memory, x, act, out, 1, NULL) < 0)
                    rc = ls_fail(err, "cannot start %d threads", t);
                for (int k = 0; k < LS_MACHINE_TYPES && !rc; k++) {
                    double g = stream_gmacs(ls_machine_types[k], MATMUL_N_IN, ws, t, memory, x, act, out,
                                            last ? 1 : PASS_REPEATS, &runs[k][i]);
                    if (g < 0) rc = ls_fail(err, "cannot start %d threads", t);
                    else improved |= keep_best(&m->matmul_stream_gmacs[k][t - 1][i], g);
                }
            }
            if (!rc) { /* Q8_0 rows of 288 over the first size: the cost model's blend (cost.h) */
                double g = stream_gmacs(LS_Q8_0, 288, ls_machine_stream_bytes[0], t, memory, x, act, out, PASS_REPEATS,
                                        NULL);
                if (g < 0) rc = ls_fail(err, "cannot start %d threads", t);
                else improved |= keep_best(&m->stream_short_gmacs[t - 1], g);
            }
        }
        /* the stretch over the whole calibration only (ls_calibrate_now keeps the file's) */
        for (int i = 0; i < n_streams && !rc && ip; i++) {
            double sum = 0;
            for (int k = 0; k < LS_MACHINE_TYPES; k++) sum += run_stats_stretch(&runs[k][i]);
            m->stream_stretch[t - 1][i] = sum / LS_MACHINE_TYPES;
        }
    }
    free(act);
    free(out);
    for (int k = 0; log && !rc && k < LS_MACHINE_TYPES; k++) {
        fprintf(log, "matmul %-5s one token, GMAC/s, weights in L2 | 16 MiB | 256 MiB | 1 GiB:",
                ls_dtype_find(ls_machine_types[k])->name);
        for (int t = t_lo; t <= t_hi; t++) {
            fprintf(log, " [%d] %.1f", t, m->matmul_gmacs[k][t - 1][0]);
            for (int i = 0; i < LS_MACHINE_STREAMS; i++) fprintf(log, " | %.1f", m->matmul_stream_gmacs[k][t - 1][i]);
        }
        fputc('\n', log);
    }
    if (log && !rc) {
        fprintf(log, "matmul one token, mean run over the fastest, 16 MiB | 256 MiB | 1 GiB:");
        for (int t = t_lo; t <= t_hi; t++) {
            fprintf(log, " [%d]", t);
            for (int i = 0; i < LS_MACHINE_STREAMS; i++) fprintf(log, "%s %.3f", i ? " |" : "", m->stream_stretch[t - 1][i]);
        }
        fputc('\n', log);
        fprintf(log, "matmul Q8_0  one token, rows of 288 over 16 MiB, GMAC/s:");
        for (int t = t_lo; t <= t_hi; t++) fprintf(log, " %.1f (%d)", m->stream_short_gmacs[t - 1], t);
        fputc('\n', log);
    }
    return rc;
}

/* Seconds per unit of work of one thread's run, with t threads at once (-1 on failure). */
static double probe_seconds(probe_job *job, int rate, int head_dim, int t) {
    double units = 0;
    int ok = 1;
    for (int i = 0; i < t; i++) {
        units = probe_init(&job->probes[i], rate, i, head_dim);
        if (units <= 0) ok = 0;
    }
    double s = ok ? best_of(t, probe_run, job, PASS_REPEATS) : -1;
    for (int i = 0; i < t; i++) free(job->probes[i].memory);
    return s > 0 ? s / units : -1;
}

/* One measurement of kernel r on t threads, kept where it beats the figure so far: 1 when
 * by more than 2%, 0 when not, -1 on failure. */
static int measure_rate(ls_machine *m, probe_job *job, int r, int t) {
    double s = probe_seconds(job, r, 0, t);
    if (s <= 0) return -1;
    return keep_best(&m->rate_g[r][t - 1], t * 1e-9 / s);
}

/* Attention at each head size, rows with about 248 keys and rows with about 8: the fastest
 * seconds per run of each, and the (head, key) pairs and (row, head) pairs of a run. */
typedef struct attention_fit {
    double long_s[LS_MACHINE_HEAD_DIMS], short_s[LS_MACHINE_HEAD_DIMS];
    double long_pairs, short_pairs, row_heads;
} attention_fit;

static int measure_attention(attention_fit *f, probe_job *job, int t) {
    int better = 0;
    for (int h = 0; h < LS_MACHINE_HEAD_DIMS; h++)
        for (int kind = PROBE_ATTENTION; kind <= PROBE_ATTENTION_SHORT; kind++) {
            double per_pair = probe_seconds(job, kind, ls_machine_head_dims[h], t);
            if (per_pair <= 0) return -1;
            double pairs = 0;
            for (int row = 0; row < PROBE_ROWS; row++)
                pairs += 4.0 * ((kind == PROBE_ATTENTION ? 240 : 0) + row + 1);
            *(kind == PROBE_ATTENTION ? &f->long_pairs : &f->short_pairs) = pairs;
            better |= keep_fastest(kind == PROBE_ATTENTION ? &f->long_s[h] : &f->short_s[h], per_pair * pairs);
        }
    f->row_heads = 4.0 * PROBE_ROWS;
    return better;
}

/* seconds = row_heads * per_row_head + pairs * per_pair, from the two runs. */
static void fit_attention(ls_machine *m, const attention_fit *f, int t) {
    for (int h = 0; h < LS_MACHINE_HEAD_DIMS; h++) {
        double long_s = f->long_s[h], short_s = f->short_s[h];
        double per_pair = (long_s - short_s) / (f->long_pairs - f->short_pairs);
        if (per_pair < 0.5 * long_s / f->long_pairs) per_pair = 0.5 * long_s / f->long_pairs;
        double per_row_head = (short_s - f->short_pairs * per_pair) / f->row_heads;
        if (per_row_head < 1e-12) per_row_head = 1e-12;
        m->attention_gpairs[t - 1][h] = t * 1e-9 / per_pair;
        m->attention_grows[t - 1][h] = t * 1e-9 / per_row_head;
    }
}

static int measure_kernels(ls_machine *m, inplace *ip, FILE *log, char *err) {
    probe_job *job = calloc(1, sizeof *job);
    if (!job) return ls_fail(err, "out of memory");
    for (int t = 1; t <= m->n_threads; t++) {
        attention_fit fit = {0};
        for (int pass = 0, improved = 1; sweep_again(pass, improved); pass++) {
            improved = 0;
            inplace_sample(ip, t);
            for (int r = 0; r <= PROBE_ATTENTION; r++) {
                int better = r == PROBE_ATTENTION ? measure_attention(&fit, job, t) : measure_rate(m, job, r, t);
                if (better < 0) {
                    free(job);
                    return ls_fail(err, "cannot measure the %s kernel (memory or threads)",
                                   r == PROBE_ATTENTION ? "attention" : ls_rate_names[r]);
                }
                improved |= better;
            }
        }
        fit_attention(m, &fit, t);
    }
    free(job);
    for (int r = 0; log && r < LS_RATE_COUNT; r++) {
        fprintf(log, "kernel %-9s G/s:", ls_rate_names[r]);
        for (int t = 1; t <= m->n_threads; t++) fprintf(log, " %.2f (%d)", m->rate_g[r][t - 1], t);
        fputc('\n', log);
    }
    for (int h = 0; log && h < LS_MACHINE_HEAD_DIMS; h++) {
        fprintf(log, "attention head_dim %3d, G (head, key) | (row, head) /s:", ls_machine_head_dims[h]);
        for (int t = 1; t <= m->n_threads; t++)
            fprintf(log, " %.3f | %.4f (%d)", m->attention_gpairs[t - 1][h], m->attention_grows[t - 1][h], t);
        fputc('\n', log);
    }
    return 0;
}

/* Thread counts 1 (the reference) and t_lo..t_hi. */
static int measure_barrier(ls_machine *m, int t_lo, int t_hi, FILE *log, char *err) {
    double one_thread = 0;
    for (int t = 1; t <= t_hi; t = t < t_lo ? t_lo : t + 1) {
        barrier_job *job = calloc(1, sizeof *job);
        if (!job) return ls_fail(err, "out of memory");
        job->inner.n = t;
        double s = best_per_iteration(t, barrier_run, job) / 2; /* two barriers an iteration */
        free(job);
        if (s <= 0) return ls_fail(err, "cannot start %d threads", t);
        /* What the barriers add to the same writes and reads on one thread. */
        if (t == 1) one_thread = s;
        if (t < t_lo) continue;
        double us = (s - one_thread) * 1e6;
        m->barrier_us[t - 1] = us > 0.001 ? us : 0.001;
        /* A call wakes spinning workers and ends at a barrier: about one more barrier. */
        m->call_us[t - 1] = m->barrier_us[t - 1];
    }
    if (log) {
        fprintf(log, "barrier, %d bytes handed over, us:", BARRIER_HANDOFF);
        for (int t = t_lo; t <= t_hi; t++) fprintf(log, " %.3f (%d)", m->barrier_us[t - 1], t);
        fputc('\n', log);
    }
    return 0;
}

/* ---- cold reads -----------------------------------------------------------------------
 * A one-token call's small steps read a few KiB the token's weight stream has just evicted
 * (norm weights, a RoPE row, KV rows). Each thread, all at once: stream its share of a
 * working set of ls_machine_stream_bytes[s], then time reading its own region of COLD_SMALL
 * bytes; stream again, then time COLD_BIG bytes; the medians of COLD_SAMPLES give a fixed
 * part and a part per 64-byte line. Both are read front to back by the bandwidth sweep's
 * sum_bytes. */

#define COLD_SMALL 2048
#define COLD_BIG 32768
#define COLD_SAMPLES 9

typedef struct cold_job {
    const uint8_t *stream;
    size_t stream_bytes; /* thread i streams its 1/n share */
    int n;
    uint8_t *region;     /* thread i's COLD_BIG bytes at i * COLD_BIG */
    double seconds[LS_MACHINE_THREADS][2][COLD_SAMPLES]; /* [thread][small, big][sample] */
    _Atomic uint64_t sink;
} cold_job;

static void cold_run(void *ctx, int thread, int64_t samples) {
    cold_job *job = ctx;
    size_t share = job->stream_bytes / (size_t)job->n / 128 * 128;
    const uint8_t *mine = job->stream + (size_t)thread * share;
    const uint8_t *region = job->region + (size_t)thread * COLD_BIG;
    uint64_t sum = 0;
    for (int64_t r = 0; r < samples && r < COLD_SAMPLES; r++)
        for (int big = 0; big < 2; big++) {
            sum += sum_bytes(mine, share); /* evicts the region */
            double start = ls_now_s();
            sum += sum_bytes(region, big ? COLD_BIG : COLD_SMALL);
            job->seconds[thread][big][r] = ls_now_s() - start;
        }
    atomic_fetch_add(&job->sink, sum);
}

static int measure_cold(ls_machine *m, const uint8_t *memory, int t_lo, int t_hi, int n_streams, FILE *log,
                        char *err) {
    uint8_t *region = NULL;
    if (posix_memalign((void **)&region, 64, (size_t)t_hi * COLD_BIG)) return ls_fail(err, "out of memory");
    memset(region, 0x22, (size_t)t_hi * COLD_BIG);
    for (int t = t_lo; t <= t_hi; t++)
        for (int i = 0; i < n_streams; i++) {
            cold_job job = {.stream = memory, .stream_bytes = (size_t)ls_machine_stream_bytes[i], .n = t,
                            .region = region};
            if (team_run(t, cold_run, &job, COLD_SAMPLES) < 0) {
                free(region);
                return ls_fail(err, "cannot start %d threads", t);
            }
            /* the median thread-sample of each size */
            double v[2][LS_MACHINE_THREADS * COLD_SAMPLES];
            for (int big = 0; big < 2; big++) {
                for (int k = 0; k < t; k++) memcpy(v[big] + k * COLD_SAMPLES, job.seconds[k][big], sizeof job.seconds[k][big]);
                qsort(v[big], (size_t)(t * COLD_SAMPLES), sizeof v[big][0], by_value);
            }
            double small = v[0][t * COLD_SAMPLES / 2] * 1e6, big = v[1][t * COLD_SAMPLES / 2] * 1e6; /* us */
            double per_line = (big - small) / (double)(COLD_BIG / 64 - COLD_SMALL / 64); /* us */
            if (per_line < 0) per_line = 0;
            double fixed = small - per_line * (COLD_SMALL / 64);
            m->cold_line_ns[t - 1][i] = per_line * 1e3;
            m->cold_us[t - 1][i] = fixed > 0 ? fixed : 0;
        }
    free(region);
    if (log) {
        fprintf(log, "cold reads after a stream of 16 MiB | 256 MiB | 1 GiB, us + ns per 64-byte line:");
        for (int t = t_lo; t <= t_hi; t++) {
            fprintf(log, " [%d]", t);
            for (int i = 0; i < LS_MACHINE_STREAMS; i++)
                fprintf(log, "%s %.2f + %.1f", i ? " |" : "", m->cold_us[t - 1][i], m->cold_line_ns[t - 1][i]);
        }
        fputc('\n', log);
    }
    return 0;
}

/* The sweeps for thread counts t_lo..t_hi (matmul in L2, the kernels and the workload, with
 * the streams' stretch, only when `everything`, for all of 1..m->n_threads; the streams and
 * cold reads over the first n_streams sizes), with the team stopped and the caller's CPU
 * affinity restored after them. */
static int measure(ls_machine *m, int t_lo, int t_hi, bool everything, int n_streams, FILE *log, char *err) {
    cpu_set_t saved;
    bool restore = pthread_getaffinity_np(pthread_self(), sizeof saved, &saved) == 0;
    /* the largest working set, for the read sweep and the products: in the pages the
     * runtime's packed weights take */
    size_t bytes = (size_t)ls_machine_stream_bytes[n_streams - 1];
    if (bytes < DRAM_BYTES) bytes = DRAM_BYTES;
    void *memory = ls_alloc_huge(bytes);
    if (!memory) return ls_fail(err, "cannot allocate %zu MiB", bytes >> 20);
    memset(memory, 0x11, bytes);
    inplace *ip = everything ? calloc(1, sizeof *ip) : NULL;
    int rc = everything && !ip ? ls_fail(err, "out of memory") : 0;
    if (!rc && ip && !(ip->work = ls_workload_create(t_hi, err))) rc = -1;
    if (!rc) rc = measure_bandwidth(m, memory, ip, t_lo, t_hi, log, err);
    if (!rc && everything) rc = measure_matmul(m, ip, log, err);
    if (!rc) rc = measure_stream(m, memory, ip, t_lo, t_hi, n_streams, log, err);
    if (!rc && everything) rc = measure_kernels(m, ip, log, err);
    if (!rc) rc = measure_barrier(m, t_lo, t_hi, log, err);
    if (!rc) rc = measure_cold(m, memory, t_lo, t_hi, n_streams, log, err);
    if (!rc && ip) rc = inplace_result(ip, m, t_lo, t_hi, log, err);
    if (ip) ls_workload_free(ip->work);
    free(ip);
    free(memory);
    team_stop();
    if (restore) pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
    return rc;
}

int ls_calibrate(ls_machine *m, int max_threads, FILE *log, char *err) {
    memset(m, 0, sizeof *m);
    if (max_threads < 1 || max_threads > LS_MACHINE_THREADS)
        return ls_fail(err, "thread count %d is outside 1..%d", max_threads, LS_MACHINE_THREADS);
    m->n_threads = max_threads;
    m->calibrations = 1;
    return measure(m, 1, max_threads, true, LS_MACHINE_STREAMS, log, err);
}

int ls_calibrate_now(ls_machine *m, int threads, double working_set, FILE *log, char *err) {
    if (threads < 1 || threads > m->n_threads) return ls_fail(err, "thread count %d is outside 1..%d", threads, m->n_threads);
    int n_streams = 1;
    while (n_streams < LS_MACHINE_STREAMS && ls_machine_stream_bytes[n_streams - 1] < working_set) n_streams++;
    for (int s = 0; s < LS_MACHINE_SIZES; s++) m->read_gbs[threads - 1][s] = 0;
    for (int k = 0; k < LS_MACHINE_TYPES; k++)
        for (int i = 0; i < n_streams; i++) m->matmul_stream_gmacs[k][threads - 1][i] = 0;
    m->stream_short_gmacs[threads - 1] = 0;
    return measure(m, threads, threads, false, n_streams, log, err);
}

int ls_calibrate_refit(ls_machine *m, char *err) {
    ls_workload *w = ls_workload_create(m->n_threads, err);
    if (!w) return -1;
    for (int t = 1; t <= m->n_threads; t++) m->compute_stretch[t - 1] = ls_workload_fit(w, t, m, m->workload_ms[t - 1] * 1e-3);
    ls_workload_free(w);
    return 0;
}
