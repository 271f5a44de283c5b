/* error.h — how lockstep reports a failure: one line of text in a caller-owned buffer.
 *
 * Every function that can fail on bad input takes `char *err` (LS_ERROR_SIZE bytes, may be
 * NULL) and returns a negative value (or NULL) after writing one line naming the problem.
 * The command line prints that line and exits with code 2; the server returns it as JSON. */
#ifndef LS_ERROR_H
#define LS_ERROR_H

#define LS_ERROR_SIZE 256

/* Writes the formatted message into err (if err != NULL) and returns -1. */
int ls_fail(char *err, const char *format, ...) __attribute__((format(printf, 2, 3)));

#endif
