#include "graph/ir.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

void ls_graph_init(ls_graph *g, int64_t max_rows) {
    memset(g, 0, sizeof *g);
    g->max_rows = max_rows;
    g->output = -1;
}

void ls_graph_free(ls_graph *g) {
    free(g->nodes);
    memset(g, 0, sizeof *g);
}

/* Builders never see a failed add: ls_build_model reserves room for every node first
 * (a layer adds fewer than LS_NODES_PER_LAYER), so running out is a builder bug. */
#define LS_NODES_PER_LAYER 32

int32_t ls_graph_add(ls_graph *g, ls_node node) {
    if (g->n_nodes == g->capacity) {
        g->oom = true;
        return g->n_nodes - 1; /* keeps ids valid; ls_build_model reports the failure */
    }
    if (node.src[0] >= 0 && node.op != LS_OP_LAST_ROW)
        node.last_row_only = g->nodes[node.src[0]].last_row_only;
    g->nodes[g->n_nodes] = node;
    return g->n_nodes++;
}

static ls_node blank(ls_op op) {
    ls_node n;
    memset(&n, 0, sizeof n);
    n.op = op;
    n.src[0] = n.src[1] = n.src[2] = -1;
    return n;
}

int32_t ls_graph_rmsnorm(ls_graph *g, int32_t x, const ls_weight *w, float eps) {
    ls_node n = blank(LS_OP_RMSNORM);
    n.src[0] = x;
    n.width = g->nodes[x].width;
    n.weight = w;
    n.p.eps = eps;
    return ls_graph_add(g, n);
}

int32_t ls_graph_matmul(ls_graph *g, int32_t x, const ls_weight *w, const ls_weight *bias) {
    ls_node n = blank(LS_OP_MATMUL);
    n.src[0] = x;
    n.width = w->n_out;
    n.weight = w;
    n.bias = bias && bias->data ? bias : NULL;
    return ls_graph_add(g, n);
}

int32_t ls_graph_add2(ls_graph *g, int32_t a, int32_t b) {
    ls_node n = blank(LS_OP_ADD);
    n.src[0] = a;
    n.src[1] = b;
    n.width = g->nodes[a].width;
    return ls_graph_add(g, n);
}

int32_t ls_graph_rope_table(ls_graph *g, ls_rope_table table) {
    for (int32_t i = 0; i < g->n_rope; i++)
        if (g->rope[i].base == table.base && g->rope[i].scale == table.scale &&
            g->rope[i].dim == table.dim && g->rope[i].freq_divisors == table.freq_divisors)
            return i;
    if (g->n_rope == LS_MAX_ROPE_TABLES) return -1;
    g->rope[g->n_rope] = table;
    return g->n_rope++;
}

const char *ls_op_name(ls_op op) {
    static const char *names[LS_OP_COUNT] = {
        [LS_OP_TOKENS] = "tokens", [LS_OP_EMBED] = "embed",       [LS_OP_RMSNORM] = "rmsnorm",
        [LS_OP_MATMUL] = "matmul", [LS_OP_ADD] = "add",           [LS_OP_ROPE] = "rope",
        [LS_OP_ATTENTION] = "attention", [LS_OP_GLU] = "glu",     [LS_OP_LAST_ROW] = "last_row",
    };
    return op < LS_OP_COUNT ? names[op] : "?";
}

int ls_build_model(ls_graph *g, const ls_model *m, bool all_logits, char *err) {
    g->capacity = (int32_t)(16 + LS_NODES_PER_LAYER * m->hp.n_layer);
    g->nodes = calloc((size_t)g->capacity, sizeof *g->nodes);
    if (!g->nodes) return ls_fail(err, "out of memory while building the graph");
    int rc = m->hp.arch == LS_ARCH_GEMMA3 ? ls_build_gemma3(g, m, all_logits, err)
                                          : ls_build_llama(g, m, all_logits, err);
    if (rc == 0 && g->oom) return ls_fail(err, "internal: graph has more nodes than reserved");
    return rc;
}
