/* test_chat.c — chat rendering against strings written from the official templates
 * (google/gemma-3-*-it, meta-llama/Meta-Llama-3-8B-Instruct, ChatML, Llama-2-chat).
 * tests/python/test_chat.py also renders those Jinja templates with jinja2 and compares. */
#include "text/chat.h"
#include "check.h"

#include <string.h>

static const ls_chat_message conversation[4] = {
    {"system", "Be brief."},
    {"user", "  Hi there\n"},
    {"assistant", "Hello!  "},
    {"user", "Name a color."},
};

static void expect(ls_chat_format format, int skip_system, bool start, const char *want,
                   const char *name) {
    char out[1024];
    size_t n = ls_chat_render(format, conversation + skip_system, 4 - skip_system, start, out,
                              sizeof out);
    CHECK(n == strlen(want) && strcmp(out, want) == 0, name, "got [%s] (%zu) want [%s]", out, n,
          want);
}

int main(void) {
    CHECK(ls_chat_detect("{{ '<start_of_turn>' + role }}", 29) == LS_CHAT_GEMMA &&
              ls_chat_detect("x<|start_header_id|>y", 21) == LS_CHAT_LLAMA3 &&
              ls_chat_detect("{{'<|im_start|>' + m}}", 22) == LS_CHAT_CHATML &&
              ls_chat_detect("[INST] hi", 9) == LS_CHAT_LLAMA2 &&
              ls_chat_detect("plain", 5) == LS_CHAT_NONE && ls_chat_detect(NULL, 0) == LS_CHAT_NONE,
          "detect families by marker", "-");
    CHECK(ls_chat_detect("<start_of_turn>", 10) == LS_CHAT_NONE,
          "detect looks only within the given length", "-");

    expect(LS_CHAT_GEMMA, 0, true,
           "<start_of_turn>user\nBe brief.\n\nHi there<end_of_turn>\n"
           "<start_of_turn>model\nHello!<end_of_turn>\n"
           "<start_of_turn>user\nName a color.<end_of_turn>\n<start_of_turn>model\n",
           "gemma with system, trimmed content, assistant start");
    expect(LS_CHAT_GEMMA, 1, false,
           "<start_of_turn>user\nHi there<end_of_turn>\n"
           "<start_of_turn>model\nHello!<end_of_turn>\n"
           "<start_of_turn>user\nName a color.<end_of_turn>\n",
           "gemma without system or start");
    expect(LS_CHAT_LLAMA3, 0, true,
           "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
           "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
           "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
           "<|start_header_id|>user<|end_header_id|>\n\nName a color.<|eot_id|>"
           "<|start_header_id|>assistant<|end_header_id|>\n\n",
           "llama3");
    expect(LS_CHAT_CHATML, 0, true,
           "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n  Hi there\n<|im_end|>\n"
           "<|im_start|>assistant\nHello!  <|im_end|>\n<|im_start|>user\nName a color.<|im_end|>\n"
           "<|im_start|>assistant\n",
           "chatml keeps content as is");
    expect(LS_CHAT_LLAMA2, 0, true,
           "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\n  Hi there [/INST] Hello! </s>"
           "<s>[INST] Name a color. [/INST]",
           "llama2 with system");

    /* capacity: the needed length is returned, the output is cut and NUL-terminated */
    char small[8];
    size_t need = ls_chat_render(LS_CHAT_CHATML, conversation, 4, true, small, sizeof small);
    char full[1024];
    size_t full_need = ls_chat_render(LS_CHAT_CHATML, conversation, 4, true, full, sizeof full);
    CHECK(need == full_need && strlen(small) == 7 && memcmp(small, full, 7) == 0,
          "short buffer: cut, terminated, full length returned", "%zu %zu [%s]", need, full_need,
          small);
    CHECK(ls_chat_render(LS_CHAT_GEMMA, conversation, 4, true, NULL, 0) ==
              strlen("<start_of_turn>user\nBe brief.\n\nHi there<end_of_turn>\n"
                     "<start_of_turn>model\nHello!<end_of_turn>\n"
                     "<start_of_turn>user\nName a color.<end_of_turn>\n<start_of_turn>model\n"),
          "NULL buffer: length only", "-");
    ls_chat_message odd[1] = {{NULL, NULL}};
    char out[64];
    size_t n = ls_chat_render(LS_CHAT_LLAMA3, odd, 1, false, out, sizeof out);
    CHECK(n == strlen("<|start_header_id|><|end_header_id|>\n\n<|eot_id|>"),
          "NULL role and content render as empty", "%zu [%s]", n, out);
    CHECK(ls_chat_render(LS_CHAT_GEMMA, NULL, 3, false, out, sizeof out) == 0 && out[0] == 0,
          "no messages: empty text", "-");
    CHECK_EXIT();
}
