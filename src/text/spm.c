/* spm.c — SentencePiece-style encoding (tokenizer.ggml.model "llama"), as llama.cpp does it.
 *
 * The text (spaces already escaped to U+2581) is cut into characters by their lead bytes;
 * then, repeatedly, the adjacent pair whose concatenation is a vocabulary token with the
 * highest score is merged (equal scores: the leftmost pair first). Each final piece is its
 * token, or — when the piece is not in the vocabulary — one byte token per byte. */
#include <stdlib.h>

#include "text/merge.h"

/* Merging left and right makes their concatenation (adjacent in the text): its score. */
static bool score(const ls_tokenizer *t, const ls_symbol *left, const ls_symbol *right,
                  float *priority) {
    int32_t id = ls_vocab_find(t, left->text, left->length + right->length);
    if (id < 0) return false;
    *priority = -t->tokens[id].score;
    return true;
}

void ls_spm_encode(const ls_tokenizer *t, const char *text, size_t length, ls_id_list *out) {
    if (length == 0) return;
    ls_symbol *symbols = malloc(length * sizeof *symbols);
    ls_pair_queue queue = {0};
    if (!symbols) {
        out->failed = true;
        return;
    }
    int32_t n = ls_merge_symbols(t, text, length, symbols, &queue, score);
    if (queue.failed) out->failed = true;
    /* llama.cpp has no answer for a byte without a token (it throws); use <unk>. */
    ls_merge_emit(t, symbols, n, t->unk, out);
    ls_pair_queue_free(&queue);
    free(symbols);
}
