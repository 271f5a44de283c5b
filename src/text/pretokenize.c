/* pretokenize.c — the regex splits that run before byte-level BPE, written as code.
 *
 * llama.cpp splits text with a list of regexes per tokenizer.ggml.pre; each regex splits
 * every piece the previous one produced, and the text between two matches becomes a piece
 * of its own. Two regexes (GPT-2's and Llama 3's) have hand-written matchers there
 * (src/unicode.cpp); the others run through std::regex on a "collapsed" text where each
 * non-ASCII code point stands for its class. Both give the same classes as below:
 *   whitespace  White_Space property (ASCII: \t \n \v \f \r and space)
 *   letter      \p{L}; number \p{N}; punctuation \p{P}
 *   other       anything else ([^\s\p{L}\p{N}])
 * Everything here works on code points; a split is a list of piece lengths. */
#include <stdlib.h>

#include "text/tokenizer_internal.h"
#include "text/utf8.h"

typedef struct split {
    size_t *lengths;
    int64_t count, capacity;
    bool failed;
} split;

static void split_push(split *s, size_t length) {
    if (length == 0 || s->failed) return;
    if (s->count == s->capacity) {
        int64_t capacity = s->capacity ? s->capacity * 2 : 64;
        size_t *grown = realloc(s->lengths, (size_t)capacity * sizeof(size_t));
        if (!grown) {
            s->failed = true;
            return;
        }
        s->lengths = grown;
        s->capacity = capacity;
    }
    s->lengths[s->count++] = length;
}

/* The code points of one piece and their class bits; reads past the end give 0. */
typedef struct piece {
    const uint32_t *cpts;
    const uint16_t *flags;
    size_t end; /* index one past the piece (the piece starts at some ini < end) */
} piece;

#define OUT_OF_RANGE 0xFFFFFFFFu

static uint32_t cpt_at(const piece *p, size_t i) { return i < p->end ? p->cpts[i] : OUT_OF_RANGE; }
static uint16_t flags_at(const piece *p, size_t i) { return i < p->end ? p->flags[i] : 0; }
static bool is_space(uint16_t f) { return f & LS_UNICODE_WHITESPACE; }
static bool is_letter(uint16_t f) { return f & LS_UNICODE_LETTER; }
static bool is_number(uint16_t f) { return f & LS_UNICODE_NUMBER; }
static bool is_other(uint16_t f) { return f && !(f & (LS_UNICODE_WHITESPACE | LS_UNICODE_LETTER | LS_UNICODE_NUMBER)); }
static bool is_cr_lf(uint32_t c) { return c == '\r' || c == '\n'; }
static uint32_t ascii_lower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* Length of a contraction 's 't 're 've 'm 'll 'd at i (case-insensitive when `any_case`),
 * or 0. */
