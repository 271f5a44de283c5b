/* test_tokenizer.c — properties of the tokenizer that need no reference implementation
 * (the ids themselves are compared with llama.cpp in tests/python/test_tokenizer.py):
 * UTF-8 decoding rules, Unicode classes against known code points, and, on the real
 * Gemma vocabulary, that random bytes never crash the encoder, that the capacity
 * protocol holds, and that decoding the ids gives the bytes back (SPM with byte fallback
 * and no space prefix is lossless). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "check.h"
#include "io/gguf.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t next_random(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static void check_utf8(void) {
    size_t used;
    const uint8_t euro[] = {0xE2, 0x82, 0xAC};
    CHECK(ls_utf8_decode(euro, 3, &used) == 0x20AC && used == 3, "utf8 decodes a 3-byte sequence", "used %zu", used);
    CHECK(ls_utf8_decode(euro, 2, &used) == 0xFFFD && used == 1, "utf8 truncated gives U+FFFD, 1 byte", "used %zu", used);
    const uint8_t stray[] = {0x80};
    CHECK(ls_utf8_decode(stray, 1, &used) == 0xFFFD && used == 1, "utf8 stray continuation", "%zu", used);
    const uint8_t bad_cont[] = {0xC3, 0x28};
    CHECK(ls_utf8_decode(bad_cont, 2, &used) == 0xFFFD && used == 1, "utf8 bad continuation", "%zu", used);
    const uint8_t emoji[] = {0xF0, 0x9F, 0x98, 0x80};
    CHECK(ls_utf8_decode(emoji, 4, &used) == 0x1F600 && used == 4, "utf8 decodes a 4-byte sequence", "%zu", used);
    CHECK(ls_utf8_lead_length(0xE4) == 3 && ls_utf8_lead_length(0x80) == 1 && ls_utf8_lead_length(0xFF) == 4,
          "utf8 lead lengths", "%zu", ls_utf8_lead_length(0xE4));
    char out[4];
    CHECK(ls_utf8_encode(0x1F600, out) == 4 && memcmp(out, emoji, 4) == 0, "utf8 encode", "%02x", (uint8_t)out[0]);
    /* Classes of well-known code points (Unicode character database). */
    CHECK(ls_unicode_flags('a') == LS_UNICODE_LETTER, "class of 'a'", "%x", ls_unicode_flags('a'));
    CHECK(ls_unicode_flags('7') == LS_UNICODE_NUMBER, "class of '7'", "%x", ls_unicode_flags('7'));
    CHECK(ls_unicode_flags(' ') == (LS_UNICODE_SEPARATOR | LS_UNICODE_WHITESPACE), "class of space", "%x", ls_unicode_flags(' '));
    CHECK(ls_unicode_flags('\n') == (LS_UNICODE_CONTROL | LS_UNICODE_WHITESPACE), "class of newline", "%x", ls_unicode_flags('\n'));
    CHECK(ls_unicode_flags(0x1C) == LS_UNICODE_CONTROL, "U+001C is not White_Space", "%x", ls_unicode_flags(0x1C));
    CHECK(ls_unicode_flags(0x4E2D) == LS_UNICODE_LETTER, "class of CJK", "%x", ls_unicode_flags(0x4E2D));
    CHECK(ls_unicode_flags(0x0301) == LS_UNICODE_MARK, "class of combining acute", "%x", ls_unicode_flags(0x0301));
    CHECK(ls_unicode_flags(0x3000) == (LS_UNICODE_SEPARATOR | LS_UNICODE_WHITESPACE), "ideographic space", "%x", ls_unicode_flags(0x3000));
    CHECK(ls_unicode_flags(0x1F600) == LS_UNICODE_SYMBOL, "class of emoji", "%x", ls_unicode_flags(0x1F600));
    CHECK(ls_unicode_flags(0x00B2) == LS_UNICODE_NUMBER, "superscript two is \\p{N}", "%x", ls_unicode_flags(0xB2));
    CHECK(ls_unicode_flags(0x10FFFF) == LS_UNICODE_CONTROL && ls_unicode_flags(0x110000) == LS_UNICODE_UNDEFINED,
          "classes at the end of the range", "%x", ls_unicode_flags(0x10FFFF));
}

