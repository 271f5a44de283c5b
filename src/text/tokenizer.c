/* tokenizer.c — loading a vocabulary from GGUF metadata, special tokens, and the parts of
 * encoding and decoding that SPM and BPE share, following llama.cpp (src/llama-vocab.cpp).
 *
 * Encoding: the text is first cut at special tokens (tokenizer_st_partition in llama.cpp):
 * every CONTROL, USER_DEFINED and UNKNOWN token, longest first, splits the raw pieces at
 * each of its occurrences, left to right. Without parse_special only USER_DEFINED tokens
 * take part. The raw pieces left go to the SPM or BPE encoder one by one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "text/tokenizer_internal.h"
#include "text/utf8.h"

/* Bounds that keep a hostile file from asking for unbounded memory. */
#define MAX_VOCAB (1 << 24)
#define MAX_MERGES (1 << 24)
#define MAX_TEXT ((size_t)1 << 28)

/* ---- hashing ----------------------------------------------------------------------- */

uint32_t ls_hash_bytes(const char *bytes, size_t length) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < length; i++) h = (h ^ (uint8_t)bytes[i]) * 16777619u;
    return h;
}

static uint32_t table_size_for(int64_t n) {
    uint32_t size = 16;
    while ((int64_t)size < 2 * n) size *= 2;
    return size;
}

static bool token_is(const ls_tokenizer *t, int32_t id, const char *bytes, size_t length) {
    return t->tokens[id].length == length && memcmp(t->tokens[id].text, bytes, length) == 0;
}

static int32_t table_find(const ls_tokenizer *t, const int32_t *table, uint32_t mask, uint32_t hash,
                          const char *bytes, size_t length) {
    for (uint32_t slot = hash & mask;; slot = (slot + 1) & mask) {
        int32_t id = table[slot];
        if (id < 0) return -1;
        if (token_is(t, id, bytes, length)) return id;
    }
}

int32_t ls_vocab_find(const ls_tokenizer *t, const char *bytes, size_t length) {
    return table_find(t, t->token_table, t->token_table_mask, ls_hash_bytes(bytes, length), bytes,
                      length);
}

static uint32_t merge_hash(const char *left, size_t left_length, const char *right,
                           size_t right_length) {
    uint32_t h = ls_hash_bytes(left, left_length);
    h = (h ^ 0xFFu) * 16777619u; /* a separator no UTF-8 text contains */
    for (size_t i = 0; i < right_length; i++) h = (h ^ (uint8_t)right[i]) * 16777619u;
    return h;
}

int32_t ls_merge_rank(const ls_tokenizer *t, const char *left, size_t left_length,
                      const char *right, size_t right_length) {
    if (!t->merge_table) return -1;
    uint32_t mask = t->merge_table_mask;
    for (uint32_t slot = merge_hash(left, left_length, right, right_length) & mask;;
         slot = (slot + 1) & mask) {
        int32_t m = t->merge_table[slot];
        if (m < 0) return -1;
        const ls_merge *e = &t->merges[m];
        if (e->left_length == left_length && e->right_length == right_length &&
            memcmp(e->left, left, left_length) == 0 && memcmp(e->right, right, right_length) == 0)
            return e->rank;
    }
}

void ls_id_list_push(ls_id_list *list, int32_t id) {
    if (list->failed) return;
    if (list->count == list->capacity) {
        int64_t capacity = list->capacity ? list->capacity * 2 : 256;
        int32_t *grown = realloc(list->ids, (size_t)capacity * sizeof(int32_t));
        if (!grown) {
            list->failed = true;
            return;
        }
        list->ids = grown;
        list->capacity = capacity;
    }
    list->ids[list->count++] = id;
}

/* ---- loading ----------------------------------------------------------------------- */

void ls_tokenizer_free(ls_tokenizer *t) {
    if (!t) return;
    free(t->tokens);
    free(t->text_storage);
    free(t->token_table);
    free(t->merges);
    free(t->merge_table);
    free(t->special);
    free(t->special_table);
    free(t->end_ids);
    free(t);
}

static ls_tokenizer *load_fail(ls_tokenizer *t, char *err, const char *message, const char *detail) {
    ls_fail(err, "tokenizer: %s%s", message, detail ? detail : "");
    ls_tokenizer_free(t);
    return NULL;
}

