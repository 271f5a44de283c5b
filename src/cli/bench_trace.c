/* bench_trace.c — `lockstep bench --trace`: where the calls of the running program spend their
 * time, from the time-stamp counter ls_runtime_trace records per thread and step.
 *
 * For every step: each thread's work is the time from its previous step's end (or barrier
 * exit, or the call's start) to its own end; the step's measured time is its slowest thread's
 * work, set beside the cost model's prediction for the same call (without the barrier the
 * prediction adds). For every phase (the steps up to a barrier): the imbalance is the latest
 * thread's arrival minus the earliest (what a static split pays when the threads run at
 * different speeds), the barrier exit the last thread's exit minus the last arrival. A call's
 * measured time runs from thread 0's start to its last barrier exit. The counter's rate is
 * measured against CLOCK_MONOTONIC over 20 ms first. */
#include <stdio.h>
#include <stdlib.h>
#include <x86intrin.h>

#include "cli/cli.h"

static double ticks_per_ms(void) {
    double t0 = cli_now_ms();
    uint64_t c0 = __rdtsc();
    while (cli_now_ms() - t0 < 20) {
    }
    return (double)(__rdtsc() - c0) / (cli_now_ms() - t0);
}

typedef struct tally {
    double predicted[LS_K_COUNT], measured[LS_K_COUNT]; /* ms, summed over the calls */
    int steps[LS_K_COUNT];                               /* steps of each kernel in one call */
    double call_predicted, call_measured, imbalance, barrier_exit;
    double work[LS_MAX_THREADS]; /* ms, each thread's steps summed over the calls */
    int64_t last[LS_MAX_THREADS]; /* barriers each thread reached last */
    int64_t calls;
} tally;

/* Adds one traced call (its ticks, its predicted step costs) to the tally. */
static void add_call(tally *y, const ls_program *p, const uint64_t *ticks, const ls_step_cost *costs,
                     const ls_machine *m, double per_ms) {
    const size_t row = 1 + 2 * (size_t)p->n_steps;
    const int T = p->n_threads;
    const double barrier = m->barrier_us[ls_machine_threads(m, T) - 1];
    y->call_predicted += m->call_us[ls_machine_threads(m, T) - 1] / 1e3;
    for (int32_t i = 0; i < p->n_steps; i++) {
        const ls_step *s = &p->steps[i];
        double slowest = 0;
        uint64_t first_end = UINT64_MAX, last_end = 0, last_exit = 0;
        int latest = 0;
        for (int t = 0; t < T; t++) {
            const uint64_t *tr = ticks + (size_t)t * row;
            double work = (double)(tr[1 + 2 * i] - tr[2 * i]) / per_ms;
            if (work > slowest) slowest = work;
            y->work[t] += work;
            if (tr[1 + 2 * i] < first_end) first_end = tr[1 + 2 * i];
            if (tr[1 + 2 * i] > last_end) {
                last_end = tr[1 + 2 * i];
                latest = t;
            }
            if (tr[2 + 2 * i] > last_exit) last_exit = tr[2 + 2 * i];
        }
        if (y->calls == 0) y->steps[s->kernel]++;
        y->measured[s->kernel] += slowest;
        y->predicted[s->kernel] += (costs[i].us - (s->barrier_after ? barrier : 0)) / 1e3;
        y->call_predicted += costs[i].us / 1e3;
        if (s->barrier_after) {
            y->last[latest]++;
            y->imbalance += (double)(last_end - first_end) / per_ms;
            y->barrier_exit += (double)(last_exit - last_end) / per_ms;
        }
    }
    y->call_measured += (double)(ticks[2 * (size_t)p->n_steps] - ticks[0]) / per_ms;
    y->calls++;
}

static void print_tally(const tally *y, const ls_program *p, const char *label) {
    double n = (double)y->calls;
    printf("trace, %s: per call, the mean of %lld\n", label, (long long)y->calls);
    double pred = 0, meas = 0;
    for (int k = 0; k < LS_K_COUNT; k++) {
        if (!y->steps[k]) continue;
        pred += y->predicted[k];
        meas += y->measured[k];
        printf("  %-10s %4d steps: predicted %9.3f ms, slowest thread %9.3f ms (%.2f)\n",
               ls_kernel_name((ls_kernel)k), y->steps[k], y->predicted[k] / n, y->measured[k] / n,
               y->predicted[k] > 0 ? y->measured[k] / y->predicted[k] : 0);
    }
    printf("  %-10s %4d steps: predicted %9.3f ms, slowest thread %9.3f ms (%.2f)\n", "steps", p->n_steps,
           pred / n, meas / n, meas / pred);
    printf("  %d barriers: threads arriving apart %.3f ms, barrier exits %.3f ms\n", p->n_barriers,
           y->imbalance / n, y->barrier_exit / n);
    printf("  each thread's work (ms per call) and the barriers it reached last:");
    for (int t = 0; t < p->n_threads; t++)
        printf(" [%d] %.3f, %lld", t, y->work[t] / n, (long long)y->last[t]);
    printf("\n");
    printf("  call: predicted %.3f ms, measured %.3f ms (%.2f)\n", y->call_predicted / n, y->call_measured / n,
           y->call_measured / y->call_predicted);
}

int bench_trace(ls_runtime *rt, const ls_program *p, const ls_machine *m, const int32_t *tokens,
                int64_t n_prompt, int64_t n_decode, int64_t n_prefill) {
    size_t row = 1 + 2 * (size_t)p->n_steps;
    uint64_t *ticks = calloc((size_t)p->n_threads * row, sizeof *ticks);
    ls_step_cost *costs = malloc((size_t)p->n_steps * sizeof *costs);
    tally *y = calloc(2, sizeof *y);
    if (!ticks || !costs || !y) {
        free(ticks);
        free(costs);
        free(y);
        return -1;
    }
    double per_ms = ticks_per_ms();
    for (int64_t done = 0; done < n_prefill;) { /* prefill, in the bench's calls */
        int64_t chunk = n_prefill - done < p->max_rows ? n_prefill - done : p->max_rows;
        ls_runtime_trace(rt, ticks);
        ls_runtime_forward(rt, tokens + done, chunk, done);
        ls_runtime_trace(rt, NULL);
        ls_cost_call(p, m, chunk, done, costs);
        add_call(&y[0], p, ticks, costs, m, per_ms);
        done += chunk;
    }
    cli_forward_from_start(rt, p, tokens, n_prompt); /* the prompt, untraced, then one token a call */
    for (int64_t i = 0; i < n_decode; i++) {
        ls_runtime_trace(rt, ticks);
        ls_runtime_forward(rt, tokens + n_prompt + i, 1, n_prompt + i);
        ls_runtime_trace(rt, NULL);
        ls_cost_call(p, m, 1, n_prompt + i, costs);
        add_call(&y[1], p, ticks, costs, m, per_ms);
    }
    print_tally(&y[1], p, "decode calls");
    print_tally(&y[0], p, "prefill calls");
    free(ticks);
    free(costs);
    free(y);
    return 0;
}