static void check_gemma(void) {
    gguf_file file;
    char err[LS_ERROR_SIZE] = "";
    memset(&file, 0, sizeof file);
    if (gguf_open(&file, "models/default.gguf", err) != 0) {
        CHECK(0, "open models/default.gguf", "%s", err);
        return;
    }
    ls_tokenizer *t = ls_tokenizer_load(&file, err);
    gguf_close(&file);
    CHECK(t != NULL, "load the Gemma tokenizer", "%s", err);
    if (!t) return;
    CHECK(ls_tokenizer_vocab_size(t) == 262144 && ls_tokenizer_bos(t) == 2 && ls_tokenizer_eos(t) == 1,
          "Gemma vocab size, bos, eos", "%d %d %d", ls_tokenizer_vocab_size(t), ls_tokenizer_bos(t), ls_tokenizer_eos(t));
    int32_t end_of_turn = ls_tokenizer_find(t, "<end_of_turn>");
    CHECK(end_of_turn == 106 && ls_tokenizer_is_end(t, end_of_turn) && ls_tokenizer_is_end(t, 1) &&
              !ls_tokenizer_is_end(t, 2),
          "Gemma end tokens", "%d", end_of_turn);
    char piece[64];
    CHECK(ls_token_to_piece(t, end_of_turn, false, piece, sizeof piece) == 0 &&
              ls_token_to_piece(t, end_of_turn, true, piece, sizeof piece) == 13,
          "control token renders only when asked", "%d", ls_token_to_piece(t, end_of_turn, true, piece, sizeof piece));
    CHECK(ls_token_to_piece(t, -1, true, piece, sizeof piece) < 0 &&
              ls_token_to_piece(t, 262144, true, piece, sizeof piece) < 0,
          "out-of-range ids are refused", "%d", ls_token_to_piece(t, -1, true, piece, sizeof piece));
    int64_t bad = ls_tokenize(t, "x", 1, true, false, NULL, -1, err);
    CHECK(bad < 0 && err[0], "negative capacity is an error", "%lld", (long long)bad);

    int failures = 0, lossy = 0;
    char text[512];
    int32_t ids[2048], again[2048];
    for (int round = 0; round < 400; round++) {
        /* Even rounds: random bytes (invalid UTF-8 included). Odd rounds: valid UTF-8 from
         * a mix of ASCII, Latin, CJK and emoji code points, without U+2581 (which SPM
         * decodes to a space). */
        size_t length = 0, limit = next_random() % (sizeof text - 4);
        bool valid = round % 2 == 1;
        while (length < limit) {
            uint32_t r = next_random();
            if (!valid) {
                text[length++] = (char)(r & 0xFF);
                continue;
            }
            static const uint32_t bases[] = {0x20, 0x0A, 0xC0, 0x4E00, 0x1F600, 0x3000};
            static const uint32_t spans[] = {0x5F, 2, 0x100, 0x200, 0x50, 0x40};
            int kind = (int)(r % 6);
            length += ls_utf8_encode(bases[kind] + (r >> 8) % spans[kind], text + length);
        }
        bool add_special = round % 3 == 0, parse_special = round % 5 == 0;
        int64_t n = ls_tokenize(t, text, length, add_special, parse_special, ids, 2048, err);
        int64_t small = ls_tokenize(t, text, length, add_special, parse_special, again, n / 2, err);
        if (n < 0 || n > 2048 || small != n || memcmp(ids, again, (size_t)(n / 2) * sizeof(int32_t)) != 0) {
            failures++;
            continue;
        }
        if (parse_special || !valid) continue;
        /* Decoding valid UTF-8 without BOS must give the text back, byte for byte (for
         * invalid bytes llama.cpp is not lossless either: a lead byte can swallow the
         * escaped space that follows it). */
        char decoded[4096];
        int total = 0;
        for (int64_t k = add_special ? 1 : 0; k < n; k++) {
            int m = ls_token_to_piece(t, ids[k], false, decoded + total, (int)sizeof decoded - total);
            if (m < 0 || total + m > (int)sizeof decoded) break;
            total += m;
        }
        if ((size_t)total != length || memcmp(decoded, text, length) != 0) lossy++;
    }
    CHECK(failures == 0, "random bytes: encoding consistent under any capacity", "%d failures", failures);
    CHECK(lossy == 0, "random UTF-8: decode(encode(text)) == text", "%d lossy", lossy);
    ls_tokenizer_free(t);
}

int main(void) {
    check_utf8();
    check_gemma();
    CHECK_EXIT();
}
