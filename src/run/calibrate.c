/* calibrate.c — measuring read bandwidth, kernel throughput and barrier cost (calibrate.h).
 *
 * A measurement runs a job on T threads at once: threads 1..T-1 are started for it and pinned
 * (thread i to CPU i, the caller to CPU 0), all meet at a spin barrier, the clock starts,
 * each runs its job on its own data, all meet again, the clock stops. Each figure is the best
 * of REPEATS such runs. The caller's CPU affinity is restored at the end. */
#include "run/calibrate.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "quant/quant.h"
#include "run/runtime.h"

#define REPEATS 7
#define TARGET_SECONDS 0.002 /* length of one timed run */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- a team of pinned threads ------------------------------------------------------- */

typedef void job_fn(void *ctx, int thread, int64_t iterations);

typedef struct team {
    int n;
    job_fn *fn;
    void *ctx;
    int64_t iterations;
    _Atomic int arrived;
    _Atomic int sense;
    int local_sense[LS_MACHINE_THREADS];
    double seconds;
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

static void *member_main(void *arg) {
    member *mb = arg;
    team *t = mb->team;
    pin_self(mb->thread);
    team_barrier(t, mb->thread);
    t->fn(t->ctx, mb->thread, t->iterations);
    team_barrier(t, mb->thread);
    return NULL;
}

/* Seconds of one run of fn on n threads, or -1 when a thread cannot start. */
static double team_run(int n, job_fn *fn, void *ctx, int64_t iterations) {
    team t = {.n = n, .fn = fn, .ctx = ctx, .iterations = iterations};
    pthread_t threads[LS_MACHINE_THREADS];
    member members[LS_MACHINE_THREADS];
    int started = 1;
    for (int i = 1; i < n; i++) {
        members[i] = (member){&t, i};
        if (pthread_create(&threads[i], NULL, member_main, &members[i])) break;
        started++;
    }
    if (started < n) { /* let the started ones through: they wait for n arrivals */
        t.n = started;
        team_barrier(&t, 0);
        team_barrier(&t, 0);
        for (int i = 1; i < started; i++) pthread_join(threads[i], NULL);
        return -1;
    }
    pin_self(0);
    team_barrier(&t, 0);
    double start = now_s();
    fn(ctx, 0, iterations);
    team_barrier(&t, 0);
    t.seconds = now_s() - start;
    for (int i = 1; i < n; i++) pthread_join(threads[i], NULL);
    return t.seconds;
}

/* Iterations so that one run takes about TARGET_SECONDS, then the best of REPEATS runs:
 * returns seconds per iteration (-1 on failure). */
static double best_per_iteration(int n, job_fn *fn, void *ctx) {
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
    for (int r = 0; r < REPEATS; r++) {
        s = team_run(n, fn, ctx, iterations);
        if (s < 0) return -1;
        if (s < best) best = s;
    }
    return best / (double)iterations;
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

static void read_run(void *ctx, int thread, int64_t iterations) {
    read_job *j = ctx;
    size_t share = j->bytes / (size_t)j->n / 128 * 128;
    const uint8_t *p = j->data + share * (size_t)thread;
    bool avx2 = __builtin_cpu_supports("avx2");
    uint64_t sum = 0;
    for (int64_t it = 0; it < iterations; it++) sum += avx2 ? sum_avx2(p, share) : sum_sse2(p, share);
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
    uint8_t *activations[LS_MACHINE_THREADS];
    float *out[LS_MACHINE_THREADS];
} matmul_job;

static void matmul_run(void *ctx, int thread, int64_t iterations) {
    matmul_job *j = ctx;
    if (j->rows_per_thread > 0) {
        int64_t first = j->rows_per_thread * thread;
        for (int64_t it = 0; it < iterations; it++)
            ls_matmul(j->type, j->weights[0], j->n_in, first, first + j->rows_per_thread,
                      j->activations[0], 1, j->out[0], j->rows);
        return;
    }
    for (int64_t it = 0; it < iterations; it++)
        ls_matmul(j->type, j->weights[thread], j->n_in, 0, j->rows, j->activations[thread],
                  j->n_tokens, j->out[thread], j->rows);
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

static void probe_run(void *ctx, int thread, int64_t iterations) {
    probe *pr = &((probe_job *)ctx)->probes[thread];
    for (int64_t it = 0; it < iterations; it++) ls_run_step(&pr->exec, &pr->step, thread);
}

/* Sets up a probe of `rate` for `thread`; returns the units of work of one run, 0 on
 * failure. Memory: one block, carved into arena, KV cache, RoPE table, scratch, weight. */
static double probe_init(probe *pr, ls_rate rate, int thread, int head_dim) {
    memset(pr, 0, sizeof *pr);
    size_t arena_bytes = 3 * (size_t)PROBE_ROWS * PROBE_WIDTH * 4 + 4096;
    size_t kv_bytes = 2 * (size_t)PROBE_CONTEXT * PROBE_KV_WIDTH * 4;
    size_t rope_bytes = (size_t)PROBE_CONTEXT * PROBE_HEAD_DIM * 4;
    size_t scratch_bytes = (size_t)LS_MACHINE_THREADS * (PROBE_CONTEXT + PROBE_KV_WIDTH) * 4;
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
        work = n->p.rope.n_heads;
        break;
    case LS_RATE_KV_STORE:
        s->kernel = LS_K_KV_STORE;
        n->p.attention.layer = 0;
        units = (double)PROBE_ROWS * PROBE_KV_WIDTH * 2;
        break;
    case LS_RATE_ATTENTION: /* one row, 4 query heads on 1 KV head, 256 keys: units are keys */
    case LS_RATE_ATTENTION_KEY:
        s->kernel = LS_K_ATTENTION;
        n->width = 4 * head_dim;
        n->p.attention.layer = 0;
        n->p.attention.n_head = 4;
        n->p.attention.n_head_kv = 1;
        n->p.attention.head_dim = head_dim;
        n->p.attention.window = 0;
        n->p.attention.scale = 0.0625f;
        pr->exec.n_rows = 1;
        pr->positions[0] = 255;
        work = 4;
        units = 4.0 * 256;
        break;
    case LS_RATE_COUNT:
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

typedef struct barrier_job {
    team inner;
} barrier_job;

static void barrier_run(void *ctx, int thread, int64_t iterations) {
    team *t = &((barrier_job *)ctx)->inner;
    for (int64_t it = 0; it < iterations; it++) team_barrier(t, thread);
}

/* ---- the whole calibration ----------------------------------------------------------- */

static int measure_bandwidth(ls_machine *m, FILE *log, char *err) {
    static const double sizes_kib[LS_MACHINE_SIZES] = {256,   512,   1024,  2048,  4096,  8192,
                                                       16384, 24576, 32768, 49152, 65536, 262144};
    size_t biggest = (size_t)(sizes_kib[LS_MACHINE_SIZES - 1] * 1024);
    void *memory;
    if (posix_memalign(&memory, 4096, biggest)) return ls_fail(err, "cannot allocate %zu MiB", biggest >> 20);
    memset(memory, 1, biggest);
    m->n_sizes = LS_MACHINE_SIZES;
    for (int s = 0; s < LS_MACHINE_SIZES; s++) {
        m->size_bytes[s] = sizes_kib[s] * 1024;
        for (int t = 1; t <= m->n_threads; t++) {
            read_job job = {.data = memory, .bytes = (size_t)m->size_bytes[s], .n = t};
            double s_per_pass = best_per_iteration(t, read_run, &job);
            if (s_per_pass <= 0) {
                free(memory);
                return ls_fail(err, "cannot start %d threads", t);
            }
            double bytes = (double)(job.bytes / (size_t)t / 128 * 128) * t;
            m->read_gbs[t - 1][s] = bytes / s_per_pass / 1e9;
        }
        if (log) {
            fprintf(log, "read %8.0f KiB:", sizes_kib[s]);
            for (int t = 1; t <= m->n_threads; t++) fprintf(log, " %6.1f GB/s (%d)", m->read_gbs[t - 1][s], t);
            fputc('\n', log);
        }
    }
    free(memory);
    return 0;
}

static int measure_matmul(ls_machine *m, FILE *log, char *err) {
    for (int k = 0; k < LS_MACHINE_TYPES; k++) {
        ls_dtype type = ls_machine_types[k];
        const ls_dtype_info *info = ls_dtype_find(type);
        int ok = 1;
        /* Rows of 1024 elements (two groups of 16 blocks), then of 512 (one): the cost model
         * fits a fixed cost per row and a cost per group from the two. */
        for (int half = 0; half < 2 && ok; half++) {
            int64_t n_in = half ? MATMUL_N_IN / 2 : MATMUL_N_IN;
            size_t row_bytes = (size_t)n_in / info->block_elements * info->block_bytes;
            size_t act_bytes = ls_activation_row_bytes(type, n_in);
            matmul_job job = {.type = type, .n_in = n_in,
                              .rows = MATMUL_WEIGHT_BYTES / (int64_t)row_bytes / 16 * 16};
            for (int t = 0; t < m->n_threads; t++) {
                void *w = NULL, *a = NULL, *o = NULL;
                if (posix_memalign(&w, 64, (size_t)job.rows * row_bytes)) w = NULL;
                if (posix_memalign(&a, 64, 8 * act_bytes)) a = NULL;
                if (posix_memalign(&o, 64, (size_t)(8 * job.rows) * sizeof(float))) o = NULL;
                job.weights[t] = w;
                job.activations[t] = a;
                job.out[t] = o;
                if (!w || !a || !o) {
                    ok = 0;
                    continue;
                }
                memset(w, 0x11, (size_t)job.rows * row_bytes); /* normal f16/bf16/f32 values */
                float x[MATMUL_N_IN];
                for (int i = 0; i < MATMUL_N_IN; i++) x[i] = (float)((i * 37) % 101 - 50) / 50.0f;
                for (int r = 0; r < 8; r++) ls_quantize_activation_row(type, x, (uint8_t *)a + r * act_bytes, n_in);
            }
            for (int t = 1; ok && t <= m->n_threads; t++)
                for (int g = 0; g < LS_MACHINE_GROUPS; g++) {
                    job.n_tokens = 1 << g;
                    double s = best_per_iteration(t, matmul_run, &job);
                    double gmacs = (double)job.rows * (double)n_in * job.n_tokens * t / s / 1e9;
                    if (s <= 0) ok = 0;
                    else if (half) m->matmul_gmacs_512[k][t - 1][g] = gmacs;
                    else m->matmul_gmacs[k][t - 1][g] = gmacs;
                }
            for (int t = 0; t < m->n_threads; t++) {
                free(job.weights[t]);
                free(job.activations[t]);
                free(job.out[t]);
            }
        }
        if (!ok) return ls_fail(err, "cannot measure the %s matmul (memory or threads)", info->name);
        if (log) {
            fprintf(log, "matmul %-5s GMAC/s, tokens 1 2 4 8, rows of 1024 | 512:", info->name);
            for (int t = 1; t <= m->n_threads; t++) {
                fprintf(log, " [%d]", t);
                for (int g = 0; g < LS_MACHINE_GROUPS; g++) fprintf(log, " %.1f", m->matmul_gmacs[k][t - 1][g]);
                fprintf(log, " |");
                for (int g = 0; g < LS_MACHINE_GROUPS; g++) fprintf(log, " %.1f", m->matmul_gmacs_512[k][t - 1][g]);
            }
            fputc('\n', log);
        }
    }
    return 0;
}

/* A Q8_0 matrix-vector product over the largest working set of the sweep (DRAM): how much
 * of its memory time hides under its compute time (cost.h). */
static int measure_overlap(ls_machine *m, FILE *log, char *err) {
    const int k = 5; /* Q8_0 in ls_machine_types */
    size_t row_bytes = MATMUL_N_IN / 32 * 34;
    size_t act_bytes = ls_activation_row_bytes(LS_Q8_0, MATMUL_N_IN);
    double total = m->size_bytes[m->n_sizes - 1];
    matmul_job job = {.type = LS_Q8_0, .n_in = MATMUL_N_IN, .rows = (int64_t)(total / (double)row_bytes) / 64 * 64};
    void *w = NULL, *a = NULL, *o = NULL;
    if (posix_memalign(&w, 4096, (size_t)job.rows * row_bytes)) w = NULL;
    if (posix_memalign(&a, 64, act_bytes)) a = NULL;
    if (posix_memalign(&o, 64, (size_t)job.rows * sizeof(float))) o = NULL;
    if (!w || !a || !o) {
        free(w);
        free(a);
        free(o);
        return ls_fail(err, "cannot allocate %.0f MiB", total / 1048576);
    }
    memset(w, 0x11, (size_t)job.rows * row_bytes);
    float x[MATMUL_N_IN];
    for (int i = 0; i < MATMUL_N_IN; i++) x[i] = (float)((i * 37) % 101 - 50) / 50.0f;
    ls_quantize_activation_row(LS_Q8_0, x, a, MATMUL_N_IN);
    job.weights[0] = w;
    job.activations[0] = a;
    job.out[0] = o;
    int rc = 0;
    for (int t = 1; t <= m->n_threads; t++) {
        job.rows_per_thread = job.rows / t;
        /* Reading the same matrix and multiplying by it, alternately, so both see the same
         * machine (other load comes and goes): the best of each. */
        read_job reading = {.data = w, .bytes = (size_t)(job.rows_per_thread * t) * row_bytes, .n = t};
        double best = 1e30, best_read = 1e30;
        for (int r = 0; r < 4 && best > 0 && best_read > 0; r++) {
            double s = team_run(t, matmul_run, &job, 1);
            if (s < best) best = s;
            s = team_run(t, read_run, &reading, 1);
            if (s < best_read) best_read = s;
        }
        if (best <= 0 || best_read <= 0) {
            rc = ls_fail(err, "cannot start %d threads", t);
            break;
        }
        double bytes = (double)job.rows_per_thread * (double)row_bytes; /* per thread */
        double compute = (double)job.rows_per_thread * MATMUL_N_IN / (m->matmul_gmacs[k][t - 1][0] * 1e9 / t);
        /* The less disturbed of the two readings of DRAM bandwidth is the figure for both. */
        double gbs = bytes * t / best_read / 1e9;
        if (gbs > m->read_gbs[t - 1][m->n_sizes - 1]) m->read_gbs[t - 1][m->n_sizes - 1] = gbs;
        double memory = bytes / (m->read_gbs[t - 1][m->n_sizes - 1] * 1e9 / t) -
                        bytes / (m->read_gbs[t - 1][0] * 1e9 / t);
        double low = compute < memory ? compute : memory;
        double f = low > 0 ? (compute + memory - best) / low : 0;
        m->matmul_overlap[t - 1] = f < -1 ? -1 : f > 1 ? 1 : f;
        if (log)
            fprintf(log, "matmul Q8_0 from DRAM, %d thread(s): %.2f ms (compute %.2f + memory %.2f): overlap %.2f\n",
                    t, best * 1e3, compute * 1e3, memory * 1e3, m->matmul_overlap[t - 1]);
    }
    free(w);
    free(a);
    free(o);
    return rc;
}

/* Seconds per unit of work of one thread's run, with t threads at once (-1 on failure). */
static double probe_seconds(probe_job *job, ls_rate rate, int head_dim, int t) {
    double units = 0;
    int ok = 1;
    for (int i = 0; i < t; i++) {
        units = probe_init(&job->probes[i], rate, i, head_dim);
        if (units <= 0) ok = 0;
    }
    double s = ok ? best_per_iteration(t, probe_run, job) : -1;
    for (int i = 0; i < t; i++) free(job->probes[i].memory);
    return s > 0 ? s / units : -1;
}

static int measure_kernels(ls_machine *m, FILE *log, char *err) {
    probe_job *job = calloc(1, sizeof *job);
    if (!job) return ls_fail(err, "out of memory");
    for (int r = 0; r < LS_RATE_COUNT; r++) {
        if (r == LS_RATE_ATTENTION_KEY) continue; /* with LS_RATE_ATTENTION */
        for (int t = 1; t <= m->n_threads; t++) {
            if (r == LS_RATE_ATTENTION) {
                /* Seconds per (head, key) at head_dim 64 and 256, fitted as
                 * key + 2 * head_dim * multiply-add. */
                double s64 = probe_seconds(job, LS_RATE_ATTENTION, 64, t);
                double s256 = probe_seconds(job, LS_RATE_ATTENTION, 256, t);
                if (s64 <= 0 || s256 <= 0) goto fail;
                double mac = (s256 - s64) / (2.0 * (256 - 64));
                if (mac < 0.02 * s256 / 512) mac = 0.02 * s256 / 512;
                double key = s64 - 128 * mac;
                if (key < 0.05 * s64) key = 0.05 * s64;
                m->rate_g[LS_RATE_ATTENTION][t - 1] = t * 1e-9 / mac;
                m->rate_g[LS_RATE_ATTENTION_KEY][t - 1] = t * 1e-9 / key;
            } else {
                double s = probe_seconds(job, (ls_rate)r, 0, t);
                if (s <= 0) goto fail;
                m->rate_g[r][t - 1] = t * 1e-9 / s;
            }
        }
        if (log) {
            fprintf(log, "kernel %-9s G/s:", ls_rate_names[r]);
            for (int t = 1; t <= m->n_threads; t++) fprintf(log, " %.2f (%d)", m->rate_g[r][t - 1], t);
            if (r == LS_RATE_ATTENTION) {
                fprintf(log, "  keys G/s:");
                for (int t = 1; t <= m->n_threads; t++)
                    fprintf(log, " %.3f (%d)", m->rate_g[LS_RATE_ATTENTION_KEY][t - 1], t);
            }
            fputc('\n', log);
        }
        continue;
    fail:
        free(job);
        return ls_fail(err, "cannot measure the %s kernel (memory or threads)", ls_rate_names[r]);
    }
    free(job);
    return 0;
}

static int measure_barrier(ls_machine *m, FILE *log, char *err) {
    for (int t = 1; t <= m->n_threads; t++) {
        barrier_job job = {.inner = {.n = t}};
        double s = best_per_iteration(t, barrier_run, &job);
        if (s <= 0) return ls_fail(err, "cannot start %d threads", t);
        m->barrier_us[t - 1] = s * 1e6;
        /* A call wakes spinning workers and ends at a barrier: about one more barrier. */
        m->call_us[t - 1] = s * 1e6;
    }
    if (log) {
        fprintf(log, "barrier us:");
        for (int t = 1; t <= m->n_threads; t++) fprintf(log, " %.3f (%d)", m->barrier_us[t - 1], t);
        fputc('\n', log);
    }
    return 0;
}

int ls_calibrate(ls_machine *m, int max_threads, FILE *log, char *err) {
    memset(m, 0, sizeof *m);
    if (max_threads < 1 || max_threads > LS_MACHINE_THREADS)
        return ls_fail(err, "thread count %d is outside 1..%d", max_threads, LS_MACHINE_THREADS);
    m->n_threads = max_threads;
    cpu_set_t saved;
    bool restore = pthread_getaffinity_np(pthread_self(), sizeof saved, &saved) == 0;
    int rc = measure_bandwidth(m, log, err);
    if (!rc) rc = measure_matmul(m, log, err);
    if (!rc) rc = measure_overlap(m, log, err);
    if (!rc) rc = measure_kernels(m, log, err);
    if (!rc) rc = measure_barrier(m, log, err);
    if (restore) pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
    return rc;
}
