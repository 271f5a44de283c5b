/* compare_driver.c — the lockstep side of bench/compare.py, built by it against
 * build/liblockstep.a into build/bench-models/compare_driver.
 *
 *   compare_driver MODEL THREADS [decode_prompt decode_tokens prefill_tokens]
 *       loads and compiles the model (not timed), warms up with one call, then times:
 *       prefill  one forward call of prefill_tokens tokens (max_rows = prefill_tokens)
 *       ttft     a decode_prompt-token prompt (one call) plus the argmax of its logits
 *                (ls_argmax: the engine's greedy choice, as `lockstep run --temp 0` makes it)
 *       decode   decode_tokens single-token calls after it, each fed its own argmax
 *       and prints one line: "prefill_ms X ttft_ms Y decode_ms Z".
 *   compare_driver --bandwidth MIB THREADS
 *       reads a MIB MiB buffer with THREADS threads (each its contiguous half, 64-byte
 *       vector loads), best of 20 passes after a warm-up; prints "bandwidth_gbs X". The
 *       buffer is in the pages lockstep's packed weights take (ls_alloc_huge: 2 MiB where
 *       the system offers them), so the roofline's bandwidth is the best those pages give.
 *
 * Token ids are fixed (i * 7919 + 13 mod n_vocab), so both engines see the same kind of
 * input; only the timings matter here (tests/ check the numbers). */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "compile/program.h"
#include "graph/model.h"
#include "quant/quant.h"
#include "run/packed_weights.h"
#include "run/runtime.h"
#include "text/sample.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct reader {
    const uint8_t *data;
    size_t bytes;
    long long sink;
} reader;

__attribute__((target("avx512f"))) static void *read_all(void *arg) {
    reader *r = arg;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 256 <= r->bytes; i += 256) {
        a0 = _mm512_xor_si512(a0, _mm512_load_si512(r->data + i));
        a1 = _mm512_xor_si512(a1, _mm512_load_si512(r->data + i + 64));
        a2 = _mm512_xor_si512(a2, _mm512_load_si512(r->data + i + 128));
        a3 = _mm512_xor_si512(a3, _mm512_load_si512(r->data + i + 192));
    }
    a0 = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
    r->sink = _mm512_reduce_add_epi64(a0);
    return NULL;
}

static int bandwidth(size_t mib, int threads) {
    size_t bytes = mib << 20;
    uint8_t *buffer = ls_alloc_huge(bytes);
    if (!buffer || threads < 1 || threads > 64) return 1;
    memset(buffer, 1, bytes);
    size_t per = bytes / (size_t)threads / 256 * 256;
    double best = 1e30;
    for (int pass = 0; pass < 21; pass++) {
        pthread_t id[64];
        reader r[64];
        double start = now_ms();
        for (int t = 0; t < threads; t++) {
            r[t] = (reader){buffer + (size_t)t * per, per, 0};
            if (t) pthread_create(&id[t], NULL, read_all, &r[t]);
        }
        read_all(&r[0]);
        for (int t = 1; t < threads; t++) pthread_join(id[t], NULL);
        double ms = now_ms() - start;
        if (pass > 0 && ms < best) best = ms;
    }
    printf("bandwidth_gbs %.3f\n", (double)per * threads / (best / 1e3) / 1e9);
    free(buffer);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "--bandwidth"))
        return bandwidth((size_t)atol(argv[2]), atoi(argv[3]));
    if (argc != 3 && argc != 6) {
        fprintf(stderr, "usage: compare_driver MODEL THREADS [PROMPT DECODE PREFILL] | "
                        "--bandwidth MIB THREADS\n");
        return 2;
    }
    int threads = atoi(argv[2]);
    int64_t n_prompt = argc == 6 ? atol(argv[3]) : 16;
    int64_t n_decode = argc == 6 ? atol(argv[4]) : 128;
    int64_t n_prefill = argc == 6 ? atol(argv[5]) : 512;
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
    printf("prefill_ms %.3f ttft_ms %.3f decode_ms %.3f\n", prefill_ms, ttft_ms, decode_ms);
    free(tokens);
    ls_runtime_free(runtime);
    ls_program_free(&program);
    ls_model_close(&model);
    return 0;
}
