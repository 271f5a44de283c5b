/* model.h — a language model as the file describes it: hyperparameters and weight views.
 *
 * ls_model_open reads a GGUF file, recognises the architecture (general.architecture) and
 * checks that every tensor the architecture needs is present with the shape the
 * hyperparameters imply. Weights are views into the mmapped file: nothing is copied.
 * Builders (llama.c, gemma3.c) read this struct; the runtime never does. */
#ifndef LS_MODEL_H
#define LS_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "io/gguf.h"
#include "quant/quant.h"

typedef enum ls_arch { LS_ARCH_LLAMA, LS_ARCH_QWEN2, LS_ARCH_QWEN3, LS_ARCH_GEMMA3 } ls_arch;

/* A weight tensor: n_out rows of n_in elements (a vector has n_out == 1), in `type`. */
typedef struct ls_weight {
    char name[48];    /* the tensor's name, for EXPLAIN and errors; "" when absent */
    ls_dtype type;
    const void *data;
    int64_t n_in, n_out;
} ls_weight;

typedef struct ls_layer_weights {
    ls_weight attn_norm;                 /* [dim] */
    ls_weight q, k, v;                   /* [n_head*head_dim | n_head_kv*head_dim][dim] */
    ls_weight q_bias, k_bias, v_bias;    /* qwen2: [n_out] F32, else absent */
    ls_weight q_norm, k_norm;            /* qwen3, gemma3: [head_dim], else absent */
    ls_weight o;                         /* [dim][n_head*head_dim] */
    ls_weight post_attn_norm;            /* gemma3: [dim] */
    ls_weight ffn_norm;                  /* [dim] */
    ls_weight gate, up;                  /* [ffn][dim] */
    ls_weight down;                      /* [dim][ffn] */
    ls_weight post_ffn_norm;             /* gemma3: [dim] */
} ls_layer_weights;

typedef enum ls_rope_style {
    LS_ROPE_INTERLEAVED, /* pairs (2i, 2i+1): llama (its converter permutes q/k to this) */
    LS_ROPE_HALVES,      /* pairs (i, i + head_dim/2): "neox" — qwen2, qwen3, gemma3 */
} ls_rope_style;

typedef enum ls_activation { LS_ACT_SILU, LS_ACT_GELU_TANH } ls_activation;

typedef struct ls_hparams {
    ls_arch arch;
    int64_t n_layer, dim, n_head, n_head_kv, head_dim, ffn_dim, n_vocab, context_train;
    float norm_eps;
    double rope_base;          /* global layers */
    double rope_base_local;    /* sliding-window layers (gemma3) */
    double rope_scale;         /* positions are multiplied by this (linear scaling), 1 = off */
    ls_rope_style rope_style;
    ls_activation activation;
    int64_t sliding_window;    /* 0: every layer global */
    int64_t sliding_pattern;   /* layer il is global when (il + 1) % pattern == 0 */
    float embed_scale;         /* gemma3: sqrt(dim); else 1 */
    float attention_scale;     /* multiplies q·k: 1/sqrt(head_dim) */
} ls_hparams;

typedef struct ls_model {
    gguf_file file;
    ls_hparams hp;
    ls_weight token_embd;  /* [n_vocab][dim] */
    ls_weight output_norm; /* [dim] */
    ls_weight output;      /* [n_vocab][dim]; == token_embd when tied */
    ls_weight rope_freqs;  /* optional [head_dim/2] F32 divisors of the RoPE frequencies */
    ls_layer_weights *layers;
} ls_model;

/* 0, or -1 with one line in err (LS_ERROR_SIZE). */
int ls_model_open(ls_model *model, const char *path, char *err);
void ls_model_close(ls_model *model);

const char *ls_arch_name(ls_arch arch);
bool ls_layer_is_sliding(const ls_hparams *hp, int64_t layer);

#endif
