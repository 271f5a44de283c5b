/* check.h — the unit-test convention. Each tests/unit/test_*.c is one program; every CHECK
 * prints "ok - <name>" or "not ok - <name>: <file>:<line> <detail>", and the program exits 1
 * if any failed. tests/run.py counts those lines into the suite's closing line. */
#ifndef LS_CHECK_H
#define LS_CHECK_H

#include <stdio.h>

static int check_failures;

#define CHECK(cond, name, ...)                                                  \
    do {                                                                        \
        if (cond) {                                                             \
            printf("ok - %s\n", name);                                          \
        } else {                                                                \
            check_failures++;                                                   \
            printf("not ok - %s: %s:%d ", name, __FILE__, __LINE__);           \
            printf(__VA_ARGS__);                                                \
            printf("\n");                                                       \
        }                                                                       \
        fflush(stdout);                                                         \
    } while (0)

#define CHECK_EXIT() return check_failures ? 1 : 0

#endif
