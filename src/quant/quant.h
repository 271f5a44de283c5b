/* quant.h — weight block formats (the ggml types of GGUF files) and the kernels that read them.
 *
 * Weights stay in their file format, mmapped; kernels compute straight from the blocks.
 * Matrix products quantize each activation row once (ls_quantize_activation_row) into the
 * format the weight type wants, then take integer dot products inside blocks.
 *
 * Determinism: every kernel here has ONE reduction order, written in quant.c's header
 * comment, and the scalar, AVX2 and AVX-512 versions follow it exactly, so all code paths
 * give the same bits. The order never depends on the number of tokens in a call, on the row
 * range a thread takes, or on the thread count. */
#ifndef LS_QUANT_H
#define LS_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ls_dtype {
    LS_F32 = 0,
    LS_F16 = 1,
    LS_Q4_0 = 2,
    LS_Q5_0 = 6,
    LS_Q8_0 = 8,
    LS_Q4_K = 12,
    LS_Q5_K = 13,
    LS_Q6_K = 14,
    LS_BF16 = 30,
} ls_dtype;

typedef struct ls_dtype_info {
    const char *name;        /* "Q4_K" */
    uint32_t block_elements; /* 1 for F32/F16/BF16, 32 or 256 for blocks */
    uint32_t block_bytes;
} ls_dtype_info;

/* The info for a ggml type id, or NULL when lockstep does not support it. */
const ls_dtype_info *ls_dtype_find(uint32_t type_id);

/* dst[0..n) = the values of the first n elements at src. n is a multiple of block_elements. */
void ls_dequantize_row(ls_dtype type, const void *src, float *dst, int64_t n);

/* IEEE half and bfloat16 conversions (round to nearest even), no libm. */
float ls_f16_to_f32(uint16_t h);
uint16_t ls_f32_to_f16(float f);
float ls_bf16_to_f32(uint16_t h);

/* Bytes of one activation row of n elements in the form matmul wants for this weight type. */
size_t ls_activation_row_bytes(ls_dtype weight_type, int64_t n);

/* Whether matmuls on weights of types a and b read an activation row in the same form (every
 * quantized type reads the same blocks, every float type plain f32). */
bool ls_same_activation_format(ls_dtype a, ls_dtype b);

/* Converts one f32 row of n elements (multiple of the weight type's block) to that form. */
void ls_quantize_activation_row(ls_dtype weight_type, const float *x, void *out, int64_t n);

/* For tests and tools: the per-32-block scales (n/32 of them) and the int8 quants (n) of an
 * activation row made by ls_quantize_activation_row for a quantized weight type, in
 * element order (element i's value is scales[i / 32] * quants[i]). */
void ls_activation_unpack(ls_dtype weight_type, const void *activation, int64_t n,
                          float *scales, int8_t *quants);

/* Tokens the AVX-512 kernels take at once in a call of several (the cost model prices the
 * same groups): 8, or 4 where 8 activation rows of a quantized type would not fit the 48 KiB
 * L1 data cache (a Q8_0 row of 5632 elements, the FFN down projection of a 1B model, is 7.6
 * KiB of activation: 8 at a time ran 100 GMAC/s, 4 at a time 148, one thread, weights in L2; Q4_0
 * 102 -> 139, Q4_K 98 -> 107, Q6_K 80 -> 82; float types do not slow). The products are the
 * same bits either way: each token's sums are its own. */
int ls_matmul_token_group(ls_dtype weight_type, int64_t n_in);

/* out[t * out_stride + r] = dot(weight row r, activation row t)
 *   for t in [0, n_tokens), r in [row_first, row_end).
 * weights: the whole matrix, rows of n_in elements in the file's layout.
 * activations: n_tokens rows of ls_activation_row_bytes(weight_type, n_in) bytes. */
void ls_matmul(ls_dtype weight_type, const void *weights, int64_t n_in,
               int64_t row_first, int64_t row_end,
               const void *activations, int64_t n_tokens,
               float *out, int64_t out_stride);

/* Packed weights (packed.c): a copy of a matrix in the layout of the AVX-512 kernels'
 * inner loop, the same size as the original. ls_packed_supported: whether the current code
 * path has packed kernels for the type (the quantized types on AVX-512). ls_pack_rows fills
 * rows [row_first, row_end) of packed (row r at r * the original row size) from weights.
 * ls_matmul_packed is ls_matmul on packed rows, with the same arguments and bits. */
bool ls_packed_supported(ls_dtype type);
void ls_pack_rows(ls_dtype type, const void *weights, int64_t n_in, int64_t row_first,
                  int64_t row_end, void *packed);
void ls_matmul_packed(ls_dtype type, const void *packed, int64_t n_in, int64_t row_first,
                      int64_t row_end, const void *activations, int64_t n_tokens, float *out,
                      int64_t out_stride);

/* Which code path the kernels take. All give identical bits; the choice is made once,
 * before any kernel runs: the best the CPU has, or LOCKSTEP_ISA=scalar|avx2|avx512. */
typedef enum ls_isa { LS_ISA_SCALAR = 0, LS_ISA_AVX2 = 1, LS_ISA_AVX512 = 2 } ls_isa;
ls_isa ls_isa_best(void);              /* what this CPU supports */
int ls_isa_select(ls_isa isa);         /* -1 if the CPU lacks it */
ls_isa ls_isa_current(void);
const char *ls_isa_name(ls_isa isa);
/* Applies LOCKSTEP_ISA if set: -1 with a message if its value is unknown or this CPU lacks
 * it (the command line calls this at start; without it an unusable value is ignored). */
int ls_isa_init_from_env(char *err);

#endif
