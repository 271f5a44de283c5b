/* packed_weights.h — the copies of a program's matrices that the AVX-512 kernels read.
 *
 * On the AVX-512 path, quantized matrices are copied once, before the first call, into the
 * packed layout of quant.h (ls_pack_rows), in memory backed by 2 MiB pages where the system
 * offers them (base/huge_pages.h); every matmul step on them (decode and prefill) then
 * reads the copy. The copy takes the matrix's bytes again (Gemma 3 270M Q4_K_M: 235 MiB)
 * and gives the same bits. Other paths pack nothing. */
#ifndef LS_PACKED_WEIGHTS_H
#define LS_PACKED_WEIGHTS_H

#include <stddef.h>

#include "compile/program.h"

typedef struct ls_packed_weights {
    const void **by_node; /* [graph node]: its matrix packed, or NULL */
    void *memory;         /* every packed matrix, 2 MiB aligned */
    size_t bytes;
} ls_packed_weights;

/* 0, or -1 with err when memory runs out. A matrix used by several nodes is packed once. */
int ls_packed_weights_create(ls_packed_weights *pw, const ls_program *p, char *err);
void ls_packed_weights_free(ls_packed_weights *pw);

#endif
