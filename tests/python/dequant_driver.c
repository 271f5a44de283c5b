/* dequant_driver.c — test helper for tests/python/test_dequantize.py (compiled by the test
 * against build/liblockstep.a, never part of the library).
 *
 * usage: dequant_driver IN OUT
 *   IN:  uint32 ggml type id, uint64 element count n, then the raw row bytes
 *   OUT: n float32 values from ls_dequantize_row
 * Exit 2 with one line on stderr for an unusable input. */
#include "quant/quant.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: dequant_driver IN OUT\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    if (!in) {
        fprintf(stderr, "%s: cannot open\n", argv[1]);
        return 2;
    }
    uint32_t type_id;
    uint64_t n;
    if (fread(&type_id, 4, 1, in) != 1 || fread(&n, 8, 1, in) != 1) {
        fprintf(stderr, "%s: short header\n", argv[1]);
        return 2;
    }
    const ls_dtype_info *info = ls_dtype_find(type_id);
    if (!info || n == 0 || n > (1u << 26) || n % info->block_elements) {
        fprintf(stderr, "%s: bad type %u or count %llu\n", argv[1], type_id, (unsigned long long)n);
        return 2;
    }
    size_t bytes = (size_t)(n / info->block_elements) * info->block_bytes;
    unsigned char *src = malloc(bytes);
    float *dst = malloc(n * sizeof(float));
    if (!src || !dst || fread(src, 1, bytes, in) != bytes) {
        fprintf(stderr, "%s: short data\n", argv[1]);
        return 2;
    }
    fclose(in);
    ls_dequantize_row((ls_dtype)type_id, src, dst, (int64_t)n);
    FILE *out = fopen(argv[2], "wb");
    if (!out || fwrite(dst, sizeof(float), n, out) != n || fclose(out) != 0) {
        fprintf(stderr, "%s: cannot write\n", argv[2]);
        return 1;
    }
    free(src);
    free(dst);
    return 0;
}
