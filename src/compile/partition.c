/* partition.c — the static schedule: each step's work cut into one contiguous tile per
 * thread, at compile time. Tiles depend only on the work size and the thread count; a
 * kernel's result for an element never depends on which tile computed it, so the bits are
 * the same for any thread count.
 *
 *   rows     (embed, rmsnorm, quantize, rope, kv_store): token rows of max_rows; the
 *            runtime clips each tile to the rows of the call. Rope takes rows, not heads,
 *            so that it runs on the rows the q/k norms before it wrote and the kv_store
 *            after it reads: no barrier between them, and no head count (Gemma's one KV
 *            head) leaves a thread without work in a prefill
 *   columns  (add, glu): elements of a row, in multiples of 16; and quantize where the step
 *            that computes its input cuts columns (glu, attention's heads) at multiples of
 *            512 elements, the activation format's groups: each thread then quantizes what
 *            it wrote, in the same phase (no barrier between; a decoded token's row is
 *            quantized by both threads, not one while the other waits)
 *   heads    (attention): heads
 *   outputs  (matmul): output features, in multiples of 16
 *   none     (last_row): all on thread 0 */
#include <string.h>

#include "compile/passes.h"

static void cut(ls_step *s, int n_threads, int64_t work, int64_t granule) {
    s->work = work;
    int64_t units = (work + granule - 1) / granule;
    for (int i = 0; i <= n_threads; i++) {
        int64_t t = units * i / n_threads * granule;
        s->tile[i] = t < work ? t : work;
    }
}

bool ls_column_bounds(const ls_program *p, const ls_step *s, int64_t *bounds) {
    int64_t unit = 1;
    if (s->split == LS_SPLIT_HEADS) unit = p->graph.nodes[s->node].p.attention.head_dim;
    else if (s->split != LS_SPLIT_COLUMNS && s->split != LS_SPLIT_OUTPUTS) return false;
    for (int i = 0; i <= p->n_threads; i++) bounds[i] = s->tile[i] * unit;
    return true;
}

/* The step before `before` that writes buffer b, or NULL. */
static const ls_step *writer_of(const ls_program *p, int32_t before, int32_t b) {
    for (int32_t j = before - 1; j >= 0; j--)
        if (p->steps[j].out == b) return &p->steps[j];
    return NULL;
}

/* A QUANTIZE step cut as its input's writer cut the row's columns, when every boundary is a
 * whole number of activation groups (or the row's end). */
static bool quantize_columns(const ls_program *p, int32_t i) {
    ls_step *s = &p->steps[i];
    const ls_step *w = writer_of(p, i, s->in[0]);
    int64_t width = p->buffers[s->in[0]].row_bytes / 4, bounds[LS_MAX_THREADS + 1];
    if (!w || !ls_column_bounds(p, w, bounds) || bounds[p->n_threads] != width) return false;
    for (int t = 0; t <= p->n_threads; t++)
        if (bounds[t] % 512 && bounds[t] != width) return false;
    s->split = LS_SPLIT_COLUMNS;
    s->work = width;
    memcpy(s->tile, bounds, (size_t)(p->n_threads + 1) * sizeof *bounds);
    return true;
}

void ls_partition(ls_program *p) {
    for (int32_t i = 0; i < p->n_steps; i++) {
        ls_step *s = &p->steps[i];
        const ls_node *n = &p->graph.nodes[s->node];
        int64_t rows = s->one_row ? 1 : p->max_rows;
        switch (s->kernel) {
        case LS_K_QUANTIZE:
            if (quantize_columns(p, i)) break;
            /* fall through */
        case LS_K_EMBED:
        case LS_K_RMSNORM:
        case LS_K_ROPE:
        case LS_K_KV_STORE:
            s->split = LS_SPLIT_ROWS;
            cut(s, p->n_threads, rows, 1);
            break;
        case LS_K_ADD:
        case LS_K_GLU:
            s->split = LS_SPLIT_COLUMNS;
            cut(s, p->n_threads, n->width, 16);
            break;
        case LS_K_ATTENTION:
            s->split = LS_SPLIT_HEADS;
            cut(s, p->n_threads, n->p.attention.n_head, 1);
            break;
        case LS_K_MATMUL:
            s->split = LS_SPLIT_OUTPUTS;
            cut(s, p->n_threads, n->width, 16);
            break;
        default:
            s->split = LS_SPLIT_NONE;
            cut(s, 1, 1, 1);
            for (int t = 2; t <= p->n_threads; t++) s->tile[t] = 1;
            break;
        }
    }
}