/* Names of tokenizer.ggml.pre values, as llama.cpp groups them. */
typedef struct pre_name {
    const char *name;
    enum ls_pre_type pre;
    bool llama3; /* Llama 3 family: ignore_merges, add_bos by default */
} pre_name;

static const pre_name pre_names[] = {
    {"default", LS_PRE_DEFAULT, false},
    {"llama3", LS_PRE_LLAMA3, true}, {"llama-v3", LS_PRE_LLAMA3, true},
    {"llama-bpe", LS_PRE_LLAMA3, true}, {"falcon3", LS_PRE_LLAMA3, true},
    {"falcon-h1", LS_PRE_LLAMA3, true}, {"pixtral", LS_PRE_LLAMA3, true},
    {"midm-2.0", LS_PRE_LLAMA3, true}, {"lfm2", LS_PRE_LLAMA3, true},
    {"dbrx", LS_PRE_LLAMA3, false}, {"smaug-bpe", LS_PRE_LLAMA3, false},
    {"qwen2", LS_PRE_QWEN2, false}, {"deepseek-r1-qwen", LS_PRE_QWEN2, false},
    {"megrez", LS_PRE_QWEN2, false}, {"stablelm2", LS_PRE_QWEN2, false},
    {"hunyuan", LS_PRE_QWEN2, false},
    {"smollm", LS_PRE_SMOLLM, false}, {"starcoder", LS_PRE_SMOLLM, false},
    {"refact", LS_PRE_SMOLLM, false}, {"command-r", LS_PRE_SMOLLM, false},
    {"codeshell", LS_PRE_SMOLLM, false}, {"exaone", LS_PRE_SMOLLM, false},
    {"minerva-7b", LS_PRE_SMOLLM, false},
    {"gpt2", LS_PRE_GPT2, false}, {"gpt-2", LS_PRE_GPT2, false}, {"phi-2", LS_PRE_GPT2, false},
    {"jina-es", LS_PRE_GPT2, false}, {"jina-de", LS_PRE_GPT2, false},
    {"gigachat", LS_PRE_GPT2, false}, {"jina-v2-es", LS_PRE_GPT2, false},
    {"jina-v2-de", LS_PRE_GPT2, false}, {"mpt", LS_PRE_GPT2, false},
    {"olmo", LS_PRE_GPT2, false}, {"jais", LS_PRE_GPT2, false},
    {"trillion", LS_PRE_GPT2, false}, {"granite-docling", LS_PRE_GPT2, false},
    {"exaone4", LS_PRE_GPT2, false},
};

/* Token texts llama.cpp recognises by name (llama-vocab.cpp, "auto-detect special tokens"). */
static const char *const eot_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "[EOT]", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    "<end_of_utterance>", NULL};
static const char *const eom_texts[] = {"<|eom_id|>", NULL};
static const char *const fim_pre_texts[] = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>",
    "<PRE>", "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL};
static const char *const fim_suf_texts[] = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>",
    "<SUF>", "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL};
static const char *const fim_mid_texts[] = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>",
    "<MID>", "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL};
static const char *const fim_pad_texts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL};
static const char *const fim_rep_texts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
                                            "<reponame>", NULL};
static const char *const fim_sep_texts[] = {"<|file_sep|>", NULL};
static const char *const end_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "[e~[", NULL};

static int32_t find_text(const ls_tokenizer *t, const char *text) {
    return ls_vocab_find(t, text, strlen(text));
}

/* The id given by `key` when present and in range, else `fallback`. */
static int32_t special_id(const gguf_file *file, const char *key, int32_t fallback, int32_t n) {
    uint64_t id;
    if (fallback >= n) fallback = -1;
    if (gguf_get_uint(file, key, &id) && id < (uint64_t)n) return (int32_t)id;
    return fallback;
}

/* When `*id` is unset, the lowest id whose text is in `texts`; made a control token. */
static void detect(ls_tokenizer *t, int32_t *id, const char *const *texts) {
    if (*id >= 0) return;
    int32_t best = -1;
    for (int k = 0; texts[k]; k++) {
        int32_t found = find_text(t, texts[k]);
        if (found >= 0 && (best < 0 || found < best)) best = found;
    }
    if (best >= 0) {
        *id = best;
        t->tokens[best].attr |= LS_ATTR_CONTROL;
    }
}

