/* compile.c — `lockstep compile`: print the program the compiler makes for a model. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "cli/cli.h"
#include "compile/cost.h"
#include "compile/explain.h"

static const char *usage =
    "usage: lockstep compile [-m MODEL] [-t THREADS] [--ctx N] [--batch B] [--json]\n"
    "Prints the compiled program: one line per step with its kernel, its predicted time for a\n"
    "call of B tokens, the arena offsets of its operands and each thread's tile, then the\n"
    "totals: weight, arena and KV-cache bytes, steps and barriers, predicted ms per decoded\n"
    "token and per 512-token prefill.\n"
    "  -m, --model FILE   GGUF model (default: the Gemma 3 270M set up by scripts/setup.sh)\n"
    "  -t, --threads N    threads (default: one per CPU)\n"
    "  --ctx N            context length (default min(model's, 4096))\n"
    "  --batch B          tokens per call (default 128)\n"
    "  --json             the same as one JSON object\n"
    "  --machine FILE     machine model (default $LOCKSTEP_MACHINE, else\n"
    "                     ~/.cache/lockstep/machine.json, else built-in figures)\n";

int cmd_compile(int argc, char **argv) {
    const char *cmd = "compile";
    cli_engine_params ep = {0};
    const char *machine_path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--json")) {
            json = true;
            continue;
        }
        if ((r = cli_engine_flag(cmd, argc, argv, &i, &ep))) {
        } else if ((r = cli_value(cmd, argc, argv, &i, "--machine", NULL, &v))) {
            machine_path = v;
        } else {
            cli_error(cmd, "unknown option '%s' (see --help)", argv[i]);
            return EXIT_BAD_INPUT;
        }
        if (r < 0) return EXIT_BAD_INPUT;
    }
    ls_machine machine;
    if (cli_machine_load(cmd, machine_path, &machine)) return EXIT_BAD_INPUT;
    cli_engine engine;
    int rc = cli_engine_load(&engine, cmd, &ep);
    if (rc || (rc = cli_engine_compile(&engine, cmd, &ep))) return rc;
    ls_program *program = &engine.program;
    double compile_ms = engine.compile_ms, start = cli_now_ms();
    ls_cost_program(program, &machine);
    double cost_ms = cli_now_ms() - start;
    if (json) ls_explain_json(stdout, program, &machine);
    else ls_explain(stdout, program, &machine);
    if (machine.builtin) fprintf(stderr, "machine model: %s\n", machine.source);
    fprintf(stderr, "load %.0f ms, compile %.1f ms, cost model %.1f ms\n", engine.load_ms, compile_ms, cost_ms);
    cli_engine_close(&engine);
    return 0;
}
