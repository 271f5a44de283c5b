/* program.h — what the compiler produces: a flat list of steps over one arena.
 *
 * Each step is one kernel applied to buffers at fixed arena offsets, with its work cut into
 * one tile per thread at compile time. The runtime runs step i's tile on every thread, meets
 * at a barrier, and goes on to step i + 1. Nothing is decided at run time but the registers:
 * the number of rows (tokens) in the call and the position of the first. */
#ifndef LS_PROGRAM_H
#define LS_PROGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph/ir.h"

#define LS_MAX_THREADS 64

typedef enum ls_kernel {
    LS_K_EMBED,     /* rows: token ids → scaled embedding rows */
    LS_K_RMSNORM,   /* rows */
    LS_K_QUANTIZE,  /* rows: f32 activations → the matmul's block format */
    LS_K_MATMUL,    /* output features */
    LS_K_ADD,       /* columns */
    LS_K_ROPE,      /* rows */
    LS_K_KV_STORE,  /* rows: rotated k and v rows → the layer's cache at their positions */
    LS_K_ATTENTION, /* query heads */
    LS_K_GLU,       /* columns */
    LS_K_LAST_ROW,  /* one copy, thread 0 */
    LS_K_COUNT
} ls_kernel;

/* How a step's work is cut: the tile of thread i is [tile[i], tile[i+1]) of `work` items. */
typedef enum ls_split { LS_SPLIT_ROWS, LS_SPLIT_COLUMNS, LS_SPLIT_HEADS, LS_SPLIT_OUTPUTS, LS_SPLIT_NONE } ls_split;

typedef struct ls_step {
    ls_kernel kernel;
    int32_t node;           /* graph node computed (or fed, for QUANTIZE) */
    int32_t in[3];          /* buffer ids, -1 unused; in[2] of MATMUL and RMSNORM: the
                             * residual added to the result (a fused ADD) */
    int32_t out;            /* buffer id */
    int32_t fused_add;      /* the ADD node folded into this step, -1 when none */
    bool barrier_after;     /* threads meet after this step (barriers.c decides) */
    int32_t phase;          /* steps between two barriers share a phase */
    bool one_row;           /* rows = 1 (after LAST_ROW) instead of the call's rows */
    ls_split split;
    int64_t work;
    int64_t tile[LS_MAX_THREADS + 1];
    double predicted_us;    /* filled by the cost model (0 when none) */
} ls_step;

typedef struct ls_buffer {
    uint64_t offset;        /* in the arena, 64-byte aligned */
    uint64_t bytes;
    int64_t row_bytes;      /* bytes per row */
    int32_t first_step, last_step; /* lifetime: written at first, last read at last */
    int32_t first_phase, last_phase; /* the same in phases: what the memory plan uses */
} ls_buffer;

typedef struct ls_program {
    ls_graph graph;         /* owned: the nodes steps refer to */
    ls_step *steps;
    int32_t n_steps;
    int32_t n_barriers;
    ls_buffer *buffers;
    int32_t n_buffers;
    int32_t tokens_buffer;  /* where the call's token ids go (int32 rows) */
    int32_t logits_buffer;
    int64_t logits_rows;    /* max_rows, or 1 */
    uint64_t arena_bytes;   /* after lifetime sharing */
    uint64_t buffers_bytes; /* sum of all buffers, without sharing */
    int n_threads;
    int64_t max_rows;
    int64_t context;        /* KV cache positions, per sequence */
    int64_t max_sequences;  /* sequences with a KV cache of their own */
} ls_program;

typedef struct ls_compile_params {
    int n_threads;          /* 1..LS_MAX_THREADS */
    int64_t max_rows;       /* tokens per call */
    int64_t context;        /* KV cache length */
    int64_t max_sequences;  /* sequences a call may mix (0 means 1) */
    bool all_logits;        /* logits of every row (eval) or only the last (generation) */
} ls_compile_params;

/* Builds the model's graph and compiles it. 0, or -1 with err. */
int ls_compile(ls_program *program, const ls_model *model, const ls_compile_params *params,
               char *err);
void ls_program_free(ls_program *program);

const char *ls_kernel_name(ls_kernel kernel);

#endif
