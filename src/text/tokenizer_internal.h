/* tokenizer_internal.h — what tokenizer.c, spm.c, bpe.c and pretokenize.c share.
 *
 * The vocabulary is copied out of the GGUF file at load (the tokenizer does not keep the
 * file). Lookups go through open-addressing hash tables of token ids keyed by the bytes
 * of the token text; BPE merges have their own table keyed by (left text, right text). */
#ifndef LS_TOKENIZER_INTERNAL_H
#define LS_TOKENIZER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer.h"

/* Token attributes, as llama.cpp's llama_token_attr bits. */
enum {
    LS_ATTR_UNDEFINED = 0,
    LS_ATTR_UNKNOWN = 1 << 0,
    LS_ATTR_UNUSED = 1 << 1,
    LS_ATTR_NORMAL = 1 << 2,
    LS_ATTR_CONTROL = 1 << 3,
    LS_ATTR_USER_DEFINED = 1 << 4,
    LS_ATTR_BYTE = 1 << 5,
};

enum ls_vocab_type { LS_VOCAB_SPM, LS_VOCAB_BPE };

/* Pre-tokenizer families (which split rules run before byte-level BPE). */
enum ls_pre_type {
    LS_PRE_DEFAULT, /* "default" or absent: punctuation runs, GPT-2, digit runs, 3 digits */
    LS_PRE_GPT2,    /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
    LS_PRE_LLAMA3,  /* Llama 3: contractions (any case), letters, \p{N}{1,3}, ... */
    LS_PRE_QWEN2,   /* as Llama 3 with single digits */
    LS_PRE_SMOLLM,  /* single digits, then GPT-2 */
};

typedef struct ls_token {
    const char *text; /* into ls_tokenizer.text_storage; not NUL-terminated */
    uint32_t length;
    uint32_t attr;    /* LS_ATTR_* */
    float score;
} ls_token;

typedef struct ls_merge {
    const char *left, *right; /* into text_storage */
    uint32_t left_length, right_length;
    int32_t rank;
} ls_merge;

struct ls_tokenizer {
    enum ls_vocab_type type;
    enum ls_pre_type pre;
    int32_t n_tokens;
    ls_token *tokens;
    char *text_storage;      /* all token and merge texts */

    uint32_t token_table_mask; /* table size - 1 (power of two) */
    int32_t *token_table;      /* token ids, -1 = empty slot */

    int64_t n_merges;
    ls_merge *merges;
    uint32_t merge_table_mask;
    int32_t *merge_table;      /* indices into merges, -1 = empty */

    int32_t bos, eos, unk, eot, eom;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;

    /* CONTROL / USER_DEFINED / UNKNOWN tokens, longest first (then by id); their own
     * hash table for finding which of them occur in a text. */
    int32_t n_special;
    int32_t *special;
    uint32_t special_table_mask;
    int32_t *special_table;
    uint32_t special_max_length;

    int32_t n_end;           /* end-of-generation ids, sorted */
    int32_t *end_ids;

    int32_t byte_token[256]; /* SPM: <0xXX> (or the 1-byte text); BPE: the 1-byte text; -1 */
};

/* Growable array of token ids (tokenize may allocate; grows geometrically). */
typedef struct ls_id_list {
    int32_t *ids;
    int64_t count, capacity;
    bool failed; /* an allocation failed */
} ls_id_list;

void ls_id_list_push(ls_id_list *list, int32_t id);

/* FNV-1a over bytes. */
uint32_t ls_hash_bytes(const char *bytes, size_t length);

/* Token id whose text is exactly bytes[0..length), or -1. */
int32_t ls_vocab_find(const ls_tokenizer *tokenizer, const char *bytes, size_t length);

/* Rank of the merge (left, right), or -1. */
int32_t ls_merge_rank(const ls_tokenizer *tokenizer, const char *left, size_t left_length,
                      const char *right, size_t right_length);

/* SPM: appends the ids for `length` bytes of raw text (spaces already escaped to U+2581). */
void ls_spm_encode(const ls_tokenizer *tokenizer, const char *text, size_t length,
                   ls_id_list *out);

/* BPE: pre-splits, byte-encodes and merges `length` bytes of raw text. */
void ls_bpe_encode(const ls_tokenizer *tokenizer, const char *text, size_t length,
                   ls_id_list *out);

/* Pre-tokenizer: splits code points cpts[0..n) into words; returns the number of words
 * and sets *lengths (malloc'd, code point counts, caller frees), or -1 on allocation
 * failure. */
int64_t ls_pretokenize(enum ls_pre_type pre, const uint32_t *cpts, size_t n, size_t **lengths);

/* GPT-2 byte ↔ printable code point map (bytes_to_unicode). */
uint32_t ls_gpt2_byte_to_cpt(uint8_t byte);
int ls_gpt2_cpt_to_byte(uint32_t cpt); /* -1 when cpt is not in the map */

#endif
