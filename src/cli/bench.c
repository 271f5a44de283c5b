/* bench.c — `lockstep bench`: predicted next to measured, for decode and prefill.
 *
 * Decode: a short prompt is fed, then N tokens are generated greedily one call at a time;
 * the time of the forward calls is measured (argmax excluded). Prefill: P tokens from
 * position 0 in calls of --batch. Each is repeated R times after one untimed warm-up run
 * (which also faults the mmapped weights in). The prediction is compared with the fastest
 * repeat. The machine model's rates are the fastest runs calibrate saw, each kernel alone;
 * compute is stretched by what a made-up model's prefill took in place (its usual time
 * over its prediction, fitted during calibrate: cost.h) and weight streams by the mean
 * slowdown of their own runs; more load (which comes and goes for seconds at a time here)
 * only adds time. The median is printed beside it. The prediction comes from the
 * compiled program and the machine model (compile/cost.h) for exactly the same
 * calls: the same positions, the same rows per call. A second prediction takes the memory,
 * barrier and cold-read figures measured again just before each repeat (ls_calibrate_now, a
 * few seconds each) and is compared with that repeat; the median of those ratios is printed:
 * on a shared host the DRAM bandwidth moves between 26 and 53 GB/s from minute to minute,
 * which moves a memory-bound decode as much, the streams near the last-level cache's size
 * with what the host's other guests leave of it, and the barrier between 0.14 and 0.7 us as
 * the host places the two vCPUs. The stretches stay the machine model's (calibrate.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "base/huge_pages.h"
#include "cli/cli.h"
#include "compile/cost.h"
#include "quant/quant.h"
#include "run/calibrate.h"
#include "run/packed_weights.h"
#include "text/sample.h"

static const char *usage =
    "usage: lockstep bench [-m MODEL] [-t THREADS] [--batch B] [options]\n"
    "Runs decode and prefill with the real runtime and prints the predicted time next to the\n"
    "measured one (the fastest repeat; the median beside it), and the compile time.\n"
    "  -m, --model FILE   GGUF model (default: the Gemma 3 270M set up by scripts/setup.sh)\n"
    "  -t, --threads N    threads (default: one per CPU)\n"
    "  --batch B          tokens per call in prefill (default 128)\n"
    "  -n, --tokens N     tokens to decode per repeat (default 32)\n"
    "  --prompt-tokens N  tokens fed before decoding (default 8)\n"
    "  --prefill N        prefill length (default 512)\n"
    "  --repeat R         timed repeats (default 5)\n"
    "  --ctx N            context (default: enough for the prefill and the decode)\n"
    "  --machine FILE     machine model (default $LOCKSTEP_MACHINE, else\n"
    "                     ~/.cache/lockstep/machine.json, else built-in figures)\n"
    "  --fixed            predict from the machine model only; by default the figures a shared\n"
    "                     host moves from minute to minute (read bandwidth, streaming products,\n"
    "                     barrier, cold reads) are also measured again before each repeat, a\n"
    "                     few seconds each, and a second prediction for that repeat uses them\n"
    "  --steps            also time every step alone on one thread (each the fastest of the\n"
    "                     repeats, so other load on the machine matters less) and print\n"
    "                     predicted and measured ms per kernel, for one decode call and one\n"
    "                     prefill call; implies -t 1\n"
    "  --trace            also trace the running program (a prefill, then the decode): per\n"
    "                     kernel its slowest thread's time beside the prediction, how far apart\n"
    "                     the threads reach the barriers, the barrier exits (bench_trace.c)\n";

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Widens [*lo, *hi] to hold v. */
static void widen(double *lo, double *hi, double v) {
    if (v < *lo) *lo = v;
    if (v > *hi) *hi = v;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* CPU seconds of the whole process (all threads): with the wall time, how much of the
 * T CPUs the bench had (other work on the machine shows as a share below 1). */
static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* bytes of zeros in 2 MiB pages (as the runtime's KV cache; its arena is 64-byte aligned), or NULL */
static void *zeroed(size_t bytes) {
    void *memory = ls_alloc_huge(bytes);
    if (memory) memset(memory, 0, bytes);
    return memory;
}

/* Each step alone, on this thread, every tile in turn: the fastest of `repeats` runs per
 * step, summed per kernel (ms), for one call of n_rows at position. The exec is our own
 * (arena, KV cache, a zero RoPE table, scratch; the packed weights given), so the runtime's
 * state is untouched. */
static int profile_steps(const ls_program *p, const ls_machine *m, const ls_packed_weights *packed,
                         const int32_t *tokens, int64_t n_rows, int64_t position, int64_t repeats,
                         const char *label) {
    const ls_graph *g = &p->graph;
    size_t kv = (size_t)g->n_layers_kv * 2 * (size_t)p->context * (size_t)g->kv_width;
    int32_t rope_dim = 0;
    for (int32_t i = 0; i < g->n_rope; i++) rope_dim = g->rope[i].dim > rope_dim ? g->rope[i].dim : rope_dim;
    size_t rope = (size_t)(g->n_rope > 0 ? g->n_rope : 1) * (size_t)p->context * (size_t)rope_dim;
    size_t scratch = ls_exec_scratch_floats(p);
    ls_exec e = {.program = p, .n_rows = n_rows, .packed = packed->by_node};
    int32_t *positions = calloc((size_t)n_rows, sizeof *positions);
    int32_t *sequences = calloc((size_t)n_rows, sizeof *sequences); /* all sequence 0 */
    for (int64_t i = 0; positions && i < n_rows; i++) positions[i] = (int32_t)(position + i);
    e.positions = positions;
    e.sequences = sequences;
    /* aligned as the runtime's (a 16-byte-aligned arena, as calloc gave, ran the Q8_0 prefill
     * matmul of rows of 288 at 46 GMAC/s instead of 59: its activation loads split cache lines) */
    e.arena = zeroed(p->arena_bytes + 64);
    e.kv = zeroed((kv + 16) * sizeof(float));
    float *rope_table = zeroed((rope + 16) * sizeof(float));
    e.rope = rope_table;
    e.scratch = zeroed((scratch + 16) * sizeof(float));
    ls_step_cost *costs = malloc((size_t)p->n_steps * sizeof *costs);
    double *best = malloc((size_t)p->n_steps * sizeof *best);
    int rc = 0;
    if (!e.arena || !e.kv || !rope_table || !e.scratch || !costs || !best || !positions || !sequences) {
        rc = -1;
        goto done;
    }
    ls_cost_call(p, m, n_rows, position, costs);
    for (int32_t i = 0; i < p->n_steps; i++) best[i] = 1e30;
    for (int64_t r = 0; r < repeats + 1; r++) {
        /* The token buffer's bytes are reused by later steps: write the tokens every time. */
        memcpy(e.arena + p->buffers[p->tokens_buffer].offset, tokens, (size_t)n_rows * sizeof *tokens);
        for (int32_t i = 0; i < p->n_steps; i++) {
            double t0 = cli_now_ms();
            for (int t = 0; t < p->n_threads; t++) ls_run_step(&e, &p->steps[i], t);
            double dt = cli_now_ms() - t0;
            if (r > 0 && dt < best[i]) best[i] = dt; /* run 0 warms up */
        }
    }
    printf("%s: %lld rows at position %lld, each step the fastest of %lld\n", label,
           (long long)n_rows, (long long)position, (long long)repeats);
    double total_p = 0, total_m = 0;
    for (int k = 0; k < LS_K_COUNT; k++) {
        double pred = 0, meas = 0;
        int count = 0;
        for (int32_t i = 0; i < p->n_steps; i++)
            if ((int)p->steps[i].kernel == k) {
                pred += costs[i].us / 1e3;
                meas += best[i];
                count++;
            }
        if (!count) continue;
        total_p += pred;
        total_m += meas;
        printf("  %-10s %4d steps: predicted %9.3f ms, measured %9.3f ms (%.2f)\n",
               ls_kernel_name((ls_kernel)k), count, pred, meas, pred > 0 ? meas / pred : 0);
    }
    printf("  %-10s %4d steps: predicted %9.3f ms, measured %9.3f ms (%.2f)\n", "all", p->n_steps,
           total_p, total_m, total_m / total_p);
done:
    free(positions);
    free(sequences);
    free(e.arena);
    free(e.kv);
    free(rope_table);
    free(e.scratch);
    free(costs);
    free(best);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    const char *cmd = "bench";
    cli_engine_params ep = {0};
    const char *machine_path = NULL;
    int64_t n_decode = 32, n_prompt = 8, n_prefill = 512, repeats = 5;
    bool steps = false, fixed = false, trace = false;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--steps")) {
            steps = true;
            ep.threads = 1;
            continue;
        }
        if (!strcmp(argv[i], "--fixed")) {
            fixed = true;
            continue;
        }
        if (!strcmp(argv[i], "--trace")) {
            trace = true;
            continue;
        }
#define FLAG(name, alias) ((r = cli_value(cmd, argc, argv, &i, name, alias, &v)) != 0)
        if ((r = cli_engine_flag(cmd, argc, argv, &i, &ep))) {
        } else if (FLAG("-n", "--tokens")) { if (r > 0 && cli_int(cmd, "-n", v, 1, 1 << 20, &n_decode)) r = -1; }
        else if (FLAG("--prompt-tokens", NULL)) { if (r > 0 && cli_int(cmd, "--prompt-tokens", v, 1, 1 << 20, &n_prompt)) r = -1; }
        else if (FLAG("--prefill", NULL)) { if (r > 0 && cli_int(cmd, "--prefill", v, 1, 1 << 20, &n_prefill)) r = -1; }
        else if (FLAG("--repeat", NULL)) { if (r > 0 && cli_int(cmd, "--repeat", v, 1, 1000, &repeats)) r = -1; }
        else if (FLAG("--machine", NULL)) machine_path = v;
        else {
            cli_error(cmd, "unknown option '%s' (see --help)", argv[i]);
            return EXIT_BAD_INPUT;
        }
#undef FLAG
        if (r < 0) return EXIT_BAD_INPUT;
    }
    if (steps) ep.threads = 1;
    ls_machine machine;
    if (cli_machine_load(cmd, machine_path, &machine)) return EXIT_BAD_INPUT;
    cli_engine engine;
    int rc = cli_engine_load(&engine, cmd, &ep);
    if (rc) return rc;
    int64_t needed = n_prefill > n_prompt + n_decode ? n_prefill : n_prompt + n_decode;
    cli_engine_params sp = ep;
    if (sp.context <= 0) sp.context = needed;
    if (needed > sp.context || sp.context > engine.model.hp.context_train) {
        cli_error(cmd, "the bench needs a context of %lld tokens; --ctx %lld, the model's %lld",
                  (long long)needed, (long long)sp.context, (long long)engine.model.hp.context_train);
        cli_engine_close(&engine);
        return EXIT_BAD_INPUT;
    }
    if ((rc = cli_engine_start(&engine, cmd, &sp))) return rc;
    ls_program *p = &engine.program;
    double start = cli_now_ms();
    ls_cost_program(p, &machine);
    double predicted_decode = ls_cost_decode_ms(p, &machine, n_prompt, n_decode);
    double predicted_prefill = ls_cost_prefill_ms(p, &machine, n_prefill);
    double cost_ms = cli_now_ms() - start;
    /* The memory and barrier figures again before every repeat: the second prediction
     * (bench.c's header); the ranges they were measured in. */
    ls_machine now = machine;
    const int now_threads = ls_machine_threads(&machine, p->n_threads);
    double now_s = 0, now_read_lo = 1e30, now_read_hi = 0, now_barrier_lo = 1e30, now_barrier_hi = 0;
    double now_stream_lo = 1e30, now_stream_hi = 0;
    /* the stream size nearest (in log) the decode's working set: whose Q8_0 rate to print */
    const int q8 = ls_machine_type_index(LS_Q8_0);
    const double decode_ws = ls_cost_working_set(p, 1, n_prompt);
    int stream_ix = 0;
    while (stream_ix + 1 < LS_MACHINE_STREAMS &&
           decode_ws * decode_ws > ls_machine_stream_bytes[stream_ix] * ls_machine_stream_bytes[stream_ix + 1])
        stream_ix++;

    int64_t n_vocab = p->graph.nodes[p->graph.output].width;
    int32_t *tokens = malloc((size_t)needed * sizeof *tokens);
    /* per repeat: decode ms/token, prefill ms, and each over its own second prediction */
    double *per_repeat = malloc(4 * (size_t)repeats * sizeof *per_repeat);
    ls_packed_weights packed = {0};
    if (!tokens || !per_repeat) {
        cli_error(cmd, "out of memory");
        rc = 1;
        goto done;
    }
    double *decode_ms = per_repeat, *prefill_ms = per_repeat + repeats;
    double *decode_ratio = per_repeat + 2 * repeats, *prefill_ratio = per_repeat + 3 * repeats;
    for (int64_t i = 0; i < needed; i++) tokens[i] = (int32_t)((i * 7919 + 13) % n_vocab);

    double wall_total = 0, cpu_total = 0;
    for (int64_t rep = -1; rep < repeats; rep++) { /* rep -1: warm-up */
        double now_decode = 0, now_prefill = 0;
        if (!fixed && rep >= 0) {
            char err[LS_ERROR_SIZE];
            double t0 = cli_now_ms();
            ls_runtime_park(engine.runtime); /* its workers would spin on the CPUs measured */
            if (ls_calibrate_now(&now, now_threads, decode_ws, NULL, err)) {
                cli_error(cmd, "%s", err);
                rc = 1;
                break;
            }
            now_s += (cli_now_ms() - t0) / 1e3;
            widen(&now_read_lo, &now_read_hi, now.read_gbs[now_threads - 1][now.n_sizes - 1]);
            widen(&now_barrier_lo, &now_barrier_hi, now.barrier_us[now_threads - 1]);
            widen(&now_stream_lo, &now_stream_hi, now.matmul_stream_gmacs[q8][now_threads - 1][stream_ix]);
            now_decode = ls_cost_decode_ms(p, &now, n_prompt, n_decode);
            now_prefill = ls_cost_prefill_ms(p, &now, n_prefill);
        }
        /* Prefill: n_prefill tokens in calls of max_rows. */
        double c0 = cpu_ms(), w0 = cli_now_ms();
        double t0 = cli_now_ms();
        cli_forward_from_start(engine.runtime, p, tokens, n_prefill);
        double prefill = cli_now_ms() - t0;
        /* Decode: the prompt, then one token per call. */
        const float *logits = cli_forward_from_start(engine.runtime, p, tokens, n_prompt);
        double decode = 0;
        for (int64_t i = 0; i < n_decode; i++) {
            int32_t next = ls_argmax(logits, (int32_t)n_vocab);
            t0 = cli_now_ms();
            logits = ls_runtime_forward(engine.runtime, &next, 1, n_prompt + i);
            decode += cli_now_ms() - t0;
        }
        if (rep >= 0) {
            wall_total += cli_now_ms() - w0;
            cpu_total += cpu_ms() - c0;
            prefill_ms[rep] = prefill;
            decode_ms[rep] = decode / (double)n_decode;
            if (!fixed) {
                decode_ratio[rep] = decode_ms[rep] / now_decode;
                prefill_ratio[rep] = prefill / now_prefill;
            }
        }
    }
    if (rc) goto done;
    if (!fixed)
        fprintf(stderr, "bench: memory and barrier figures measured again before each repeat, %.1f s in all\n",
                now_s);
    double median_decode = median(decode_ms, (int)repeats);
    double median_prefill = median(prefill_ms, (int)repeats);
    double best_decode = decode_ms[0], best_prefill = prefill_ms[0]; /* sorted by median() */

    const char *path = ep.model_path ? ep.model_path : ls_default_model_path();
    printf("model %s: %s, weights %.1f MiB\n", path, ls_arch_name(engine.model.hp.arch),
           (double)ls_program_weight_bytes(p) / 1048576.0);
    printf("threads %d, batch %lld, context %lld, %s kernels, fastest and median of %lld repeats\n",
           p->n_threads, (long long)p->max_rows, (long long)p->context, ls_isa_name(ls_isa_current()),
           (long long)repeats);
    printf("machine model: %s\n", machine.source);
    printf("CPU share while measuring: %.2f of %d (1.00: the machine to itself; other load "
           "makes the measured times longer)\n", cpu_total / wall_total / p->n_threads, p->n_threads);
    printf("compile %.2f ms (cost model %.2f ms)\n", engine.compile_ms, cost_ms);
    printf("decode %lld tokens after %lld: predicted %.3f ms/token, measured %.3f ms/token (%.2f) "
           "[median %.3f]\n",
           (long long)n_decode, (long long)n_prompt, predicted_decode, best_decode,
           best_decode / predicted_decode, median_decode);
    printf("prefill %lld tokens: predicted %.3f ms/token, measured %.3f ms/token (%.2f) "
           "[predicted %.1f ms, measured %.1f ms, median %.1f ms]\n",
           (long long)n_prefill, predicted_prefill / (double)n_prefill,
           best_prefill / (double)n_prefill, best_prefill / predicted_prefill,
           predicted_prefill, best_prefill, median_prefill);
    if (!fixed) {
        const int last = machine.n_sizes - 1;
        printf("memory before each repeat: read %.1f-%.1f GB/s at %.0f MiB with %d threads (machine model: %.1f), "
               "Q8_0 stream over %.0f MiB %.1f-%.1f GMAC/s (%.1f), barrier %.2f-%.2f us (%.2f); stretches "
               "the machine model's (compute %.2f, streams %.2f); measured / predicted with them, median "
               "of the repeats: decode %.2f, prefill %.2f\n",
               now_read_lo, now_read_hi, machine.size_bytes[last] / 1048576.0, now_threads,
               machine.read_gbs[now_threads - 1][last], ls_machine_stream_bytes[stream_ix] / 1048576.0,
               now_stream_lo, now_stream_hi, machine.matmul_stream_gmacs[q8][now_threads - 1][stream_ix],
               now_barrier_lo, now_barrier_hi, machine.barrier_us[now_threads - 1],
               machine.compute_stretch[now_threads - 1], machine.stream_stretch[now_threads - 1][stream_ix],
               median(decode_ratio, (int)repeats),
               median(prefill_ratio, (int)repeats));
    }
    if (steps && (ls_packed_weights_create(&packed, p, NULL) ||
                  profile_steps(p, &machine, &packed, tokens, 1, n_prompt, repeats, "decode call") ||
                  profile_steps(p, &machine, &packed, tokens, p->max_rows < n_prefill ? p->max_rows : n_prefill,
                                0, repeats, "prefill call"))) {
        cli_error(cmd, "out of memory");
        rc = 1;
    }
    if (!rc && trace && bench_trace(engine.runtime, p, &machine, tokens, n_prompt, n_decode, n_prefill)) {
        cli_error(cmd, "out of memory");
        rc = 1;
    }
done:
    ls_packed_weights_free(&packed);
    free(tokens);
    free(per_repeat);
    cli_engine_close(&engine);
    return rc;
}
