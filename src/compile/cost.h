/* cost.h — the machine model and the predicted time of every step (known latency).
 *
 * The machine model holds what `lockstep calibrate` measured (run/calibrate.c): aggregate
 * read bandwidth for each thread count and working-set size (L2 to DRAM), the throughput of
 * ls_matmul per weight type and per token group (the kernels take tokens 8, 4, 2 or 1 at a
 * time), the throughput of every other kernel, and the cost of one barrier. It is saved as a
 * small JSON file: $LOCKSTEP_MACHINE, else ~/.cache/lockstep/machine.json; without one the
 * built-in figures of the machine class the project runs on (an Intel Xeon, Emerald Rapids,
 * with 2 vCPUs) are used.
 *
 * Prediction of one step for a call of n rows at position p, per thread t (its tile):
 *     memory_t = bytes_t / (bandwidth(working set, T) / T),
 *     compute_t = work_t / (rate(T) / T) * stretch(T)
 *     time_t = max(memory_t, compute_t)                    (kernels but matmul, matmul prefill)
 *     time_t = max(c_t, stream_t) + k (c_t + stream_t - l2_t - max(...))
 *                                        (matmul, one row; c_t: compute_t not stretched)
 *       stream_t = tile bytes * stream(type, working set, T) * stream_stretch(working set, T),
 *       l2_t = the same in L2, not stretched
 *   step = max over threads of time_t + barrier(T).
 * The matmul kernels take 16 blocks of 32 at a time (512 elements), so their work counts
 * n_in rounded up to 512 (quantized types) or 16 (float types), and a row costs a fixed part
 * (the final sums, the stores) plus a part per 512 elements, fitted from rows of 1024 and
 * 512 elements with the weights in L2. A one-row call is a matrix-vector product whose
 * weights come from wherever the model's working set lives; how fast a kernel streams them
 * depends on the kernel (the packed ones are memory-bound from DRAM, the K-quant ones nearly
 * compute-bound), so it is measured per type: the same one-token product over working sets
 * of 16 MiB (the last-level cache), 256 MiB (DRAM, or partly the last-level cache where that
 * is as large: the 260 MiB one here) and 1 GiB (DRAM); stream is its time per weight byte,
 * interpolated in log(working set) from the L2 rate. A row shorter than 1024 computes longer
 * per byte than the rows the stream was measured on, and how much of that extra compute
 * hides under the stream depends on the machine: the time is a blend of max(compute, stream)
 * (k = 0: all hidden) and compute + (stream - l2) (k = 1: what streaming costs beyond the L2
 * rate added to the compute, none hidden). Both forms give the measured stream for rows of
 * 1024 and the compute for weights in L2. k comes from calibrate's Q8_0 rows of 288 over 16
 * MiB (stream_short_gmacs), the case where the forms differ most: on the AMD host k was
 * about 1 (rows of 288 from the last-level cache measured 1.75x the max), on the Intel one
 * with the two-cursor prefetch 0.16-0.17.
 * In a one-row step the operands the previous token's weight stream evicted are read cold:
 * norm weights, the embedding row, the RoPE angles, the KV rows stored and (attention, in
 * place of their streaming time) the KV rows read, each cold_us + cold_line_ns per line,
 * interpolated in log(working set) from 0 at the L2 size to the figures measured after
 * streams of 16 MiB, 256 MiB and 1 GiB.
 * bytes_t: the weight bytes of its tile (a prefill matmul reads them once per token group;
 * the first pass at the bandwidth of the call's working set, the others at the bandwidth of
 * the matrix's own size), plus activations and KV rows. The working set of a call is all it
 * touches: weights, the KV rows read, the arena; a model smaller than the last-level cache
 * thus reads its weights at cache bandwidth. Rates are aggregates measured with T threads
 * running at once, so shared cores and shared caches are in them; they are the fastest runs,
 * each kernel alone. stretch(T) is how much longer compute-bound steps take in a running
 * program: fitted so that the prediction of a made-up model's prefill (run/workload.h), run
 * through the real runtime on T threads during calibrate, is its time there (the lower quartile
 * of its runs). It holds what the isolated rates miss (operands the step before just wrote, each
 * phase waiting for its slowest thread, a shared host lending the cores to other guests part of
 * the time): 1.12-1.22 with 2 threads on this shared host, 1.12-1.16 with one, in the
 * calibrations of BENCHMARKS.md. A one-row product is bound by its stream, which is not
 * stretched so (stretching its compute put the cache-resident model's decode at 0.88 of the
 * prediction, against 1.02 without), so the blend takes the fastest rates, as k was fitted, but
 * the stream itself is slowed by its own measured stretch: the mean time of calibrate's
 * streaming runs over their fastest (1.05-1.19 at 256 MiB, 1.06-1.35 at 16 MiB here, 2 threads,
 * in eleven calibrations); without it the decode of the default model measured 1.12-1.20 of a
 * prediction from figures taken seconds before, on a busy host. */
#ifndef LS_COST_H
#define LS_COST_H

#include <stdbool.h>
#include <stdint.h>

#include "compile/program.h"

