/* passes.h — the compiler's passes after lowering (compile.c). */
#ifndef LS_PASSES_H
#define LS_PASSES_H

#include "compile/program.h"

/* Decides after which steps threads must meet: before a step that reads what another thread
 * may have written since the last barrier. Sets barrier_after, phase and n_barriers, and
 * the buffers' lifetimes in phases. (barriers.c) */
void ls_place_barriers(ls_program *program);

/* Gives every buffer an arena offset such that buffers whose lifetimes overlap never share
 * bytes; sets arena_bytes and buffers_bytes. 0, or -1 with err. (memplan.c) */
int ls_plan_memory(ls_program *program, char *err);

/* Cuts every step's work into one tile per thread. (partition.c) */
void ls_partition(ls_program *program);

/* The elements of an output row that step s's threads write, as n_threads + 1 boundaries
 * into `bounds`: for a step cut by columns or output features its tiles, for attention its
 * head tiles times the head size. False for a step that writes whole rows. (partition.c) */
bool ls_column_bounds(const ls_program *program, const ls_step *s, int64_t *bounds);

#endif
