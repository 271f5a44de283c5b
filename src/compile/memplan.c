/* memplan.c — one arena for every activation, offsets chosen by lifetime.
 *
 * Greedy by size: buffers are placed largest first, each at the lowest 64-byte-aligned
 * offset where it overlaps no already-placed buffer whose lifetime [first_phase, last_phase]
 * intersects its own. Lifetimes are counted in phases, not steps: threads run the steps of a
 * phase without meeting, so a buffer read in a phase must not share bytes with one written
 * in the same phase. Sorting is by (bytes descending, id ascending), so the plan is the
 * same on every run. */
#include <stdlib.h>

#include "base/error.h"
#include "compile/passes.h"

#define ALIGNMENT 64

static const ls_program *sort_program;

static int by_size(const void *a, const void *b) {
    const ls_buffer *x = &sort_program->buffers[*(const int32_t *)a];
    const ls_buffer *y = &sort_program->buffers[*(const int32_t *)b];
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return *(const int32_t *)a - *(const int32_t *)b;
}

static int by_offset(const void *a, const void *b) {
    const ls_buffer *x = &sort_program->buffers[*(const int32_t *)a];
    const ls_buffer *y = &sort_program->buffers[*(const int32_t *)b];
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return *(const int32_t *)a - *(const int32_t *)b;
}

static uint64_t round_up(uint64_t x) { return (x + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT; }

int ls_plan_memory(ls_program *p, char *err) {
    int32_t n = p->n_buffers;
    int32_t *order = malloc((size_t)n * sizeof *order);
    int32_t *placed = malloc((size_t)n * sizeof *placed);
    int32_t *conflicts = malloc((size_t)n * sizeof *conflicts);
    if (!order || !placed || !conflicts) {
        free(order);
        free(placed);
        free(conflicts);
        return ls_fail(err, "out of memory while planning memory");
    }
    sort_program = p;
    for (int32_t i = 0; i < n; i++) order[i] = i;
    qsort(order, (size_t)n, sizeof *order, by_size);

    int32_t n_placed = 0;
    p->arena_bytes = p->buffers_bytes = 0;
    for (int32_t i = 0; i < n; i++) {
        ls_buffer *b = &p->buffers[order[i]];
        p->buffers_bytes += round_up(b->bytes);
        int32_t n_conflicts = 0;
        for (int32_t j = 0; j < n_placed; j++) {
            const ls_buffer *o = &p->buffers[placed[j]];
            if (o->first_phase <= b->last_phase && b->first_phase <= o->last_phase)
                conflicts[n_conflicts++] = placed[j];
        }
        qsort(conflicts, (size_t)n_conflicts, sizeof *conflicts, by_offset);
        uint64_t offset = 0;
        for (int32_t j = 0; j < n_conflicts; j++) {
            const ls_buffer *o = &p->buffers[conflicts[j]];
            if (offset + b->bytes <= o->offset) break; /* fits in the gap before o */
            uint64_t end = round_up(o->offset + o->bytes);
            if (end > offset) offset = end;
        }
        b->offset = offset;
        if (round_up(offset + b->bytes) > p->arena_bytes) p->arena_bytes = round_up(offset + b->bytes);
        placed[n_placed++] = order[i];
    }
    free(order);
    free(placed);
    free(conflicts);
    return 0;
}
