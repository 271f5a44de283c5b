/* workload.c — calibrate's made-up model and its runs (workload.h). */
#include "run/workload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/error.h"
#include "graph/model.h"
#include "quant/quant.h"
#include "run/runtime.h"

#define W_DIM 512
#define W_LAYERS 4
#define W_HEADS 8
#define W_KV_HEADS 2
#define W_HEAD_DIM 64
#define W_FFN 1536
#define W_VOCAB 2048
#define W_TOKENS 256 /* the prefill */
#define W_ROWS 128   /* tokens per call, as bench's prefill */

struct ls_workload {
    ls_model model;
    ls_layer_weights layers[W_LAYERS];
    uint8_t *weights; /* every matrix, one after another */
    float norm[W_DIM];
    int32_t tokens[W_TOKENS];
    int max_threads;
    ls_program programs[LS_MACHINE_THREADS]; /* [T-1] */
};

/* Q8_0 blocks: quants in -127..127 from a 32-bit LCG, a scale that makes their standard
 * deviation 0.05 (that of tools/make_tiny_model.py's weights, and near a real model's). Values
 * can matter to the time: with quants of -16..15 at a scale of 1/64 (2.9x that deviation) the
 * prefill took 5% longer (22.0-23.5 against 20.8-21.7 ms on 2 threads), all of it attention's
 * subnormal exponentials, until the softmax floored them (run/kernels_simd.h). */
static uint8_t *fill_matrix(ls_weight *w, const char *name, int64_t n_out, int64_t n_in, uint8_t *at,
                            uint32_t *state) {
    const ls_dtype_info *q8 = ls_dtype_find(LS_Q8_0);
    size_t blocks = (size_t)(n_out * n_in / q8->block_elements);
    uint16_t scale = ls_f32_to_f16(0.05f / 73.6f); /* quants uniform in -127..127: std 73.6 */
    *w = (ls_weight){.type = LS_Q8_0, .data = at, .n_in = n_in, .n_out = n_out};
    snprintf(w->name, sizeof w->name, "%s", name);
    for (size_t b = 0; b < blocks; b++, at += q8->block_bytes) {
        memcpy(at, &scale, sizeof scale);
        for (uint32_t i = 0; i < q8->block_elements; i++) {
            *state = *state * 1664525u + 1013904223u;
            at[sizeof scale + i] = (uint8_t)(int8_t)((int)(*state >> 24) % 255 - 127);
        }
    }
    return at;
}

static void vector(ls_weight *w, const char *name, const float *data) {
    *w = (ls_weight){.type = LS_F32, .data = data, .n_in = W_DIM, .n_out = 1};
    snprintf(w->name, sizeof w->name, "%s", name);
}

