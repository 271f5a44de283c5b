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
 *   columns  (add, glu): elements of a row, in multiples of 16
 *   heads    (attention): heads
 *   outputs  (matmul): output features, in multiples of 16
 *   none     (last_row): all on thread 0 */
#include "compile/passes.h"

static void cut(ls_step *s, int n_threads, int64_t work, int64_t granule) {
    s->work = work;
    int64_t units = (work + granule - 1) / granule;
    for (int i = 0; i <= n_threads; i++) {
        int64_t t = units * i / n_threads * granule;
        s->tile[i] = t < work ? t : work;
    }
}

void ls_partition(ls_program *p) {
    for (int32_t i = 0; i < p->n_steps; i++) {
        ls_step *s = &p->steps[i];
        const ls_node *n = &p->graph.nodes[s->node];
        int64_t rows = s->one_row ? 1 : p->max_rows;
        switch (s->kernel) {
        case LS_K_EMBED:
        case LS_K_RMSNORM:
        case LS_K_QUANTIZE:
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
