/* test_machine.c — the machine model's merge of calibrations (ls_machine_merge) and its file
 * round trip with the count of calibrations. Expected values are worked by hand from the
 * two rules: rates the higher, latencies and stretches the mean weighted by calibrations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "check.h"
#include "compile/cost.h"

static int near(double a, double b) { return fabs(a - b) <= 1e-12 * fabs(b); }

int main(void) {
    char err[LS_ERROR_SIZE];
    ls_machine a, b;
    ls_machine_builtin(&a);
    ls_machine_builtin(&b);
    CHECK(a.calibrations >= 1, "the built-in figures count their calibrations", "%d", a.calibrations);

    /* a: 3 calibrations; b: 1, faster at one rate and slower at another, its latencies and
     * stretches different */
    a.calibrations = 3;
    b.calibrations = 1;
    const int q8 = ls_machine_type_index(LS_Q8_0);
    b.read_gbs[1][0] = a.read_gbs[1][0] * 1.5;          /* faster: taken */
    b.matmul_gmacs[q8][1][3] = a.matmul_gmacs[q8][1][3] / 2; /* slower: not taken */
    b.matmul_stream_gmacs[q8][1][2] = a.matmul_stream_gmacs[q8][1][2] * 1.25;
    a.compute_stretch[1] = 1.2;
    b.compute_stretch[1] = 1.6;
    a.stream_stretch[1][1] = 1.0;
    b.stream_stretch[1][1] = 2.0;
    a.barrier_us[1] = 0.1;
    b.barrier_us[1] = 0.5;
    b.cold_us[0][2] = a.cold_us[0][2] + 4;
    a.workload_ms[1] = 20;
    b.workload_ms[1] = 24;
    const ls_machine a0 = a, b0 = b;
    CHECK(ls_machine_merge(&a, &b, err) == 0, "merge two calibrations of one kind", "%s", err);
    CHECK(a.calibrations == 4, "calibrations add up", "%d", a.calibrations);
    CHECK(a.read_gbs[1][0] == b0.read_gbs[1][0], "a rate: the higher (the new one)", "%g", a.read_gbs[1][0]);
    CHECK(a.matmul_gmacs[q8][1][3] == a0.matmul_gmacs[q8][1][3], "a rate: the higher (the saved one)", "%g",
          a.matmul_gmacs[q8][1][3]);
    CHECK(a.matmul_stream_gmacs[q8][1][2] == b0.matmul_stream_gmacs[q8][1][2], "a stream rate: the higher", "%g",
          a.matmul_stream_gmacs[q8][1][2]);
    CHECK(near(a.compute_stretch[1], (3 * 1.2 + 1.6) / 4), "compute stretch: the mean over 4", "%g",
          a.compute_stretch[1]);
    CHECK(near(a.stream_stretch[1][1], (3 * 1.0 + 2.0) / 4), "stream stretch: the mean over 4", "%g",
          a.stream_stretch[1][1]);
    CHECK(near(a.barrier_us[1], (3 * 0.1 + 0.5) / 4), "barrier: the mean over 4", "%g", a.barrier_us[1]);
    CHECK(near(a.cold_us[0][2], a0.cold_us[0][2] + 1), "cold read: the mean over 4", "%g", a.cold_us[0][2]);
    CHECK(near(a.workload_ms[1], 21), "the workload's time: the mean over 4", "%g", a.workload_ms[1]);
    CHECK(a.compute_stretch[0] == a0.compute_stretch[0] && a.rate_g[0][0] == a0.rate_g[0][0],
          "figures equal in both stay", "%g", a.compute_stretch[0]);

    /* merging is commutative in the figures: b into a equals a into b */
    ls_machine c = b0;
    CHECK(ls_machine_merge(&c, &a0, err) == 0 && c.calibrations == 4 &&
              near(c.compute_stretch[1], a.compute_stretch[1]) && c.read_gbs[1][0] == a.read_gbs[1][0] &&
              c.matmul_gmacs[q8][1][3] == a.matmul_gmacs[q8][1][3],
          "merge is symmetric", "%g %g", c.compute_stretch[1], a.compute_stretch[1]);

    /* different kinds are refused, and the target is left alone */
    ls_machine d = b0, e = a0;
    d.n_threads = 1;
    CHECK(ls_machine_merge(&e, &d, err) != 0 && strstr(err, "threads") && e.calibrations == 3,
          "refuses other thread counts", "%s", err);
    d = b0;
    d.size_bytes[0] *= 2;
    CHECK(ls_machine_merge(&e, &d, err) != 0 && e.calibrations == 3 && e.read_gbs[1][0] == a0.read_gbs[1][0],
          "refuses other sizes", "%s", err);

    /* the count survives the file */
    char path[] = "/tmp/lockstep-test-machine-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "temporary file", "%s", path);
    if (fd >= 0) {
        close(fd);
        ls_machine f;
        CHECK(ls_machine_save(&a, path, err) == 0 && ls_machine_load(&f, path, false, err) == 0,
              "save and load", "%s", err);
        CHECK(f.calibrations == 4 && near(f.compute_stretch[1], a.compute_stretch[1]) &&
                  fabs(f.workload_ms[1] - 21) < 1e-9,
              "calibrations, a merged stretch and the workload's time round-trip", "%d %g %g", f.calibrations,
              f.compute_stretch[1], f.workload_ms[1]);
        unlink(path);
    }
    CHECK_EXIT();
}
