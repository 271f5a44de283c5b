/* chat.c — `lockstep chat`: an interactive conversation using the model's chat template.
 *
 * Each turn renders the whole conversation with the template, tokenizes it, and feeds only
 * the tokens after the longest prefix already in the KV cache; the reply streams to stdout
 * as it is sampled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "cli/generate.h"
#include "text/chat.h"

static const char *usage =
    "usage: lockstep chat [-m MODEL] [options]\n"
    "Reads your messages from stdin, one per line, and streams the model's replies to stdout.\n"
    "The chat template (Gemma, Llama 3, ChatML/Qwen, Llama 2) comes from the model's metadata.\n"
    "  -m, --model FILE   GGUF model (default: the Gemma 3 270M set up by scripts/setup.sh)\n"
    "  -s, --system TEXT  a system message\n"
    "  -n, --tokens N     longest reply in tokens (default 512)\n"
    "  --temp T, --top-k K, --top-p P, --min-p P, --repeat-penalty R, --seed S  as in run\n"
    "  -t, --threads N    threads (default: one per CPU)\n"
    "  --ctx N            context length for the whole conversation (default min(model's, 4096))\n";

/* The template family: from tokenizer.chat_template, else from the vocabulary's markers. */
static ls_chat_format detect_format(const cli_engine *e) {
    gguf_string t;
    if (gguf_get_string(&e->model.file, "tokenizer.chat_template", &t)) {
        ls_chat_format f = ls_chat_detect(t.bytes, t.length);
        if (f != LS_CHAT_NONE) return f;
    }
    if (ls_tokenizer_find(e->tokenizer, "<start_of_turn>") >= 0) return LS_CHAT_GEMMA;
    if (ls_tokenizer_find(e->tokenizer, "<|start_header_id|>") >= 0) return LS_CHAT_LLAMA3;
    if (ls_tokenizer_find(e->tokenizer, "<|im_start|>") >= 0) return LS_CHAT_CHATML;
    return LS_CHAT_NONE;
}

typedef struct conversation {
    ls_chat_message *messages;
    char **owned;
    int n, capacity;
} conversation;

static int add_message(conversation *c, const char *role, const char *content) {
    if (c->n == c->capacity) {
        int capacity = c->capacity ? 2 * c->capacity : 16;
        ls_chat_message *m = realloc(c->messages, (size_t)capacity * sizeof *m);
        if (!m) return -1;
        c->messages = m;
        char **o = realloc(c->owned, (size_t)capacity * sizeof *o);
        if (!o) return -1;
        c->owned = o;
        c->capacity = capacity;
    }
    char *copy = strdup(content);
    if (!copy) return -1;
    c->owned[c->n] = copy;
    c->messages[c->n++] = (ls_chat_message){role, copy};
    return 0;
}

int cmd_chat(int argc, char **argv) {
    const char *cmd = "chat";
    cli_engine_params ep = {.need_tokenizer = true};
    ls_sampler_params sp = ls_sampler_defaults();
    const char *system = NULL;
    int64_t n_reply = 512;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return 0;
        }
        if ((r = cli_engine_flag(cmd, argc, argv, &i, &ep)) || (r = cli_sampler_flag(cmd, argc, argv, &i, &sp))) {
        } else if ((r = cli_value(cmd, argc, argv, &i, "-s", "--system", &v))) {
            system = v;
        } else if ((r = cli_value(cmd, argc, argv, &i, "-n", "--tokens", &v))) {
            if (r > 0 && cli_int(cmd, "-n", v, 1, 1 << 24, &n_reply)) r = -1;
        } else {
            cli_error(cmd, "unknown option '%s' (see --help)", argv[i]);
            return EXIT_BAD_INPUT;
        }
        if (r < 0) return EXIT_BAD_INPUT;
    }

    cli_engine engine;
    int rc = cli_engine_open(&engine, cmd, &ep);
    if (rc) return rc;
    ls_chat_format format = detect_format(&engine);
    fprintf(stderr, "chat template: %s. Type a message and press enter; ctrl-D ends.\n",
            ls_chat_format_name(format));
    int64_t context = engine.program.context;
    int32_t *history = malloc((size_t)context * sizeof *history);
    int32_t *tokens = malloc((size_t)context * sizeof *tokens);
    ls_sampler *sampler = ls_sampler_create(&sp, (int32_t)engine.model.hp.n_vocab);
    conversation conv = {0};
    char *line = NULL, *rendered = NULL;
    size_t line_capacity = 0;
    cli_session session = {.engine = &engine, .history = history};
    char err[LS_ERROR_SIZE];
    if (!history || !tokens || !sampler || (system && add_message(&conv, "system", system))) {
        cli_error(cmd, "out of memory");
        rc = 1;
        goto done;
    }
    for (;;) {
        fprintf(stderr, "> ");
        ssize_t got = getline(&line, &line_capacity, stdin);
        if (got < 0) break;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = 0;
        if (!got) continue;
        if (add_message(&conv, "user", line)) break;
        size_t need = ls_chat_render(format, conv.messages, conv.n, true, NULL, 0);
        free(rendered);
        if (!(rendered = malloc(need + 1))) break;
        ls_chat_render(format, conv.messages, conv.n, true, rendered, need + 1);
        int64_t n = ls_tokenize(engine.tokenizer, rendered, need, true, true, tokens, context, err);
        if (n < 0 || n >= context) {
            cli_error(cmd, n < 0 ? "%s" : "the conversation no longer fits the context (--ctx)", err);
            rc = EXIT_BAD_INPUT;
            break;
        }
        int64_t common = 0;
        while (common < n && common < session.n_past && tokens[common] == history[common]) common++;
        if (common == n) common--; /* always feed at least one token to get logits */
        session.n_past = common;
        if (cli_feed(&session, tokens + common, n - common, err)) {
            cli_error(cmd, "%s", err);
            rc = EXIT_BAD_INPUT;
            break;
        }
        cli_generate(&session, sampler, n_reply, stdout);
        fputc('\n', stdout);
        /* The reply's text, from the tokens generated after the prompt. */
        size_t length = 0, capacity = 1024;
        char *text = malloc(capacity);
        for (int64_t i = n; text && i < session.n_past; i++) {
            char piece[256];
            int k = ls_token_to_piece(engine.tokenizer, history[i], false, piece, sizeof piece);
            if (k > (int)sizeof piece) k = (int)sizeof piece;
            if (length + (size_t)k + 1 > capacity) {
                char *bigger = realloc(text, capacity = 2 * capacity + (size_t)k);
                if (!bigger) free(text);
                text = bigger;
                if (!text) break;
            }
            memcpy(text + length, piece, (size_t)k);
            length += (size_t)k;
        }
        if (!text) break;
        text[length] = 0;
        int added = add_message(&conv, "assistant", text);
        free(text);
        if (added) break;
    }
done:
    for (int i = 0; i < conv.n; i++) free(conv.owned[i]);
    free(conv.messages);
    free(conv.owned);
    free(line);
    free(rendered);
    ls_sampler_free(sampler);
    free(history);
    free(tokens);
    cli_engine_close(&engine);
    return rc;
}
