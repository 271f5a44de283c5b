/* utf8.h — UTF-8 decoding the way llama.cpp's tokenizers do it, and Unicode classes.
 *
 * Decoding is deliberately lenient and mirrors llama.cpp (src/unicode.cpp): a lead byte
 * announces 1–4 bytes from its high bits alone; a sequence whose continuation bytes are
 * missing or wrong decodes as U+FFFD and consumes one byte. Overlong forms and surrogates
 * are accepted as they are. */
#ifndef LS_UTF8_H
#define LS_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Unicode class bits (same meaning as llama.cpp's unicode_cpt_flags). */
enum {
    LS_UNICODE_UNDEFINED = 0x0001, /* beyond U+10FFFF */
    LS_UNICODE_NUMBER = 0x0002,    /* \p{N} */
    LS_UNICODE_LETTER = 0x0004,    /* \p{L} */
    LS_UNICODE_SEPARATOR = 0x0008, /* \p{Z} */
    LS_UNICODE_MARK = 0x0010,      /* \p{M} */
    LS_UNICODE_PUNCTUATION = 0x0020, /* \p{P} */
    LS_UNICODE_SYMBOL = 0x0040,    /* \p{S} */
    LS_UNICODE_CONTROL = 0x0080,   /* \p{C}, unassigned code points included */
    LS_UNICODE_CATEGORIES = 0x00FF,
    LS_UNICODE_WHITESPACE = 0x0100, /* the White_Space property */
};

#define LS_UNICODE_REPLACEMENT 0xFFFDu

/* Bytes a sequence starting with `lead` claims, from its high four bits:
 * 0x00–0xBF → 1, 0xC0–0xDF → 2, 0xE0–0xEF → 3, 0xF0–0xFF → 4. */
size_t ls_utf8_lead_length(uint8_t lead);

/* Decodes the code point at text[0] (length > 0). Sets *consumed (1–4). Invalid or
 * truncated sequences give U+FFFD with *consumed = 1. Values above U+10FFFF (lead bytes
 * F4 90.. to F7) are also given as U+FFFD, consuming one byte. */
uint32_t ls_utf8_decode(const uint8_t *text, size_t length, size_t *consumed);

/* Writes the UTF-8 form of cpt (≤ U+10FFFF) into out (4 bytes room); returns its length. */
size_t ls_utf8_encode(uint32_t cpt, char *out);

/* Class bits of a code point (LS_UNICODE_*); LS_UNICODE_UNDEFINED beyond U+10FFFF. */
uint16_t ls_unicode_flags(uint32_t cpt);

/* Generated table (unicode_tables.c): entries (first << 9) | flags, sorted. */
extern const uint32_t ls_unicode_range_count;
extern const uint32_t ls_unicode_ranges[];

#endif
