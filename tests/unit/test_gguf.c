/* test_gguf.c — the GGUF reader against GGUF images written here byte by byte (from the
 * layout in ggml's docs/gguf.md), every class of malformed file, and the real default model
 * (facts about it cross-checked with the gguf Python package's GGUFReader). */
#include "check.h"
#include "io/gguf.h"
#include "base/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- a tiny GGUF writer ---------------------------------------------------------------- */

typedef struct writer {
    uint8_t bytes[8192];
    size_t size;
} writer;

static void put(writer *w, const void *p, size_t n) {
    if (w->size + n > sizeof w->bytes) {
        printf("writer overflow\n");
        exit(1);
    }
    memcpy(w->bytes + w->size, p, n);
    w->size += n;
}
static void put_u8(writer *w, uint8_t v) { put(w, &v, 1); }
static void put_u32(writer *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(writer *w, uint64_t v) { put(w, &v, 8); }
static void put_str(writer *w, const char *s) {
    put_u64(w, strlen(s));
    put(w, s, strlen(s));
}
static void put_header(writer *w, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    w->size = 0;
    put(w, "GGUF", 4);
    put_u32(w, version);
    put_u64(w, n_tensors);
    put_u64(w, n_kv);
}
static void put_key(writer *w, const char *key, uint32_t type) {
    put_str(w, key);
    put_u32(w, type);
}
static void put_kv_u32(writer *w, const char *key, uint32_t v) {
    put_key(w, key, GGUF_UINT32);
    put_u32(w, v);
}
static void put_tensor_info(writer *w, const char *name, uint32_t n_dims, const uint64_t *dims,
                            uint32_t type, uint64_t offset) {
    put_str(w, name);
    put_u32(w, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) put_u64(w, dims[d]);
    put_u32(w, type);
    put_u64(w, offset);
}
static void put_padding(writer *w, size_t alignment) {
    while (w->size % alignment) put_u8(w, 0);
}
static void put_zeros(writer *w, size_t n) {
    while (n--) put_u8(w, 0);
}

/* ---- the valid file ------------------------------------------------------------------- */

enum { F32_BYTES = 4 * 2 * 4, Q8_BYTES = 64 / 32 * 34 * 2 };

/* Every scalar type, a string array, a nested array, a float array; tensors "w.f32" F32
 * [4, 2] at offset 0 and "w.q8" Q8_0 [64, 2] at offset 32. Data byte k of the data section
 * is (k * 7 + 3) & 0xff. */
static void write_valid(writer *w, uint32_t version) {
    put_header(w, version, 2, 16);
    put_key(w, "t.u8", GGUF_UINT8); put_u8(w, 200);
    put_key(w, "t.i8", GGUF_INT8); put_u8(w, (uint8_t)(int8_t)-100);
    put_key(w, "t.u16", GGUF_UINT16); { uint16_t v = 60000; put(w, &v, 2); }
    put_key(w, "t.i16", GGUF_INT16); { int16_t v = -30000; put(w, &v, 2); }
    put_kv_u32(w, "t.u32", 4000000000u);
    put_key(w, "t.i32", GGUF_INT32); { int32_t v = -2000000000; put(w, &v, 4); }
    put_key(w, "t.f32", GGUF_FLOAT32); { float v = 1.5f; put(w, &v, 4); }
    put_key(w, "t.bool", GGUF_BOOL); put_u8(w, 1);
    put_key(w, "t.string", GGUF_STRING); put_str(w, "hello");
    put_key(w, "t.u64", GGUF_UINT64); put_u64(w, 0x8000000000000005ull);
    put_key(w, "t.i64", GGUF_INT64); { int64_t v = -4611686018427387907ll; put(w, &v, 8); }
    put_key(w, "t.f64", GGUF_FLOAT64); { double v = 0.1; put(w, &v, 8); }
    put_key(w, "t.strings", GGUF_ARRAY); put_u32(w, GGUF_STRING); put_u64(w, 3);
    put_str(w, "a"); put_str(w, "bc"); put_str(w, "");
    put_key(w, "t.nested", GGUF_ARRAY); put_u32(w, GGUF_ARRAY); put_u64(w, 2);
    put_u32(w, GGUF_INT32); put_u64(w, 3);
    for (int32_t v = 1; v <= 3; v++) put(w, &v, 4);
    put_u32(w, GGUF_STRING); put_u64(w, 1); put_str(w, "deep");
    put_key(w, "t.floats", GGUF_ARRAY); put_u32(w, GGUF_FLOAT32); put_u64(w, 2);
    { float v[2] = {0.5f, -2.0f}; put(w, v, 8); }
    put_key(w, "t.ints", GGUF_ARRAY); put_u32(w, GGUF_INT16); put_u64(w, 2);
    { int16_t v[2] = {-7, 300}; put(w, v, 4); }
    const uint64_t dims_f32[2] = {4, 2}, dims_q8[2] = {64, 2};
    put_tensor_info(w, "w.f32", 2, dims_f32, 0, 0);
    put_tensor_info(w, "w.q8", 2, dims_q8, 8, 32);
    put_padding(w, 32);
    for (size_t k = 0; k < 32 + Q8_BYTES; k++) put_u8(w, (uint8_t)((k * 7 + 3) & 0xff));
}

static bool data_pattern_ok(const uint8_t *p, size_t first, size_t n) {
    for (size_t k = 0; k < n; k++) {
        if (p[k] != (uint8_t)(((first + k) * 7 + 3) & 0xff)) return false;
    }
    return true;
}

static void test_valid(uint32_t version) {
    writer w;
    write_valid(&w, version);
    gguf_file f;
    char err[LS_ERROR_SIZE] = "";
    char name[64];
    int rc = gguf_parse(&f, w.bytes, w.size, err);
    snprintf(name, sizeof name, "valid v%u parses", version);
    CHECK(rc == 0, name, "err: %s", err);
    if (rc != 0) return;
    CHECK(f.version == version && f.n_kv == 16 && f.n_tensors == 2 && f.alignment == 32,
          "header fields", "v%u kv %llu t %llu a %llu", f.version, (unsigned long long)f.n_kv,
          (unsigned long long)f.n_tensors, (unsigned long long)f.alignment);

    const gguf_value *v;
    v = gguf_find(&f, "t.u8");
    CHECK(v && v->type == GGUF_UINT8 && v->u == 200, "uint8", "mismatch");
    v = gguf_find(&f, "t.i8");
    CHECK(v && v->type == GGUF_INT8 && v->i == -100, "int8", "mismatch");
    v = gguf_find(&f, "t.u16");
    CHECK(v && v->type == GGUF_UINT16 && v->u == 60000, "uint16", "mismatch");
    v = gguf_find(&f, "t.i16");
    CHECK(v && v->type == GGUF_INT16 && v->i == -30000, "int16", "mismatch");
    v = gguf_find(&f, "t.u32");
    CHECK(v && v->type == GGUF_UINT32 && v->u == 4000000000u, "uint32", "mismatch");
    v = gguf_find(&f, "t.i32");
    CHECK(v && v->type == GGUF_INT32 && v->i == -2000000000, "int32", "mismatch");
    v = gguf_find(&f, "t.f32");
    CHECK(v && v->type == GGUF_FLOAT32 && v->f == 1.5, "float32", "mismatch");
    v = gguf_find(&f, "t.bool");
    CHECK(v && v->type == GGUF_BOOL && v->u == 1, "bool", "mismatch");
    v = gguf_find(&f, "t.string");
    CHECK(v && v->type == GGUF_STRING && gguf_string_equals(v->s, "hello"), "string", "mismatch");
    v = gguf_find(&f, "t.u64");
    CHECK(v && v->type == GGUF_UINT64 && v->u == 0x8000000000000005ull, "uint64", "mismatch");
    v = gguf_find(&f, "t.i64");
    CHECK(v && v->type == GGUF_INT64 && v->i == -4611686018427387907ll, "int64", "mismatch");
    v = gguf_find(&f, "t.f64");
    CHECK(v && v->type == GGUF_FLOAT64 && v->f == 0.1, "float64", "mismatch");
    CHECK(gguf_find(&f, "t.missing") == NULL && gguf_find(&f, "t.u") == NULL,
          "absent keys (and prefixes) not found", "mismatch");

    const gguf_array *a = gguf_get_array(&f, "t.strings");
    CHECK(a && a->type == GGUF_STRING && a->count == 3 && a->strings &&
              gguf_string_equals(a->strings[0], "a") && gguf_string_equals(a->strings[1], "bc") &&
              gguf_string_equals(a->strings[2], "") && a->strings[2].length == 0,
          "string array", "mismatch");
    a = gguf_get_array(&f, "t.nested");
    CHECK(a && a->type == GGUF_ARRAY && a->count == 2 && a->strings == NULL && a->data,
          "nested array", "mismatch");
    if (a) {
        uint32_t inner_type;
        uint64_t inner_count;
        int32_t third;
        memcpy(&inner_type, a->data, 4);
        memcpy(&inner_count, a->data + 4, 8);
        memcpy(&third, a->data + 12 + 8, 4);
        CHECK(inner_type == GGUF_INT32 && inner_count == 3 && third == 3,
              "nested array data points at the raw items", "type %u count %llu third %d",
              inner_type, (unsigned long long)inner_count, third);
    }
    a = gguf_get_array(&f, "t.floats");
    CHECK(a && a->type == GGUF_FLOAT32 && a->count == 2 && gguf_array_float(a, 0) == 0.5 &&
              gguf_array_float(a, 1) == -2.0 && gguf_array_int(a, 1) == -2,
          "float array", "mismatch");
    a = gguf_get_array(&f, "t.ints");
    CHECK(a && a->count == 2 && gguf_array_int(a, 0) == -7 && gguf_array_int(a, 1) == 300 &&
              gguf_array_float(a, 0) == -7.0,
          "int16 array", "mismatch");

    uint64_t u = 0;
    double d = 0;
    bool b = false;
    gguf_string s = {0, NULL};
    CHECK(gguf_get_uint(&f, "t.u32", &u) && u == 4000000000u, "get_uint uint32", "mismatch");
    CHECK(gguf_get_uint(&f, "t.i8", &u) == false, "get_uint refuses a negative int8", "mismatch");
    CHECK(gguf_get_uint(&f, "t.f32", &u) == false, "get_uint refuses a float", "mismatch");
    CHECK(gguf_get_uint(&f, "t.u64", &u) && u == 0x8000000000000005ull, "get_uint uint64", "mismatch");
    CHECK(gguf_get_float(&f, "t.f32", &d) && d == 1.5, "get_float float32", "mismatch");
    CHECK(gguf_get_float(&f, "t.i32", &d) && d == -2000000000.0, "get_float int32", "mismatch");
    CHECK(gguf_get_float(&f, "t.u64", &d) == false, "get_float refuses an inexact uint64", "mismatch");
    CHECK(gguf_get_bool(&f, "t.bool", &b) && b, "get_bool", "mismatch");
    CHECK(gguf_get_bool(&f, "t.u8", &b) == false, "get_bool refuses uint8", "mismatch");
    CHECK(gguf_get_string(&f, "t.string", &s) && s.length == 5, "get_string", "mismatch");
    CHECK(gguf_get_string(&f, "t.strings", &s) == false, "get_string refuses an array", "mismatch");
    CHECK(gguf_get_array(&f, "t.string") == NULL, "get_array refuses a string", "mismatch");

    /* Data section: the infos end at some byte; data starts at the next multiple of 32. */
    size_t data_offset = w.size - 32 - Q8_BYTES;
    CHECK(f.data_offset == data_offset && data_offset % 32 == 0, "data offset", "%llu vs %zu",
          (unsigned long long)f.data_offset, data_offset);
    const gguf_tensor *t = gguf_find_tensor(&f, "w.f32");
    CHECK(t && t->n_dims == 2 && t->dims[0] == 4 && t->dims[1] == 2 && t->dims[2] == 1 &&
              t->dims[3] == 1 && t->type == 0 && t->offset == 0 && t->n_elements == 8 &&
              t->n_bytes == F32_BYTES && t->data == w.bytes + data_offset &&
              data_pattern_ok(t->data, 0, F32_BYTES),
          "F32 tensor", "mismatch");
    t = gguf_find_tensor(&f, "w.q8");
    CHECK(t && t->n_dims == 2 && t->dims[0] == 64 && t->dims[1] == 2 && t->type == 8 &&
              t->offset == 32 && t->n_elements == 128 && t->n_bytes == Q8_BYTES &&
              t->data == w.bytes + data_offset + 32 && data_pattern_ok(t->data, 32, Q8_BYTES),
          "Q8_0 tensor", "mismatch");
    CHECK(gguf_find_tensor(&f, "w") == NULL, "absent tensor not found", "mismatch");
    gguf_close(&f);
    CHECK(f.kv == NULL && f.tensors == NULL && f.allocations == NULL, "close zeroes", "mismatch");
    gguf_close(&f); /* twice is safe */
}

/* ---- failures ------------------------------------------------------------------------- */

/* Parses w; checks it fails with err containing `word` and on exactly one line. */
static void expect_failure(const writer *w, const char *name, const char *word) {
    gguf_file f;
    char err[LS_ERROR_SIZE];
    memset(err, 0, sizeof err);
    int rc = gguf_parse(&f, w->bytes, w->size, err);
    bool zeroed = f.kv == NULL && f.tensors == NULL && f.allocations == NULL && f.n_kv == 0;
    CHECK(rc == -1 && strstr(err, word) != NULL && strchr(err, '\n') == NULL && zeroed, name,
          "rc %d, err '%s' (wanted '%s'), file zeroed %d", rc, err, word, zeroed);
    gguf_close(&f);
}

/* One tensor, default alignment, 64 zero data bytes after the padding. */
static void write_one_tensor(writer *w, uint32_t n_dims, const uint64_t *dims, uint32_t type,
                             uint64_t offset) {
    put_header(w, 3, 1, 0);
    put_tensor_info(w, "blk.0.attn_q.weight", n_dims, dims, type, offset);
    put_padding(w, 32);
    put_zeros(w, 64);
}

static void test_failures(void) {
    writer w;
    const uint64_t dims[5] = {32, 1, 1, 1, 1};

    write_valid(&w, 3);
    memcpy(w.bytes, "GGUG", 4);
    expect_failure(&w, "wrong magic", "not a GGUF file");
    write_valid(&w, 3);
    w.bytes[4] = 1;
    expect_failure(&w, "version 1 rejected", "version 1");
    write_valid(&w, 3);
    w.bytes[4] = 99;
    expect_failure(&w, "version 99 rejected", "version 99");
    write_valid(&w, 3);
    w.bytes[4] = 0;
    w.bytes[7] = 3;
    expect_failure(&w, "big-endian file named", "big-endian");

    put_header(&w, 3, 0, (uint64_t)1 << 62);
    put_zeros(&w, 64);
    expect_failure(&w, "absurd n_kv", "cannot fit");
    put_header(&w, 3, (uint64_t)1 << 62, 0);
    put_zeros(&w, 64);
    expect_failure(&w, "absurd n_tensors", "cannot fit");
    put_header(&w, 3, UINT64_MAX, UINT64_MAX);
    expect_failure(&w, "n_kv and n_tensors UINT64_MAX", "cannot fit");

    put_header(&w, 3, 0, 1);
    put_key(&w, "k", GGUF_STRING);
    put_u64(&w, 1000);
    put(&w, "short", 5);
    expect_failure(&w, "string length past end", "past the end");
    put_header(&w, 3, 0, 1);
    put_u64(&w, UINT64_MAX);
    put_zeros(&w, 16);
    expect_failure(&w, "key length UINT64_MAX", "past the end");
    put_header(&w, 3, 0, 1);
    put_key(&w, "k", GGUF_ARRAY);
    put_u32(&w, GGUF_STRING);
    put_u64(&w, (uint64_t)1 << 61);
    put_zeros(&w, 32);
    expect_failure(&w, "string array count absurd", "cannot fit");
    put_header(&w, 3, 0, 1);
    put_key(&w, "k", GGUF_ARRAY);
    put_u32(&w, GGUF_UINT64);
    put_u64(&w, (uint64_t)1 << 61); /* times 8 overflows to 0 */
    put_zeros(&w, 32);
    expect_failure(&w, "u64 array count whose byte size overflows", "past the end");
    put_header(&w, 3, 0, 1);
    put_key(&w, "k", 13);
    put_zeros(&w, 8);
    expect_failure(&w, "unknown value type 13", "unknown");
    put_header(&w, 3, 0, 1);
    put_key(&w, "k", GGUF_ARRAY);
    put_u32(&w, 0xffffffffu);
    put_u64(&w, 0);
    expect_failure(&w, "unknown array element type", "unknown");
    put_header(&w, 3, 0, 1);
    put_key(&w, "k", GGUF_BOOL);
    put_u8(&w, 2);
    expect_failure(&w, "bool value 2", "bool");
    put_header(&w, 3, 0, 1);
    put_key(&w, "k", GGUF_ARRAY);
    put_u32(&w, GGUF_BOOL);
    put_u64(&w, 3);
    put_u8(&w, 0);
    put_u8(&w, 1);
    put_u8(&w, 2);
    expect_failure(&w, "bool array element 2", "bool array element 2");
    put_header(&w, 3, 0, 1);
    put_key(&w, "", GGUF_UINT8);
    put_u8(&w, 2);
    expect_failure(&w, "empty key", "empty");

    /* Nested arrays: depth 8 is read, depth 9 is refused. */
    for (int depth = 8; depth <= 9; depth++) {
        put_header(&w, 3, 0, 1);
        put_key(&w, "k", GGUF_ARRAY);
        for (int level = 1; level < depth; level++) {
            put_u32(&w, GGUF_ARRAY);
            put_u64(&w, 1);
        }
        put_u32(&w, GGUF_UINT8);
        put_u64(&w, 1);
        put_u8(&w, 42);
        gguf_file f;
        char err[LS_ERROR_SIZE] = "";
        int rc = gguf_parse(&f, w.bytes, w.size, err);
        if (depth == 8) {
            CHECK(rc == 0, "arrays nested 8 deep accepted", "%s", err);
        } else {
            CHECK(rc == -1 && strstr(err, "nested"), "arrays nested 9 deep refused", "%s", err);
        }
        gguf_close(&f);
    }

    put_header(&w, 3, 0, 2);
    put_kv_u32(&w, "general.name", 1);
    put_kv_u32(&w, "general.name", 2);
    expect_failure(&w, "duplicate key", "duplicate key 'general.name'");

    put_header(&w, 3, 0, 1);
    put_kv_u32(&w, "general.alignment", 0);
    expect_failure(&w, "alignment 0", "power of two");
    put_header(&w, 3, 0, 1);
    put_kv_u32(&w, "general.alignment", 3);
    expect_failure(&w, "alignment 3", "power of two");
    put_header(&w, 3, 0, 1);
    put_key(&w, "general.alignment", GGUF_UINT64);
    put_u64(&w, 32);
    expect_failure(&w, "alignment of type uint64", "uint32");

    write_one_tensor(&w, 0, dims, 0, 0);
    expect_failure(&w, "n_dims 0", "n_dims");
    write_one_tensor(&w, 5, dims, 0, 0);
    expect_failure(&w, "n_dims 5", "n_dims");
    const uint64_t zero_dim[2] = {32, 0};
    write_one_tensor(&w, 2, zero_dim, 0, 0);
    expect_failure(&w, "dimension of size 0", "size 0");
    const uint64_t huge[3] = {(uint64_t)1 << 32, (uint64_t)1 << 32, 2};
    write_one_tensor(&w, 3, huge, 0, 0);
    expect_failure(&w, "dims whose product overflows", "overflows");
    const uint64_t big_bytes[2] = {(uint64_t)1 << 31, (uint64_t)1 << 31}; /* 2^62 F32 */
    write_one_tensor(&w, 2, big_bytes, 0, 0);
    expect_failure(&w, "byte size overflows", "overflows");
    const uint64_t ragged[1] = {48};
    write_one_tensor(&w, 1, ragged, 8, 0);
    expect_failure(&w, "row length not a multiple of the block", "not a multiple");
    write_one_tensor(&w, 1, dims, 17, 0);
    expect_failure(&w, "unknown tensor type", "unsupported type 17");
    write_one_tensor(&w, 1, dims, 0, 16);
    expect_failure(&w, "offset not aligned", "alignment");
    write_one_tensor(&w, 1, dims, 0, 64);
    expect_failure(&w, "offset past end", "past the end");
    write_one_tensor(&w, 1, dims, 0, UINT64_MAX - 31);
    expect_failure(&w, "offset + size overflows", "past the end");
    const uint64_t too_big[1] = {32 * 3};
    write_one_tensor(&w, 1, too_big, 0, 0); /* 384 bytes, 64 present */
    expect_failure(&w, "tensor larger than the data", "past the end");

    put_header(&w, 3, 1, 0);
    put_str(&w, "");
    put_u32(&w, 1);
    put_u64(&w, 32);
    put_u32(&w, 0);
    put_u64(&w, 0);
    put_padding(&w, 32);
    put_zeros(&w, 128);
    expect_failure(&w, "empty tensor name", "empty");

    put_header(&w, 3, 2, 0);
    put_tensor_info(&w, "same", 1, dims, 0, 0);
    put_tensor_info(&w, "same", 1, dims, 0, 128);
    put_padding(&w, 32);
    put_zeros(&w, 256);
    expect_failure(&w, "duplicate tensor name", "duplicate tensor name 'same'");

    put_header(&w, 3, 2, 0);
    put_tensor_info(&w, "a\nb", 1, dims, 0, 0);
    put_tensor_info(&w, "a\nb", 1, dims, 0, 128);
    put_padding(&w, 32);
    put_zeros(&w, 256);
    expect_failure(&w, "a control byte in a name is not echoed", "duplicate tensor name 'a?b'");

    put_header(&w, 3, 2, 0);
    put_tensor_info(&w, "first", 1, dims, 0, 0);    /* 128 bytes */
    put_tensor_info(&w, "second", 1, dims, 0, 96); /* starts inside the first */
    put_padding(&w, 32);
    put_zeros(&w, 256);
    expect_failure(&w, "overlapping tensors", "overlap");

    /* Alignment 64: offset 32 is refused, the padding is to 64. */
    put_header(&w, 3, 1, 1);
    put_kv_u32(&w, "general.alignment", 64);
    put_tensor_info(&w, "x", 1, dims, 0, 32);
    put_padding(&w, 64);
    put_zeros(&w, 256);
    expect_failure(&w, "offset not a multiple of alignment 64", "alignment 64");
    put_header(&w, 3, 1, 1);
    put_kv_u32(&w, "general.alignment", 64);
    put_tensor_info(&w, "x", 1, dims, 0, 64);
    put_padding(&w, 64);
    size_t data_offset = w.size;
    put_zeros(&w, 64 + 128);
    {
        gguf_file f;
        char err[LS_ERROR_SIZE] = "";
        int rc = gguf_parse(&f, w.bytes, w.size, err);
        CHECK(rc == 0 && f.alignment == 64 && f.data_offset == data_offset &&
                  f.tensors[0].data == w.bytes + data_offset + 64,
              "alignment 64 honoured", "rc %d %s", rc, err);
        gguf_close(&f);
    }

    /* A file with no tensors may end right after its metadata (no padding). */
    put_header(&w, 3, 0, 1);
    put_kv_u32(&w, "k", 7);
    {
        gguf_file f;
        char err[LS_ERROR_SIZE] = "";
        int rc = gguf_parse(&f, w.bytes, w.size, err);
        CHECK(rc == 0 && f.n_tensors == 0 && f.data_offset == w.size,
              "no tensors, no padding accepted", "rc %d %s", rc, err);
        gguf_close(&f);
    }
}

/* Every prefix of the valid file is refused, cleanly, with a message. */
static void test_truncations(void) {
    writer w;
    write_valid(&w, 3);
    size_t bad = 0, first_bad = 0;
    for (size_t n = 0; n < w.size; n++) {
        gguf_file f;
        char err[LS_ERROR_SIZE] = "";
        /* A heap copy of exactly n bytes so that ASan sees any read past the end. */
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, w.bytes, n);
        int rc = gguf_parse(&f, copy, n, err);
        if (rc != -1 || err[0] == '\0' || strchr(err, '\n')) {
            if (!bad++) first_bad = n;
        }
        gguf_close(&f);
        free(copy);
    }
    CHECK(bad == 0, "every truncation refused with one line", "%zu of %zu prefixes, first %zu",
          bad, w.size, first_bad);
    gguf_file f;
    CHECK(gguf_parse(&f, w.bytes, w.size - 1, NULL) == -1, "err may be NULL", "mismatch");
    CHECK(gguf_parse(&f, NULL, 0, NULL) == -1, "NULL, 0 refused", "mismatch");
}

