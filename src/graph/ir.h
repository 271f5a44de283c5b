/* ir.h — the graph: a DAG of ops on activations, built once per model by an architecture's
 * builder, with static shapes.
 *
 * Every activation is a matrix [rows][width] of f32: one row per token in the call (at most
 * max_rows, fixed when the graph is built; how many are live is a runtime register) — or,
 * for nodes marked `last_row_only`, a single row. Nodes are stored in a valid execution
 * order (builders append them after their inputs). Weights are views into the model file. */
#ifndef LS_IR_H
#define LS_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/model.h"

typedef enum ls_op {
    LS_OP_TOKENS,    /* input: the token ids of the call (width 1, int32 in the row) */
    LS_OP_EMBED,     /* out[t] = dequant(table[token[t]]) * scale          src: TOKENS */
    LS_OP_RMSNORM,   /* out = x / sqrt(mean(x^2) + eps) * w, over groups of w.n_in elements */
    LS_OP_MATMUL,    /* out[t] = W x[t] (+ bias)                             src: x */
    LS_OP_ADD,       /* out = a + b                                          src: a, b */
    LS_OP_ROPE,      /* rotate pairs of each head by position * frequency    src: x */
    LS_OP_ATTENTION, /* causal attention with the KV cache of `layer`       src: q, k, v */
    LS_OP_GLU,       /* out = act(gate) * up                                 src: gate, up */
    LS_OP_LAST_ROW,  /* out[0] = x[n_rows - 1]: keeps only the last token    src: x */
    LS_OP_COUNT
} ls_op;

typedef struct ls_node {
    ls_op op;
    int32_t src[3];      /* input node ids, -1 when unused */
    int64_t width;       /* elements per row of the output */
    bool last_row_only;  /* the output has one row (after LS_OP_LAST_ROW) */
    bool is_output;      /* the graph's result (logits) */
    const ls_weight *weight; /* EMBED table, RMSNORM weight, MATMUL matrix */
    const ls_weight *bias;   /* MATMUL bias (F32 vector) or NULL */
    union {
        float scale;                 /* EMBED: multiplies the row */
        float eps;                   /* RMSNORM */
        struct {                     /* ROPE */
            int32_t table;           /* which precomputed cos/sin table */
            int32_t n_heads;
            int32_t head_dim;
            ls_rope_style style;
        } rope;
        struct {                     /* ATTENTION */
            int32_t layer;
            int32_t n_head, n_head_kv, head_dim;
            int64_t window;          /* 0: global; else keys with pos - key_pos < window */
            float scale;
        } attention;
        ls_activation activation;    /* GLU */
    } p;
} ls_node;

/* A RoPE table to precompute: theta(pos, i) = pos * scale * base^(-2i/dim) / freq_divisor[i]. */
typedef struct ls_rope_table {
    double base;
    double scale;
    int32_t dim;
    const float *freq_divisors; /* optional, dim/2 entries (llama 3 rope_freqs) */
} ls_rope_table;

#define LS_MAX_ROPE_TABLES 4

typedef struct ls_graph {
    ls_node *nodes;
    int32_t n_nodes, capacity;
    int64_t max_rows;           /* tokens per call, at most */
    ls_rope_table rope[LS_MAX_ROPE_TABLES];
    int32_t n_rope;
    /* KV cache shape, per layer: rows of n_head_kv * head_dim */
    int32_t n_layers_kv;
    int64_t kv_width;
    int32_t output;             /* node id of the logits */
    bool oom;                   /* an allocation failed while building */
} ls_graph;

void ls_graph_init(ls_graph *g, int64_t max_rows);
void ls_graph_free(ls_graph *g);

/* Appends a node (copied) and returns its id. ls_build_model reserves room for every node
 * first; running out sets `oom` (a builder bug, reported by ls_build_model). The row count
 * (all rows or last only) is inherited from the first source. */
int32_t ls_graph_add(ls_graph *g, ls_node node);

/* Helpers the builders use; each returns the new node id. */
int32_t ls_graph_rmsnorm(ls_graph *g, int32_t x, const ls_weight *w, float eps);
int32_t ls_graph_matmul(ls_graph *g, int32_t x, const ls_weight *w, const ls_weight *bias);
int32_t ls_graph_add2(ls_graph *g, int32_t a, int32_t b);
int32_t ls_graph_rope_table(ls_graph *g, ls_rope_table table);

const char *ls_op_name(ls_op op);

/* Builds the graph of a decoder-only language model: all rows' logits when all_logits,
 * else only the last row's. Returns 0, or -1 with err. (llama.c: llama, qwen2, qwen3;
 * gemma3.c: gemma3.) */
int ls_build_llama(ls_graph *g, const ls_model *m, bool all_logits, char *err);
int ls_build_gemma3(ls_graph *g, const ls_model *m, bool all_logits, char *err);
int ls_build_model(ls_graph *g, const ls_model *m, bool all_logits, char *err);

#endif
