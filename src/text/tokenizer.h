/* tokenizer.h — text ↔ token ids, built from a GGUF file's tokenizer.ggml.* metadata.
 *
 * Two families, chosen by tokenizer.ggml.model:
 *   "llama" — SentencePiece-style: scores, ▁ for spaces, <0xXX> byte fallback
 *             (Llama 2, TinyLlama, Gemma: "gemma" models use the same code);
 *   "gpt2"  — byte-level BPE with merges and a pre-tokenizer split chosen by
 *             tokenizer.ggml.pre ("llama-bpe" for Llama 3, "qwen2", "smollm", "gpt2"/"default").
 * Ids match llama.cpp's for the same file. Not on the per-token path: may allocate. */
#ifndef LS_TOKENIZER_H
#define LS_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/gguf.h"

typedef struct ls_tokenizer ls_tokenizer;

/* NULL with one line in err (LS_ERROR_SIZE) when the metadata is missing or inconsistent. */
ls_tokenizer *ls_tokenizer_load(const gguf_file *file, char *err);
void ls_tokenizer_free(ls_tokenizer *tokenizer);

int32_t ls_tokenizer_vocab_size(const ls_tokenizer *tokenizer);
int32_t ls_tokenizer_bos(const ls_tokenizer *tokenizer); /* -1 when none */
int32_t ls_tokenizer_eos(const ls_tokenizer *tokenizer); /* -1 when none */

/* True for tokens that end a reply: eos, eot, and the chat end markers
 * (<end_of_turn>, <|eot_id|>, <|im_end|>, <|endoftext|>) present in the vocabulary. */
bool ls_tokenizer_is_end(const ls_tokenizer *tokenizer, int32_t id);

/* The id whose text is exactly `text`, or -1. */
int32_t ls_tokenizer_find(const ls_tokenizer *tokenizer, const char *text);

/* Encodes `length` bytes of text. add_special: BOS (and EOS) as the metadata's
 * add_bos_token / add_eos_token say, as llama.cpp does. parse_special: control tokens
 * written in the text (e.g. "<start_of_turn>") become their ids.
 * Writes at most `capacity` ids and returns how many the text needs (may be > capacity:
 * call again with a larger buffer), or -1 with err set (e.g. invalid UTF-8 is NOT an error:
 * bytes fall back to byte tokens as llama.cpp does). */
int64_t ls_tokenize(const ls_tokenizer *tokenizer, const char *text, size_t length,
                    bool add_special, bool parse_special, int32_t *out, int64_t capacity,
                    char *err);

/* The bytes token `id` stands for in generated text (▁ → space, <0x0A> → "\n",
 * byte-level BPE characters → bytes). Control tokens give "" unless render_special.
 * Returns the byte count (may exceed size: nothing is written past size), or -1 when id
 * is outside the vocabulary. Same bytes as llama.cpp's llama_token_to_piece. */
int ls_token_to_piece(const ls_tokenizer *tokenizer, int32_t id, bool render_special,
                      char *buf, int size);

#endif