static int compare_ids(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void add_end(ls_tokenizer *t, int32_t id) {
    if (id < 0) return;
    for (int32_t k = 0; k < t->n_end; k++)
        if (t->end_ids[k] == id) return;
    t->end_ids[t->n_end++] = id;
}

static void remove_end(ls_tokenizer *t, int32_t id) {
    for (int32_t k = 0; k < t->n_end; k++) {
        if (t->end_ids[k] == id) {
            t->end_ids[k] = t->end_ids[--t->n_end];
            return;
        }
    }
}

static bool is_end_text(const char *const *texts, const ls_token *token) {
    for (int k = 0; texts[k]; k++)
        if (strlen(texts[k]) == token->length && memcmp(texts[k], token->text, token->length) == 0)
            return true;
    return false;
}

/* Special ids, attributes fixed up by name, and the end-of-generation set (llama.cpp's
 * load(): eot/eom/fim detection, "unused" control tokens, special_eog_ids). */
static bool load_special(ls_tokenizer *t, const gguf_file *file, int32_t default_bos,
                         int32_t default_eos, int32_t default_unk) {
    int32_t n = t->n_tokens;
    t->bos = special_id(file, "tokenizer.ggml.bos_token_id", default_bos, n);
    t->eos = special_id(file, "tokenizer.ggml.eos_token_id", default_eos, n);
    t->unk = special_id(file, "tokenizer.ggml.unknown_token_id", default_unk, n);
    t->eot = special_id(file, "tokenizer.ggml.eot_token_id", -1, n);
    t->eom = special_id(file, "tokenizer.ggml.eom_token_id", -1, n);
    int32_t fim_pre = special_id(file, "tokenizer.ggml.fim_pre_token_id", -1, n);
    fim_pre = special_id(file, "tokenizer.ggml.prefix_token_id", fim_pre, n);
    int32_t fim_suf = special_id(file, "tokenizer.ggml.fim_suf_token_id", -1, n);
    fim_suf = special_id(file, "tokenizer.ggml.suffix_token_id", fim_suf, n);
    int32_t fim_mid = special_id(file, "tokenizer.ggml.fim_mid_token_id", -1, n);
    fim_mid = special_id(file, "tokenizer.ggml.middle_token_id", fim_mid, n);
    int32_t fim_pad = special_id(file, "tokenizer.ggml.fim_pad_token_id", -1, n);
    int32_t fim_rep = special_id(file, "tokenizer.ggml.fim_rep_token_id", -1, n);
    int32_t fim_sep = special_id(file, "tokenizer.ggml.fim_sep_token_id", -1, n);

    detect(t, &t->eot, eot_texts);
    detect(t, &t->eom, eom_texts);
    detect(t, &fim_pre, fim_pre_texts);
    detect(t, &fim_suf, fim_suf_texts);
    detect(t, &fim_mid, fim_mid_texts);
    detect(t, &fim_pad, fim_pad_texts);
    detect(t, &fim_rep, fim_rep_texts);
    detect(t, &fim_sep, fim_sep_texts);

    for (int32_t id = 0; id < n; id++) {
        ls_token *token = &t->tokens[id];
        if ((token->attr & LS_ATTR_CONTROL) && memmem(token->text, token->length, "unused", 6))
            token->attr |= LS_ATTR_UNUSED;
    }

    int64_t n_end_texts = 0;
    while (end_texts[n_end_texts]) n_end_texts++;
    t->end_ids = malloc((size_t)(n_end_texts + 8) * sizeof(int32_t));
    if (!t->end_ids) return false;
    add_end(t, fim_pad);
    add_end(t, fim_rep);
    add_end(t, fim_sep);
    for (int k = 0; end_texts[k]; k++) {
        int32_t id = find_text(t, end_texts[k]);
        if (id < 0) continue;
        add_end(t, id);
        t->tokens[id].attr |= LS_ATTR_CONTROL;
    }
    static const char *const always_rendered[] = {"<|channel|>", "<|message|>", "<|start|>",
                                                  "<|constrain|>", NULL};
    for (int k = 0; always_rendered[k]; k++) {
        int32_t id = find_text(t, always_rendered[k]);
        if (id >= 0) t->tokens[id].attr = LS_ATTR_USER_DEFINED;
    }
    add_end(t, t->eos);
    add_end(t, t->eot);
    add_end(t, t->eom);

    /* o200k_harmony / solar-open: "<|end|>" does not end generation there. */
    bool has_return = false, has_call = false, has_flush = false;
    int32_t end_id = -1, tool_response_id = -1, s_id = -1;
    for (int32_t k = 0; k < t->n_end; k++) {
        const ls_token *token = &t->tokens[t->end_ids[k]];
        static const char *const ret[] = {"<|return|>", NULL}, *const call[] = {"<|call|>", "<|calls|>", NULL},
                                 *const flush[] = {"<|flush|>", NULL}, *const end[] = {"<|end|>", NULL},
                                 *const tool[] = {"<|tool_response>", NULL}, *const s[] = {"</s>", NULL};
        if (is_end_text(ret, token)) has_return = true;
        if (is_end_text(call, token)) has_call = true;
        if (is_end_text(flush, token)) has_flush = true;
        if (is_end_text(end, token)) end_id = t->end_ids[k];
        if (is_end_text(tool, token)) tool_response_id = t->end_ids[k];
        if (is_end_text(s, token)) s_id = t->end_ids[k];
    }
    if (end_id >= 0 && ((has_return && has_call) || (has_call && has_flush))) {
        remove_end(t, end_id);
        t->tokens[end_id].attr = LS_ATTR_USER_DEFINED;
    }
    if (tool_response_id >= 0 && s_id >= 0) { /* Gemma 4: "</s>" is plain text there */
        remove_end(t, s_id);
        t->tokens[s_id].attr = LS_ATTR_NORMAL;
    }
    qsort(t->end_ids, (size_t)t->n_end, sizeof(int32_t), compare_ids);
    return true;
}

/* Special-token cache: longest first (ties by id), plus a hash table to find occurrences. */
static int compare_special(const void *a, const void *b, void *context) {
    const ls_tokenizer *t = context;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (t->tokens[x].length != t->tokens[y].length)
        return t->tokens[x].length > t->tokens[y].length ? -1 : 1;
    return (x > y) - (x < y);
}

static bool build_special(ls_tokenizer *t) {
    const uint32_t mask = LS_ATTR_CONTROL | LS_ATTR_USER_DEFINED | LS_ATTR_UNKNOWN;
    int32_t count = 0;
    for (int32_t id = 0; id < t->n_tokens; id++) count += (t->tokens[id].attr & mask) != 0;
    t->special = malloc((size_t)(count ? count : 1) * sizeof(int32_t));
    uint32_t size = table_size_for(count);
    t->special_table = malloc(size * sizeof(int32_t));
    if (!t->special || !t->special_table) return false;
    t->special_table_mask = size - 1;
    memset(t->special_table, 0xFF, size * sizeof(int32_t));
    for (int32_t id = 0; id < t->n_tokens; id++) {
        if (!(t->tokens[id].attr & mask)) continue;
        t->special[t->n_special++] = id;
        const ls_token *token = &t->tokens[id];
        if (token->length > t->special_max_length) t->special_max_length = token->length;
        uint32_t slot = ls_hash_bytes(token->text, token->length) & t->special_table_mask;
        while (t->special_table[slot] >= 0) slot = (slot + 1) & t->special_table_mask;
        t->special_table[slot] = id;
    }
    qsort_r(t->special, (size_t)t->n_special, sizeof(int32_t), compare_special, t);
    return true;
}

static bool load_merges(ls_tokenizer *t, const gguf_array *merges, char **storage) {
    t->merges = malloc((size_t)(merges->count ? merges->count : 1) * sizeof(ls_merge));
    uint32_t size = table_size_for((int64_t)merges->count);
    t->merge_table = malloc(size * sizeof(int32_t));
    if (!t->merges || !t->merge_table) return false;
    t->merge_table_mask = size - 1;
    memset(t->merge_table, 0xFF, size * sizeof(int32_t));
    for (uint64_t i = 0; i < merges->count; i++) {
        gguf_string s = merges->strings[i];
        /* "left right": split at the first space after the first byte. */
        const char *space = s.length > 1 ? memchr(s.bytes + 1, ' ', s.length - 1) : NULL;
        if (!space) continue; /* llama.cpp stores ("", ""), which never matches */
        char *copy = *storage;
        memcpy(copy, s.bytes, s.length);
        *storage += s.length;
        size_t left_length = (size_t)(space - s.bytes);
        ls_merge m = {copy, copy + left_length + 1, (uint32_t)left_length,
                      (uint32_t)(s.length - left_length - 1), (int32_t)i};
        if (ls_merge_rank(t, m.left, m.left_length, m.right, m.right_length) >= 0)
            continue; /* the first of duplicate merges wins */
        t->merges[t->n_merges] = m;
        uint32_t slot = merge_hash(m.left, m.left_length, m.right, m.right_length) & t->merge_table_mask;
        while (t->merge_table[slot] >= 0) slot = (slot + 1) & t->merge_table_mask;
        t->merge_table[slot] = (int32_t)t->n_merges++;
    }
    return true;
}

ls_tokenizer *ls_tokenizer_load(const gguf_file *file, char *err) {
    ls_tokenizer *t = calloc(1, sizeof(ls_tokenizer));
    if (!t) return load_fail(t, err, "out of memory", NULL);
    gguf_string model;
    if (!gguf_get_string(file, "tokenizer.ggml.model", &model))
        return load_fail(t, err, "tokenizer.ggml.model missing", NULL);
    if (gguf_string_equals(model, "llama")) t->type = LS_VOCAB_SPM;
    else if (gguf_string_equals(model, "gpt2")) t->type = LS_VOCAB_BPE;
    else return load_fail(t, err, "unsupported tokenizer.ggml.model (want \"llama\" or \"gpt2\")", NULL);

    const gguf_array *tokens = gguf_get_array(file, "tokenizer.ggml.tokens");
    if (!tokens || tokens->type != GGUF_STRING)
        return load_fail(t, err, "tokenizer.ggml.tokens missing or not an array of strings", NULL);
    if (tokens->count == 0 || tokens->count > MAX_VOCAB)
        return load_fail(t, err, "tokenizer.ggml.tokens has a bad count", NULL);
    int32_t n = (int32_t)tokens->count;
    t->n_tokens = n;

    const gguf_array *scores = gguf_get_array(file, "tokenizer.ggml.scores");
    if (scores && ((scores->type != GGUF_FLOAT32 && scores->type != GGUF_INT32) || scores->count < tokens->count))
        return load_fail(t, err, "tokenizer.ggml.scores has the wrong type or too few entries", NULL);
    const gguf_array *types = gguf_get_array(file, "tokenizer.ggml.token_type");
    if (types && (types->type != GGUF_INT32 || types->count < tokens->count))
        return load_fail(t, err, "tokenizer.ggml.token_type has the wrong type or too few entries", NULL);
    const gguf_array *merges = NULL;
    if (t->type == LS_VOCAB_BPE) {
        merges = gguf_get_array(file, "tokenizer.ggml.merges");
        if (!merges || merges->type != GGUF_STRING || merges->count > MAX_MERGES)
            return load_fail(t, err, "tokenizer.ggml.merges missing or not an array of strings", NULL);
    }

    /* One block for every token text (an empty one becomes "[EMPTY_<id>]") and merge. */
    size_t storage = 0;
    for (int32_t i = 0; i < n; i++) storage += tokens->strings[i].length ? tokens->strings[i].length : 24;
    for (uint64_t i = 0; merges && i < merges->count; i++) storage += merges->strings[i].length;
    t->text_storage = malloc(storage + 1);
    t->tokens = calloc((size_t)n, sizeof(ls_token));
    uint32_t size = table_size_for(n);
    t->token_table = malloc(size * sizeof(int32_t));
    if (!t->text_storage || !t->tokens || !t->token_table) return load_fail(t, err, "out of memory", NULL);
    t->token_table_mask = size - 1;
    memset(t->token_table, 0xFF, size * sizeof(int32_t));
    char *cursor = t->text_storage;
    for (int32_t i = 0; i < n; i++) {
        gguf_string s = tokens->strings[i];
        ls_token *token = &t->tokens[i];
        token->text = cursor;
        if (s.length) {
            memcpy(cursor, s.bytes, s.length);
            token->length = (uint32_t)s.length;
        } else {
            token->length = (uint32_t)snprintf(cursor, 24, "[EMPTY_%d]", (int)i);
        }
        cursor += token->length;
        token->score = scores ? (float)gguf_array_float(scores, (uint64_t)i) : 0.0f;
        token->attr = LS_ATTR_NORMAL;
        if (types) {
            switch (gguf_array_int(types, (uint64_t)i)) {
            case 1: token->attr = LS_ATTR_NORMAL; break;
            case 2: token->attr = LS_ATTR_UNKNOWN; break;
            case 3: token->attr = LS_ATTR_CONTROL; break;
            case 4: token->attr = LS_ATTR_USER_DEFINED; break;
            case 5: token->attr = LS_ATTR_UNUSED; break;
            case 6: token->attr = LS_ATTR_BYTE; break;
            default: token->attr = LS_ATTR_UNDEFINED; break;
            }
        }
        uint32_t hash = ls_hash_bytes(token->text, token->length);
        if (table_find(t, t->token_table, t->token_table_mask, hash, token->text, token->length) >= 0)
            return load_fail(t, err, "duplicate token in vocabulary", NULL);
        uint32_t slot = hash & t->token_table_mask;
        while (t->token_table[slot] >= 0) slot = (slot + 1) & t->token_table_mask;
        t->token_table[slot] = i;
    }
    if (merges && !load_merges(t, merges, &cursor)) return load_fail(t, err, "out of memory", NULL);

    int32_t default_bos, default_eos, default_unk;
    if (t->type == LS_VOCAB_SPM) {
        t->pre = LS_PRE_DEFAULT;
        t->add_space_prefix = true;
        t->add_bos = true;
        default_bos = 1, default_eos = 2, default_unk = 0;
    } else {
        gguf_string pre = {0, ""};
        gguf_get_string(file, "tokenizer.ggml.pre", &pre);
        const pre_name *found = NULL;
        for (size_t k = 0; k < sizeof pre_names / sizeof pre_names[0]; k++)
            if (gguf_string_equals(pre, pre_names[k].name)) found = &pre_names[k];
        if (!found && pre.length > 0) {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(pre.length < 60 ? pre.length : 60), pre.bytes);
            return load_fail(t, err, "unsupported tokenizer.ggml.pre: ", name);
        }
        t->pre = found ? found->pre : LS_PRE_DEFAULT;
        t->ignore_merges = found && found->llama3;
        t->add_bos = found && found->llama3;
        default_bos = 11, default_eos = 11, default_unk = -1;
    }
    gguf_get_bool(file, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix);
    if (!load_special(t, file, default_bos, default_eos, default_unk))
        return load_fail(t, err, "out of memory", NULL);
    gguf_get_bool(file, "tokenizer.ggml.add_bos_token", &t->add_bos);
    gguf_get_bool(file, "tokenizer.ggml.add_eos_token", &t->add_eos);
    if (t->add_bos && t->bos < 0)
        return load_fail(t, err, "tokenizer.ggml.add_bos_token is true but there is no BOS token", NULL);
    if (t->add_eos && t->eos < 0)
        return load_fail(t, err, "tokenizer.ggml.add_eos_token is true but there is no EOS token", NULL);
    if (!build_special(t)) return load_fail(t, err, "out of memory", NULL);

    for (int b = 0; b < 256; b++) {
        char text[8], byte = (char)b;
        int32_t id = -1;
        if (t->type == LS_VOCAB_SPM) {
            snprintf(text, sizeof text, "<0x%02X>", b);
            id = find_text(t, text);
        }
        t->byte_token[b] = id >= 0 ? id : ls_vocab_find(t, &byte, 1);
    }
    return t;
}

