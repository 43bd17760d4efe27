/*
 * tl_rng.c - see tl_rng.h.  splitmix64 by Sebastiano Vigna (public domain
 * algorithm), written from its description.
 */
#include "tl_rng.h"

void tl_rng_seed(struct tl_rng *r, uint64_t seed)
{
    r->s = seed;
}

uint64_t tl_rng_next(struct tl_rng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9E3779B97F4A7C15));

    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

uint64_t tl_rng_below(struct tl_rng *r, uint64_t n)
{
    /* Reject the top partial range so every residue is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;

    do
        x = tl_rng_next(r);
    while (x >= limit);
    return x % n;
}

int64_t tl_rng_range(struct tl_rng *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo;

    if (span == UINT64_MAX)
        return (int64_t)tl_rng_next(r);
    return (int64_t)((uint64_t)lo + tl_rng_below(r, span + 1));
}

double tl_rng_unit(struct tl_rng *r)
{
    return (double)(tl_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}
