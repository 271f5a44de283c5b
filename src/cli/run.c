/* run.c — `lockstep run`: generate text from a prompt, streamed to stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "cli/generate.h"

static const char *usage =
    "usage: lockstep run [-m MODEL] -p PROMPT [options]\n"
    "Generates text after PROMPT and streams it to stdout; timings go to stderr.\n"
    "  -m, --model FILE   GGUF model (default: the Gemma 3 270M set up by scripts/setup.sh)\n"
    "  -p, --prompt TEXT  the prompt (special tokens like <start_of_turn> are recognised)\n"
    "  -n, --tokens N     tokens to generate at most (default 128)\n"
    "  --temp T           temperature; 0 = greedy (default 0.8)\n"
    "  --top-k K          keep the K most likely tokens; 0 = off (default 40)\n"
    "  --top-p P          nucleus sampling; 1 = off (default 0.95)\n"
    "  --min-p P          drop tokens below P x the best one's probability (default 0.05)\n"
    "  --repeat-penalty R penalty for the last 64 tokens; 1 = off (default 1.0)\n"
    "  --seed S           random seed: the same seed gives the same text (default 0)\n"
    "  -t, --threads N    threads (default: one per CPU)\n"
    "  --ctx N            context length, prompt and output (default min(model's, 4096))\n"
    "  --batch N          prompt tokens per forward call (default 128)\n";

int cmd_run(int argc, char **argv) {
    const char *cmd = "run";
    cli_engine_params ep = {.need_tokenizer = true};
    ls_sampler_params sp = ls_sampler_defaults();
    const char *prompt = NULL;
    int64_t n_generate = 128;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return 0;
        }
        if ((r = cli_engine_flag(cmd, argc, argv, &i, &ep)) || (r = cli_sampler_flag(cmd, argc, argv, &i, &sp))) {
        } else if ((r = cli_value(cmd, argc, argv, &i, "-p", "--prompt", &v))) {
            prompt = v;
        } else if ((r = cli_value(cmd, argc, argv, &i, "-n", "--tokens", &v))) {
            if (r > 0 && cli_int(cmd, "-n", v, 0, 1 << 24, &n_generate)) r = -1;
        } else {
            cli_error(cmd, "unknown option '%s' (see --help)", argv[i]);
            return EXIT_BAD_INPUT;
        }
        if (r < 0) return EXIT_BAD_INPUT;
    }
    if (!prompt) {
        cli_error(cmd, "a prompt is needed: -p TEXT (see --help)");
        return EXIT_BAD_INPUT;
    }

    cli_engine engine;
    int rc = cli_engine_open(&engine, cmd, &ep);
    if (rc) return rc;
    char err[LS_ERROR_SIZE];
    int64_t context = engine.program.context;
    int32_t *prompt_tokens = malloc((size_t)context * sizeof *prompt_tokens);
    int32_t *history = malloc((size_t)context * sizeof *history);
    ls_sampler *sampler = ls_sampler_create(&sp, (int32_t)engine.model.hp.n_vocab);
    if (!prompt_tokens || !history || !sampler) {
        cli_error(cmd, "out of memory");
        rc = 1;
        goto done;
    }
    int64_t n_prompt = ls_tokenize(engine.tokenizer, prompt, strlen(prompt), true, true,
                                   prompt_tokens, context, err);
    if (n_prompt < 0) {
        cli_error(cmd, "%s", err);
        rc = EXIT_BAD_INPUT;
        goto done;
    }
    if (n_prompt > context || n_prompt == 0) {
        cli_error(cmd, "the prompt is %lld tokens: it must be 1 to %lld, the context (--ctx)",
                  (long long)n_prompt, (long long)context);
        rc = EXIT_BAD_INPUT;
        goto done;
    }
    cli_session session = {.engine = &engine, .history = history};
    double start = cli_now_ms();
    if (cli_feed(&session, prompt_tokens, n_prompt, err)) {
        cli_error(cmd, "%s", err);
        rc = EXIT_BAD_INPUT;
        goto done;
    }
    double prompt_ms = cli_now_ms() - start;
    fputs(prompt, stdout);
    fflush(stdout);
    start = cli_now_ms();
    int64_t generated = cli_generate(&session, sampler, n_generate, stdout);
    double generate_ms = cli_now_ms() - start;
    fputc('\n', stdout);
    fflush(stdout); /* the text ends before the timings and the shutdown, not at exit */
    fprintf(stderr,
            "load %.0f ms, compile %.1f ms, start %.0f ms | prompt %lld tokens, %.1f tok/s | "
            "generated %lld tokens, %.1f tok/s | %d threads, %s\n",
            engine.load_ms, engine.compile_ms, engine.start_ms, (long long)n_prompt,
            n_prompt / (prompt_ms / 1e3), (long long)generated,
            generated ? generated / (generate_ms / 1e3) : 0.0, engine.program.n_threads,
            ls_isa_name(ls_isa_current()));
done:
    ls_sampler_free(sampler);
    free(prompt_tokens);
    free(history);
    cli_engine_close(&engine);
    return rc;
}
