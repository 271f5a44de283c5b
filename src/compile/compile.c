/* compile.c — graph → program: lowering to kernels, then the memory plan and the tiles.
 *
 * Lowering: one step per node, except MATMUL, which first needs its input quantized into
 * the weight type's activation format (one QUANTIZE step per (input, weight type), shared by
 * every matmul that reads the same input in the same format: q, k and v share theirs; all
 * of an input's QUANTIZE steps follow the step that computes it), and
 * ATTENTION, which first stores the rotated k and v rows into the KV cache (KV_STORE).
 *
 * Fusion: a residual ADD whose branch was computed by the step just before (a MATMUL, as in
 * llama's x + Wo·a, or an RMSNORM, as in gemma3's x + norm(Wo·a)) and read by nothing else is
 * folded into that step: it writes residual + result straight into the ADD's buffer, saving a
 * pass over the activations and a barrier. The addition is the same IEEE operation, so the
 * bits do not change. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "compile/passes.h"
#include "quant/quant.h"

const char *ls_kernel_name(ls_kernel kernel) {
    static const char *names[LS_K_COUNT] = {
        [LS_K_EMBED] = "embed",       [LS_K_RMSNORM] = "rmsnorm",   [LS_K_QUANTIZE] = "quantize",
        [LS_K_MATMUL] = "matmul",     [LS_K_ADD] = "add",           [LS_K_ROPE] = "rope",
        [LS_K_KV_STORE] = "kv_store", [LS_K_ATTENTION] = "attention", [LS_K_GLU] = "glu",
        [LS_K_LAST_ROW] = "last_row",
    };
    return kernel < LS_K_COUNT ? names[kernel] : "?";
}

typedef struct lowering {
    ls_program *p;
    int32_t *node_buffer;   /* node id → buffer id */
    int32_t *consumers;     /* node id → how many nodes read it */
    int32_t *quant_buffer;  /* (node id, weight type) pairs → buffer id, linear probe list */
    ls_dtype *quant_type;
    int32_t *quant_node;
    int32_t n_quant;
    int32_t steps_capacity, buffers_capacity;
} lowering;

static int32_t new_buffer(lowering *l, int64_t rows, int64_t row_bytes) {
    ls_program *p = l->p;
    ls_buffer *b = &p->buffers[p->n_buffers];
    memset(b, 0, sizeof *b);
    b->row_bytes = row_bytes;
    b->bytes = (uint64_t)rows * (uint64_t)row_bytes;
    b->first_step = b->last_step = -1;
    return p->n_buffers++;
}

static ls_step *new_step(lowering *l, ls_kernel kernel, int32_t node) {
    ls_program *p = l->p;
    ls_step *s = &p->steps[p->n_steps++];
    memset(s, 0, sizeof *s);
    s->kernel = kernel;
    s->node = node;
    s->in[0] = s->in[1] = s->in[2] = s->out = s->fused_add = -1;
    s->one_row = p->graph.nodes[node].last_row_only;
    return s;
}

/* The buffer of node x in the activation format of `node`'s weight type, made by a QUANTIZE
 * step on first use. Every quantized weight type reads the same format (matmul_kernels.h), and
 * every float type plain f32, so matmuls of different types share one step (Gemma's q and k
 * in Q5_0 and v in Q8_0). */
static int32_t quantized_input(lowering *l, int32_t node, int32_t x) {
    ls_program *p = l->p;
    ls_dtype type = p->graph.nodes[node].weight->type;
    for (int32_t i = 0; i < l->n_quant; i++)
        if (l->quant_node[i] == x && ls_same_activation_format(l->quant_type[i], type))
            return l->quant_buffer[i];
    const ls_node *src = &p->graph.nodes[x];
    int64_t rows = src->last_row_only ? 1 : p->max_rows;
    int32_t b = new_buffer(l, rows, (int64_t)ls_activation_row_bytes(type, src->width));
    ls_step *s = new_step(l, LS_K_QUANTIZE, node);
    s->one_row = src->last_row_only;
    s->in[0] = l->node_buffer[x];
    s->out = b;
    l->quant_node[l->n_quant] = x;
    l->quant_type[l->n_quant] = type;
    l->quant_buffer[l->n_quant++] = b;
    return b;
}

/* The QUANTIZE steps of every matmul that reads node x, right after x's step: the inputs of
 * q, k and v (two formats where v's weight type differs) are then ready in one phase, and
 * one barrier comes before all three products instead of one before each format's. */
static void quantize_for_consumers(lowering *l, int32_t x) {
    const ls_graph *g = &l->p->graph;
    for (int32_t j = x + 1; j < g->n_nodes; j++)
        if (g->nodes[j].op == LS_OP_MATMUL && g->nodes[j].src[0] == x) quantized_input(l, j, x);
}

/* The step that can absorb ADD node `id` (see the top of this file), or NULL. */
static ls_step *fusable_add(lowering *l, int32_t id) {
    ls_program *p = l->p;
    const ls_node *n = &p->graph.nodes[id];
    int32_t branch = n->src[1];
    if (p->n_steps == 0 || l->consumers[branch] != 1 || p->graph.nodes[branch].is_output) return NULL;
    ls_step *prev = &p->steps[p->n_steps - 1];
    if (prev->node != branch || (prev->kernel != LS_K_MATMUL && prev->kernel != LS_K_RMSNORM))
        return NULL;
    return prev;
}

