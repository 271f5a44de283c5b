/* sample.h — choosing the next token from logits.
 *
 * Order of the transforms (as llama.cpp's default chain): repetition penalty → top-k →
 * temperature → softmax → top-p → min-p → draw. temperature <= 0 means greedy (argmax,
 * lowest id on ties). The draw is a uniform number from Philox-4x32-10 keyed by
 * (seed, sequence, position), so a seed gives the same tokens on every run and machine.
 * All scratch is allocated once in ls_sampler_create: sampling never allocates. */
#ifndef LS_SAMPLE_H
#define LS_SAMPLE_H

#include <stdint.h>

typedef struct ls_sampler_params {
    float temperature;    /* <= 0: greedy. default 0.8 */
    int32_t top_k;        /* <= 0: off. default 40 */
    float top_p;          /* >= 1: off. default 0.95 */
    float min_p;          /* <= 0: off. default 0.05 */
    float repeat_penalty; /* 1: off. default 1.0 */
    int32_t repeat_last_n;/* how many recent tokens the penalty looks at. default 64 */
    uint64_t seed;
} ls_sampler_params;

ls_sampler_params ls_sampler_defaults(void);

typedef struct ls_sampler ls_sampler;

/* NULL when n_vocab <= 0 or memory runs out. */
ls_sampler *ls_sampler_create(const ls_sampler_params *params, int32_t n_vocab);
void ls_sampler_free(ls_sampler *sampler);

/* Picks a token. logits: n_vocab floats (not modified). recent: the last n_recent tokens of
 * the sequence (prompt and generated), oldest first, for the repetition penalty (ids outside
 * [0, n_vocab) are ignored; NULL is allowed when n_recent is 0). Returns -1 only when
 * sampler or logits is NULL. The draw walks the kept candidates best first (id order when
 * neither top-k nor top-p is on) and takes the first whose cumulative weight exceeds
 * u · total. NaN logits give some valid id, never a crash. Cost for a 262144 vocabulary
 * (one core): ~0.1 ms with top-k 40; ~7 ms for top-p without top-k (prefix selection). */
int32_t ls_sampler_sample(ls_sampler *sampler, const float *logits, const int32_t *recent,
                          int32_t n_recent, uint64_t sequence, uint64_t position);

/* Greedy choice: the lowest id of the largest logit (NaNs are skipped; 0 if logits[0] is
 * NaN), what ls_sampler_sample returns at temperature 0 without a penalty. */
int32_t ls_argmax(const float *logits, int32_t n);

/* Philox-4x32-10 (Salmon et al. 2011): out = bijection of counter under key. */
void ls_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

/* Uniform float in [0, 1) from (seed, sequence, position): 24 random bits / 2^24. */
float ls_random_uniform(uint64_t seed, uint64_t sequence, uint64_t position);

#endif
