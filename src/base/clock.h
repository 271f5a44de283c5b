/* clock.h — the monotonic clock every timing in lockstep reads (calibrate, its workload, the
 * command line's timings): seconds since an arbitrary start, never going back. */
#ifndef LS_CLOCK_H
#define LS_CLOCK_H

#include <time.h>

static inline double ls_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