#define LS_MACHINE_THREADS 16 /* thread counts 1..16 can be stored */
#define LS_MACHINE_SIZES 12
#define LS_MACHINE_GROUPS 4   /* token groups 1, 2, 4, 8 */
#define LS_MACHINE_TYPES 9    /* F32 F16 BF16 Q4_0 Q5_0 Q8_0 Q4_K Q5_K Q6_K */
#define LS_MACHINE_MATMUL_BYTES (192 * 1024) /* weights per thread when matmul is measured */

/* Kernels other than matmul, and the unit their rate counts. */
typedef enum ls_rate {
    LS_RATE_EMBED,      /* elements of embedding rows produced (Q8_0 table) */
    LS_RATE_RMSNORM,    /* elements */
    LS_RATE_QUANTIZE,   /* elements quantized into the activation format */
    LS_RATE_ADD,        /* elements */
    LS_RATE_ROPE,       /* elements rotated */
    LS_RATE_KV_STORE,   /* elements stored (k and v) */
    LS_RATE_GLU_GELU,   /* elements */
    LS_RATE_GLU_SILU,   /* elements */
    LS_RATE_COUNT
} ls_rate;

/* The weight types of matmul_gmacs[k], in order, and the rates' names in the machine file. */
extern const ls_dtype ls_machine_types[LS_MACHINE_TYPES];
/* The working sets one-token matmuls are measured over: the last-level cache, DRAM. */
#define LS_MACHINE_STREAMS 3
extern const double ls_machine_stream_bytes[LS_MACHINE_STREAMS]; /* 16 MiB, 256 MiB, 1 GiB */
/* The head sizes attention is measured at; others are interpolated linearly between them. */
#define LS_MACHINE_HEAD_DIMS 4
extern const int ls_machine_head_dims[LS_MACHINE_HEAD_DIMS]; /* 32 64 128 256 */
extern const char *const ls_rate_names[LS_RATE_COUNT];

typedef struct ls_machine {
    int n_threads;                   /* thread counts measured: 1..n_threads */
    int calibrations;                /* how many runs of calibrate the figures merge (>= 1) */
    int n_sizes;
    double size_bytes[LS_MACHINE_SIZES];                  /* ascending */
    double read_gbs[LS_MACHINE_THREADS][LS_MACHINE_SIZES]; /* [T-1][size]: GB/s, all threads */
    double barrier_us[LS_MACHINE_THREADS];                 /* one barrier, T threads */
    double call_us[LS_MACHINE_THREADS];                    /* fixed cost of one forward call */
    /* [type][T-1][group]: G multiply-adds/s, all threads, weights in L2 */
    double matmul_gmacs[LS_MACHINE_TYPES][LS_MACHINE_THREADS][LS_MACHINE_GROUPS];
    /* the same with rows of 512 elements: with the above, a fixed cost per row and a cost
     * per 512 elements (the kernels' unit of 16 blocks) */
    double matmul_gmacs_512[LS_MACHINE_TYPES][LS_MACHINE_THREADS][LS_MACHINE_GROUPS];
    /* the same with rows of 256 elements (8 blocks): the cost of a row's last group when it
     * holds 8 blocks or fewer (the kernels run those on half-width registers) */
    double matmul_gmacs_256[LS_MACHINE_TYPES][LS_MACHINE_THREADS][LS_MACHINE_GROUPS];
    /* the same with rows of 288 (9 blocks): a last group of 9 to 15 blocks, which the
     * full-width code runs (measured 1.45 full groups a row, not 1) */
    double matmul_gmacs_288[LS_MACHINE_TYPES][LS_MACHINE_THREADS][LS_MACHINE_GROUPS];
    /* the same with rows of 640 (20 blocks): a last group of exactly 4 blocks, which the
     * AVX-512 kernels run on full-width registers holding all of its chunks (Gemma's rows);
     * K-quant rows cannot end so: theirs are rows of 512 again */
    double matmul_gmacs_640[LS_MACHINE_TYPES][LS_MACHINE_THREADS][LS_MACHINE_GROUPS];
    double rate_g[LS_RATE_COUNT][LS_MACHINE_THREADS];      /* G units/s, all threads */
    /* Attention at each of ls_machine_head_dims, all threads: G (query head, key) pairs/s
     * (a score q.k, its exp, the value row it adds) and G (row, query head) pairs/s (the
     * query, the softmax's sum and the output row): a row-head's time is
     * 1/grows + keys/gpairs. */
    double attention_gpairs[LS_MACHINE_THREADS][LS_MACHINE_HEAD_DIMS];
    double attention_grows[LS_MACHINE_THREADS][LS_MACHINE_HEAD_DIMS];
    /* [type][T-1][s]: G multiply-adds/s, all threads, of one-token products (rows of 1024,
     * packed where the runtime packs) cycling over a working set of ls_machine_stream_bytes[s] */
    double matmul_stream_gmacs[LS_MACHINE_TYPES][LS_MACHINE_THREADS][LS_MACHINE_STREAMS];
    /* [T-1]: G multiply-adds/s, all threads, of the same on Q8_0 rows of 288 over the first
     * stream size: a kernel whose compute is as long as its stream, which says how far the
     * two overlap (the blend of the one-row matmul, above) */
    double stream_short_gmacs[LS_MACHINE_THREADS];
    /* [T-1][s]: one thread reading a few KiB after T threads streamed a working set of
     * ls_machine_stream_bytes[s] (which evicts them from L2, or from every cache):
     * cold_us + cold_line_ns x 64-byte lines. What a one-token call's small steps pay for
     * their norm weights, RoPE row and KV rows after the token's weight stream. */
    double cold_us[LS_MACHINE_THREADS][LS_MACHINE_STREAMS];
    double cold_line_ns[LS_MACHINE_THREADS][LS_MACHINE_STREAMS];
    /* [T-1]: how much longer than predicted from the rates above compute-bound work takes in
     * a running program, T threads (>= 1): fitted so that the prediction of calibrate's
     * workload (run/workload.h) matches workload_ms (calibrate.c, the in-place factor) */
    double compute_stretch[LS_MACHINE_THREADS];
    /* [T-1]: ms of that workload's prefill on T threads, the lower quartile of samples over
     * the calibration (the mean over merged calibrations) */
    double workload_ms[LS_MACHINE_THREADS];
    /* [T-1][s]: the same for one-token products streaming ls_machine_stream_bytes[s], T
     * threads at once: their mean time over the fastest (calibrate.c, measure_stream) */
    double stream_stretch[LS_MACHINE_THREADS][LS_MACHINE_STREAMS];
    char source[320];                /* the file it came from, or "built-in defaults ..." */
    bool builtin;
} ls_machine;

