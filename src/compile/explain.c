/* explain.c — the program as text, one line per step, like SQLite's EXPLAIN; or as JSON.
 *
 * Both show the same figures: per step its kernel, graph node, operands (buffer, arena
 * offset, bytes), each thread's tile and the predicted time of a full call (max_rows tokens
 * from position 0); then the totals: weight, arena and KV-cache bytes, steps and barriers,
 * predicted ms per decoded token (the token after a 512-token prompt, or at the last position
 * of a shorter context) and per 512-token prefill in calls of max_rows. */
#include "compile/explain.h"

#include <inttypes.h>
#include <stdlib.h>

#define PREFILL_TOKENS 512

static const char *split_names[] = {"rows", "cols", "heads", "outputs", "none"};

typedef struct summary {
    uint64_t weight_bytes, kv_bytes;
    int64_t prefill_tokens, decode_position;
    double decode_ms, prefill_ms; /* 0 without a machine */
    double bytes, work;           /* of all steps in a full call */
} summary;

static summary summarize(const ls_program *p, const ls_machine *m) {
    summary s = {.weight_bytes = ls_program_weight_bytes(p), .kv_bytes = ls_program_kv_bytes(p)};
    s.prefill_tokens = p->context < PREFILL_TOKENS ? p->context : PREFILL_TOKENS;
    s.decode_position = s.prefill_tokens < p->context ? s.prefill_tokens : p->context - 1;
    ls_step_cost *costs = malloc((size_t)p->n_steps * sizeof *costs);
    if (m) {
        s.decode_ms = ls_cost_decode_ms(p, m, s.decode_position, 1);
        s.prefill_ms = ls_cost_prefill_ms(p, m, s.prefill_tokens);
    }
    if (costs && m) {
        ls_cost_call(p, m, p->max_rows, 0, costs);
        for (int32_t i = 0; i < p->n_steps; i++) {
            s.bytes += costs[i].bytes;
            s.work += costs[i].work;
        }
    }
    free(costs);
    return s;
}

static void print_buffer(FILE *out, const ls_program *p, const char *label, int32_t id) {
    if (id < 0) return;
    const ls_buffer *b = &p->buffers[id];
    fprintf(out, " %s=@%" PRIu64 "+%" PRIu64, label, b->offset, b->bytes);
}

void ls_explain(FILE *out, const ls_program *p, const ls_machine *m) {
    fprintf(out, "%5s  %-10s %-34s %10s  %s\n", "step", "kernel", "node", "us",
            "operands (arena offset+bytes) | tiles");
    for (int32_t i = 0; i < p->n_steps; i++) {
        const ls_step *s = &p->steps[i];
        const ls_node *n = &p->graph.nodes[s->node];
        char what[64];
        snprintf(what, sizeof what, "#%d %s%s%s%s", s->node, ls_op_name(n->op),
                 s->fused_add >= 0 ? "+add" : "", n->weight ? " " : "", n->weight ? n->weight->name : "");
        fprintf(out, "%5d  %-10s %-34s %10.2f ", i, ls_kernel_name(s->kernel), what, s->predicted_us);
        print_buffer(out, p, "in", s->in[0]);
        print_buffer(out, p, "in", s->in[1]);
        print_buffer(out, p, "in", s->in[2]);
        print_buffer(out, p, "out", s->out);
        fprintf(out, " | %s", split_names[s->split]);
        for (int t = 0; t < p->n_threads; t++)
            fprintf(out, " %" PRId64 "-%" PRId64, s->tile[t], s->tile[t + 1]);
        fputs(s->barrier_after ? " | barrier\n" : "\n", out);
    }
    summary sm = summarize(p, m);
    fprintf(out, "steps %d, barriers %d, threads %d, rows per call %" PRId64 ", context %" PRId64 "\n",
            p->n_steps, p->n_barriers, p->n_threads, p->max_rows, p->context);
    fprintf(out, "weights %.2f MiB, arena %.2f MiB (sum of buffers %.2f MiB), KV cache %.2f MiB\n",
            sm.weight_bytes / 1048576.0, p->arena_bytes / 1048576.0, p->buffers_bytes / 1048576.0,
            sm.kv_bytes / 1048576.0);
    if (m) {
        fprintf(out, "predicted: %.3f ms per decoded token (at position %" PRId64 "), %.1f ms per "
                     "%" PRId64 "-token prefill (%.3f ms/token); us column: one call of %" PRId64
                     " tokens\n",
                sm.decode_ms, sm.decode_position, sm.prefill_ms, sm.prefill_tokens,
                sm.prefill_ms / (double)sm.prefill_tokens, p->max_rows);
        const int th = ls_machine_threads(m, p->n_threads) - 1;
        fprintf(out, "machine model: %s (compute stretched %.2fx: a running program against the kernels alone; "
                     "weight streams %.2fx / %.2fx / %.2fx over 16 MiB / 256 MiB / 1 GiB: their mean run against "
                     "their fastest)\n",
                m->source, m->compute_stretch[th], m->stream_stretch[th][0], m->stream_stretch[th][1],
                m->stream_stretch[th][2]);
    }
}

