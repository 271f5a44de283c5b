/* read_pass.h — timed reads of a buffer by several threads: the bandwidth that
 * bench/compare.py holds a decoded token to (its roofline). Both engines' drivers call it
 * between their tokens (compare_driver.c links it; compare.py loads it into the llama.cpp
 * worker as build/bench-models/libread_pass.so), so each token is compared with the
 * bandwidth of the same seconds. */
#ifndef LSB_READ_PASS_H
#define LSB_READ_PASS_H

#include <stddef.h>

typedef struct lsb_reader lsb_reader;

/* A buffer of `bytes` (2 MiB pages where offered, written once) to be read by `threads`
 * threads (1..64), each its contiguous share. NULL when out of memory or out of range. */
lsb_reader *lsb_reader_create(size_t bytes, int threads);

/* Reads every byte once and returns the time, in ms, from the moment the helper threads
 * are started and waiting to the last thread's end (-1 when threads cannot be started).
 * Helpers live for one pass, so nothing spins between passes. Thread t runs on CPU t (the
 * caller's affinity is restored after). */
double lsb_reader_pass_ms(lsb_reader *reader);

void lsb_reader_free(lsb_reader *reader);

#endif
