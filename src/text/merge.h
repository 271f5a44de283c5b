/* merge.h — what both merge-based encoders share (spm.c, bpe.c): the text cut into UTF-8
 * characters ("symbols"), adjacent pairs merged in priority order, and the surviving
 * symbols turned into ids. The encoders differ only in a pair's priority: SPM gives -score
 * of the merged token (highest score first), BPE the merge rank.
 *
 * The queue orders pairs by (priority ascending, then the smaller left index), so equal
 * priorities merge leftmost first. A pair remembers its symbols' lengths when queued: a
 * merge since makes it stale. */
#ifndef LS_MERGE_H
#define LS_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer_internal.h"

typedef struct ls_pair {
    float priority;
    int32_t left, right;                /* symbol indices */
    uint32_t left_length, right_length; /* their byte lengths when queued */
} ls_pair;

typedef struct ls_pair_queue {
    ls_pair *items;
    size_t count, capacity;
    bool failed; /* a push ran out of memory: the caller reports it */
} ls_pair_queue;

void ls_pair_push(ls_pair_queue *queue, ls_pair pair);
ls_pair ls_pair_pop(ls_pair_queue *queue); /* count > 0 */
void ls_pair_queue_free(ls_pair_queue *queue);

typedef struct ls_symbol {
    const char *text;
    uint32_t length; /* 0 once merged into its left neighbour */
    int32_t prev, next;
} ls_symbol;

/* The priority of merging two adjacent symbols (lower merges first), or false when the
 * pair cannot merge. */
typedef bool ls_merge_priority(const ls_tokenizer *t, const ls_symbol *left,
                               const ls_symbol *right, float *priority);

/* Cuts `length` > 0 bytes of text into characters by their lead bytes (symbols has room for
 * `length`), then merges pairs until none can. Returns the number of symbols the text was
 * cut into; the survivors are linked from symbols[0] by `next`. Out of memory sets
 * queue->failed. The queue is emptied first, so one can serve many calls. */
int32_t ls_merge_symbols(const ls_tokenizer *t, const char *text, size_t length,
                         ls_symbol *symbols,
                         ls_pair_queue *queue, ls_merge_priority *priority);

/* Appends the ids of the surviving symbols: each one's vocabulary token, else one byte token
 * per byte; a byte without a token gives `unknown` (when >= 0) or nothing. */
void ls_merge_emit(const ls_tokenizer *t, const ls_symbol *symbols, int32_t n, int32_t unknown,
                   ls_id_list *out);

#endif
