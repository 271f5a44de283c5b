/* calibrate.c — `lockstep calibrate`: measure the machine and save the model the compiler
 * predicts step times from (compile/cost.h, run/calibrate.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "cli/cli.h"
#include "compile/cost.h"
#include "quant/quant.h"
#include "run/calibrate.h"

static const char *usage =
    "usage: lockstep calibrate [-t THREADS] [-o FILE] [--fresh]\n"
    "Measures read bandwidth per thread count and working-set size (L2 to DRAM), matmul\n"
    "throughput per weight type (weights in L2, and streamed from 16 MiB, 256 MiB and 1 GiB),\n"
    "the other kernels, the barrier, how much other load on the host slows weight streams on\n"
    "average, and how much longer compute takes in a running program than the kernels alone\n"
    "(a made-up model's prefill, sampled through the calibration; 40-70 s: sweeps repeat while\n"
    "a figure still improves), prints the figures and saves them for `lockstep compile` and\n"
    "`lockstep bench`. When the file already holds calibrations of this machine (the same\n"
    "thread counts), this one is merged into them: each rate the fastest any run saw, each\n"
    "latency and stretch the mean over the runs (the compute stretch fitted again to the\n"
    "merged figures). On a shared host, where other guests' load comes and goes, a few runs\n"
    "at different times predict better than one.\n"
    "  -t, --threads N    measure 1..N threads (default: one per CPU, at most 16)\n"
    "  -o, --output FILE  where to save (default $LOCKSTEP_MACHINE, else\n"
    "                     ~/.cache/lockstep/machine.json)\n"
    "  --fresh            replace the file's figures instead of merging into them (after the\n"
    "                     kernels or the machine changed)\n";

/* mkdir -p of the folder holding path. */
static void make_parent(const char *path) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return;
    *slash = 0;
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(dir, 0755);
            *p = '/';
        }
    mkdir(dir, 0755);
}

int cmd_calibrate(int argc, char **argv) {
    const char *cmd = "calibrate";
    const char *output = NULL;
    bool fresh = false;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t threads = cpus < 1 ? 1 : cpus > LS_MACHINE_THREADS ? LS_MACHINE_THREADS : cpus;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--fresh")) {
            fresh = true;
            continue;
        }
#define FLAG(name, alias) ((r = cli_value(cmd, argc, argv, &i, name, alias, &v)) != 0)
        if (FLAG("-t", "--threads")) { if (r > 0 && cli_int(cmd, "-t", v, 1, LS_MACHINE_THREADS, &threads)) r = -1; }
        else if (FLAG("-o", "--output")) output = v;
        else {
            cli_error(cmd, "unknown option '%s' (see --help)", argv[i]);
            return EXIT_BAD_INPUT;
        }
#undef FLAG
        if (r < 0) return EXIT_BAD_INPUT;
    }
    char err[LS_ERROR_SIZE];
    if (ls_isa_init_from_env(err)) {
        cli_error(cmd, "%s", err);
        return EXIT_BAD_INPUT;
    }
    if (!output) output = ls_machine_path();
    ls_machine machine;
    double start = cli_now_ms();
    fprintf(stderr, "calibrating %d thread(s), %s kernels\n", (int)threads, ls_isa_name(ls_isa_current()));
    if (ls_calibrate(&machine, (int)threads, stdout, err)) {
        cli_error(cmd, "%s", err);
        return 1;
    }
    /* merge into the calibrations the file holds, unless told not to or it holds none */
    if (!fresh && access(output, F_OK) == 0) {
        ls_machine saved;
        if (ls_machine_load(&saved, output, false, err) || ls_machine_merge(&saved, &machine, err) ||
            ls_calibrate_refit(&saved, err))
            fprintf(stderr, "calibrate: not merging into the saved figures (%s): saving this calibration alone\n", err);
        else {
            machine = saved;
            const int t = machine.n_threads - 1;
            fprintf(stderr, "merged with %s: %d calibrations (compute stretch %.3f with %d thread(s); --fresh "
                            "starts over)\n",
                    output, machine.calibrations, machine.compute_stretch[t], t + 1);
        }
    }
    make_parent(output);
    if (ls_machine_save(&machine, output, err)) {
        cli_error(cmd, "%s", err);
        return EXIT_BAD_INPUT;
    }
    fprintf(stderr, "saved %s (%.1f s)\n", output, (cli_now_ms() - start) / 1e3);
    return 0;
}
