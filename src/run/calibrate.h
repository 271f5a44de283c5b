/* calibrate.h — measuring the machine for the cost model (compile/cost.h).
 *
 * Every figure is taken with T pinned threads (thread i on CPU i) working at once, each on
 * its own data, for T = 1..max_threads; a figure is the best of a few repetitions, so a
 * briefly busy machine disturbs it less. Measured:
 *   read bandwidth   each thread sums its share of a buffer of each working-set size
 *                    (256 KiB .. 256 MiB), passes repeated; GB/s of all threads
 *   matmul           the runtime's matmul (packed where it packs) on a matrix of each
 *                    weight type that fits in L2, rows of 1024, 512 and 256 elements, token
 *                    groups 1, 2, 4 and 8; G multiply-adds/s
 *   streaming        the one-token product over working sets of 16 and 256 MiB
 *   other kernels    the runtime's own kernels (ls_run_step) on one-step programs with
 *                    pseudo-random data; attention at head dims 32 to 256 (cost per
 *                    (head, key) and per (row, head))
 *   barrier          the runtime's sense-reversing spin barrier with a 2 KiB hand-over
 *   call             a fixed cost per forward call (waking the workers)
 *   cold reads       2 and 32 KiB read right after a stream of 16 or 256 MiB evicted them
 *                    (the median: these are latencies, not rates)
 *   in place         a made-up model's prefill (run/workload.h) run through the real
 *                    runtime, sampled through the whole calibration: the compute stretch
 *                    (cost.h) is fitted so the cost model predicts its lower quartile */
#ifndef LS_CALIBRATE_H
#define LS_CALIBRATE_H

#include <stdio.h>

#include "compile/cost.h"

/* Measures up to max_threads threads (1..LS_MACHINE_THREADS). `log`, when given, receives
 * one line per measurement. 0, or -1 with err. */
int ls_calibrate(ls_machine *m, int max_threads, FILE *log, char *err);

/* Measures again, for one thread count (1..m->n_threads), the figures of m that a shared host
 * moves from one minute to the next: read bandwidth at every size, the streaming products'
 * fastest runs (DRAM here: 26 to 53 GB/s; a stream near the last-level cache's size with
 * whatever of the cache the host's other guests leave), the barrier (0.14 or 0.7 us, as the
 * host places the vCPUs) and the cold reads. The streams and cold reads only over the sizes
 * up to the first at or above working_set (those a working set of that size is predicted
 * from); the others keep m's. The compute and stream stretches stay m's: they describe the
 * host's usual state, which moves within seconds, and need the whole calibration's samples
 * (calibrate.c). `lockstep bench` predicts with both. */
int ls_calibrate_now(ls_machine *m, int threads, double working_set, FILE *log, char *err);

/* Fits m's compute stretches again to its workload_ms with its current rates (after
 * ls_machine_merge: the stretch of each calibration was fitted with its own rates, and the
 * merge keeps the highest). 0, or -1 with err. */
int ls_calibrate_refit(ls_machine *m, char *err);

#endif
