/* compile.c — `lockstep compile`: print the program the compiler makes for a model. */
#include <stdio.h>

#include "cli/cli.h"
#include "compile/explain.h"

static const char *usage =
    "usage: lockstep compile [-m MODEL] [-t THREADS] [--ctx N] [--batch B]\n"
    "Prints the compiled program: one line per step with its kernel, the arena offsets of its\n"
    "operands and each thread's tile, then the totals.\n"
    "  -m, --model FILE   GGUF model (default: the Gemma 3 270M set up by scripts/setup.sh)\n"
    "  -t, --threads N    threads (default: one per CPU)\n"
    "  --ctx N            context length (default min(model's, 4096))\n"
    "  --batch B          tokens per call (default 128)\n";

int cmd_compile(int argc, char **argv) {
    const char *cmd = "compile";
    cli_engine_params ep = {0};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int64_t n;
        int r;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return 0;
        }
#define FLAG(name, alias) ((r = cli_value(cmd, argc, argv, &i, name, alias, &v)) != 0)
        if (FLAG("-m", "--model")) ep.model_path = v;
        else if (FLAG("-t", "--threads")) { if (r > 0 && !cli_int(cmd, "-t", v, 1, LS_MAX_THREADS, &n)) ep.threads = (int)n; else r = -1; }
        else if (FLAG("--ctx", NULL)) { if (r > 0 && cli_int(cmd, "--ctx", v, 1, 1 << 24, &ep.context)) r = -1; }
        else if (FLAG("--batch", NULL)) { if (r > 0 && cli_int(cmd, "--batch", v, 1, 65536, &ep.batch)) r = -1; }
        else {
            cli_error(cmd, "unknown option '%s' (see --help)", argv[i]);
            return EXIT_BAD_INPUT;
        }
#undef FLAG
        if (r < 0) return EXIT_BAD_INPUT;
    }
    cli_engine engine;
    int rc = cli_engine_open(&engine, cmd, &ep);
    if (rc) return rc;
    ls_explain(stdout, &engine.program);
    fprintf(stderr, "load %.0f ms, compile %.1f ms\n", engine.load_ms, engine.compile_ms);
    cli_engine_close(&engine);
    return 0;
}
