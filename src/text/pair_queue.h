/* pair_queue.h — the priority queue both merge-based encoders use (spm.c, bpe.c): adjacent
 * symbol pairs ordered by (priority ascending, then the smaller left index), so equal
 * priorities merge leftmost first. SPM queues -score (highest score first), BPE the merge
 * rank. A pair remembers its symbols' lengths when queued: a merge since makes it stale. */
#ifndef LS_PAIR_QUEUE_H
#define LS_PAIR_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#endif
