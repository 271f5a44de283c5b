/* philox.c — Philox-4x32-10, the counter-based generator of Salmon, Moraes, Dror and Shaw,
 * "Parallel random numbers: as easy as 1, 2, 3" (SC11, 2011). A pure function of
 * (counter, key): the sampler keys it by (seed) and counts by (position, sequence), so any
 * token's random number can be computed alone, on any thread, in any order.
 *
 * One round: (hi0, lo0) = M0·x0, (hi1, lo1) = M1·x2 (32×32 → 64-bit products);
 * x = (hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0). Ten rounds; the key is bumped by the Weyl
 * constants W0, W1 between rounds. */
#include "text/sample.h"

#include <stdint.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void ls_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t x0 = counter[0], x1 = counter[1], x2 = counter[2], x3 = counter[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)PHILOX_M0 * x0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * x2;
        uint32_t y0 = (uint32_t)(p1 >> 32) ^ x1 ^ k0;
        uint32_t y2 = (uint32_t)(p0 >> 32) ^ x3 ^ k1;
        x0 = y0;
        x1 = (uint32_t)p1;
        x2 = y2;
        x3 = (uint32_t)p0;
    }
    out[0] = x0;
    out[1] = x1;
    out[2] = x2;
    out[3] = x3;
}

/* counter = (position low, position high, sequence low, sequence high), key = (seed low,
 * seed high); the top 24 bits of the first output word, / 2^24: exactly representable,
 * uniform on {0, 1/2^24, ..., 1 − 1/2^24}. */
float ls_random_uniform(uint64_t seed, uint64_t sequence, uint64_t position) {
    uint32_t counter[4] = {(uint32_t)position, (uint32_t)(position >> 32), (uint32_t)sequence,
                           (uint32_t)(sequence >> 32)};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    ls_philox4x32(counter, key, out);
    return (float)(out[0] >> 8) * 0x1p-24f;
}
