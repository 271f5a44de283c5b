/* main.c — the `lockstep` command: one binary, one subcommand per job. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"run", cmd_run, "generate text from a prompt"},
    {"chat", cmd_chat, "talk with a chat model"},
    {"eval", cmd_eval, "perplexity of a text, and the raw logits"},
    {"tokenize", cmd_tokenize, "the token ids of a text"},
    {"compile", cmd_compile, "print the compiled program (like SQLite's EXPLAIN)"},
    {"calibrate", cmd_calibrate, "measure this machine for the cost model"},
    {"bench", cmd_bench, "decode and prefill speed, predicted next to measured"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: lockstep <command> [options]   (lockstep <command> --help)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return EXIT_BAD_INPUT;
    }
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "lockstep: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_BAD_INPUT;
}