ls_workload *ls_workload_create(int max_threads, char *err) {
    if (max_threads < 1 || max_threads > LS_MACHINE_THREADS) {
        ls_fail(err, "thread count %d is outside 1..%d", max_threads, LS_MACHINE_THREADS);
        return NULL;
    }
    ls_workload *w = calloc(1, sizeof *w);
    const int64_t q = W_HEADS * W_HEAD_DIM, kv = W_KV_HEADS * W_HEAD_DIM;
    const int64_t per_layer = 2 * q * W_DIM + 2 * kv * W_DIM + 3 * W_FFN * W_DIM;
    const ls_dtype_info *q8 = ls_dtype_find(LS_Q8_0);
    size_t bytes = (size_t)(W_LAYERS * per_layer + W_VOCAB * W_DIM) / q8->block_elements * q8->block_bytes;
    if (w) w->weights = malloc(bytes);
    if (!w || !w->weights) {
        free(w);
        ls_fail(err, "out of memory for the calibration's workload");
        return NULL;
    }
    for (int i = 0; i < W_DIM; i++) w->norm[i] = 1.0f;
    for (int i = 0; i < W_TOKENS; i++) w->tokens[i] = (int32_t)((i * 7919 + 13) % W_VOCAB);
    ls_model *m = &w->model;
    m->hp = (ls_hparams){.arch = LS_ARCH_LLAMA, .n_layer = W_LAYERS, .dim = W_DIM, .n_head = W_HEADS,
                         .n_head_kv = W_KV_HEADS, .head_dim = W_HEAD_DIM, .ffn_dim = W_FFN,
                         .n_vocab = W_VOCAB, .context_train = W_TOKENS, .norm_eps = 1e-5f,
                         .rope_base = 10000, .rope_base_local = 10000, .rope_scale = 1,
                         .rope_style = LS_ROPE_INTERLEAVED, .activation = LS_ACT_SILU,
                         .embed_scale = 1, .attention_scale = 0.125f};
    m->layers = w->layers;
    uint32_t state = 1;
    uint8_t *at = fill_matrix(&m->token_embd, "token_embd.weight", W_VOCAB, W_DIM, w->weights, &state);
    m->output = m->token_embd; /* tied */
    vector(&m->output_norm, "output_norm.weight", w->norm);
    for (int il = 0; il < W_LAYERS; il++) {
        ls_layer_weights *L = &w->layers[il];
        vector(&L->attn_norm, "attn_norm", w->norm);
        vector(&L->ffn_norm, "ffn_norm", w->norm);
        at = fill_matrix(&L->q, "attn_q", q, W_DIM, at, &state);
        at = fill_matrix(&L->k, "attn_k", kv, W_DIM, at, &state);
        at = fill_matrix(&L->v, "attn_v", kv, W_DIM, at, &state);
        at = fill_matrix(&L->o, "attn_output", W_DIM, q, at, &state);
        at = fill_matrix(&L->gate, "ffn_gate", W_FFN, W_DIM, at, &state);
        at = fill_matrix(&L->up, "ffn_up", W_FFN, W_DIM, at, &state);
        at = fill_matrix(&L->down, "ffn_down", W_DIM, W_FFN, at, &state);
    }
    for (int t = 1; t <= max_threads; t++) {
        ls_compile_params params = {.n_threads = t, .max_rows = W_ROWS, .context = W_TOKENS};
        if (ls_compile(&w->programs[t - 1], m, &params, err)) {
            ls_workload_free(w);
            return NULL;
        }
        w->max_threads = t;
    }
    return w;
}

void ls_workload_free(ls_workload *w) {
    if (!w) return;
    for (int t = 0; t < w->max_threads; t++) ls_program_free(&w->programs[t]);
    free(w->weights);
    free(w);
}

const ls_program *ls_workload_program(const ls_workload *w, int threads) { return &w->programs[threads - 1]; }

double ls_workload_prefill(const ls_workload *w, int threads, int runs) {
    char err[LS_ERROR_SIZE];
    ls_runtime *r = ls_runtime_create(&w->programs[threads - 1], err);
    if (!r) return -1;
    ls_runtime_forward(r, w->tokens, W_ROWS, 0);
    double best = -1;
    for (int k = 0; k < runs; k++) {
        double start = ls_now_s();
        for (int64_t at = 0; at < W_TOKENS; at += W_ROWS) ls_runtime_forward(r, w->tokens + at, W_ROWS, at);
        double s = ls_now_s() - start;
        if (best < 0 || s < best) best = s;
    }
    ls_runtime_free(r);
    return best;
}

double ls_workload_predict(const ls_workload *w, int threads, const ls_machine *m) {
    return ls_cost_prefill_ms(&w->programs[threads - 1], m, W_TOKENS) * 1e-3;
}

double ls_workload_fit(const ls_workload *w, int threads, const ls_machine *m, double seconds) {
    ls_machine trial = *m;
    double *s = &trial.compute_stretch[ls_machine_threads(m, threads) - 1], lo = 1, hi = 10;
    *s = lo;
    if (ls_workload_predict(w, threads, &trial) >= seconds) return lo;
    *s = hi;
    if (ls_workload_predict(w, threads, &trial) <= seconds) return hi;
    for (int i = 0; i < 40; i++) { /* the interval 9 / 2^40 wide at the end */
        *s = (lo + hi) / 2;
        if (ls_workload_predict(w, threads, &trial) < seconds) lo = *s;
        else hi = *s;
    }
    return (lo + hi) / 2;
}
