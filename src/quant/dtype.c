/* dtype.c — the table of weight types lockstep reads: the ggml type id, its block size in
 * elements and in bytes. Kept apart from the kernels so that the file parsers (and their
 * fuzzers) need nothing else from src/quant/. */
#include "quant/quant.h"

static const ls_dtype_info dtype_f32 = {"F32", 1, 4};
static const ls_dtype_info dtype_f16 = {"F16", 1, 2};
static const ls_dtype_info dtype_q4_0 = {"Q4_0", 32, 18};
static const ls_dtype_info dtype_q5_0 = {"Q5_0", 32, 22};
static const ls_dtype_info dtype_q8_0 = {"Q8_0", 32, 34};
static const ls_dtype_info dtype_q4_k = {"Q4_K", 256, 144};
static const ls_dtype_info dtype_q5_k = {"Q5_K", 256, 176};
static const ls_dtype_info dtype_q6_k = {"Q6_K", 256, 210};
static const ls_dtype_info dtype_bf16 = {"BF16", 1, 2};

const ls_dtype_info *ls_dtype_find(uint32_t type_id) {
    switch (type_id) {
    case LS_F32: return &dtype_f32;
    case LS_F16: return &dtype_f16;
    case LS_Q4_0: return &dtype_q4_0;
    case LS_Q5_0: return &dtype_q5_0;
    case LS_Q8_0: return &dtype_q8_0;
    case LS_Q4_K: return &dtype_q4_k;
    case LS_Q5_K: return &dtype_q5_k;
    case LS_Q6_K: return &dtype_q6_k;
    case LS_BF16: return &dtype_bf16;
    default: return NULL;
    }
}