static void json_string(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
        else if (c < 32) fprintf(out, "\\u%04x", c);
        else fputc(c, out);
    }
    fputc('"', out);
}

static void json_operand(FILE *out, const ls_program *p, const char *role, int32_t id, bool *first) {
    if (id < 0) return;
    const ls_buffer *b = &p->buffers[id];
    fprintf(out, "%s{\"role\": \"%s\", \"buffer\": %d, \"offset\": %" PRIu64 ", \"bytes\": %" PRIu64 "}",
            *first ? "" : ", ", role, id, b->offset, b->bytes);
    *first = false;
}

void ls_explain_json(FILE *out, const ls_program *p, const ls_machine *m) {
    ls_step_cost *costs = malloc((size_t)p->n_steps * sizeof *costs);
    if (costs && m) ls_cost_call(p, m, p->max_rows, 0, costs);
    fprintf(out, "{\n  \"threads\": %d,\n  \"rows_per_call\": %" PRId64 ",\n  \"context\": %" PRId64
                 ",\n  \"machine\": ",
            p->n_threads, p->max_rows, p->context);
    if (m) json_string(out, m->source);
    else fputs("null", out);
    fputs(",\n  \"steps\": [", out);
    for (int32_t i = 0; i < p->n_steps; i++) {
        const ls_step *s = &p->steps[i];
        const ls_node *n = &p->graph.nodes[s->node];
        fprintf(out, "%s\n    {\"step\": %d, \"kernel\": \"%s\", \"node\": %d, \"op\": \"%s\", \"weight\": ",
                i ? "," : "", i, ls_kernel_name(s->kernel), s->node, ls_op_name(n->op));
        if (n->weight) json_string(out, n->weight->name);
        else fputs("null", out);
        fputs(", \"operands\": [", out);
        bool first = true;
        for (int k = 0; k < 3; k++) json_operand(out, p, "in", s->in[k], &first);
        json_operand(out, p, "out", s->out, &first);
        fprintf(out, "], \"split\": \"%s\", \"work\": %" PRId64 ", \"tiles\": [", split_names[s->split], s->work);
        for (int t = 0; t < p->n_threads; t++)
            fprintf(out, "%s[%" PRId64 ", %" PRId64 "]", t ? ", " : "", s->tile[t], s->tile[t + 1]);
        fprintf(out, "], \"barrier_after\": %s, \"fused_add_node\": %d, \"predicted_us\": %.4f",
                s->barrier_after ? "true" : "false", s->fused_add, s->predicted_us);
        if (costs && m) fprintf(out, ", \"bytes\": %.0f, \"operations\": %.0f", costs[i].bytes, costs[i].work);
        fputc('}', out);
    }
    free(costs);
    summary sm = summarize(p, m);
    fprintf(out, "\n  ],\n  \"summary\": {\"weight_bytes\": %" PRIu64 ", \"arena_bytes\": %" PRIu64
                 ", \"buffers_bytes\": %" PRIu64 ", \"kv_cache_bytes\": %" PRIu64
                 ", \"n_steps\": %d, \"n_barriers\": %d, \"n_buffers\": %d",
            sm.weight_bytes, p->arena_bytes, p->buffers_bytes, sm.kv_bytes, p->n_steps, p->n_barriers,
            p->n_buffers);
    if (m) {
        const int th = ls_machine_threads(m, p->n_threads) - 1;
        fprintf(out, ", \"bytes\": %.0f, \"operations\": %.0f, \"predicted_decode_ms\": %.4f, "
                     "\"decode_position\": %" PRId64 ", \"predicted_prefill_ms\": %.4f, "
                     "\"prefill_tokens\": %" PRId64 ", \"working_set_bytes\": %.0f, \"compute_stretch\": %.4f, "
                     "\"stream_stretch\": [%.4f, %.4f, %.4f]",
                sm.bytes, sm.work, sm.decode_ms, sm.decode_position, sm.prefill_ms, sm.prefill_tokens,
                ls_cost_working_set(p, p->max_rows, 0), m->compute_stretch[th], m->stream_stretch[th][0],
                m->stream_stretch[th][1], m->stream_stretch[th][2]);
    }
    fputs("}\n}\n", out);
}
