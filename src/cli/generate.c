#include "cli/generate.h"

#include "base/error.h"

int cli_feed(cli_session *s, const int32_t *tokens, int64_t n, char *err) {
    const ls_program *p = &s->engine->program;
    if (s->n_past + n > p->context)
        return ls_fail(err, "%lld tokens do not fit the context of %lld (%lld already used; raise --ctx)",
                       (long long)n, (long long)p->context, (long long)s->n_past);
    for (int64_t done = 0; done < n;) {
        int64_t chunk = n - done < p->max_rows ? n - done : p->max_rows;
        if (ls_runtime_check(s->engine->runtime, tokens + done, chunk, s->n_past, err)) return -1;
        s->logits = ls_runtime_forward(s->engine->runtime, tokens + done, chunk, s->n_past);
        for (int64_t i = 0; i < chunk; i++) s->history[s->n_past + i] = tokens[done + i];
        s->n_past += chunk;
        done += chunk;
    }
    return 0;
}

int64_t cli_generate(cli_session *s, ls_sampler *sampler, int64_t n_max, FILE *out) {
    const ls_program *p = &s->engine->program;
    int64_t n_vocab = p->graph.nodes[p->graph.output].width;
    const int64_t window = 64;
    int64_t generated = 0;
    char piece[256];
    while (generated < n_max) {
        int64_t recent = s->n_past < window ? s->n_past : window;
        int32_t token = ls_sampler_sample(sampler, s->logits, s->history + s->n_past - recent,
                                          (int32_t)recent, 0, (uint64_t)s->n_past);
        if (token < 0 || token >= n_vocab || ls_tokenizer_is_end(s->engine->tokenizer, token)) break;
        int length = ls_token_to_piece(s->engine->tokenizer, token, false, piece, sizeof piece);
        if (length > (int)sizeof piece) length = (int)sizeof piece;
        fwrite(piece, 1, (size_t)length, out);
        fflush(out);
        generated++;
        if (s->n_past >= p->context) break;
        if (cli_feed(s, &token, 1, NULL)) break;
    }
    return generated;
}