/* Every byte of the valid file set to a few values: parse or fail, and when it parses, every
 * tensor and string lies inside the image (ASan checks the reads). */
static void test_mutations(void) {
    writer w;
    write_valid(&w, 3);
    static const uint8_t values[] = {0x00, 0x01, 0x02, 0x07, 0x20, 0x7f, 0x80, 0xff};
    size_t parsed = 0, outside = 0;
    uint8_t *copy = malloc(w.size);
    for (size_t pos = 0; pos < w.size; pos++) {
        for (size_t k = 0; k < sizeof values; k++) {
            memcpy(copy, w.bytes, w.size);
            copy[pos] = values[k];
            gguf_file f;
            char err[LS_ERROR_SIZE] = "";
            if (gguf_parse(&f, copy, w.size, err) != 0) continue;
            parsed++;
            const uint8_t *end = copy + w.size;
            for (uint64_t i = 0; i < f.n_tensors; i++) {
                const gguf_tensor *t = &f.tensors[i];
                const uint8_t *p = t->data;
                if (p < copy || p + t->n_bytes > end || t->n_bytes == 0) outside++;
            }
            for (uint64_t i = 0; i < f.n_kv; i++) {
                const gguf_kv *kv = &f.kv[i];
                if ((const uint8_t *)kv->key.bytes + kv->key.length > end) outside++;
                if (kv->value.type == GGUF_STRING &&
                    (const uint8_t *)kv->value.s.bytes + kv->value.s.length > end) {
                    outside++;
                }
            }
            gguf_close(&f);
        }
    }
    free(copy);
    CHECK(outside == 0, "single-byte mutations never yield views outside the image",
          "%zu outside (%zu parsed)", outside, parsed);
}

