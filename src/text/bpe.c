/* bpe.c — byte-level BPE (tokenizer.ggml.model "gpt2"), as llama.cpp does it.
 *
 * The text is decoded to code points (invalid bytes become U+FFFD), split into words by
 * the pre-tokenizer, and each word's UTF-8 bytes are mapped to GPT-2's printable alphabet
 * (bytes_to_unicode). In each word, the adjacent pair with the lowest merge rank is merged
 * until no pair has a merge (equal ranks: the leftmost first). Each final piece is its
 * token; a piece without a token falls back to the tokens of its single bytes, and bytes
 * without a token are dropped (as llama.cpp does). With ignore_merges (Llama 3), a word
 * that is itself a token is taken whole. */
#include <stdlib.h>
#include <string.h>

#include "text/merge.h"
#include "text/tokenizer_internal.h"
#include "text/utf8.h"

/* GPT-2's bytes_to_unicode: printable bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) stand for
 * themselves; the other 68 bytes, in order, get U+0100, U+0101, ... */
static bool byte_is_printable(unsigned b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t ls_gpt2_byte_to_cpt(uint8_t byte) {
    if (byte_is_printable(byte)) return byte;
    uint32_t n = 0;
    for (unsigned b = 0; b < byte; b++) n += !byte_is_printable(b);
    return 256 + n;
}

int ls_gpt2_cpt_to_byte(uint32_t cpt) {
    if (cpt < 256) return byte_is_printable(cpt) ? (int)cpt : -1;
    uint32_t n = 256;
    for (unsigned b = 0; b < 256; b++) {
        if (byte_is_printable(b)) continue;
        if (n == cpt) return (int)b;
        n++;
    }
    return -1;
}

/* Merging left and right: the rank of their merge in tokenizer.ggml.merges. */
static bool rank(const ls_tokenizer *t, const ls_symbol *left, const ls_symbol *right,
                 float *priority) {
    int32_t r = ls_merge_rank(t, left->text, left->length, right->text, right->length);
    if (r < 0) return false;
    *priority = (float)r; /* exact: ranks are below 2^24 */
    return true;
}

/* Merges one byte-encoded word and appends its ids. */
static void encode_word(const ls_tokenizer *t, const char *word, size_t length,
                        ls_symbol *symbols, ls_pair_queue *queue, ls_id_list *out) {
    int32_t whole = t->ignore_merges ? ls_vocab_find(t, word, length) : -1;
    if (whole >= 0) {
        ls_id_list_push(out, whole);
        return;
    }
    int32_t n = length ? ls_merge_symbols(t, word, length, symbols, queue, rank) : 0;
    if (queue->failed) out->failed = true;
    ls_merge_emit(t, symbols, n, -1, out);
}

void ls_bpe_encode(const ls_tokenizer *t, const char *text, size_t length, ls_id_list *out) {
    if (length == 0) return;
    const uint8_t *bytes = (const uint8_t *)text;
    uint32_t *cpts = malloc(length * sizeof(uint32_t));
    size_t *words = NULL;
    char *encoded = NULL;
    ls_symbol *symbols = NULL;
    ls_pair_queue h = {0};
    size_t n = 0;
    if (!cpts) goto fail;
    for (size_t offset = 0; offset < length; n++) {
        size_t used;
        cpts[n] = ls_utf8_decode(bytes + offset, length - offset, &used);
        offset += used;
    }
    int64_t n_words = ls_pretokenize(t->pre, cpts, n, &words);
    if (n_words < 0) goto fail;
    /* A code point is at most 4 bytes, each byte at most 2 bytes once mapped. */
    size_t longest = 0;
    for (int64_t w = 0; w < n_words; w++)
        if (words[w] > longest) longest = words[w];
    encoded = malloc(longest * 8 + 1);
    symbols = malloc((longest * 8 + 1) * sizeof *symbols);
    if (!encoded || !symbols) goto fail;
    size_t start = 0;
    for (int64_t w = 0; w < n_words && !out->failed; w++) {
        size_t size = 0;
        for (size_t k = start; k < start + words[w]; k++) {
            char utf8[4];
            size_t m = ls_utf8_encode(cpts[k], utf8);
            for (size_t b = 0; b < m; b++)
                size += ls_utf8_encode(ls_gpt2_byte_to_cpt((uint8_t)utf8[b]), encoded + size);
        }
        encode_word(t, encoded, size, symbols, &h, out);
        start += words[w];
    }
    ls_pair_queue_free(&h);
    free(symbols);
    free(encoded);
    free(words);
    free(cpts);
    return;
fail:
    out->failed = true;
    free(symbols);
    free(encoded);
    free(words);
    free(cpts);
}
