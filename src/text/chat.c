/* chat.c — the chat families of chat.h, each written out as its official Jinja template
 * renders it (with bos_token empty: the tokenizer adds BOS).
 *
 *   Gemma 3:  system text + "\n\n" is put in front of the first turn's content; each turn
 *             "<start_of_turn>" role "\n" trim(content) "<end_of_turn>\n", role
 *             "assistant" written "model"; start "<start_of_turn>model\n".
 *   Llama 3:  "<|start_header_id|>" role "<|end_header_id|>\n\n" trim(content) "<|eot_id|>";
 *             start "<|start_header_id|>assistant<|end_header_id|>\n\n".
 *   ChatML:   "<|im_start|>" role "\n" content "<|im_end|>\n" (content as is);
 *             start "<|im_start|>assistant\n".
 *   Llama 2:  a leading system message becomes "<<SYS>>\n" system "\n<</SYS>>\n\n" in front
 *             of the first user content; user "[INST] " strip(content) " [/INST]", every
 *             user turn after the first preceded by "<s>"; assistant " " strip(content)
 *             " </s>". No assistant start (the model answers after "[/INST]").
 *   None:     role ": " content "\n"; start "assistant:".
 * trim/strip remove ASCII whitespace (space, \t, \n, \v, \f, \r) at both ends; Jinja's also
 * removes Unicode spaces, which these renderings leave in place. Templates that reject
 * non-alternating roles (Gemma, Llama 2) are rendered here without complaint. */
#include "text/chat.h"

#include <string.h>

typedef struct {
    char *out;
    size_t capacity;
    size_t length; /* bytes the full text needs, without the NUL */
} text_writer;

static void write_bytes(text_writer *w, const char *text, size_t n) {
    if (w->length < w->capacity) {
        size_t room = w->capacity - w->length;
        memcpy(w->out + w->length, text, n < room ? n : room);
    }
    w->length += n;
}

static void write_text(text_writer *w, const char *text) {
    if (text) write_bytes(w, text, strlen(text));
}

static int is_ascii_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void write_trimmed(text_writer *w, const char *text) {
    if (!text) return;
    size_t start = 0, end = strlen(text);
    while (start < end && is_ascii_space(text[start])) start++;
    while (end > start && is_ascii_space(text[end - 1])) end--;
    write_bytes(w, text + start, end - start);
}

static const char *text_or_empty(const char *text) { return text ? text : ""; }

static int role_is(const ls_chat_message *m, const char *role) {
    return m->role && strcmp(m->role, role) == 0;
}

static bool contains(const char *text, size_t length, const char *marker) {
    size_t n = strlen(marker);
    for (size_t i = 0; i + n <= length; i++)
        if (memcmp(text + i, marker, n) == 0) return true;
    return false;
}

ls_chat_format ls_chat_detect(const char *template_text, size_t length) {
    if (!template_text) return LS_CHAT_NONE;
    if (contains(template_text, length, "<start_of_turn>")) return LS_CHAT_GEMMA;
    if (contains(template_text, length, "<|start_header_id|>")) return LS_CHAT_LLAMA3;
    if (contains(template_text, length, "<|im_start|>")) return LS_CHAT_CHATML;
    if (contains(template_text, length, "[INST]")) return LS_CHAT_LLAMA2;
    return LS_CHAT_NONE;
}

const char *ls_chat_format_name(ls_chat_format format) {
    switch (format) {
    case LS_CHAT_GEMMA: return "gemma";
    case LS_CHAT_LLAMA3: return "llama3";
    case LS_CHAT_CHATML: return "chatml";
    case LS_CHAT_LLAMA2: return "llama2";
    default: return "none";
    }
}

