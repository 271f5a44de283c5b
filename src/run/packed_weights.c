/* packed_weights.c — see packed_weights.h. */
#include "run/packed_weights.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/huge_pages.h"
#include "quant/quant.h"

static size_t matrix_bytes(const ls_weight *w) {
    const ls_dtype_info *info = ls_dtype_find(w->type);
    return (size_t)w->n_out * (size_t)(w->n_in / info->block_elements) * info->block_bytes;
}

/* The node whose matrix w is packed with, or -1: the first matmul node with w. */
static int32_t first_user(const ls_graph *g, const ls_weight *w, int32_t before) {
    for (int32_t i = 0; i < before; i++)
        if (g->nodes[i].op == LS_OP_MATMUL && g->nodes[i].weight == w) return i;
    return -1;
}

static bool packs(const ls_node *n) {
    return n->op == LS_OP_MATMUL && n->weight && ls_packed_supported(n->weight->type);
}

int ls_packed_weights_create(ls_packed_weights *pw, const ls_program *p, char *err) {
    const ls_graph *g = &p->graph;
    memset(pw, 0, sizeof *pw);
    pw->by_node = calloc((size_t)g->n_nodes + 1, sizeof *pw->by_node);
    if (!pw->by_node) return ls_fail(err, "out of memory");
    size_t total = 0;
    for (int32_t i = 0; i < g->n_nodes; i++)
        if (packs(&g->nodes[i]) && first_user(g, g->nodes[i].weight, i) < 0)
            total += (matrix_bytes(g->nodes[i].weight) + 63) / 64 * 64;
    if (total == 0) return 0;
    pw->memory = ls_alloc_huge(total);
    if (!pw->memory) {
        ls_packed_weights_free(pw);
        return ls_fail(err, "cannot allocate %.1f MiB for packed weights", (double)total / (1 << 20));
    }
    pw->bytes = total;
    size_t at = 0;
    for (int32_t i = 0; i < g->n_nodes; i++) {
        const ls_node *n = &g->nodes[i];
        if (!packs(n)) continue;
        int32_t first = first_user(g, n->weight, i);
        if (first >= 0) {
            pw->by_node[i] = pw->by_node[first];
            continue;
        }
        void *dst = (uint8_t *)pw->memory + at;
        ls_pack_rows(n->weight->type, n->weight->data, n->weight->n_in, 0, n->weight->n_out, dst);
        pw->by_node[i] = dst;
        at += (matrix_bytes(n->weight) + 63) / 64 * 64;
    }
    return 0;
}

void ls_packed_weights_free(ls_packed_weights *pw) {
    free(pw->by_node);
    free(pw->memory);
    memset(pw, 0, sizeof *pw);
}