/* ---- queries ----------------------------------------------------------------------- */

int32_t ls_tokenizer_vocab_size(const ls_tokenizer *t) { return t->n_tokens; }
int32_t ls_tokenizer_bos(const ls_tokenizer *t) { return t->bos; }
int32_t ls_tokenizer_eos(const ls_tokenizer *t) { return t->eos; }

bool ls_tokenizer_is_end(const ls_tokenizer *t, int32_t id) {
    return bsearch(&id, t->end_ids, (size_t)t->n_end, sizeof(int32_t), compare_ids) != NULL;
}

int32_t ls_tokenizer_find(const ls_tokenizer *t, const char *text) {
    return text ? find_text(t, text) : -1;
}

/* ---- encoding ---------------------------------------------------------------------- */

typedef struct fragment {
    int32_t token;   /* a special token, or -1 for raw text */
    size_t offset, length;
} fragment;

typedef struct fragment_list {
    fragment *items;
    size_t count, capacity;
    bool failed;
} fragment_list;

static void fragment_push(fragment_list *list, fragment f) {
    if (list->failed) return;
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 16;
        fragment *grown = realloc(list->items, capacity * sizeof(fragment));
        if (!grown) {
            list->failed = true;
            return;
        }
        list->items = grown;
        list->capacity = capacity;
    }
    list->items[list->count++] = f;
}

