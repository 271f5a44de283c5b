/* pair_queue.c — a binary min-heap of ls_pair. */
#include "text/pair_queue.h"

#include <stdlib.h>

static bool before(const ls_pair *a, const ls_pair *b) {
    return a->priority < b->priority || (a->priority == b->priority && a->left < b->left);
}

void ls_pair_push(ls_pair_queue *h, ls_pair item) {
    if (h->count == h->capacity) {
        size_t capacity = h->capacity ? h->capacity * 2 : 64;
        ls_pair *grown = realloc(h->items, capacity * sizeof *grown);
        if (!grown) {
            h->failed = true;
            return;
        }
        h->items = grown;
        h->capacity = capacity;
    }
    size_t i = h->count++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&item, &h->items[parent])) break;
        h->items[i] = h->items[parent];
        i = parent;
    }
    h->items[i] = item;
}

ls_pair ls_pair_pop(ls_pair_queue *h) {
    ls_pair top = h->items[0], last = h->items[--h->count];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->count) break;
        if (child + 1 < h->count && before(&h->items[child + 1], &h->items[child])) child++;
        if (!before(&h->items[child], &last)) break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (h->count > 0) h->items[i] = last;
    return top;
}

void ls_pair_queue_free(ls_pair_queue *h) {
    free(h->items);
    h->items = NULL;
    h->count = h->capacity = 0;
}
