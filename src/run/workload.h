/* workload.h — a made-up model that the real compiler and runtime run, for calibrate.
 *
 * calibrate measures each kernel alone (calibrate.h); a program runs them one after another,
 * on operands other steps just wrote, on threads that meet at barriers and that a shared host
 * slows at different moments. The workload is what calibrate checks the isolated figures
 * against: a llama-shaped model (dim 512, 4 layers, 8 query heads and 2 KV heads of 64, FFN
 * 1536, vocab 2048, Q8_0 weights that are pseudo-random but finite and of modest size, so no
 * value reaches an infinity or a subnormal), compiled for 1 to T threads, whose prefill of
 * 256 tokens in calls of 128 runs on a runtime of its own. None of the models lockstep bench is
 * run on has this shape, so a figure fitted to the workload is checked out of sample there. */
#ifndef LS_WORKLOAD_H
#define LS_WORKLOAD_H

#include "compile/cost.h"

typedef struct ls_workload ls_workload;

/* The model (about 14 MiB of weights) and its programs for 1..max_threads threads (at most
 * LS_MACHINE_THREADS). NULL with err. */
ls_workload *ls_workload_create(int max_threads, char *err);
void ls_workload_free(ls_workload *w);

/* Its program for `threads` threads (1..max_threads), for tests: token ids 0..2047. */
const ls_program *ls_workload_program(const ls_workload *w, int threads);

/* Seconds of the fastest of `runs` prefills on `threads` threads (after one untimed call that
 * touches the arena and KV pages), each from position 0, on a runtime created for them and
 * freed before it returns, so no worker of it spins afterwards. -1 when it cannot start. */
double ls_workload_prefill(const ls_workload *w, int threads, int runs);

/* The cost model's prediction of that prefill on `threads` threads under m, in seconds. */
double ls_workload_predict(const ls_workload *w, int threads, const ls_machine *m);

/* The compute stretch s in [1, 10] (cost.h) at which that prediction is `seconds`, all other
 * figures m's: 1 when the prediction at 1 is already as long, 10 when even that is shorter.
 * The prediction grows with s (compute-bound steps take longer, the others stay), so s is
 * found by bisection, to 1e-11. */
double ls_workload_fit(const ls_workload *w, int threads, const ls_machine *m, double seconds);

#endif