/* The special tokens that occur somewhere in the text, in cache order (longest first). */
static int32_t *special_candidates(const ls_tokenizer *t, const char *text, size_t length,
                                   bool parse_special, size_t *count) {
    size_t n = 0, capacity = 16;
    int32_t *found = malloc(capacity * sizeof(int32_t));
    if (!found) return NULL;
    for (size_t i = 0; i < length; i++) {
        uint32_t h = 2166136261u;
        for (size_t k = 0; k < t->special_max_length && i + k < length; k++) {
            h = (h ^ (uint8_t)text[i + k]) * 16777619u;
            int32_t id = table_find(t, t->special_table, t->special_table_mask, h, text + i, k + 1);
            if (id < 0) continue;
            if (!parse_special && (t->tokens[id].attr & (LS_ATTR_CONTROL | LS_ATTR_UNKNOWN))) continue;
            if (n == capacity) {
                int32_t *grown = realloc(found, 2 * capacity * sizeof(int32_t));
                if (!grown) {
                    free(found);
                    return NULL;
                }
                found = grown;
                capacity *= 2;
            }
            found[n++] = id;
        }
    }
    qsort_r(found, n, sizeof(int32_t), compare_special, (void *)t);
    size_t unique = 0;
    for (size_t k = 0; k < n; k++)
        if (unique == 0 || found[unique - 1] != found[k]) found[unique++] = found[k];
    *count = unique;
    return found;
}

