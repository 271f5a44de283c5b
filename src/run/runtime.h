/* runtime.h — runs a compiled program: threads pinned to their tiles, a barrier between
 * steps, and the state that outlives a call (KV cache, RoPE tables, arena).
 *
 * Everything is allocated in ls_runtime_create; ls_runtime_forward allocates nothing and,
 * with no more threads than CPUs, makes no system call (workers spin at the barrier while a
 * call runs; with more threads than CPUs, waiters yield the CPU with sched_yield). */
#ifndef LS_RUNTIME_H
#define LS_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "compile/program.h"
#include "run/kernels_simd.h"

typedef struct ls_runtime ls_runtime;

/* The registers of one call and the state kernels read. */
typedef struct ls_exec {
    const ls_program *program;
    uint8_t *arena;
    int64_t n_rows;      /* tokens in this call */
    const int32_t *positions; /* [n_rows]: each row's position in its sequence */
    const int32_t *sequences; /* [n_rows]: each row's sequence (its own KV cache) */
    float *kv;           /* cache: [sequence][layer][2 (k, v)][context][kv_width] */
    const float *rope;   /* [table][context][head_dim/2][2 (cos, sin)] */
    float *scratch;      /* ls_exec_scratch_floats: per thread, attention's scores */
    const void *const *packed; /* [graph node]: its matrix packed for one-row calls, or NULL
                                * (run/packed_weights.h); NULL: none packed */
} ls_exec;

/* Floats of ls_exec.scratch: per thread, the scores of one block of attention queries
 * ([context][LS_ATTENTION_QUERIES], kernels_simd.h). */
static inline size_t ls_exec_scratch_floats(const ls_program *p) {
    return (size_t)p->n_threads * LS_ATTENTION_QUERIES * (size_t)p->context;
}

/* NULL with err when memory runs out or threads cannot start. The program must outlive it. */
ls_runtime *ls_runtime_create(const ls_program *program, char *err);
void ls_runtime_free(ls_runtime *runtime);

/* Runs the program on n tokens at positions [position, position + n). Requires
 * 1 <= n <= max_rows and position + n <= context (callers check: see ls_runtime_check).
 * Returns the logits: logits_rows (n, or 1 when only the last is kept) rows of n_vocab. */
const float *ls_runtime_forward(ls_runtime *runtime, const int32_t *tokens, int64_t n,
                                int64_t position);

/* 0 when a call with these arguments is allowed, else -1 with err naming the limit. */
int ls_runtime_check(const ls_runtime *runtime, const int32_t *tokens, int64_t n,
                     int64_t position, char *err);

/* A call mixing sequences: row i is token tokens[i] of sequence sequences[i] at position
 * positions[i]. Each row attends to its own sequence's cache, whose positions before it must
 * have been fed already (in earlier calls or earlier rows of this one). A row's logits do
 * not depend on the other rows of the call: batch invariance. Requires what
 * ls_runtime_check_batch checks. */
const float *ls_runtime_forward_batch(ls_runtime *runtime, const int32_t *tokens,
                                      const int32_t *sequences, const int32_t *positions,
                                      int64_t n);
int ls_runtime_check_batch(const ls_runtime *runtime, const int32_t *tokens,
                           const int32_t *sequences, const int32_t *positions, int64_t n,
                           char *err);

/* While `ticks` is set (NULL: off), every call writes each thread's time-stamp counter at its
 * start and after each step and each barrier: thread t's row of 1 + 2 n_steps at
 * ticks + t (1 + 2 n_steps) holds [0] the start, [1 + 2i] the end of its tile of step i,
 * [2 + 2i] the exit from the barrier after it (its end, when none). For `lockstep bench
 * --trace`; set it between calls only. */
void ls_runtime_trace(ls_runtime *runtime, uint64_t *ticks);

/* Between calls: makes the workers sleep now instead of after their spin (up to 0.5 s), and
 * returns once they all sleep, so the CPUs are free for other work (bench measures the
 * machine again between its repeats, with threads pinned to the same CPUs: four benches of
 * the small model took 12.5-14.2 s for it with the workers parked, 12.8-16.1 without). The
 * next call wakes them: a system call, so not while generating. */
void ls_runtime_park(ls_runtime *runtime);

/* The kernels (kernels.c): run step s's tile for `thread`. */
void ls_run_step(const ls_exec *exec, const ls_step *step, int thread);

#endif
