/* huge_pages.h — memory for long streams: 2 MiB aligned, advised to be 2 MiB pages.
 *
 * A stream over such memory, like decode's once-a-token read of every weight, walks the
 * page tables once per 2 MiB instead of once per 4 KiB. Used by the packed weights
 * (run/packed_weights.h), the KV cache (attention reads a layer's rows 1 KiB apart for each
 * token), calibrate's read sweeps and the benchmark's read passes, so that the bandwidth
 * they measure is the bandwidth the weights get. */
#ifndef LS_HUGE_PAGES_H
#define LS_HUGE_PAGES_H

#include <stddef.h>

/* bytes (rounded up to 2 MiB) aligned to 2 MiB, with the advice to back them by huge pages
 * (transparent huge pages in madvise mode). Advice only: without it, the same bytes in
 * small pages. NULL if out of memory; free(). */
void *ls_alloc_huge(size_t bytes);

#endif