/* llama.cpp's tokenizer_st_partition: each candidate, in order, splits every raw fragment
 * at all its occurrences, left to right. */
static bool partition(const ls_tokenizer *t, const char *text, size_t length, bool parse_special,
                      fragment_list *out) {
    size_t n_candidates = 0;
    int32_t *candidates = special_candidates(t, text, length, parse_special, &n_candidates);
    if (!candidates) return false;
    fragment_list current = {0};
    fragment_push(&current, (fragment){-1, 0, length});
    for (size_t c = 0; c < n_candidates && !current.failed; c++) {
        const ls_token *special = &t->tokens[candidates[c]];
        fragment_list next = {0};
        for (size_t k = 0; k < current.count; k++) {
            fragment f = current.items[k];
            if (f.token >= 0) {
                fragment_push(&next, f);
                continue;
            }
            size_t pos = f.offset, end = f.offset + f.length;
            for (;;) {
                const char *match = memmem(text + pos, end - pos, special->text, special->length);
                if (!match) break;
                size_t at = (size_t)(match - text);
                if (at > pos) fragment_push(&next, (fragment){-1, pos, at - pos});
                fragment_push(&next, (fragment){candidates[c], 0, 0});
                pos = at + special->length;
            }
            if (pos < end) fragment_push(&next, (fragment){-1, pos, end - pos});
        }
        if (next.failed) current.failed = true;
        free(current.items);
        current = next;
    }
    free(candidates);
    if (current.failed) {
        free(current.items);
        return false;
    }
    *out = current;
    return true;
}

