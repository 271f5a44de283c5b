/* eval.c — `lockstep eval`: perplexity of a text, and optionally every position's logits.
 *
 * The tokens are cut into windows of --ctx tokens; each window is evaluated from an empty
 * cache, and every position but the window's last predicts the next token:
 *   perplexity = exp(mean over predicted positions of -log softmax(logits)[next token]).
 * --logits-out writes float32 [n_tokens][n_vocab], little-endian, row-major, through a
 * temporary file renamed at the end, so a failed run leaves no partial file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fmath.h"
#include "cli/cli.h"

static const char *usage =
    "usage: lockstep eval [-m MODEL] (-f TEXTFILE | --tokens IDSFILE) [options]\n"
    "Prints the perplexity of the text (`perplexity: X` on stdout).\n"
    "  -m, --model FILE     GGUF model (default: the Gemma 3 270M set up by scripts/setup.sh)\n"
    "  -f, --file FILE      a UTF-8 text, tokenized with BOS as the model wants\n"
    "  --tokens FILE        whitespace-separated token ids instead of a text\n"
    "  --ctx N              window length (default: all tokens, at most the model's context)\n"
    "  --logits-out FILE    write the raw float32 logits [n_tokens][n_vocab], little-endian\n"
    "  -t, --threads N      threads (default: one per CPU)\n"
    "  --batch N            tokens per forward call (default 64)\n";

static char *read_file(const char *path, size_t *size, char *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        ls_fail(err, "cannot open '%s'", path);
        return NULL;
    }
    size_t capacity = 1 << 16, n = 0;
    char *data = malloc(capacity + 1);
    for (size_t got; data && (got = fread(data + n, 1, capacity - n, f)) > 0;) {
        n += got;
        if (n == capacity) {
            if (capacity >= ((size_t)1 << 30)) {
                free(data);
                data = NULL;
                ls_fail(err, "'%s' is larger than 1 GiB", path);
                break;
            }
            char *bigger = realloc(data, capacity * 2 + 1);
            if (!bigger) free(data);
            data = bigger;
            capacity *= 2;
        }
    }
    fclose(f);
    if (!data) {
        if (err && !*err) ls_fail(err, "out of memory reading '%s'", path);
        return NULL;
    }
    data[n] = 0;
    *size = n;
    return data;
}

/* Parses whitespace-separated decimal ids. -1 with err on anything else. */
static int64_t parse_ids(const char *text, int32_t **out, char *err) {
    int64_t count = 0, capacity = 1024;
    int32_t *ids = malloc((size_t)capacity * sizeof *ids);
    const char *s = text;
    while (ids) {
        while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') s++;
        if (!*s) break;
        int64_t v = 0;
        const char *start = s;
        while (*s >= '0' && *s <= '9' && v <= INT32_MAX) v = v * 10 + (*s++ - '0');
        if (s == start || v > INT32_MAX || (*s && *s != ' ' && *s != '\n' && *s != '\t' && *s != '\r')) {
            free(ids);
            return ls_fail(err, "token file: '%.20s' is not a token id", start);
        }
        if (count == capacity) {
            int32_t *bigger = realloc(ids, (size_t)(capacity *= 2) * sizeof *ids);
            if (!bigger) free(ids);
            ids = bigger;
            if (!ids) break;
        }
        ids[count++] = (int32_t)v;
    }
    if (!ids) return ls_fail(err, "out of memory reading token ids");
    *out = ids;
    return count;
}

/* -log softmax(row)[target], with the sum in double in index order. */
static double negative_log_likelihood(const float *row, int64_t n_vocab, int32_t target) {
    float max = row[0];
    for (int64_t i = 1; i < n_vocab; i++)
        if (row[i] > max) max = row[i];
    double sum = 0;
    for (int64_t i = 0; i < n_vocab; i++) sum += ls_expf(row[i] - max);
    return (double)ls_logf((float)sum) - (double)(row[target] - max);
}