/* ---- files on disk -------------------------------------------------------------------- */

static void test_open(void) {
    gguf_file f;
    char err[LS_ERROR_SIZE] = "";
    int rc = gguf_open(&f, "/nonexistent/model.gguf", err);
    CHECK(rc == -1 && strstr(err, "cannot open '/nonexistent/model.gguf'") &&
              strstr(err, "No such file"),
          "missing file", "%s", err);
    rc = gguf_open(&f, "/tmp", err);
    CHECK(rc == -1 && strstr(err, "Is a directory"), "directory", "%s", err);

    char path[] = "/tmp/test_gguf_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "temporary file", "mismatch");
    if (fd < 0) return;
    rc = gguf_open(&f, path, err);
    CHECK(rc == -1 && strstr(err, "is not a GGUF file") && strstr(err, "empty"), "empty file",
          "%s", err);
    CHECK(write(fd, "PK\3\4 a zip file", 16) == 16, "write", "mismatch");
    rc = gguf_open(&f, path, err);
    CHECK(rc == -1 && strstr(err, "is not a GGUF file (magic 50 4b 03 04"), "zip file named",
          "%s", err);

    writer w;
    write_valid(&w, 3);
    CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, w.bytes, w.size, 0) == (ssize_t)w.size, "write",
          "failed");
    rc = gguf_open(&f, path, err);
    const gguf_tensor *t = rc == 0 ? gguf_find_tensor(&f, "w.q8") : NULL;
    CHECK(rc == 0 && f.mapped && t && data_pattern_ok(t->data, 32, Q8_BYTES),
          "valid file opened by mmap", "%s", err);
    gguf_close(&f);
    CHECK(ftruncate(fd, (off_t)w.size - 1) == 0, "truncate", "mismatch");
    rc = gguf_open(&f, path, err);
    CHECK(rc == -1 && strstr(err, path) && strstr(err, "w.q8") && strstr(err, "past the end"),
          "truncated file names the path and the tensor", "%s", err);
    close(fd);
    unlink(path);
}

