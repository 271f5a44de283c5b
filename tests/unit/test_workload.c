/* test_workload.c — calibrate's made-up model (run/workload.h): its program runs with the
 * same logits on 1 and 2 threads, all finite and none subnormal (the values were chosen so),
 * and again after its workers were parked (ls_runtime_park);
 * a prefill takes time; ls_workload_fit inverts ls_workload_predict (checked against the
 * prediction itself at known stretches, and at both ends of its range). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "base/error.h"
#include "check.h"
#include "run/runtime.h"
#include "run/workload.h"

#define TOKENS 40

int main(void) {
    char err[LS_ERROR_SIZE];
    ls_workload *w = ls_workload_create(2, err);
    CHECK(w != NULL, "the workload compiles for 1 and 2 threads", "%s", err);
    if (!w) CHECK_EXIT();

    int32_t tokens[TOKENS];
    for (int i = 0; i < TOKENS; i++) tokens[i] = (i * 331 + 7) % 2048;
    static float logits[2][2048];
    int64_t n_vocab = 0;
    for (int t = 1; t <= 2; t++) {
        const ls_program *p = ls_workload_program(w, t);
        ls_runtime *r = ls_runtime_create(p, err);
        CHECK(r != NULL, "a runtime for the workload", "%s", err);
        if (!r) CHECK_EXIT();
        const float *out = ls_runtime_forward(r, tokens, TOKENS, 0);
        CHECK(p->logits_rows == 1, "the workload keeps the last row's logits", "%lld", (long long)p->logits_rows);
        n_vocab = p->buffers[p->logits_buffer].row_bytes / (int64_t)sizeof(float);
        if (n_vocab == 2048) memcpy(logits[t - 1], out, sizeof logits[0]);
        /* parked workers (ls_runtime_park returns once they sleep) wake for the next call */
        ls_runtime_park(r);
        out = ls_runtime_forward(r, tokens, TOKENS, 0);
        CHECK(n_vocab == 2048 && memcmp(logits[t - 1], out, sizeof logits[0]) == 0,
              "after ls_runtime_park the next call runs, to the same logits", "%d threads", t);
        ls_runtime_free(r);
    }
    CHECK(n_vocab == 2048, "the workload's vocabulary", "%lld", (long long)n_vocab);
    int bad = 0;
    for (int64_t i = 0; i < 2048; i++)
        if (!isfinite(logits[0][i]) || (logits[0][i] != 0 && fabsf(logits[0][i]) < FLT_MIN)) bad++;
    CHECK(bad == 0, "its logits are finite and normal", "%d of %lld not", bad, (long long)n_vocab);
    CHECK(memcmp(logits[0], logits[1], sizeof logits[0]) == 0, "the same logits on 1 and 2 threads", "%g %g",
          logits[0][0], logits[1][0]);

    CHECK(ls_workload_prefill(w, 1, 1) > 0 && ls_workload_prefill(w, 2, 2) > 0, "a prefill runs and takes time", "-");

    ls_machine m;
    ls_machine_builtin(&m);
    const double stretches[] = {1.0, 1.37, 2.5, 9.0};
    for (int i = 0; i < 4; i++) {
        ls_machine at = m;
        at.compute_stretch[1] = stretches[i];
        double s = ls_workload_fit(w, 2, &m, ls_workload_predict(w, 2, &at));
        CHECK(fabs(s - stretches[i]) < 1e-6, "the fit finds the stretch a prediction was made with", "%.9f for %g", s,
              stretches[i]);
    }
    ls_machine slow = m, fast = m;
    slow.compute_stretch[1] = 1.5;
    fast.compute_stretch[1] = 1.0;
    double at_1 = ls_workload_predict(w, 2, &fast);
    CHECK(ls_workload_predict(w, 2, &slow) > at_1 * 1.2, "the workload's prediction is mostly compute-bound", "%g %g",
          ls_workload_predict(w, 2, &slow), at_1);
    CHECK(ls_workload_fit(w, 2, &m, at_1 * 0.5) == 1, "faster than predicted at 1: 1", "-");
    fast.compute_stretch[1] = 10;
    CHECK(ls_workload_fit(w, 2, &m, ls_workload_predict(w, 2, &fast) * 2) == 10, "slower than at 10: 10", "-");
    ls_workload_free(w);
    CHECK_EXIT();
}
