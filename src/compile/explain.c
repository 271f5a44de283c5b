/* explain.c — the program as text, one line per step, like SQLite's EXPLAIN. */
#include "compile/explain.h"

#include <inttypes.h>

static void print_buffer(FILE *out, const ls_program *p, const char *label, int32_t id) {
    if (id < 0) return;
    const ls_buffer *b = &p->buffers[id];
    fprintf(out, " %s=@%" PRIu64 "+%" PRIu64, label, b->offset, b->bytes);
}

void ls_explain(FILE *out, const ls_program *p) {
    static const char *splits[] = {"rows", "cols", "heads", "outputs", "none"};
    fprintf(out, "%5s  %-10s %-34s %s\n", "step", "kernel", "node", "operands (arena offset+bytes) | tiles");
    for (int32_t i = 0; i < p->n_steps; i++) {
        const ls_step *s = &p->steps[i];
        const ls_node *n = &p->graph.nodes[s->node];
        char what[64];
        snprintf(what, sizeof what, "#%d %s%s%s", s->node, ls_op_name(n->op), n->weight ? " " : "",
                 n->weight ? n->weight->name : "");
        fprintf(out, "%5d  %-10s %-34s", i, ls_kernel_name(s->kernel), what);
        print_buffer(out, p, "in", s->in[0]);
        print_buffer(out, p, "in", s->in[1]);
        print_buffer(out, p, "in", s->in[2]);
        print_buffer(out, p, "out", s->out);
        fprintf(out, " | %s", splits[s->split]);
        for (int t = 0; t < p->n_threads; t++)
            fprintf(out, " %" PRId64 "-%" PRId64, s->tile[t], s->tile[t + 1]);
        fputc('\n', out);
    }
    fprintf(out, "steps %d, barriers %d, threads %d, rows per call %" PRId64 ", context %" PRId64 "\n",
            p->n_steps, p->n_steps, p->n_threads, p->max_rows, p->context);
    fprintf(out, "arena %.2f MiB (sum of buffers %.2f MiB)\n", p->arena_bytes / 1048576.0,
            p->buffers_bytes / 1048576.0);
}
