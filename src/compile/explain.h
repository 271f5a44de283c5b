/* explain.h — printing a program: text like SQLite's EXPLAIN, or JSON for tools. */
#ifndef LS_EXPLAIN_H
#define LS_EXPLAIN_H

#include <stdio.h>

#include "compile/cost.h"
#include "compile/program.h"

/* One line per step (kernel, node, predicted us, operands with arena offset+bytes, each
 * thread's tile), then the totals. `machine` may be NULL: no predictions. The program's
 * predicted_us are printed as they are (ls_cost_program fills them). */
void ls_explain(FILE *out, const ls_program *program, const ls_machine *machine);

/* The same as one JSON object: {"threads", ..., "steps": [...], "summary": {...}}. */
void ls_explain_json(FILE *out, const ls_program *program, const ls_machine *machine);

#endif
