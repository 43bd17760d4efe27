/*
 * pt_clock.h - the clocks, read one way everywhere: the monotonic clock for
 * intervals, deadlines and back-offs (it never jumps), the real clock for
 * times that are stored or shown (received times, lag in seconds).
 *
 * The plugin host and its guard read CLOCK_MONOTONIC_COARSE instead, once
 * per plugin call, where a few milliseconds of grain cost nothing and the
 * call must be cheap (pt_host.c, pt_guard.c).
 */
#ifndef POVTRACK_PT_CLOCK_H
#define POVTRACK_PT_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic milliseconds. */
static inline int64_t pt_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic microseconds. */
static inline int64_t pt_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Unix microseconds (the real clock). */
static inline int64_t pt_real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif /* POVTRACK_PT_CLOCK_H */