/* SPM: " " → U+2581 (▁), with a leading space when asked. */
static char *escape_spaces(const char *text, size_t length, bool prefix, size_t *escaped_length) {
    size_t spaces = prefix;
    for (size_t i = 0; i < length; i++) spaces += text[i] == ' ';
    char *escaped = malloc(length + prefix + 2 * spaces + 1);
    if (!escaped) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < length + prefix; i++) {
        char c = prefix ? (i == 0 ? ' ' : text[i - 1]) : text[i];
        if (c == ' ') {
            memcpy(escaped + n, "\xe2\x96\x81", 3);
            n += 3;
        } else {
            escaped[n++] = c;
        }
    }
    *escaped_length = n;
    return escaped;
}

int64_t ls_tokenize(const ls_tokenizer *t, const char *text, size_t length, bool add_special,
                    bool parse_special, int32_t *out, int64_t capacity, char *err) {
    if (!t || (!text && length > 0) || capacity < 0 || (!out && capacity > 0))
        return ls_fail(err, "tokenize: bad arguments");
    if (length > MAX_TEXT) return ls_fail(err, "tokenize: text longer than %zu bytes", MAX_TEXT);
    fragment_list fragments = {0};
    if (length > 0 && !partition(t, text, length, parse_special, &fragments))
        return ls_fail(err, "tokenize: out of memory");
    ls_id_list ids = {0};
    if (add_special && t->add_bos) ls_id_list_push(&ids, t->bos);
    bool previous_special = true; /* SPM: a space prefix goes before the first raw text too */
    for (size_t k = 0; k < fragments.count && !ids.failed; k++) {
        fragment f = fragments.items[k];
        if (f.token >= 0) {
            ls_id_list_push(&ids, f.token);
            previous_special = true;
            continue;
        }
        if (t->type == LS_VOCAB_BPE) {
            ls_bpe_encode(t, text + f.offset, f.length, &ids);
            continue;
        }
        size_t escaped_length;
        char *escaped = escape_spaces(text + f.offset, f.length, t->add_space_prefix && previous_special,
                                      &escaped_length);
        if (!escaped) {
            ids.failed = true;
            break;
        }
        ls_spm_encode(t, escaped, escaped_length, &ids);
        free(escaped);
        previous_special = false;
    }
    if (add_special && t->add_eos) ls_id_list_push(&ids, t->eos);
    free(fragments.items);
    if (ids.failed) {
        free(ids.ids);
        return ls_fail(err, "tokenize: out of memory");
    }
    int64_t copy = ids.count < capacity ? ids.count : capacity;
    if (copy > 0) memcpy(out, ids.ids, (size_t)copy * sizeof(int32_t));
    int64_t count = ids.count;
    free(ids.ids);
    return count;
}

