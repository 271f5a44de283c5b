/* batch_driver.c — batch invariance across sequences, driven through the runtime API.
 *
 *   batch_driver MODEL OTHERS THREADS
 *
 * 1 + OTHERS sequences (each a fixed prompt of its own length, then greedy decoding) run
 * mixed: prompts packed round-robin into calls of up to 8 rows, then decode calls holding
 * one row per sequence, the first sequence's row in the middle. Then each sequence runs
 * alone. Every sequence's logits (its prompt's last row and every decoded row) must be the
 * same bits both ways. Prints "identical N" (N rows compared) or the first difference;
 * exit 0 only when identical. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "compile/program.h"
#include "graph/model.h"
#include "run/runtime.h"

#define ROWS 8
#define PROMPT 11
#define DECODE 6
#define CONTEXT 64

static int32_t argmax(const float *x, int64_t n) {
    int32_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = (int32_t)i;
    return best;
}

/* Runs sequences first..first+count-1 (slots 0..count-1) together; returns their logits rows
 * [count][1 + DECODE][n_vocab]. Sequence s's prompt: PROMPT + 2s tokens of a fixed pattern. */
static float *run(const ls_model *m, int first, int count, int threads, char *err) {
    ls_compile_params cp = {.n_threads = threads, .max_rows = ROWS, .context = CONTEXT,
                            .all_logits = true, .max_sequences = count};
    ls_program p;
    if (ls_compile(&p, m, &cp, err)) return NULL;
    ls_runtime *r = ls_runtime_create(&p, err);
    if (!r) return NULL;
    int64_t n_vocab = m->hp.n_vocab;
    int n_seq = count;
    size_t per_sequence = (size_t)(1 + DECODE) * (size_t)n_vocab;
    float *rows = calloc((size_t)count * per_sequence, sizeof(float));
    int32_t next[64], length[64];
    /* Prompts: sequence s has PROMPT + 2s tokens (A = sequence 0), ids from a fixed pattern. */
    int32_t tokens[ROWS], seqs[ROWS], pos[ROWS];
    int64_t fed[64] = {0};
    for (int s = 0; s < n_seq; s++) length[s] = PROMPT + 2 * (first + s);
    for (int done = 0; !done;) {
        int n = 0;
        done = 1;
        for (int round = 0; n < ROWS && round < ROWS; round++)
            for (int s = 0; s < n_seq && n < ROWS; s++)
                if (fed[s] < length[s]) {
                    tokens[n] = (int32_t)((37 * (first + s + 1) + 11 * fed[s]) % n_vocab);
                    seqs[n] = s;
                    pos[n] = (int32_t)fed[s]++;
                    n++;
                }
        if (n == 0) break;
        if (ls_runtime_check_batch(r, tokens, seqs, pos, n, err)) return NULL;
        const float *logits = ls_runtime_forward_batch(r, tokens, seqs, pos, n);
        for (int i = 0; i < n; i++)
            if (pos[i] == length[seqs[i]] - 1) {
                next[seqs[i]] = argmax(logits + (size_t)i * (size_t)n_vocab, n_vocab);
                memcpy(rows + (size_t)seqs[i] * per_sequence, logits + (size_t)i * (size_t)n_vocab,
                       (size_t)n_vocab * 4);
            }
        for (int s = 0; s < n_seq; s++) done &= fed[s] == length[s];
    }
    for (int step = 0; step < DECODE; step++) {
        int n = 0, a_at = n_seq / 2;
        for (int k = 0; k < n_seq; k++) {
            int s = k == a_at ? 0 : (k < a_at ? k + 1 : k); /* A sits in the middle */
            tokens[n] = next[s];
            seqs[n] = s;
            pos[n] = (int32_t)fed[s]++;
            n++;
        }
        if (ls_runtime_check_batch(r, tokens, seqs, pos, n, err)) return NULL;
        const float *logits = ls_runtime_forward_batch(r, tokens, seqs, pos, n);
        for (int i = 0; i < n; i++) {
            next[seqs[i]] = argmax(logits + (size_t)i * (size_t)n_vocab, n_vocab);
            memcpy(rows + (size_t)seqs[i] * per_sequence + (size_t)(1 + step) * (size_t)n_vocab,
                   logits + (size_t)i * (size_t)n_vocab, (size_t)n_vocab * 4);
        }
    }
    ls_runtime_free(r);
    ls_program_free(&p);
    return rows;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: batch_driver MODEL OTHERS THREADS\n");
        return 2;
    }
    char err[LS_ERROR_SIZE] = "";
    ls_model m;
    if (ls_model_open(&m, argv[1], err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    int others = atoi(argv[2]), threads = atoi(argv[3]);
    if (others < 0 || others > 63) {
        fprintf(stderr, "OTHERS must be 0..63\n");
        return 2;
    }
    size_t per_sequence = (size_t)(1 + DECODE) * (size_t)m.hp.n_vocab;
    float *mixed = run(&m, 0, others + 1, threads, err);
    if (!mixed) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    for (int s = 0; s <= others; s++) {
        float *alone = run(&m, s, 1, threads, err);
        if (!alone) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        for (int i = 0; i < 1 + DECODE; i++)
            if (memcmp(alone + (size_t)i * (size_t)m.hp.n_vocab,
                       mixed + (size_t)s * per_sequence + (size_t)i * (size_t)m.hp.n_vocab,
                       (size_t)m.hp.n_vocab * 4)) {
                printf("sequence %d row %d differs\n", s, i);
                return 1;
            }
        free(alone);
    }
    /* The comparison can fail: two different sequences must not give the same rows. */
    if (others > 0 && !memcmp(mixed, mixed + per_sequence, per_sequence * 4)) {
        printf("sequences 0 and 1 gave the same rows\n");
        return 1;
    }
    printf("identical %d\n", (others + 1) * (1 + DECODE));
    free(mixed);
    ls_model_close(&m);
    return 0;
}
