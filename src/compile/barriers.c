/* barriers.c — where threads must meet.
 *
 * Threads run the steps between two barriers (a phase) without waiting for each other. A
 * step may join the current phase when everything it reads that was written in this phase
 * was written by the same thread: both steps cut token rows with the same tiles (e.g.
 * rmsnorm → quantize → ..., or the q and k matmuls, which read only what earlier phases
 * wrote), or the reader works column by column on the columns its thread wrote (the gate and
 * up matmuls' outputs → glu → quantize; attention's heads → quantize).
 * Otherwise a barrier closes the phase before it. The last step always ends with a barrier,
 * so the logits are complete when a call returns. Write-after-read hazards inside a phase
 * are the memory plan's business: it counts lifetimes in phases (memplan.c). */
#include <stdlib.h>
#include <string.h>

#include "compile/passes.h"

/* Whether step `reader` reads only what its own thread wrote of `writer`'s output: both cut
 * token rows with the same tiles, or the reader works column by column (add, glu, a quantize
 * cut by columns) and cuts them as the writer cut the elements it wrote (a matmul's output
 * features: the gate and up products → glu; attention's heads → quantize). */
static bool same_tiles(const ls_program *p, const ls_step *writer, const ls_step *reader) {
    size_t bytes = (size_t)(p->n_threads + 1) * sizeof writer->tile[0];
    if (writer->split == LS_SPLIT_ROWS && reader->split == LS_SPLIT_ROWS) return !memcmp(writer->tile, reader->tile, bytes);
    int64_t bounds[LS_MAX_THREADS + 1];
    return reader->split == LS_SPLIT_COLUMNS && ls_column_bounds(p, writer, bounds) &&
           bounds[p->n_threads] == reader->work && !memcmp(bounds, reader->tile, bytes);
}

void ls_place_barriers(ls_program *p) {
    /* writer[b]: the step that wrote buffer b in the current phase, or -1 */
    int32_t *writer = malloc((size_t)p->n_buffers * sizeof *writer);
    for (int32_t b = 0; b < p->n_buffers; b++) writer[b] = -1;
    int32_t phase = 0;
    p->n_barriers = 0;
    for (int32_t i = 0; i < p->n_steps; i++) {
        ls_step *s = &p->steps[i];
        bool joins = i > 0;
        for (int k = 0; k < 3 && joins; k++) {
            int32_t b = s->in[k];
            if (b >= 0 && writer && writer[b] >= 0 && !same_tiles(p, &p->steps[writer[b]], s))
                joins = false;
        }
        /* KV_STORE fills the cache ATTENTION reads: the cache is no buffer, so say it here. */
        if (s->kernel == LS_K_ATTENTION) joins = false;
        if (i > 0 && !joins) {
            p->steps[i - 1].barrier_after = true;
            p->n_barriers++;
            phase++;
            for (int32_t b = 0; writer && b < p->n_buffers; b++) writer[b] = -1;
        }
        s->phase = phase;
        if (writer && s->out >= 0) writer[s->out] = i;
        if (!writer) { /* out of memory: a barrier after every step is always correct */
            s->barrier_after = true;
            p->n_barriers++;
            phase++;
        }
    }
    if (p->n_steps > 0 && !p->steps[p->n_steps - 1].barrier_after) {
        p->steps[p->n_steps - 1].barrier_after = true;
        p->n_barriers++;
    }
    free(writer);
    for (int32_t b = 0; b < p->n_buffers; b++) {
        ls_buffer *buf = &p->buffers[b];
        buf->first_phase = buf->first_step >= 0 ? p->steps[buf->first_step].phase : -1;
        buf->last_phase = buf->last_step >= p->n_steps ? phase + 1
                          : buf->last_step >= 0   ? p->steps[buf->last_step].phase
                                                  : -1;
    }
}
