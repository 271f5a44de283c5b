/* gguf.c — the validating GGUF reader (see gguf.h for the layout and the contract).
 *
 * Parsing is one forward pass over the bytes with a cursor that refuses to move past the
 * end. Every count read from the file is checked against the bytes left BEFORE anything is
 * allocated or looped over, using the smallest size one item can possibly take, so the
 * memory used is bounded by a small multiple of the file size and the work is linear in it
 * (plus n log n sorts for the duplicate and overlap checks). All arithmetic on values read
 * from the file goes through __builtin_*_overflow.
 *
 * Checks, in file order:
 *   header     magic, version 2 or 3 (big-endian files named as such), counts that can fit;
 *   kv pairs   non-empty keys, value types 0..12, strings and arrays (nested up to depth 8)
 *              inside the file, bools 0 or 1, no duplicate keys, general.alignment a u32
 *              nonzero power of two;
 *   tensors    non-empty unique names, n_dims 1..4, dims >= 1, element count <= INT64_MAX,
 *              a type ls_dtype_find() knows, row length a multiple of its block, offset a
 *              multiple of the alignment;
 *   data       the data section starts at the aligned end of the tensor infos, every tensor
 *              lies inside the file and no two tensors overlap. */
#include "io/gguf.h"

#include "base/error.h"
#include "quant/quant.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c reads little-endian fields with memcpy: a big-endian host needs byte swaps"
#endif

enum {
    GGUF_MAX_ARRAY_DEPTH = 8,   /* a top-level array is depth 1 */
    GGUF_MIN_KV_BYTES = 13,     /* u64 key length + u32 type + a 1-byte value */
    GGUF_MIN_TENSOR_BYTES = 32, /* u64 name length + u32 n_dims + 1 u64 dim + u32 type + u64 offset */
    GGUF_MIN_ARRAY_BYTES = 12,  /* a nested array: u32 type + u64 count */
    GGUF_NAME_SHOWN = 64,       /* bytes of a key or tensor name quoted in a message */
};

/* ---------------------------------------------------------------------------------------
 * Allocations owned by a gguf_file: a singly linked list, freed by gguf_close. */

typedef struct gguf_allocation {
    struct gguf_allocation *next;
    max_align_t payload[];
} gguf_allocation;

/* Zeroed memory for count items of item_size bytes, or NULL (with err) when it cannot be. */
static void *file_allocate(gguf_file *file, uint64_t count, size_t item_size, char *err) {
    uint64_t bytes;
    if (count == 0) return NULL;
    if (__builtin_mul_overflow(count, (uint64_t)item_size, &bytes) ||
        __builtin_add_overflow(bytes, (uint64_t)sizeof(gguf_allocation), &bytes) ||
        bytes > (uint64_t)SIZE_MAX) {
        ls_fail(err, "out of memory: an index of %llu items is too large",
                (unsigned long long)count);
        return NULL;
    }
    gguf_allocation *node = calloc(1, (size_t)bytes);
    if (!node) {
        ls_fail(err, "out of memory allocating %llu bytes for the file index",
                (unsigned long long)bytes);
        return NULL;
    }
    node->next = file->allocations;
    file->allocations = node;
    return node->payload;
}

static void file_free_allocations(gguf_file *file) {
    gguf_allocation *node = file->allocations;
    while (node) {
        gguf_allocation *next = node->next;
        free(node);
        node = next;
    }
    file->allocations = NULL;
}

/* ---------------------------------------------------------------------------------------
 * Names in messages: at most GGUF_NAME_SHOWN bytes, anything but printable ASCII shown as
 * '?', so a hostile name can never break the one-line error. */

typedef struct shown_name {
    char text[GGUF_NAME_SHOWN + 4];
} shown_name;