/* The file path: $LOCKSTEP_MACHINE, else $HOME/.cache/lockstep/machine.json. */
const char *ls_machine_path(void);
/* The built-in figures (measured on an Intel Xeon, Emerald Rapids, with 2 vCPUs). */
void ls_machine_builtin(ls_machine *m);
/* Reads the file at path; when it does not exist and `missing_ok`, the built-in figures
 * (m->builtin set). 0, or -1 with err naming the problem. */
int ls_machine_load(ls_machine *m, const char *path, bool missing_ok, char *err);
/* Parses a machine file's text (size bytes; name for messages): what ls_machine_load does
 * after reading it. 0, or -1 with err naming the problem. */
int ls_machine_parse(ls_machine *m, const char *text, size_t size, const char *name, char *err);
/* Writes the file (through a temporary file renamed at the end). 0, or -1 with err. */
int ls_machine_save(const ls_machine *m, const char *path, char *err);
/* Merges the calibration `add` into `into`, both of the same thread counts and sizes: each
 * rate the higher of the two (the fastest run any calibration saw), each latency (barrier,
 * call, cold reads, the workload's time) and stretch their mean, weighted by how many
 * calibrations each holds; into->calibrations becomes the sum. The compute stretch, fitted
 * to the workload with each calibration's own rates, should then be fitted again to the
 * merged ones (ls_calibrate_refit). On a shared host one calibration catches the state of
 * its own minute (the streams' stretch at 256 MiB read 1.05-1.19 over eleven calibrations);
 * several merged describe the host's usual state. 0, or -1 with err when the two are not of
 * one kind. */
int ls_machine_merge(ls_machine *into, const ls_machine *add, char *err);
/* Index of a weight type in matmul_gmacs, or -1. */
int ls_machine_type_index(int dtype);
/* The thread count whose figures describe n threads: n, or the most the model measured. */
int ls_machine_threads(const ls_machine *m, int n);

/* What a step moves and computes in one call. */
typedef struct ls_step_cost {
    double us;          /* predicted time, barrier included */
    double bytes;       /* bytes read and written, all threads */
    double work;        /* multiply-adds (matmul, attention) or elements */
} ls_step_cost;

/* The predicted time of one forward call of n_rows tokens at position (its KV length after
 * the call is position + n_rows), in microseconds. `costs`, when given, receives each step's
 * (n_steps entries). */
double ls_cost_call(const ls_program *p, const ls_machine *m, int64_t n_rows, int64_t position,
                    ls_step_cost *costs);
/* Bytes a call of n_rows at position touches: the weights it reads, the KV rows, the arena
 * (the working set whose bandwidth its weights are read at). */
double ls_cost_working_set(const ls_program *p, int64_t n_rows, int64_t position);
/* Fills every step's predicted_us for a full call (max_rows tokens at position 0). */
void ls_cost_program(ls_program *p, const ls_machine *m);

/* Mean predicted ms per decoded token for tokens fed one at a time at positions
 * [first, first + n) ; and ms for a prefill of n tokens from position 0 in calls of the
 * program's max_rows. */
double ls_cost_decode_ms(const ls_program *p, const ls_machine *m, int64_t first, int64_t n);
double ls_cost_prefill_ms(const ls_program *p, const ls_machine *m, int64_t n);

/* Bytes of all distinct weights the program reads; bytes of the KV cache. */
uint64_t ls_program_weight_bytes(const ls_program *p);
uint64_t ls_program_kv_bytes(const ls_program *p);

#endif
