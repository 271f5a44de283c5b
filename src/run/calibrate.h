/* calibrate.h — measuring the machine for the cost model (compile/cost.h).
 *
 * Every figure is taken with T pinned threads (thread i on CPU i) working at once, each on
 * its own data, for T = 1..max_threads; a figure is the best of a few repetitions, so a
 * briefly busy machine disturbs it less. Measured:
 *   read bandwidth   each thread sums its share of a buffer of each working-set size
 *                    (256 KiB .. 256 MiB), passes repeated; GB/s of all threads
 *   matmul           ls_matmul on a matrix of each weight type that fits in L2, rows of
 *                    1024 and of 512 elements, token groups 1, 2, 4 and 8; G multiply-adds/s
 *   overlap          a Q8_0 matrix-vector product from DRAM against reading the same
 *                    matrix, alternately: how much memory time hides under compute
 *   other kernels    the runtime's own kernels (ls_run_step) on one-step programs with
 *                    pseudo-random data; attention at head_dim 64 and 256 (cost per key
 *                    and per multiply-add)
 *   barrier          the runtime's sense-reversing spin barrier, many rounds
 *   call             a fixed cost per forward call (waking the workers) */
#ifndef LS_CALIBRATE_H
#define LS_CALIBRATE_H

#include <stdio.h>

#include "compile/cost.h"

/* Measures up to max_threads threads (1..LS_MACHINE_THREADS). `log`, when given, receives
 * one line per measurement. 0, or -1 with err. */
int ls_calibrate(ls_machine *m, int max_threads, FILE *log, char *err);

#endif