int cmd_eval(int argc, char **argv) {
    const char *cmd = "eval";
    cli_engine_params ep = {.all_logits = true, .batch = 64};
    const char *text_path = NULL, *ids_path = NULL, *logits_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return 0;
        }
        if ((r = cli_engine_flag(cmd, argc, argv, &i, &ep))) {
        } else if ((r = cli_value(cmd, argc, argv, &i, "-f", "--file", &v))) {
            text_path = v;
        } else if ((r = cli_value(cmd, argc, argv, &i, "--tokens", NULL, &v))) {
            ids_path = v;
        } else if ((r = cli_value(cmd, argc, argv, &i, "--logits-out", NULL, &v))) {
            logits_path = v;
        } else {
            cli_error(cmd, "unknown option '%s' (see --help)", argv[i]);
            return EXIT_BAD_INPUT;
        }
        if (r < 0) return EXIT_BAD_INPUT;
    }
    if (!text_path == !ids_path) {
        cli_error(cmd, "give exactly one of -f TEXTFILE and --tokens IDSFILE (see --help)");
        return EXIT_BAD_INPUT;
    }
    char err[LS_ERROR_SIZE] = "";
    size_t size;
    char *input = read_file(text_path ? text_path : ids_path, &size, err);
    if (!input) {
        cli_error(cmd, "%s", err);
        return EXIT_BAD_INPUT;
    }
    int32_t *tokens = NULL;
    int64_t n_tokens = 0;
    if (ids_path && (n_tokens = parse_ids(input, &tokens, err)) < 0) {
        cli_error(cmd, "%s", err);
        free(input);
        return EXIT_BAD_INPUT;
    }

    /* The window: --ctx, else all the tokens, at most the model's context. */
    ep.need_tokenizer = text_path != NULL;
    cli_engine engine;
    int rc = cli_engine_load(&engine, cmd, &ep);
    if (rc) goto done_no_engine;
    if (text_path) {
        int64_t need = ls_tokenize(engine.tokenizer, input, size, true, false, NULL, 0, err);
        tokens = need > 0 ? malloc((size_t)need * sizeof *tokens) : NULL;
        n_tokens = tokens ? ls_tokenize(engine.tokenizer, input, size, true, false, tokens, need, err) : 0;
    }
    free(input);
    input = NULL;
    if (n_tokens < 2) {
        cli_error(cmd, "the input has %lld tokens: at least 2 are needed", (long long)n_tokens);
        rc = EXIT_BAD_INPUT;
        goto done;
    }
    if (!ep.context) ep.context = n_tokens < engine.model.hp.context_train ? n_tokens : engine.model.hp.context_train;
    if ((rc = cli_engine_start(&engine, cmd, &ep))) goto done_no_engine;
    const ls_program *p = &engine.program;
    int64_t n_vocab = engine.model.hp.n_vocab, window = p->context;
    for (int64_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab) {
            cli_error(cmd, "token id %d (position %lld) is outside the vocabulary (0..%lld)",
                      tokens[i], (long long)i, (long long)n_vocab - 1);
            rc = EXIT_BAD_INPUT;
            goto done;
        }

    FILE *out = NULL;
    char temporary[4096];
    if (logits_path) {
        snprintf(temporary, sizeof temporary, "%s.partial", logits_path);
        if (!(out = fopen(temporary, "wb"))) {
            cli_error(cmd, "cannot write '%s'", temporary);
            rc = EXIT_BAD_INPUT;
            goto done;
        }
    }
    double nll = 0, start = cli_now_ms();
    int64_t predicted = 0;
    for (int64_t w0 = 0; w0 < n_tokens; w0 += window) {
        int64_t w1 = w0 + window < n_tokens ? w0 + window : n_tokens;
        for (int64_t c0 = w0; c0 < w1; c0 += p->max_rows) {
            int64_t c1 = c0 + p->max_rows < w1 ? c0 + p->max_rows : w1;
            const float *logits = ls_runtime_forward(engine.runtime, tokens + c0, c1 - c0, c0 - w0);
            for (int64_t t = c0; t < c1; t++) {
                const float *row = logits + (t - c0) * n_vocab;
                if (t + 1 < w1) {
                    nll += negative_log_likelihood(row, n_vocab, tokens[t + 1]);
                    predicted++;
                }
            }
            if (out && fwrite(logits, sizeof(float) * (size_t)n_vocab, (size_t)(c1 - c0), out) != (size_t)(c1 - c0)) {
                cli_error(cmd, "cannot write '%s'", temporary);
                fclose(out);
                unlink(temporary);
                rc = 1;
                goto done;
            }
        }
    }
    double ms = cli_now_ms() - start;
    if (out) {
        if (fclose(out) || rename(temporary, logits_path)) {
            cli_error(cmd, "cannot write '%s'", logits_path);
            unlink(temporary);
            rc = 1;
            goto done;
        }
    }
    double mean = predicted ? nll / (double)predicted : 0;
    printf("perplexity: %.6f\n", (double)ls_expf((float)mean));
    fprintf(stderr, "load %.0f ms, compile %.1f ms, start %.0f ms | %lld tokens in windows of %lld, "
            "%.1f tok/s | %d threads, %s\n", engine.load_ms, engine.compile_ms, engine.start_ms, (long long)n_tokens,
            (long long)window, n_tokens / (ms / 1e3), p->n_threads, ls_isa_name(ls_isa_current()));
done:
    cli_engine_close(&engine);
done_no_engine:
    free(input);
    free(tokens);
    return rc;
}
