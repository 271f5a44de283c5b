/* compare_driver.c — the lockstep side of bench/compare.py, built by it (with
 * bench/read_pass.c) against build/liblockstep.a into build/bench-models/compare_driver.
 *
 *   compare_driver MODEL THREADS [PROMPT DECODE PREFILL [PAIRED BYTES]]
 *       loads and compiles the model (not timed), warms up with one call, then times:
 *       prefill  one forward call of PREFILL tokens (max_rows = PREFILL)
 *       ttft     a PROMPT-token prompt (one call) plus the argmax of its logits
 *                (ls_argmax: the engine's greedy choice, as `lockstep run --temp 0` makes it)
 *       decode   DECODE single-token calls after it, each fed its own argmax
 *       and prints "prefill_ms X ttft_ms Y decode_ms Z". With PAIRED and BYTES, it then
 *       feeds the prompt again and decodes PAIRED tokens in blocks of PAIR_BLOCK, each block
 *       followed by a rest (PAIR_REST_MS) and PAIR_BLOCK read passes over BYTES bytes
 *       (read_pass.h) with the same thread count, and adds "paired_token_ms A
 *       paired_read_ms B": the sums over the tokens and passes that are not the first of
 *       their block (the first token after reads finds the caches full of them; the first
 *       pass after tokens, of weights). B / A is the roofline of compare.py: the share of a
 *       token's time that reading its bytes takes at the bandwidth of the same seconds.
 *
 * Token ids are fixed (i * 7919 + 13 mod n_vocab), so both engines see the same kind of
 * input; only the timings matter here (tests/ check the numbers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "compile/program.h"
#include "graph/model.h"
#include "quant/quant.h"
#include "read_pass.h"
#include "run/runtime.h"
#include "text/sample.h"

#define PAIR_BLOCK 8
#define PAIR_REST_MS 250 /* between a block's tokens and its reads: the runtime's workers spin
                          * 0.2 s after a call before they sleep, and would share the reads' CPUs */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 6 && argc != 8) {
        fprintf(stderr, "usage: compare_driver MODEL THREADS [PROMPT DECODE PREFILL [PAIRED BYTES]]\n");
        return 2;
    }
    int threads = atoi(argv[2]);
    int64_t n_prompt = argc >= 6 ? atol(argv[3]) : 16;
    int64_t n_decode = argc >= 6 ? atol(argv[4]) : 128;
    int64_t n_prefill = argc >= 6 ? atol(argv[5]) : 512;
    int64_t n_paired = argc == 8 ? atol(argv[6]) : 0;
    size_t read_bytes = argc == 8 ? (size_t)atoll(argv[7]) : 0;
    if (n_prompt < 1 || n_decode < 0 || n_prefill < 1 || n_paired < 0 || n_paired > n_decode) {
        fprintf(stderr, "compare_driver: PROMPT and PREFILL must be >= 1, 0 <= PAIRED <= DECODE\n");
        return 2;
    }
    char err[LS_ERROR_SIZE];
    ls_model model;
    ls_program program;
    if (ls_isa_init_from_env(err) || ls_model_open(&model, argv[1], err)) {
        fprintf(stderr, "compare_driver: %s\n", err);
        return 2;
    }
    int64_t context = n_prefill > n_prompt + n_decode ? n_prefill : n_prompt + n_decode;
    ls_compile_params cp = {.n_threads = threads, .max_rows = n_prefill, .context = context,
                            .all_logits = false};
    if (ls_compile(&program, &model, &cp, err)) {
        fprintf(stderr, "compare_driver: %s\n", err);
        return 2;
    }
    ls_runtime *runtime = ls_runtime_create(&program, err);
    if (!runtime) {
        fprintf(stderr, "compare_driver: %s\n", err);
        return 1;
    }
    int64_t n_vocab = program.graph.nodes[program.graph.output].width;
    int32_t *tokens = malloc((size_t)context * sizeof *tokens);
    for (int64_t i = 0; i < context; i++) tokens[i] = (int32_t)((i * 7919 + 13) % n_vocab);

    ls_runtime_forward(runtime, tokens, n_prompt, 0); /* warm-up: pages, caches, threads */

    double start = now_ms();
    ls_runtime_forward(runtime, tokens, n_prefill, 0);
    double prefill_ms = now_ms() - start;

    start = now_ms();
    const float *logits = ls_runtime_forward(runtime, tokens, n_prompt, 0);
    int32_t token = ls_argmax(logits, (int32_t)n_vocab);
    double ttft_ms = now_ms() - start;

    start = now_ms();
    for (int64_t i = 0; i < n_decode; i++) {
        logits = ls_runtime_forward(runtime, &token, 1, n_prompt + i);
        token = ls_argmax(logits, (int32_t)n_vocab);
    }
    double decode_ms = now_ms() - start;
    printf("prefill_ms %.3f ttft_ms %.3f decode_ms %.3f", prefill_ms, ttft_ms, decode_ms);

    if (n_paired > 0) {
        lsb_reader *reader = lsb_reader_create(read_bytes, threads);
        if (!reader) {
            fprintf(stderr, "compare_driver: cannot make a %zu-byte read buffer\n", read_bytes);
            return 1;
        }
        double token_ms = 0, read_ms = 0;
        logits = ls_runtime_forward(runtime, tokens, n_prompt, 0);
        token = ls_argmax(logits, (int32_t)n_vocab);
        for (int64_t i = 0; i < n_paired;) {
            for (int b = 0; b < PAIR_BLOCK && i < n_paired; b++, i++) {
                start = now_ms();
                logits = ls_runtime_forward(runtime, &token, 1, n_prompt + i);
                token = ls_argmax(logits, (int32_t)n_vocab);
                if (b) token_ms += now_ms() - start;
            }
            nanosleep(&(struct timespec){0, PAIR_REST_MS * 1000000L}, NULL);
            for (int b = 0; b < PAIR_BLOCK; b++) {
                double ms = lsb_reader_pass_ms(reader);
                if (ms < 0) {
                    fprintf(stderr, "compare_driver: cannot start the read threads\n");
                    return 1;
                }
                if (b) read_ms += ms;
            }
        }
        lsb_reader_free(reader);
        printf(" paired_token_ms %.3f paired_read_ms %.3f", token_ms, read_ms);
    }
    printf("\n");
    free(tokens);
    ls_runtime_free(runtime);
    ls_program_free(&program);
    ls_model_close(&model);
    return 0;
}
