/* gguf.h — a validated, read-only view of a GGUF file (versions 2 and 3).
 *
 * The file is mmapped; strings, arrays and tensor data are views into the mapping and are
 * never copied. Parsing checks every count, length, offset, dimension and size against the
 * bytes actually present (with overflow-safe arithmetic) before using it, so any byte string
 * either parses into a consistent gguf_file or fails with one line in `err`.
 *
 * Layout (little-endian): "GGUF", u32 version, u64 tensor_count, u64 kv_count, kv pairs,
 * tensor infos, padding to general.alignment (default 32), data section. */
#ifndef LS_GGUF_H
#define LS_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gguf_value_type {
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3, GGUF_UINT32 = 4,
    GGUF_INT32 = 5, GGUF_FLOAT32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9,
    GGUF_UINT64 = 10, GGUF_INT64 = 11, GGUF_FLOAT64 = 12,
};

/* A string inside the mapping: `length` bytes of UTF-8, not NUL-terminated. */
typedef struct gguf_string {
    uint64_t length;
    const char *bytes;
} gguf_string;

typedef struct gguf_array {
    enum gguf_value_type type; /* element type */
    uint64_t count;
    const uint8_t *data;        /* first element, for fixed-size element types (unaligned) */
    const gguf_string *strings; /* `count` entries when type == GGUF_STRING, else NULL */
} gguf_array;

typedef struct gguf_value {
    enum gguf_value_type type;
    union {
        uint64_t u;  /* UINT8..UINT64 (zero-extended), BOOL (0 or 1) */
        int64_t i;   /* INT8..INT64 (sign-extended) */
        double f;    /* FLOAT32, FLOAT64 */
        gguf_string s;
        gguf_array a; /* nested arrays: type GGUF_ARRAY, data points at the raw items */
    };
} gguf_value;

typedef struct gguf_kv {
    gguf_string key;
    gguf_value value;
} gguf_kv;

typedef struct gguf_tensor {
    gguf_string name;
    uint32_t n_dims;     /* 1..4 */
    uint64_t dims[4];    /* dims[0] is the row length (fastest varying); unused dims are 1 */
    uint32_t type;       /* ggml type id, one ls_dtype_find() knows */
    uint64_t offset;     /* from the start of the data section; multiple of the alignment */
    uint64_t n_elements; /* product of dims */
    uint64_t n_bytes;    /* n_elements / block_elements * block_bytes */
    const void *data;    /* inside the mapping; n_bytes readable */
} gguf_tensor;

typedef struct gguf_file {
    uint32_t version;
    uint64_t n_kv;
    gguf_kv *kv;
    uint64_t n_tensors;
    gguf_tensor *tensors;
    uint64_t alignment;
    uint64_t data_offset;  /* start of the data section in the file */
    const uint8_t *bytes;  /* whole file */
    size_t size;
    bool mapped;           /* bytes came from mmap (gguf_close unmaps) */
    void *allocations;     /* internal: index arrays owned by this file */
} gguf_file;

/* Opens and validates a file. Returns 0, or -1 with one line in err (LS_ERROR_SIZE). */
int gguf_open(gguf_file *file, const char *path, char *err);

/* Validates an in-memory image (not copied: must outlive the gguf_file). For tests and fuzzing. */
int gguf_parse(gguf_file *file, const void *bytes, size_t size, char *err);

/* Releases what open/parse made. Safe on a zeroed or failed gguf_file. */
void gguf_close(gguf_file *file);

/* Lookups by exact name; NULL when absent. */
const gguf_value *gguf_find(const gguf_file *file, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *file, const char *name);

/* Typed getters: true when the key exists and its value converts exactly
 * (any integer type into uint64 when non-negative; FLOAT32/FLOAT64 into double;
 * integers into double too). */
bool gguf_get_uint(const gguf_file *file, const char *key, uint64_t *out);
bool gguf_get_float(const gguf_file *file, const char *key, double *out);
bool gguf_get_bool(const gguf_file *file, const char *key, bool *out);
bool gguf_get_string(const gguf_file *file, const char *key, gguf_string *out);
const gguf_array *gguf_get_array(const gguf_file *file, const char *key);

/* Element i of a numeric array converted to double / int64 (caller checks i < count).
 * BOOL gives 0 or 1; gguf_array_int saturates uint64 values above INT64_MAX and truncates
 * floats toward zero (saturating, NaN gives 0); string and array elements give 0. */
double gguf_array_float(const gguf_array *array, uint64_t i);
int64_t gguf_array_int(const gguf_array *array, uint64_t i);

/* "uint8", "string", ... for a value type; "unknown" outside 0..12. */
const char *gguf_type_name(enum gguf_value_type type);

/* True when s equals the NUL-terminated text. */
bool gguf_string_equals(gguf_string s, const char *text);

#endif
