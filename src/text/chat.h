/* chat.h — chat templates: messages → the prompt text a chat model was trained on.
 * The template is recognised from the GGUF's tokenizer.chat_template text (a Jinja
 * program we do not run) by its marker tokens; each known family is written out here. */
#ifndef LS_CHAT_H
#define LS_CHAT_H

#include <stdbool.h>
#include <stddef.h>

typedef enum ls_chat_format {
    LS_CHAT_NONE = 0,  /* unknown: plain "role: text" lines */
    LS_CHAT_GEMMA,     /* <start_of_turn>user\n...<end_of_turn>\n<start_of_turn>model\n */
    LS_CHAT_LLAMA3,    /* <|start_header_id|>user<|end_header_id|>\n\n...<|eot_id|> */
    LS_CHAT_CHATML,    /* <|im_start|>user\n...<|im_end|>\n (Qwen, SmolLM) */
    LS_CHAT_LLAMA2,    /* [INST] ... [/INST] */
} ls_chat_format;

typedef struct ls_chat_message {
    const char *role;    /* "system", "user", "assistant" */
    const char *content;
} ls_chat_message;

/* Recognises the family from the template text (NULL or unknown → LS_CHAT_NONE). */
ls_chat_format ls_chat_detect(const char *template_text, size_t length);
const char *ls_chat_format_name(ls_chat_format format);

/* Writes the prompt for the messages (BOS not included: the tokenizer adds it), ending with
 * the opening of the assistant's turn when add_assistant_start. Returns the length needed
 * (writes at most capacity bytes including a NUL). Gemma has no system role: a system
 * message is prepended to the first user turn, as its template does. */
size_t ls_chat_render(ls_chat_format format, const ls_chat_message *messages, int n_messages,
                      bool add_assistant_start, char *out, size_t capacity);

#endif
