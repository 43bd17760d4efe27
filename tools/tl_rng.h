/*
 * tl_rng.h - a small seeded PRNG (splitmix64) for the sample generator.
 *
 * Output must be byte-identical for a seed on every platform, so neither
 * rand() nor floating-point tricks that depend on libm are used.  The state
 * is the caller's: no global state.
 */
#ifndef POVTRACK_TL_RNG_H
#define POVTRACK_TL_RNG_H

#include <stdint.h>

struct tl_rng {
    uint64_t s;
};

void tl_rng_seed(struct tl_rng *r, uint64_t seed);
uint64_t tl_rng_next(struct tl_rng *r);
/* Uniform in [0, n), n > 0, without modulo bias. */
uint64_t tl_rng_below(struct tl_rng *r, uint64_t n);
/* Uniform in [lo, hi], lo <= hi. */
int64_t tl_rng_range(struct tl_rng *r, int64_t lo, int64_t hi);
/* Uniform in [0, 1) with 53 random bits. */
double tl_rng_unit(struct tl_rng *r);

#endif /* POVTRACK_TL_RNG_H */
