/* generate.h — feeding tokens through the engine and sampling, shared by run and chat. */
#ifndef LS_GENERATE_H
#define LS_GENERATE_H

#include <stdio.h>

#include "cli/cli.h"
#include "text/sample.h"

typedef struct cli_session {
    cli_engine *engine;
    int32_t *history;      /* every token fed so far, [context] */
    int64_t n_past;        /* tokens in the KV cache */
    const float *logits;   /* of the last token fed */
} cli_session;

/* Feeds tokens in calls of at most the program's batch. 0, or -1 with err. */
int cli_feed(cli_session *s, const int32_t *tokens, int64_t n, char *err);

/* Samples and streams up to n_max tokens to out (stopping at an end token or a full
 * context); returns how many were generated. */
int64_t cli_generate(cli_session *s, ls_sampler *sampler, int64_t n_max, FILE *out);

#endif
