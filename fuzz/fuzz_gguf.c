/* fuzz_gguf.c — libFuzzer target for the GGUF reader (`make fuzz`, build-fuzz/fuzz_gguf).
 *
 * Any byte string must either fail gguf_parse with a one-line message or parse into views
 * that lie inside the input: on success this reads the first and last byte of every tensor,
 * key, string and string-array entry and every element of every numeric array, and runs
 * the lookups and getters on every key, so ASan catches any view that strays outside. */
#include "base/error.h"
#include "io/gguf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static volatile uint8_t sink;
static volatile double sink_double;

static void touch(const void *p, uint64_t n) {
    if (n == 0) return;
    const volatile uint8_t *b = p;
    sink ^= b[0];
    sink ^= b[n - 1];
}

static void touch_string(gguf_string s) { touch(s.bytes, s.length); }

static void touch_value(const gguf_file *file, const gguf_kv *kv) {
    char key[128];
    size_t n = kv->key.length < sizeof key - 1 ? (size_t)kv->key.length : sizeof key - 1;
    memcpy(key, kv->key.bytes, n);
    key[n] = '\0';
    uint64_t u;
    double d;
    bool b;
    gguf_string s;
    sink ^= (uint8_t)(gguf_find(file, key) != NULL);
    sink ^= (uint8_t)gguf_get_uint(file, key, &u);
    sink ^= (uint8_t)gguf_get_float(file, key, &d);
    sink ^= (uint8_t)gguf_get_bool(file, key, &b);
    sink ^= (uint8_t)gguf_get_string(file, key, &s);
    sink ^= (uint8_t)(gguf_type_name(kv->value.type)[0]);

    const gguf_value *v = &kv->value;
    if (v->type == GGUF_STRING) touch_string(v->s);
    if (v->type != GGUF_ARRAY) return;
    const gguf_array *a = &v->a;
    if (a->type == GGUF_STRING) {
        if (a->count && !a->strings) abort();
        for (uint64_t i = 0; i < a->count; i++) touch_string(a->strings[i]);
    } else if (a->type != GGUF_ARRAY) {
        for (uint64_t i = 0; i < a->count; i++) {
            sink_double = gguf_array_float(a, i);
            sink ^= (uint8_t)gguf_array_int(a, i);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gguf_file file;
    char err[LS_ERROR_SIZE];
    if (gguf_parse(&file, data, size, err) != 0) {
        if (err[0] == '\0' || memchr(err, '\n', strlen(err))) abort(); /* one line, always */
        gguf_close(&file);
        return 0;
    }
    for (uint64_t i = 0; i < file.n_kv; i++) {
        touch_string(file.kv[i].key);
        touch_value(&file, &file.kv[i]);
    }
    for (uint64_t i = 0; i < file.n_tensors; i++) {
        const gguf_tensor *t = &file.tensors[i];
        if (t->n_bytes == 0 || t->n_dims < 1 || t->n_dims > 4) abort();
        touch_string(t->name);
        touch(t->data, t->n_bytes);
    }
    gguf_close(&file);
    return 0;
}