/* Files written by the gguf Python package's GGUFWriter (the fuzz seeds), checked against
 * what its GGUFReader reports for them: data offsets, sizes, alignment and values. */
static void test_python_written(void) {
    gguf_file f;
    char err[LS_ERROR_SIZE] = "";
    int rc = gguf_open(&f, "fuzz/corpus/gguf/value_kinds.gguf", err);
    CHECK(rc == 0, "GGUFWriter file opens", "%s", err);
    if (rc == 0) {
        const gguf_tensor *q8 = gguf_find_tensor(&f, "blk.0.attn_q.weight");
        const gguf_tensor *f16 = gguf_find_tensor(&f, "blk.0.attn_norm.weight");
        CHECK(f.n_kv == 15 && f.data_offset == 672 && q8 && q8->type == 8 && q8->dims[0] == 32 &&
                  q8->dims[1] == 2 && q8->offset == 0 && q8->n_bytes == 68 && f16 &&
                  f16->type == 1 && f16->dims[0] == 32 && f16->offset == 96 &&
                  f16->n_bytes == 64,
              "GGUFWriter tensors as GGUFReader reads them", "kv %llu data %llu",
              (unsigned long long)f.n_kv, (unsigned long long)f.data_offset);
        uint64_t u = 0;
        double x = 0;
        bool b = false;
        const gguf_array *tokens = gguf_get_array(&f, "tokenizer.ggml.tokens");
        const gguf_array *scores = gguf_get_array(&f, "tokenizer.ggml.scores");
        const gguf_array *types = gguf_get_array(&f, "tokenizer.ggml.token_type");
        CHECK(gguf_get_uint(&f, "t.u64", &u) && u == 1099511627776ull &&
                  gguf_get_float(&f, "t.f64", &x) && x == 0.25 &&
                  gguf_get_float(&f, "t.i32", &x) && x == -70000.0 &&
                  gguf_get_bool(&f, "tokenizer.ggml.add_bos_token", &b) && b &&
                  gguf_find(&f, "t.i16")->i == -700 && tokens && tokens->count == 4 &&
                  gguf_string_equals(tokens->strings[1], "</s>") && scores &&
                  gguf_array_float(scores, 3) == -2.0 && types && types->type == GGUF_INT32 &&
                  gguf_array_int(types, 0) == 3,
              "GGUFWriter values as GGUFReader reads them", "mismatch");
        gguf_close(&f);
    }
    rc = gguf_open(&f, "fuzz/corpus/gguf/kquants_align64.gguf", err);
    CHECK(rc == 0, "GGUFWriter file with alignment 64 opens", "%s", err);
    if (rc == 0) {
        static const char *names[3] = {"a.q4k", "a.q6k", "a.q5_0"};
        static const uint32_t types[3] = {12, 14, 6};
        static const uint64_t offsets[3] = {0, 192, 448}, sizes[3] = {144, 210, 44};
        int good = f.alignment == 64 && f.data_offset == 256 && f.n_tensors == 3;
        for (int i = 0; i < 3; i++) {
            const gguf_tensor *t = gguf_find_tensor(&f, names[i]);
            good = good && t && t->type == types[i] && t->offset == offsets[i] &&
                   t->n_bytes == sizes[i] && t->data == f.bytes + 256 + offsets[i];
        }
        CHECK(good, "K-quant tensors and alignment 64 as GGUFReader reads them", "mismatch");
        gguf_close(&f);
    }
}