/* ---- decoding ---------------------------------------------------------------------- */

typedef struct sink {
    char *buf;
    int size, count;
} sink;

static void sink_put(sink *s, const char *bytes, size_t length) {
    for (size_t i = 0; i < length; i++, s->count++)
        if (s->count < s->size) s->buf[s->count] = bytes[i];
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "<0xXX>" → the byte (strtol on the two characters after "<0x", as llama.cpp reads it). */
static char byte_of(const ls_token *token) {
    int value = 0;
    for (uint32_t i = 3; i < 5 && i < token->length; i++) {
        int digit = hex_value(token->text[i]);
        if (digit < 0) break;
        value = value * 16 + digit;
    }
    return (char)value;
}

int ls_token_to_piece(const ls_tokenizer *t, int32_t id, bool render_special, char *buf, int size) {
    if (!t || id < 0 || id >= t->n_tokens || size < 0 || (!buf && size > 0)) return -1;
    const ls_token *token = &t->tokens[id];
    sink s = {buf, size, 0};
    uint32_t attr = token->attr;
    if (!render_special && (attr & (LS_ATTR_UNKNOWN | LS_ATTR_CONTROL))) return 0;
    if (attr & (LS_ATTR_UNKNOWN | LS_ATTR_CONTROL | LS_ATTR_USER_DEFINED)) {
        sink_put(&s, token->text, token->length);
    } else if (attr & LS_ATTR_NORMAL) {
        if (t->type == LS_VOCAB_SPM) { /* ▁ → space */
            for (uint32_t i = 0; i < token->length;) {
                if (i + 3 <= token->length && memcmp(token->text + i, "\xe2\x96\x81", 3) == 0) {
                    sink_put(&s, " ", 1);
                    i += 3;
                } else {
                    sink_put(&s, token->text + i++, 1);
                }
            }
        } else { /* GPT-2 alphabet → bytes */
            const uint8_t *text = (const uint8_t *)token->text;
            for (size_t i = 0; i < token->length;) {
                size_t used;
                uint32_t cpt = ls_utf8_decode(text + i, token->length - i, &used);
                int byte = ls_gpt2_cpt_to_byte(cpt);
                if (byte >= 0) {
                    char c = (char)byte;
                    sink_put(&s, &c, 1);
                } else { /* as llama.cpp: "[UNK_BYTE_0x<utf8 hex><token text>]" */
                    char utf8[4], hex[3];
                    size_t m = ls_utf8_encode(cpt, utf8);
                    sink_put(&s, "[UNK_BYTE_0x", 12);
                    for (size_t b = 0; b < m; b++) {
                        snprintf(hex, sizeof hex, "%02x", (uint8_t)utf8[b]);
                        sink_put(&s, hex, 2);
                    }
                    sink_put(&s, token->text, token->length);
                    sink_put(&s, "]", 1);
                }
                i += used;
            }
        }
    } else if (attr & LS_ATTR_BYTE) {
        char byte = byte_of(token);
        sink_put(&s, &byte, 1);
    }
    return s.count;
}
