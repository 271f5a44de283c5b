/* spm.c — SentencePiece-style encoding (tokenizer.ggml.model "llama"), as llama.cpp does it.
 *
 * The text (spaces already escaped to U+2581) is cut into characters by their lead bytes;
 * then, repeatedly, the adjacent pair whose concatenation is a vocabulary token with the
 * highest score is merged (equal scores: the leftmost pair first). Each final piece is its
 * token, or — when the piece is not in the vocabulary — one byte token per byte. */
#include <stdlib.h>

#include "text/pair_queue.h"
#include "text/tokenizer_internal.h"
#include "text/utf8.h"

typedef struct symbol {
    const char *text;
    uint32_t length; /* 0 once merged into its left neighbour */
    int32_t prev, next;
} symbol;

static void try_add(const ls_tokenizer *t, symbol *symbols, ls_pair_queue *h, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    uint32_t length = symbols[left].length + symbols[right].length;
    /* Adjacent symbols are contiguous in the text. */
    int32_t id = ls_vocab_find(t, symbols[left].text, length);
    if (id < 0) return;
    ls_pair_push(h, (ls_pair){-t->tokens[id].score, left, right, symbols[left].length,
                             symbols[right].length});
}

void ls_spm_encode(const ls_tokenizer *t, const char *text, size_t length, ls_id_list *out) {
    if (length == 0) return;
    symbol *symbols = malloc(length * sizeof(symbol));
    ls_pair_queue h = {0};
    if (!symbols) {
        out->failed = true;
        return;
    }
    int32_t n = 0;
    for (size_t offset = 0; offset < length; n++) {
        size_t size = ls_utf8_lead_length((uint8_t)text[offset]);
        if (size > length - offset) size = length - offset;
        symbols[n] = (symbol){text + offset, (uint32_t)size, n - 1, -1};
        offset += size;
        if (offset < length) symbols[n].next = n + 1;
    }
    for (int32_t i = 1; i < n; i++) try_add(t, symbols, &h, i - 1, i);
    while (h.count > 0 && !h.failed) {
        ls_pair b = ls_pair_pop(&h);
        symbol *left = &symbols[b.left], *right = &symbols[b.right];
        if (left->length == 0 || right->length == 0 || left->length != b.left_length ||
            right->length != b.right_length)
            continue; /* stale: one side changed since it was queued */
        left->length += right->length;
        right->length = 0;
        left->next = right->next;
        if (right->next >= 0) symbols[right->next].prev = b.left;
        try_add(t, symbols, &h, left->prev, b.left);
        try_add(t, symbols, &h, b.left, left->next);
    }
    if (h.failed) out->failed = true;
    for (int32_t i = 0; i != -1 && !out->failed; i = symbols[i].next) {
        int32_t id = ls_vocab_find(t, symbols[i].text, symbols[i].length);
        if (id >= 0) {
            ls_id_list_push(out, id);
            continue;
        }
        for (uint32_t j = 0; j < symbols[i].length; j++) {
            /* llama.cpp has no answer for a byte without a token (it throws); use <unk>. */
            int32_t byte_id = t->byte_token[(uint8_t)symbols[i].text[j]];
            if (byte_id < 0) byte_id = t->unk;
            if (byte_id >= 0) ls_id_list_push(out, byte_id);
        }
    }
    ls_pair_queue_free(&h);
    free(symbols);
}