/* Facts from the gguf Python package (GGUFReader) on the same file: 33 key/value pairs (its
 * 36 fields include 3 for the header), data at 6525120, token_embd.weight at absolute byte
 * 6527680, i.e. offset 2560 in the data section. */
static void test_default_model(void) {
    const char *path = "models/default.gguf";
    gguf_file f;
    char err[LS_ERROR_SIZE] = "";
    int rc = gguf_open(&f, path, err);
    CHECK(rc == 0, "models/default.gguf opens (run scripts/setup.sh if it is missing)", "%s",
          err);
    if (rc != 0) return;
    gguf_string arch = {0, NULL};
    CHECK(f.version == 3 && f.n_tensors == 236 && f.n_kv == 33 && f.alignment == 32 &&
              f.data_offset == 6525120,
          "default model header", "v%u t%llu kv%llu data %llu", f.version,
          (unsigned long long)f.n_tensors, (unsigned long long)f.n_kv,
          (unsigned long long)f.data_offset);
    CHECK(gguf_get_string(&f, "general.architecture", &arch) &&
              gguf_string_equals(arch, "gemma3"),
          "default model architecture gemma3", "mismatch");
    const gguf_tensor *t = gguf_find_tensor(&f, "token_embd.weight");
    CHECK(t && t->type == 8 && t->n_dims == 2 && t->dims[0] == 640 && t->dims[1] == 262144 &&
              t->n_bytes == 178257920 && t->offset == 2560,
          "token_embd.weight Q8_0 [640, 262144]", "mismatch");
    const gguf_array *tokens = gguf_get_array(&f, "tokenizer.ggml.tokens");
    CHECK(tokens && tokens->type == GGUF_STRING && tokens->count == 262144 && tokens->strings,
          "262144 tokens", "mismatch");
    uint64_t layers = 0;
    CHECK(gguf_get_uint(&f, "gemma3.block_count", &layers) && layers == 18, "18 layers", "mismatch");
    gguf_close(&f);
}

int main(void) {
    test_valid(3);
    test_valid(2);
    test_failures();
    test_truncations();
    test_mutations();
    test_open();
    test_python_written();
    test_default_model();
    CHECK_EXIT();
}
