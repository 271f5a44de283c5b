/* utf8.c — lenient UTF-8 decoding (llama.cpp's rules) and Unicode class lookup. */
#include "text/utf8.h"

size_t ls_utf8_lead_length(uint8_t lead) {
    static const uint8_t lengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lengths[lead >> 4];
}

static int is_continuation(uint8_t byte) { return (byte & 0xC0) == 0x80; }

uint32_t ls_utf8_decode(const uint8_t *text, size_t length, size_t *consumed) {
    uint8_t lead = text[0];
    *consumed = 1;
    if (lead < 0x80) return lead;
    if ((lead & 0x40) == 0) return LS_UNICODE_REPLACEMENT; /* stray continuation byte */
    size_t need;
    uint32_t cpt;
    if ((lead & 0x20) == 0) {
        need = 2;
        cpt = lead & 0x1F;
    } else if ((lead & 0x10) == 0) {
        need = 3;
        cpt = lead & 0x0F;
    } else if ((lead & 0x08) == 0) {
        need = 4;
        cpt = lead & 0x07;
    } else {
        return LS_UNICODE_REPLACEMENT; /* F8..FF */
    }
    if (need > length) return LS_UNICODE_REPLACEMENT;
    for (size_t i = 1; i < need; i++) {
        if (!is_continuation(text[i])) return LS_UNICODE_REPLACEMENT;
        cpt = (cpt << 6) | (text[i] & 0x3F);
    }
    if (cpt > 0x10FFFF) return LS_UNICODE_REPLACEMENT;
    *consumed = need;
    return cpt;
}

size_t ls_utf8_encode(uint32_t cpt, char *out) {
    if (cpt <= 0x7F) {
        out[0] = (char)cpt;
        return 1;
    }
    if (cpt <= 0x7FF) {
        out[0] = (char)(0xC0 | (cpt >> 6));
        out[1] = (char)(0x80 | (cpt & 0x3F));
        return 2;
    }
    if (cpt <= 0xFFFF) {
        out[0] = (char)(0xE0 | (cpt >> 12));
        out[1] = (char)(0x80 | ((cpt >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cpt & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | ((cpt >> 18) & 0x07));
    out[1] = (char)(0x80 | ((cpt >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cpt >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cpt & 0x3F));
    return 4;
}

uint16_t ls_unicode_flags(uint32_t cpt) {
    if (cpt > 0x10FFFF) return LS_UNICODE_UNDEFINED;
    /* Last range whose first code point is <= cpt (binary search). */
    uint32_t lo = 0, hi = ls_unicode_range_count; /* answer in [lo, hi) */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((ls_unicode_ranges[mid] >> 9) <= cpt) lo = mid;
        else hi = mid;
    }
    return (uint16_t)(ls_unicode_ranges[lo] & 0x1FF);
}