static shown_name show(gguf_string s) {
    shown_name out;
    uint64_t n = s.length < GGUF_NAME_SHOWN ? s.length : GGUF_NAME_SHOWN;
    for (uint64_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.bytes[i];
        out.text[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (s.length > GGUF_NAME_SHOWN) {
        memcpy(out.text + n, "...", 4);
    } else {
        out.text[n] = '\0';
    }
    return out;
}

/* ---------------------------------------------------------------------------------------
 * The cursor. Every read checks the bytes left first. `where` names what is being read
 * ("key 'general.name'", "tensor 'output.weight'") for the messages. */

typedef struct reader {
    const uint8_t *bytes;
    size_t size;
    size_t pos;
    char *err;
    char where[GGUF_NAME_SHOWN + 32];
} reader;

static size_t left(const reader *r) { return r->size - r->pos; }

static int need(reader *r, uint64_t n, const char *what) {
    if (n > left(r)) {
        return ls_fail(r->err,
                       "%s: %s at byte %zu needs %llu bytes but the file ends at byte %zu",
                       r->where, what, r->pos, (unsigned long long)n, r->size);
    }
    return 0;
}

static int read_u32(reader *r, uint32_t *out, const char *what) {
    if (need(r, 4, what)) return -1;
    memcpy(out, r->bytes + r->pos, 4);
    r->pos += 4;
    return 0;
}

static int read_u64(reader *r, uint64_t *out, const char *what) {
    if (need(r, 8, what)) return -1;
    memcpy(out, r->bytes + r->pos, 8);
    r->pos += 8;
    return 0;
}

/* A string: u64 length, then that many bytes, all inside the file. */
static int read_string(reader *r, gguf_string *out, const char *what) {
    uint64_t length;
    size_t start = r->pos;
    if (read_u64(r, &length, what)) return -1;
    if (length > left(r)) {
        return ls_fail(r->err,
                       "%s: %s at byte %zu has length %llu, past the end of the file "
                       "(%zu bytes left)",
                       r->where, what, start, (unsigned long long)length, left(r));
    }
    out->length = length;
    out->bytes = (const char *)(r->bytes + r->pos);
    r->pos += (size_t)length;
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Values. */

const char *gguf_type_name(enum gguf_value_type type) {
    static const char *const names[] = {
        "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
        "bool", "string", "array", "uint64", "int64", "float64",
    };
    unsigned t = (unsigned)type;
    return t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

/* Bytes of one fixed-size value, 0 for STRING and ARRAY, -1 for an unknown type. */
static int value_size(uint32_t type) {
    switch (type) {
    case GGUF_UINT8: case GGUF_INT8: case GGUF_BOOL: return 1;
    case GGUF_UINT16: case GGUF_INT16: return 2;
    case GGUF_UINT32: case GGUF_INT32: case GGUF_FLOAT32: return 4;
    case GGUF_UINT64: case GGUF_INT64: case GGUF_FLOAT64: return 8;
    case GGUF_STRING: case GGUF_ARRAY: return 0;
    default: return -1;
    }
}

static int check_value_type(reader *r, uint32_t type, const char *what) {
    if (value_size(type) < 0) {
        return ls_fail(r->err, "%s: unknown %s type %u at byte %zu (known: 0..12)", r->where,
                       what, type, r->pos - 4);
    }
    return 0;
}

/* The fixed-size value at p, decoded into *out (out->type already set). */
static void decode_scalar(const uint8_t *p, gguf_value *out) {
    uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
    float f32; uint64_t u64; int64_t i64; double f64;
    switch (out->type) {
    case GGUF_UINT8: memcpy(&u8, p, 1); out->u = u8; break;
    case GGUF_BOOL: memcpy(&u8, p, 1); out->u = u8; break;
    case GGUF_INT8: memcpy(&i8, p, 1); out->i = i8; break;
    case GGUF_UINT16: memcpy(&u16, p, 2); out->u = u16; break;
    case GGUF_INT16: memcpy(&i16, p, 2); out->i = i16; break;
    case GGUF_UINT32: memcpy(&u32, p, 4); out->u = u32; break;
    case GGUF_INT32: memcpy(&i32, p, 4); out->i = i32; break;
    case GGUF_FLOAT32: memcpy(&f32, p, 4); out->f = f32; break;
    case GGUF_UINT64: memcpy(&u64, p, 8); out->u = u64; break;
    case GGUF_INT64: memcpy(&i64, p, 8); out->i = i64; break;
    case GGUF_FLOAT64: memcpy(&f64, p, 8); out->f = f64; break;
    default: break;
    }
}

/* The items of an array of `count` elements of `type` at the cursor: checks they fit and
 * moves past them. `strings`, when not NULL, receives the `count` string views. */
static int parse_array_items(reader *r, uint32_t type, uint64_t count, int depth,
                             gguf_string *strings) {
    int size = value_size(type);
    if (size > 0) {
        uint64_t bytes;
        if (__builtin_mul_overflow(count, (uint64_t)size, &bytes) || bytes > left(r)) {
            return ls_fail(r->err,
                           "%s: array of %llu %s at byte %zu runs past the end of the file "
                           "(%zu bytes left)",
                           r->where, (unsigned long long)count, gguf_type_name(type), r->pos,
                           left(r));
        }
        if (type == GGUF_BOOL) {
            for (uint64_t i = 0; i < count; i++) {
                uint8_t b = r->bytes[r->pos + i];
                if (b > 1) {
                    return ls_fail(r->err, "%s: bool array element %llu is %u, not 0 or 1",
                                   r->where, (unsigned long long)i, b);
                }
            }
        }
        r->pos += (size_t)bytes;
        return 0;
    }
    if (type == GGUF_STRING) {
        if (count > left(r) / 8) {
            return ls_fail(r->err,
                           "%s: array of %llu strings at byte %zu cannot fit in the %zu "
                           "bytes left",
                           r->where, (unsigned long long)count, r->pos, left(r));
        }
        for (uint64_t i = 0; i < count; i++) {
            gguf_string s;
            if (read_string(r, &s, "array string")) return -1;
            if (strings) strings[i] = s;
        }
        return 0;
    }
    /* Nested arrays: each item is u32 type, u64 count, items. */
    if (depth >= GGUF_MAX_ARRAY_DEPTH) {
        return ls_fail(r->err, "%s: arrays nested deeper than %d at byte %zu", r->where,
                       GGUF_MAX_ARRAY_DEPTH, r->pos);
    }
    if (count > left(r) / GGUF_MIN_ARRAY_BYTES) {
        return ls_fail(r->err,
                       "%s: array of %llu arrays at byte %zu cannot fit in the %zu bytes left",
                       r->where, (unsigned long long)count, r->pos, left(r));
    }
    for (uint64_t i = 0; i < count; i++) {
        uint32_t inner_type;
        uint64_t inner_count;
        if (read_u32(r, &inner_type, "nested array type")) return -1;
        if (check_value_type(r, inner_type, "nested array element")) return -1;
        if (read_u64(r, &inner_count, "nested array count")) return -1;
        if (parse_array_items(r, inner_type, inner_count, depth + 1, NULL)) return -1;
    }
    return 0;
}

/* One value of `type` (already read and checked) at the cursor, into *out. */
static int parse_value(gguf_file *file, reader *r, uint32_t type, gguf_value *out) {
    out->type = (enum gguf_value_type)type;
    int size = value_size(type);
    if (size > 0) {
        if (need(r, (uint64_t)size, gguf_type_name(type))) return -1;
        decode_scalar(r->bytes + r->pos, out);
        if (type == GGUF_BOOL && out->u > 1) {
            return ls_fail(r->err, "%s: bool value at byte %zu is %llu, not 0 or 1", r->where,
                           r->pos, (unsigned long long)out->u);
        }
        r->pos += (size_t)size;
        return 0;
    }
    if (type == GGUF_STRING) return read_string(r, &out->s, "string value");

    uint32_t element_type;
    uint64_t count;
    if (read_u32(r, &element_type, "array element type")) return -1;
    if (check_value_type(r, element_type, "array element")) return -1;
    if (read_u64(r, &count, "array count")) return -1;
    out->a.type = (enum gguf_value_type)element_type;
    out->a.count = count;
    out->a.data = r->bytes + r->pos;
    out->a.strings = NULL;
    gguf_string *strings = NULL;
    if (element_type == GGUF_STRING && count > 0) {
        /* Each string takes at least its 8-byte length: bounded by the file size. */
        if (count > left(r) / 8) {
            return ls_fail(r->err,
                           "%s: array of %llu strings at byte %zu cannot fit in the %zu "
                           "bytes left",
                           r->where, (unsigned long long)count, r->pos, left(r));
        }
        strings = file_allocate(file, count, sizeof(gguf_string), r->err);
        if (!strings) return -1;
        out->a.strings = strings;
    }
    return parse_array_items(r, element_type, count, 1, strings);
}

/* ---------------------------------------------------------------------------------------
 * Sorting helpers for the duplicate and overlap checks (qsort on pointers; ties broken by
 * address, so the order is fully determined). */

static int compare_strings(const gguf_string *a, const gguf_string *b) {
    if (a->length != b->length) return a->length < b->length ? -1 : 1;
    if (a->length == 0) return 0;
    return memcmp(a->bytes, b->bytes, (size_t)a->length);
}

static int compare_string_pointers(const void *pa, const void *pb) {
    const gguf_string *a = *(const gguf_string *const *)pa;
    const gguf_string *b = *(const gguf_string *const *)pb;
    int c = compare_strings(a, b);
    if (c) return c;
    return a < b ? -1 : (a > b);
}

static int compare_tensor_offsets(const void *pa, const void *pb) {
    const gguf_tensor *a = *(const gguf_tensor *const *)pa;
    const gguf_tensor *b = *(const gguf_tensor *const *)pb;
    if (a->offset != b->offset) return a->offset < b->offset ? -1 : 1;
    return a < b ? -1 : (a > b);
}

/* Fails naming `kind` and the name when two of the n strings (each at base + i * stride)
 * are equal. */
static int reject_duplicates(const void *base, uint64_t n, size_t stride, const char *kind,
                             char *err) {
    if (n < 2) return 0;
    const gguf_string **sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted) return ls_fail(err, "out of memory checking %s names", kind);
    for (uint64_t i = 0; i < n; i++) {
        sorted[i] = (const gguf_string *)((const char *)base + i * stride);
    }
    qsort(sorted, (size_t)n, sizeof *sorted, compare_string_pointers);
    int status = 0;
    for (uint64_t i = 1; i < n; i++) {
        if (compare_strings(sorted[i - 1], sorted[i]) == 0) {
            status = ls_fail(err, "duplicate %s '%s'", kind, show(*sorted[i]).text);
            break;
        }
    }
    free(sorted);
    return status;
}

/* ---------------------------------------------------------------------------------------
 * The file. */

static int parse_header(gguf_file *file, reader *r) {
    if (r->size < 4 || memcmp(r->bytes, "GGUF", 4) != 0) {
        uint8_t m[4] = {0, 0, 0, 0};
        memcpy(m, r->bytes, r->size < 4 ? r->size : 4);
        if (r->size < 4) {
            return ls_fail(r->err, "not a GGUF file (only %zu bytes, no magic)", r->size);
        }
        return ls_fail(r->err,
                       "not a GGUF file (magic %02x %02x %02x %02x, expected 47 47 55 46 "
                       "\"GGUF\")",
                       m[0], m[1], m[2], m[3]);
    }
    r->pos = 4;
    uint32_t version;
    if (read_u32(r, &version, "version")) return -1;
    if (version != 2 && version != 3) {
        uint32_t swapped = __builtin_bswap32(version);
        if (swapped == 2 || swapped == 3) {
            return ls_fail(r->err, "big-endian GGUF version %u files are not supported",
                           swapped);
        }
        return ls_fail(r->err, "unsupported GGUF version %u (only versions 2 and 3 are read)",
                       version);
    }
    file->version = version;
    if (read_u64(r, &file->n_tensors, "tensor count")) return -1;
    if (read_u64(r, &file->n_kv, "metadata key/value count")) return -1;

    /* The counts must fit in what is left even at the smallest possible item sizes. */
    uint64_t kv_bytes, tensor_bytes, total;
    if (__builtin_mul_overflow(file->n_kv, (uint64_t)GGUF_MIN_KV_BYTES, &kv_bytes) ||
        __builtin_mul_overflow(file->n_tensors, (uint64_t)GGUF_MIN_TENSOR_BYTES,
                               &tensor_bytes) ||
        __builtin_add_overflow(kv_bytes, tensor_bytes, &total) || total > left(r)) {
        return ls_fail(r->err,
                       "header: %llu key/value pairs and %llu tensors cannot fit in a file "
                       "of %zu bytes",
                       (unsigned long long)file->n_kv, (unsigned long long)file->n_tensors,
                       r->size);
    }
    return 0;
}

static int parse_kv_pairs(gguf_file *file, reader *r) {
    file->kv = file_allocate(file, file->n_kv, sizeof(gguf_kv), r->err);
    if (file->n_kv && !file->kv) return -1;
    for (uint64_t i = 0; i < file->n_kv; i++) {
        gguf_kv *kv = &file->kv[i];
        snprintf(r->where, sizeof r->where, "key/value pair %llu", (unsigned long long)i);
        if (read_string(r, &kv->key, "key")) return -1;
        if (kv->key.length == 0) {
            return ls_fail(r->err, "key/value pair %llu has an empty key", (unsigned long long)i);
        }
        snprintf(r->where, sizeof r->where, "key '%s'", show(kv->key).text);
        uint32_t type;
        if (read_u32(r, &type, "value type")) return -1;
        if (check_value_type(r, type, "value")) return -1;
        if (parse_value(file, r, type, &kv->value)) return -1;
    }
    if (reject_duplicates(file->kv, file->n_kv, sizeof(gguf_kv), "key", r->err)) return -1;

    file->alignment = 32;
    const gguf_value *alignment = gguf_find(file, "general.alignment");
    if (alignment) {
        if (alignment->type != GGUF_UINT32) {
            return ls_fail(r->err, "general.alignment has type %s, expected uint32",
                           gguf_type_name(alignment->type));
        }
        uint64_t a = alignment->u;
        if (a == 0 || (a & (a - 1)) != 0) {
            return ls_fail(r->err, "general.alignment %llu is not a nonzero power of two",
                           (unsigned long long)a);
        }
        file->alignment = a;
    }
    return 0;
}

/* Readable names of the ggml types lockstep does not read, for the message. */
static const char *ggml_type_name(uint32_t type) {
    switch (type) {
    case 3: return "Q4_1";
    case 7: return "Q5_1";
    case 9: return "Q8_1";
    case 10: return "Q2_K";
    case 11: return "Q3_K";
    case 15: return "Q8_K";
    case 16: return "IQ2_XXS";
    case 17: return "IQ2_XS";
    case 18: return "IQ3_XXS";
    case 19: return "IQ1_S";
    case 20: return "IQ4_NL";
    case 21: return "IQ3_S";
    case 22: return "IQ2_S";
    case 23: return "IQ4_XS";
    case 24: return "I8";
    case 25: return "I16";
    case 26: return "I32";
    case 27: return "I64";
    case 28: return "F64";
    case 29: return "IQ1_M";
    case 34: return "TQ1_0";
    case 35: return "TQ2_0";
    case 39: return "MXFP4";
    default: return "unknown to lockstep";
    }
}

static int parse_tensor_info(gguf_file *file, reader *r, uint64_t index) {
    gguf_tensor *t = &file->tensors[index];
    snprintf(r->where, sizeof r->where, "tensor info %llu", (unsigned long long)index);
    if (read_string(r, &t->name, "tensor name")) return -1;
    if (t->name.length == 0) {
        return ls_fail(r->err, "tensor info %llu has an empty name", (unsigned long long)index);
    }
    shown_name shown = show(t->name);
    const char *name = shown.text;
    snprintf(r->where, sizeof r->where, "tensor '%s'", name);
    if (read_u32(r, &t->n_dims, "n_dims")) return -1;
    if (t->n_dims < 1 || t->n_dims > 4) {
        return ls_fail(r->err, "tensor '%s' has %u dimensions (n_dims must be 1..4)", name,
                       t->n_dims);
    }
    t->n_elements = 1;
    for (uint32_t d = 0; d < 4; d++) t->dims[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (read_u64(r, &t->dims[d], "dimension")) return -1;
        if (t->dims[d] == 0) {
            return ls_fail(r->err, "tensor '%s' has dimension %u of size 0", name, d);
        }
        if (__builtin_mul_overflow(t->n_elements, t->dims[d], &t->n_elements) ||
            t->n_elements > (uint64_t)INT64_MAX) {
            return ls_fail(r->err,
                           "tensor '%s': the element count of its dims overflows (dims[%u] = "
                           "%llu)",
                           name, d, (unsigned long long)t->dims[d]);
        }
    }
    if (read_u32(r, &t->type, "tensor type")) return -1;
    const ls_dtype_info *info = ls_dtype_find(t->type);
    if (!info) {
        return ls_fail(r->err, "tensor '%s' has unsupported type %u (%s)", name, t->type,
                       ggml_type_name(t->type));
    }
    if (t->dims[0] % info->block_elements != 0) {
        return ls_fail(r->err,
                       "tensor '%s': row length %llu is not a multiple of the %s block of %u "
                       "elements",
                       name, (unsigned long long)t->dims[0], info->name, info->block_elements);
    }
    if (__builtin_mul_overflow(t->n_elements / info->block_elements, (uint64_t)info->block_bytes,
                               &t->n_bytes)) {
        return ls_fail(r->err, "tensor '%s': its size in bytes overflows", name);
    }
    if (read_u64(r, &t->offset, "data offset")) return -1;
    if (t->offset % file->alignment != 0) {
        return ls_fail(r->err,
                       "tensor '%s': data offset %llu is not a multiple of the alignment %llu",
                       name, (unsigned long long)t->offset,
                       (unsigned long long)file->alignment);
    }
    return 0;
}

static int parse_tensors(gguf_file *file, reader *r) {
    if (file->n_tensors > left(r) / GGUF_MIN_TENSOR_BYTES) {
        return ls_fail(r->err, "%llu tensor infos cannot fit in the %zu bytes left at byte %zu",
                       (unsigned long long)file->n_tensors, left(r), r->pos);
    }
    file->tensors = file_allocate(file, file->n_tensors, sizeof(gguf_tensor), r->err);
    if (file->n_tensors && !file->tensors) return -1;
    for (uint64_t i = 0; i < file->n_tensors; i++) {
        if (parse_tensor_info(file, r, i)) return -1;
    }
    if (reject_duplicates(file->tensors, file->n_tensors, sizeof(gguf_tensor), "tensor name",
                          r->err)) {
        return -1;
    }

    /* The data section starts at the next multiple of the alignment. A file without tensors
     * may end before that padding; nothing lives there, so the data section is empty. */
    uint64_t data_offset;
    if (__builtin_add_overflow((uint64_t)r->pos, file->alignment - 1, &data_offset)) {
        data_offset = UINT64_MAX;
    } else {
        data_offset &= ~(file->alignment - 1);
    }
    if (data_offset > r->size) {
        if (file->n_tensors > 0) {
            return ls_fail(r->err,
                           "the data section (byte %llu, after padding to %llu) starts past "
                           "the end of the file (size %zu)",
                           (unsigned long long)data_offset,
                           (unsigned long long)file->alignment, r->size);
        }
        data_offset = r->size;
    }
    file->data_offset = data_offset;
    uint64_t data_size = r->size - data_offset;

    for (uint64_t i = 0; i < file->n_tensors; i++) {
        gguf_tensor *t = &file->tensors[i];
        uint64_t end;
        if (__builtin_add_overflow(t->offset, t->n_bytes, &end) || end > data_size) {
            return ls_fail(r->err,
                           "tensor '%s': data [offset %llu, %llu bytes] runs past the end of "
                           "the file (size %zu, data section starts at %llu)",
                           show(t->name).text, (unsigned long long)t->offset,
                           (unsigned long long)t->n_bytes, r->size,
                           (unsigned long long)data_offset);
        }
        t->data = r->bytes + data_offset + t->offset;
    }

    if (file->n_tensors < 2) return 0;
    const gguf_tensor **sorted = malloc((size_t)file->n_tensors * sizeof *sorted);
    if (!sorted) return ls_fail(r->err, "out of memory checking tensor overlaps");
    for (uint64_t i = 0; i < file->n_tensors; i++) sorted[i] = &file->tensors[i];
    qsort(sorted, (size_t)file->n_tensors, sizeof *sorted, compare_tensor_offsets);
    int status = 0;
    for (uint64_t i = 1; i < file->n_tensors; i++) {
        const gguf_tensor *a = sorted[i - 1], *b = sorted[i];
        if (a->offset + a->n_bytes > b->offset) { /* no overflow: checked against the size */
            status = ls_fail(r->err,
                             "tensors '%s' [offset %llu, %llu bytes] and '%s' [offset %llu] "
                             "overlap",
                             show(a->name).text, (unsigned long long)a->offset,
                             (unsigned long long)a->n_bytes, show(b->name).text,
                             (unsigned long long)b->offset);
            break;
        }
    }
    free(sorted);
    return status;
}

int gguf_parse(gguf_file *file, const void *bytes, size_t size, char *err) {
    memset(file, 0, sizeof *file);
    if (!bytes && size > 0) return ls_fail(err, "gguf_parse: no bytes");
    static const uint8_t empty[1];
    reader r = {.bytes = bytes ? bytes : empty, .size = size, .pos = 0, .err = err};
    snprintf(r.where, sizeof r.where, "header");
    file->bytes = r.bytes;
    file->size = size;
    if (parse_header(file, &r) || parse_kv_pairs(file, &r) || parse_tensors(file, &r)) {
        file_free_allocations(file);
        memset(file, 0, sizeof *file);
        return -1;
    }
    return 0;
}

int gguf_open(gguf_file *file, const char *path, char *err) {
    memset(file, 0, sizeof *file);
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is rejected below. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ls_fail(err, "cannot open '%.150s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ls_fail(err, "cannot open '%.150s': %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return ls_fail(err, "cannot open '%.150s': %s", path, strerror(EISDIR));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ls_fail(err, "cannot open '%.150s': not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return ls_fail(err, "'%.150s' is not a GGUF file (it is empty)", path);
    }
    if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return ls_fail(err, "cannot open '%.150s': too large to map", path);
    }
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED) {
        return ls_fail(err, "cannot map '%.150s': %s", path, strerror(map_errno));
    }
    char reason[LS_ERROR_SIZE];
    if (gguf_parse(file, map, size, reason) != 0) {
        munmap(map, size);
        if (strncmp(reason, "not a GGUF file", 15) == 0) {
            return ls_fail(err, "'%.100s' is %s", path, reason);
        }
        return ls_fail(err, "'%.100s': %s", path, reason);
    }
    file->mapped = true;
    return 0;
}

void gguf_close(gguf_file *file) {
    if (!file) return;
    file_free_allocations(file);
    if (file->mapped && file->bytes) munmap((void *)file->bytes, file->size);
    memset(file, 0, sizeof *file);
}

/* ---------------------------------------------------------------------------------------
 * Lookups and getters. */

bool gguf_string_equals(gguf_string s, const char *text) {
    size_t n = strlen(text);
    return s.length == n && (n == 0 || memcmp(s.bytes, text, n) == 0);
}

const gguf_value *gguf_find(const gguf_file *file, const char *key) {
    for (uint64_t i = 0; i < file->n_kv; i++) {
        if (gguf_string_equals(file->kv[i].key, key)) return &file->kv[i].value;
    }
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *file, const char *name) {
    for (uint64_t i = 0; i < file->n_tensors; i++) {
        if (gguf_string_equals(file->tensors[i].name, name)) return &file->tensors[i];
    }
    return NULL;
}

static bool is_unsigned(enum gguf_value_type t) {
    return t == GGUF_UINT8 || t == GGUF_UINT16 || t == GGUF_UINT32 || t == GGUF_UINT64;
}

static bool is_signed(enum gguf_value_type t) {
    return t == GGUF_INT8 || t == GGUF_INT16 || t == GGUF_INT32 || t == GGUF_INT64;
}

bool gguf_get_uint(const gguf_file *file, const char *key, uint64_t *out) {
    const gguf_value *v = gguf_find(file, key);
    if (!v) return false;
    if (is_unsigned(v->type)) {
        *out = v->u;
        return true;
    }
    if (is_signed(v->type) && v->i >= 0) {
        *out = (uint64_t)v->i;
        return true;
    }
    return false;
}

bool gguf_get_float(const gguf_file *file, const char *key, double *out) {
    const gguf_value *v = gguf_find(file, key);
    if (!v) return false;
    const uint64_t exact = (uint64_t)1 << 53; /* integers up to 2^53 convert exactly */
    if (v->type == GGUF_FLOAT32 || v->type == GGUF_FLOAT64) {
        *out = v->f;
        return true;
    }
    if (is_unsigned(v->type) && v->u <= exact) {
        *out = (double)v->u;
        return true;
    }
    if (is_signed(v->type) && v->i <= (int64_t)exact && v->i >= -(int64_t)exact) {
        *out = (double)v->i;
        return true;
    }
    return false;
}

bool gguf_get_bool(const gguf_file *file, const char *key, bool *out) {
    const gguf_value *v = gguf_find(file, key);
    if (!v || v->type != GGUF_BOOL) return false;
    *out = v->u != 0;
    return true;
}

bool gguf_get_string(const gguf_file *file, const char *key, gguf_string *out) {
    const gguf_value *v = gguf_find(file, key);
    if (!v || v->type != GGUF_STRING) return false;
    *out = v->s;
    return true;
}

const gguf_array *gguf_get_array(const gguf_file *file, const char *key) {
    const gguf_value *v = gguf_find(file, key);
    return v && v->type == GGUF_ARRAY ? &v->a : NULL;
}

/* Element i of a fixed-size array decoded as a value; type STRING (and length 0) otherwise. */
static gguf_value array_element(const gguf_array *array, uint64_t i) {
    gguf_value v;
    memset(&v, 0, sizeof v);
    int size = value_size(array->type);
    if (size <= 0 || i >= array->count) {
        v.type = GGUF_STRING;
        return v;
    }
    v.type = array->type;
    decode_scalar(array->data + i * (uint64_t)size, &v);
    return v;
}

double gguf_array_float(const gguf_array *array, uint64_t i) {
    gguf_value v = array_element(array, i);
    if (v.type == GGUF_FLOAT32 || v.type == GGUF_FLOAT64) return v.f;
    if (is_signed(v.type)) return (double)v.i;
    if (is_unsigned(v.type) || v.type == GGUF_BOOL) return (double)v.u;
    return 0.0;
}

int64_t gguf_array_int(const gguf_array *array, uint64_t i) {
    gguf_value v = array_element(array, i);
    if (is_signed(v.type)) return v.i;
    if (is_unsigned(v.type) || v.type == GGUF_BOOL) {
        return v.u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v.u;
    }
    if (v.type == GGUF_FLOAT32 || v.type == GGUF_FLOAT64) {
        /* Truncated toward zero, saturating; NaN gives 0. */
        if (!(v.f == v.f)) return 0;
        if (v.f >= 9223372036854775807.0) return INT64_MAX;
        if (v.f <= -9223372036854775808.0) return INT64_MIN;
        return (int64_t)v.f;
    }
    return 0;
}
