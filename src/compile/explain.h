/* explain.h — printing a program. */
#ifndef LS_EXPLAIN_H
#define LS_EXPLAIN_H

#include <stdio.h>

#include "compile/program.h"

void ls_explain(FILE *out, const ls_program *program);

#endif
