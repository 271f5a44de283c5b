/* tokenize.c — `lockstep tokenize`: text to token ids (or ids back to text) with a
 * model's own tokenizer, ids identical to llama.cpp's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "cli/cli.h"
#include "io/gguf.h"
#include "text/tokenizer.h"

static const char usage[] =
    "usage: lockstep tokenize [-m MODEL] (-p TEXT | -f FILE) [options]\n"
    "Prints the token ids of TEXT, space-separated on one line.\n"
    "  -m, --model FILE     GGUF model whose tokenizer to use (default: the default model)\n"
    "  -p, --prompt TEXT    text to tokenize\n"
    "  -f, --file FILE      read the text (raw bytes) from FILE\n"
    "  --no-bos             do not add BOS/EOS as the model's metadata asks\n"
    "  --parse-special      control tokens written in the text (e.g. <start_of_turn>) become their ids\n"
    "  --decode             the text is space-separated ids: print the bytes they stand for\n"
    "  --render-special     with --decode, print control tokens' text too\n"
    "  -t, --threads N      accepted for uniformity; tokenizing uses one thread\n"
    "  -h, --help           this help\n";

static int bad(const char *message, const char *detail) {
    fprintf(stderr, "lockstep tokenize: %s%s\n", message, detail ? detail : "");
    return 2;
}

/* Reads a whole file; NULL with a message on failure. Limit: 256 MiB. */
static char *read_file(const char *path, size_t *length, char *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        ls_fail(err, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t capacity = 1 << 16, n = 0;
    char *data = malloc(capacity);
    while (data) {
        if (n == capacity) {
            if (capacity >= ((size_t)1 << 28)) {
                ls_fail(err, "%s is larger than 256 MiB", path);
                free(data);
                data = NULL;
                break;
            }
            char *grown = realloc(data, capacity * 2);
            if (!grown) {
                free(data);
                data = NULL;
                ls_fail(err, "out of memory reading %s", path);
                break;
            }
            data = grown;
            capacity *= 2;
        }
        size_t got = fread(data + n, 1, capacity - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                ls_fail(err, "cannot read %s", path);
                free(data);
                data = NULL;
            }
            break;
        }
    }
    if (!data && err && !err[0]) ls_fail(err, "out of memory reading %s", path);
    fclose(f);
    *length = n;
    return data;
}

static int decode_ids(const ls_tokenizer *tokenizer, const char *text, size_t length, bool render_special) {
    char piece[256];
    size_t i = 0;
    int32_t n_vocab = ls_tokenizer_vocab_size(tokenizer);
    while (i < length) {
        while (i < length && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == ',')) i++;
        if (i == length) break;
        long long id = 0;
        size_t start = i;
        while (i < length && text[i] >= '0' && text[i] <= '9' && id <= n_vocab) id = id * 10 + (text[i++] - '0');
        if (i == start || (i < length && text[i] != ' ' && text[i] != '\n' && text[i] != '\t' && text[i] != ','))
            return bad("--decode wants space-separated token ids", NULL);
        if (id >= n_vocab) return bad("token id out of range for this vocabulary", NULL);
        int n = ls_token_to_piece(tokenizer, (int32_t)id, render_special, piece, (int)sizeof piece);
        if (n > (int)sizeof piece) {
            char *big = malloc((size_t)n);
            if (!big) return bad("out of memory", NULL);
            ls_token_to_piece(tokenizer, (int32_t)id, render_special, big, n);
            fwrite(big, 1, (size_t)n, stdout);
            free(big);
        } else if (n > 0) {
            fwrite(piece, 1, (size_t)n, stdout);
        }
    }
    return 0;
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *file = NULL;
    bool add_special = true, parse_special = false, decode = false, render_special = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!has_value) return bad(a, " needs a value");
            model = argv[++i];
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!has_value) return bad(a, " needs a value");
            prompt = argv[++i];
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (!has_value) return bad(a, " needs a value");
            file = argv[++i];
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!has_value) return bad(a, " needs a value");
            char *end;
            long threads = strtol(argv[++i], &end, 10);
            if (*end || threads < 1 || threads > 1024) return bad("bad thread count: ", argv[i]);
        } else if (!strcmp(a, "--no-bos")) {
            add_special = false;
        } else if (!strcmp(a, "--parse-special")) {
            parse_special = true;
        } else if (!strcmp(a, "--decode")) {
            decode = true;
        } else if (!strcmp(a, "--render-special")) {
            render_special = true;
        } else {
            return bad("unknown option: ", a);
        }
    }
    if (!model) model = ls_default_model_path();
    if (!prompt == !file) return bad("give exactly one of -p TEXT and -f FILE", NULL);

    char err[LS_ERROR_SIZE] = "";
    char *owned = NULL;
    size_t length;
    if (file) {
        owned = read_file(file, &length, err);
        if (!owned) return bad(err, NULL);
        prompt = owned;
    } else {
        length = strlen(prompt);
    }
    gguf_file gguf;
    memset(&gguf, 0, sizeof gguf);
    if (gguf_open(&gguf, model, err) != 0) {
        free(owned);
        return bad(err, NULL);
    }
    ls_tokenizer *tokenizer = ls_tokenizer_load(&gguf, err);
    gguf_close(&gguf);
    if (!tokenizer) {
        free(owned);
        return bad(err, NULL);
    }
    int status = 0;
    if (decode) {
        status = decode_ids(tokenizer, prompt, length, render_special);
    } else {
        int64_t n = ls_tokenize(tokenizer, prompt, length, add_special, parse_special, NULL, 0, err);
        int32_t *ids = n > 0 ? malloc((size_t)n * sizeof(int32_t)) : NULL;
        if (n < 0) {
            status = bad(err, NULL);
        } else if (n > 0 && !ids) {
            status = bad("out of memory", NULL);
        } else {
            ls_tokenize(tokenizer, prompt, length, add_special, parse_special, ids, n, err);
            for (int64_t k = 0; k < n; k++) printf(k ? " %d" : "%d", (int)ids[k]);
            printf("\n");
        }
        free(ids);
    }
    ls_tokenizer_free(tokenizer);
    free(owned);
    if (fflush(stdout) != 0 && status == 0) status = 1;
    return status;
}
