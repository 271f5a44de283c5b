/* fuzz_machine.c — libFuzzer target for the machine model's parser (`make fuzz`,
 * build-fuzz/fuzz_machine): the JSON `lockstep calibrate` saves and compile and bench read.
 *
 * Any byte string must either fail ls_machine_parse with a one-line message or give a model
 * the cost model can use: thread and size counts in range, sizes ascending, every figure
 * finite, stretches at least 1, the workload's time positive, calibrations at least 1;
 * merging it into itself keeps the rates and stretches (the mean of equal figures). */
#include "base/error.h"
#include "compile/cost.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_finite(const double *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]) || v[i] < 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static ls_machine m, twice;
    char err[LS_ERROR_SIZE];
    err[0] = 0;
    if (ls_machine_parse(&m, (const char *)data, size, "fuzz", err)) {
        if (!err[0] || strchr(err, '\n')) abort(); /* one line, always */
        return 0;
    }
    if (m.n_threads < 1 || m.n_threads > LS_MACHINE_THREADS || m.n_sizes < 1 || m.n_sizes > LS_MACHINE_SIZES ||
        m.calibrations < 1)
        abort();
    for (int s = 1; s < m.n_sizes; s++)
        if (!(m.size_bytes[s] > m.size_bytes[s - 1])) abort();
    check_finite(m.size_bytes, (size_t)((const char *)m.source - (const char *)m.size_bytes) / sizeof(double));
    for (int t = 0; t < m.n_threads; t++) {
        if (m.compute_stretch[t] < 1 || !(m.workload_ms[t] > 0)) abort();
        for (int i = 0; i < LS_MACHINE_STREAMS; i++)
            if (m.stream_stretch[t][i] < 1) abort();
    }
    twice = m;
    if (ls_machine_merge(&twice, &m, err)) abort();
    if (twice.calibrations != 2 * m.calibrations || twice.read_gbs[0][0] != m.read_gbs[0][0] ||
        fabs(twice.compute_stretch[0] - m.compute_stretch[0]) > 1e-9 * m.compute_stretch[0])
        abort();
    return 0;
}
