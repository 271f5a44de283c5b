/* merge.c — the pair queue (a binary min-heap), the merge loop and the emission of ids. */
#include "text/merge.h"

#include "text/utf8.h"

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

static void try_add(const ls_tokenizer *t, ls_symbol *symbols, ls_pair_queue *queue,
                    ls_merge_priority *priority, int32_t left, int32_t right) {
    float p;
    if (left < 0 || right < 0 || !priority(t, &symbols[left], &symbols[right], &p)) return;
    ls_pair_push(queue, (ls_pair){p, left, right, symbols[left].length, symbols[right].length});
}

int32_t ls_merge_symbols(const ls_tokenizer *t, const char *text, size_t length,
                         ls_symbol *symbols,
                         ls_pair_queue *queue, ls_merge_priority *priority) {
    int32_t n = 0;
    for (size_t offset = 0; offset < length; n++) {
        size_t size = ls_utf8_lead_length((uint8_t)text[offset]);
        if (size > length - offset) size = length - offset;
        symbols[n] = (ls_symbol){text + offset, (uint32_t)size, n - 1, -1};
        offset += size;
        if (offset < length) symbols[n].next = n + 1;
    }
    queue->count = 0;
    for (int32_t i = 1; i < n; i++) try_add(t, symbols, queue, priority, i - 1, i);
    while (queue->count > 0 && !queue->failed) {
        ls_pair b = ls_pair_pop(queue);
        ls_symbol *left = &symbols[b.left], *right = &symbols[b.right];
        if (left->length == 0 || right->length == 0 || left->length != b.left_length ||
            right->length != b.right_length)
            continue; /* stale: one side changed since it was queued */
        left->length += right->length;
        right->length = 0;
        left->next = right->next;
        if (right->next >= 0) symbols[right->next].prev = b.left;
        try_add(t, symbols, queue, priority, left->prev, b.left);
        try_add(t, symbols, queue, priority, b.left, left->next);
    }
    return n;
}

void ls_merge_emit(const ls_tokenizer *t, const ls_symbol *symbols, int32_t n, int32_t unknown,
                   ls_id_list *out) {
    for (int32_t i = 0; n > 0 && i != -1 && !out->failed; i = symbols[i].next) {
        int32_t id = ls_vocab_find(t, symbols[i].text, symbols[i].length);
        if (id >= 0) {
            ls_id_list_push(out, id);
            continue;
        }
        for (uint32_t j = 0; j < symbols[i].length; j++) {
            int32_t byte_id = t->byte_token[(uint8_t)symbols[i].text[j]];
            if (byte_id < 0) byte_id = unknown;
            if (byte_id >= 0) ls_id_list_push(out, byte_id);
        }
    }
}