static void lower(lowering *l) {
    ls_program *p = l->p;
    for (int32_t id = 0; id < p->graph.n_nodes; id++)
        for (int i = 0; i < 3; i++)
            if (p->graph.nodes[id].src[i] >= 0) l->consumers[p->graph.nodes[id].src[i]]++;
    for (int32_t id = 0; id < p->graph.n_nodes; id++) {
        const ls_node *n = &p->graph.nodes[id];
        int64_t rows = n->last_row_only ? 1 : p->max_rows;
        int32_t out = new_buffer(l, rows, n->width * 4);
        l->node_buffer[id] = out;
        ls_step *s = NULL;
        ls_step *host = n->op == LS_OP_ADD ? fusable_add(l, id) : NULL;
        if (host) {
            p->buffers[host->out].bytes = 0; /* the branch's own buffer is never written */
            host->in[2] = l->node_buffer[n->src[0]];
            host->out = out;
            host->fused_add = id;
            quantize_for_consumers(l, id);
            continue;
        }
        switch (n->op) {
        case LS_OP_TOKENS:
            p->tokens_buffer = out;
            continue;
        case LS_OP_MATMUL: {
            int32_t q = quantized_input(l, id, n->src[0]);
            s = new_step(l, LS_K_MATMUL, id);
            s->in[0] = q;
            break;
        }
        case LS_OP_ATTENTION: {
            ls_step *store = new_step(l, LS_K_KV_STORE, id);
            store->in[0] = l->node_buffer[n->src[1]];
            store->in[1] = l->node_buffer[n->src[2]];
            s = new_step(l, LS_K_ATTENTION, id);
            s->in[0] = l->node_buffer[n->src[0]];
            break;
        }
        default: {
            static const ls_kernel kernel_of[LS_OP_COUNT] = {
                [LS_OP_EMBED] = LS_K_EMBED, [LS_OP_RMSNORM] = LS_K_RMSNORM,
                [LS_OP_ADD] = LS_K_ADD,     [LS_OP_ROPE] = LS_K_ROPE,
                [LS_OP_GLU] = LS_K_GLU,     [LS_OP_LAST_ROW] = LS_K_LAST_ROW,
            };
            s = new_step(l, kernel_of[n->op], id);
            for (int i = 0; i < 3; i++) s->in[i] = n->src[i] >= 0 ? l->node_buffer[n->src[i]] : -1;
        }
        }
        s->out = out;
        if (n->is_output) {
            p->logits_buffer = out;
            p->logits_rows = rows;
        }
        quantize_for_consumers(l, id);
    }
}

/* Lifetimes: a buffer lives from the step that writes it to the last step that reads it. */
static void lifetimes(ls_program *p) {
    for (int32_t i = 0; i < p->n_steps; i++) {
        const ls_step *s = &p->steps[i];
        if (s->out >= 0 && p->buffers[s->out].first_step < 0) p->buffers[s->out].first_step = i;
        for (int k = 0; k < 3; k++)
            if (s->in[k] >= 0) p->buffers[s->in[k]].last_step = i;
    }
    for (int32_t b = 0; b < p->n_buffers; b++) {
        ls_buffer *buf = &p->buffers[b];
        if (b == p->tokens_buffer) buf->first_step = 0;
        if (b == p->logits_buffer) buf->last_step = p->n_steps;
        if (buf->last_step < buf->first_step) buf->last_step = buf->first_step;
    }
}

int ls_compile(ls_program *p, const ls_model *model, const ls_compile_params *params,
               char *err) {
    memset(p, 0, sizeof *p);
    if (params->n_threads < 1 || params->n_threads > LS_MAX_THREADS)
        return ls_fail(err, "thread count %d is outside 1..%d", params->n_threads, LS_MAX_THREADS);
    if (params->max_rows < 1 || params->max_rows > 65536)
        return ls_fail(err, "batch size %lld is outside 1..65536", (long long)params->max_rows);
    if (params->context < 1 || params->context > ((int64_t)1 << 24))
        return ls_fail(err, "context %lld is outside 1..16777216", (long long)params->context);
    p->n_threads = params->n_threads;
    p->max_rows = params->max_rows;
    p->context = params->context;
    p->max_sequences = params->max_sequences > 0 ? params->max_sequences : 1;
    if (p->max_sequences > 4096)
        return ls_fail(err, "%lld sequences is more than 4096", (long long)p->max_sequences);
    p->tokens_buffer = p->logits_buffer = -1;

    ls_graph_init(&p->graph, params->max_rows);
    if (ls_build_model(&p->graph, model, params->all_logits, err)) goto fail;

    /* At most 3 steps and 2 buffers per node. */
    int32_t n = p->graph.n_nodes;
    lowering l = {.p = p};
    p->steps = calloc((size_t)(3 * n), sizeof *p->steps);
    p->buffers = calloc((size_t)(2 * n), sizeof *p->buffers);
    l.node_buffer = calloc((size_t)n, sizeof *l.node_buffer);
    l.consumers = calloc((size_t)n, sizeof *l.consumers);
    l.quant_buffer = calloc((size_t)n, sizeof *l.quant_buffer);
    l.quant_node = calloc((size_t)n, sizeof *l.quant_node);
    l.quant_type = calloc((size_t)n, sizeof *l.quant_type);
    int rc = -1;
    if (!p->steps || !p->buffers || !l.node_buffer || !l.consumers || !l.quant_buffer ||
        !l.quant_node || !l.quant_type) {
        ls_fail(err, "out of memory while compiling");
    } else {
        lower(&l);
        lifetimes(p);
        ls_partition(p);
        ls_place_barriers(p);
        rc = ls_plan_memory(p, err);
    }
    free(l.node_buffer);
    free(l.consumers);
    free(l.quant_buffer);
    free(l.quant_node);
    free(l.quant_type);
    if (rc == 0) return 0;
fail:
    ls_program_free(p);
    return -1;
}

void ls_program_free(ls_program *p) {
    ls_graph_free(&p->graph);
    free(p->steps);
    free(p->buffers);
    memset(p, 0, sizeof *p);
}
