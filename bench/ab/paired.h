/* What both paired tools share: the clock, and sorting a column of per-round values so that
 * its median and the bounds of its middle two thirds can be read off. */
#ifndef TFE_BENCH_PAIRED_H
#define TFE_BENCH_PAIRED_H

#include <stdlib.h>
#include <time.h>

static inline double paired_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline int paired_by_value(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* Sorts v[0..n), after which the three below read its median and the bounds of its middle
 * two thirds. */
static inline void paired_sort(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, paired_by_value);
}

static inline double paired_median(const double *v, int n) { return v[n / 2]; }
static inline double paired_low(const double *v, int n) { return v[n / 6]; }
static inline double paired_high(const double *v, int n) { return v[n - 1 - n / 6]; }

#endif