static void render_gemma(text_writer *w, const ls_chat_message *m, int n, bool start) {
    int first = 0;
    const char *system = NULL;
    if (n > 0 && role_is(&m[0], "system")) {
        system = text_or_empty(m[0].content);
        first = 1;
    }
    for (int i = first; i < n; i++) {
        write_text(w, "<start_of_turn>");
        write_text(w, role_is(&m[i], "assistant") ? "model" : text_or_empty(m[i].role));
        write_text(w, "\n");
        if (i == first && system) {
            write_text(w, system);
            write_text(w, "\n\n");
        }
        write_trimmed(w, m[i].content);
        write_text(w, "<end_of_turn>\n");
    }
    if (start) write_text(w, "<start_of_turn>model\n");
}

static void render_llama3(text_writer *w, const ls_chat_message *m, int n, bool start) {
    for (int i = 0; i < n; i++) {
        write_text(w, "<|start_header_id|>");
        write_text(w, m[i].role);
        write_text(w, "<|end_header_id|>\n\n");
        write_trimmed(w, m[i].content);
        write_text(w, "<|eot_id|>");
    }
    if (start) write_text(w, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

static void render_chatml(text_writer *w, const ls_chat_message *m, int n, bool start) {
    for (int i = 0; i < n; i++) {
        write_text(w, "<|im_start|>");
        write_text(w, m[i].role);
        write_text(w, "\n");
        write_text(w, m[i].content);
        write_text(w, "<|im_end|>\n");
    }
    if (start) write_text(w, "<|im_start|>assistant\n");
}

/* The template strips "<<SYS>>\n" system "\n<</SYS>>\n\n" content as one string: the block
 * begins with '<', so only the end of the user content is stripped, and when that content
 * is all blank the strip also eats the block's closing "\n\n". */
static void render_llama2(text_writer *w, const ls_chat_message *m, int n) {
    int first = 0;
    const char *system = NULL;
    if (n > 0 && role_is(&m[0], "system")) {
        system = text_or_empty(m[0].content);
        first = 1;
    }
    for (int i = first; i < n; i++) {
        if (role_is(&m[i], "user")) {
            if (i > first) write_text(w, "<s>");
            write_text(w, "[INST] ");
            if (i == first && system) {
                write_text(w, "<<SYS>>\n");
                write_text(w, system);
                write_text(w, "\n<</SYS>>\n\n");
                /* only the end of the combined text is stripped */
                const char *content = text_or_empty(m[i].content);
                size_t end = strlen(content);
                while (end > 0 && is_ascii_space(content[end - 1])) end--;
                if (end == 0) {
                    /* content all blank: the strip reaches back into "\n<</SYS>>\n\n" */
                    w->length -= 2;
                }
                write_bytes(w, content, end);
            } else {
                write_trimmed(w, m[i].content);
            }
            write_text(w, " [/INST]");
        } else if (role_is(&m[i], "assistant")) {
            write_text(w, " ");
            write_trimmed(w, m[i].content);
            write_text(w, " </s>");
        }
    }
}

static void render_plain(text_writer *w, const ls_chat_message *m, int n, bool start) {
    for (int i = 0; i < n; i++) {
        write_text(w, m[i].role);
        write_text(w, ": ");
        write_text(w, m[i].content);
        write_text(w, "\n");
    }
    if (start) write_text(w, "assistant:");
}

size_t ls_chat_render(ls_chat_format format, const ls_chat_message *messages, int n_messages,
                      bool add_assistant_start, char *out, size_t capacity) {
    text_writer w = {out, out ? capacity : 0, 0};
    if (!messages || n_messages < 0) n_messages = 0;
    switch (format) {
    case LS_CHAT_GEMMA: render_gemma(&w, messages, n_messages, add_assistant_start); break;
    case LS_CHAT_LLAMA3: render_llama3(&w, messages, n_messages, add_assistant_start); break;
    case LS_CHAT_CHATML: render_chatml(&w, messages, n_messages, add_assistant_start); break;
    case LS_CHAT_LLAMA2: render_llama2(&w, messages, n_messages); break;
    default: render_plain(&w, messages, n_messages, add_assistant_start); break;
    }
    if (w.capacity > 0) w.out[w.length < w.capacity ? w.length : w.capacity - 1] = '\0';
    return w.length;
}