static size_t contraction(const piece *p, size_t i, bool any_case) {
    if (cpt_at(p, i) != '\'' || i + 1 >= p->end) return 0;
    uint32_t a = cpt_at(p, i + 1), b = cpt_at(p, i + 2);
    if (any_case) {
        a = ascii_lower(a);
        b = ascii_lower(b);
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (i + 2 < p->end && ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')))
        return 3;
    return 0;
}

/* Whitespace run at i: its length, and one past its last \r or \n (0 when none). */
static size_t space_run(const piece *p, size_t i, size_t *after_last_cr_lf) {
    size_t n = 0;
    *after_last_cr_lf = 0;
    while (is_space(flags_at(p, i + n))) {
        if (is_cr_lf(cpt_at(p, i + n))) *after_last_cr_lf = i + n + 1;
        n++;
    }
    return n;
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static void split_gpt2(const piece *p, size_t ini, split *out) {
    size_t pos = ini, prev = ini;
#define EMIT(to) do { split_push(out, (to) - prev); prev = (to); pos = (to); } while (0)
    while (pos < p->end) {
        uint32_t c = cpt_at(p, pos);
        size_t n = contraction(p, pos, false);
        if (n) { EMIT(pos + n); continue; }
        uint16_t f2 = c == ' ' ? flags_at(p, pos + 1) : flags_at(p, pos);
        size_t q = pos + (c == ' ');
        if (is_letter(f2)) {
            while (is_letter(flags_at(p, q))) q++;
            EMIT(q);
            continue;
        }
        if (is_number(f2)) {
            while (is_number(flags_at(p, q))) q++;
            EMIT(q);
            continue;
        }
        if (is_other(f2)) {
            while (is_other(flags_at(p, q))) q++;
            EMIT(q);
            continue;
        }
        size_t last;
        size_t spaces = space_run(p, pos, &last);
        if (spaces > 1 && pos + spaces < p->end) { EMIT(pos + spaces - 1); continue; }
        if (spaces > 0) { EMIT(pos + spaces); continue; }
        EMIT(pos + 1);
    }
}

/* Llama 3 (llama.cpp's hand-written matcher):
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 * \s*[\r\n]+|\s+(?!\S)|\s+ */
static void split_llama3(const piece *p, size_t ini, split *out) {
    size_t pos = ini, prev = ini;
    while (pos < p->end) {
        uint32_t c = cpt_at(p, pos);
        uint16_t f = flags_at(p, pos);
        size_t n = contraction(p, pos, true);
        if (n) { EMIT(pos + n); continue; }
        if (!(is_cr_lf(c) || is_number(f)) && (is_letter(f) || is_letter(flags_at(p, pos + 1)))) {
            size_t q = pos + 1;
            while (is_letter(flags_at(p, q))) q++;
            EMIT(q);
            continue;
        }
        if (is_number(f)) { /* groups of three digits */
            size_t q = pos;
            while (q < p->end && is_number(flags_at(p, q)) && q - pos < 3) q++;
            EMIT(q);
            continue;
        }
        uint16_t f2 = c == ' ' ? flags_at(p, pos + 1) : f;
        if (!(f2 & (LS_UNICODE_WHITESPACE | LS_UNICODE_LETTER | LS_UNICODE_NUMBER)) && f) {
            size_t q = pos + (c == ' ');
            while (is_other(flags_at(p, q))) q++;
            while (is_cr_lf(cpt_at(p, q))) q++;
            EMIT(q);
            continue;
        }
        size_t last;
        size_t spaces = space_run(p, pos, &last);
        if (last > 0) { EMIT(last); continue; }
        if (spaces > 1 && pos + spaces < p->end) { EMIT(pos + spaces - 1); continue; }
        if (spaces > 0) { EMIT(pos + spaces); continue; }
        EMIT(pos + 1);
    }
#undef EMIT
}

/* Matchers for regexes that llama.cpp runs through std::regex: the length of the match
 * starting exactly at i (0 = none), with the alternatives tried in order. */
typedef size_t (*matcher)(const piece *p, size_t i);

/* Qwen2: (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|
 * \p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t match_qwen2(const piece *p, size_t i) {
    size_t n = contraction(p, i, true);
    if (n) return n;
    uint32_t c = cpt_at(p, i);
    uint16_t f = flags_at(p, i);
    if (!(is_cr_lf(c) || is_letter(f) || is_number(f)) && is_letter(flags_at(p, i + 1))) {
        size_t q = i + 1;
        while (is_letter(flags_at(p, q))) q++;
        return q - i;
    }
    if (is_letter(f)) {
        size_t q = i;
        while (is_letter(flags_at(p, q))) q++;
        return q - i;
    }
    if (is_number(f)) return 1;
    size_t q = i;
    if (c == ' ' && is_other(flags_at(p, i + 1))) q++;
    if (is_other(flags_at(p, q))) {
        while (is_other(flags_at(p, q))) q++;
        while (is_cr_lf(cpt_at(p, q))) q++;
        return q - i;
    }
    size_t last;
    size_t spaces = space_run(p, i, &last);
    if (last > 0) return last - i;
    if (spaces > 1 && i + spaces < p->end) return spaces - 1;
    return spaces;
}

/* \p{N} */
static size_t match_one_number(const piece *p, size_t i) { return is_number(flags_at(p, i)); }

/* \p{N}+ */
static size_t match_numbers(const piece *p, size_t i) {
    size_t q = i;
    while (is_number(flags_at(p, q))) q++;
    return q - i;
}

/* [0-9][0-9][0-9] */
static size_t match_three_digits(const piece *p, size_t i) {
    for (size_t k = 0; k < 3; k++) {
        uint32_t c = cpt_at(p, i + k);
        if (c < '0' || c > '9') return 0;
    }
    return 3;
}

/* [\p{P}\$\+<=>\^~\|]+ */
static bool is_default_punct(const piece *p, size_t i) {
    uint32_t c = cpt_at(p, i);
    return (flags_at(p, i) & LS_UNICODE_PUNCTUATION) || c == '$' || c == '+' || c == '<' ||
           c == '=' || c == '>' || c == '^' || c == '~' || c == '|';
}
static size_t match_default_punct(const piece *p, size_t i) {
    size_t q = i;
    while (q < p->end && is_default_punct(p, q)) q++;
    return q - i;
}

/* What std::regex_iterator does: the leftmost match from each position, and the text
 * between matches as pieces of its own. */
static void split_regex(const piece *p, size_t ini, matcher match, split *out) {
    size_t pos = ini, prev = ini;
    while (pos < p->end) {
        size_t n = match(p, pos);
        if (n == 0) {
            pos++;
            continue;
        }
        split_push(out, pos - prev);
        split_push(out, n);
        pos += n;
        prev = pos;
    }
    split_push(out, p->end - prev);
}

enum step_kind { STEP_GPT2, STEP_LLAMA3, STEP_REGEX };
typedef struct step {
    enum step_kind kind;
    matcher match;
} step;

int64_t ls_pretokenize(enum ls_pre_type pre, const uint32_t *cpts, size_t n, size_t **lengths) {
    step steps[4];
    int n_steps = 0;
    switch (pre) {
    case LS_PRE_LLAMA3: steps[n_steps++] = (step){STEP_LLAMA3, NULL}; break;
    case LS_PRE_QWEN2: steps[n_steps++] = (step){STEP_REGEX, match_qwen2}; break;
    case LS_PRE_GPT2: steps[n_steps++] = (step){STEP_GPT2, NULL}; break;
    case LS_PRE_SMOLLM:
        steps[n_steps++] = (step){STEP_REGEX, match_one_number};
        steps[n_steps++] = (step){STEP_GPT2, NULL};
        break;
    case LS_PRE_DEFAULT:
        steps[n_steps++] = (step){STEP_REGEX, match_default_punct};
        steps[n_steps++] = (step){STEP_GPT2, NULL};
        steps[n_steps++] = (step){STEP_REGEX, match_numbers};
        steps[n_steps++] = (step){STEP_REGEX, match_three_digits};
        break;
    }
    uint16_t *flags = malloc((n ? n : 1) * sizeof(uint16_t));
    split current = {0};
    if (!flags) return -1;
    for (size_t i = 0; i < n; i++) flags[i] = ls_unicode_flags(cpts[i]);
    split_push(&current, n);
    for (int s = 0; s < n_steps && !current.failed; s++) {
        split next = {0};
        size_t start = 0;
        for (int64_t k = 0; k < current.count; k++) {
            piece p = {cpts, flags, start + current.lengths[k]};
            if (steps[s].kind == STEP_GPT2) split_gpt2(&p, start, &next);
            else if (steps[s].kind == STEP_LLAMA3) split_llama3(&p, start, &next);
            else split_regex(&p, start, steps[s].match, &next);
            start = p.end;
        }
        free(current.lengths);
        current = next;
    }
    free(flags);
    if (current.failed) {
        free(current.lengths);
        return -1;
    }
    *lengths = current.lengths;
    return current.count;
}
