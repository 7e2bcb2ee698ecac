/* What the paired tools share: the clock, sorting a column of per-round values so that its
 * median and the bounds of its middle two thirds can be read off, and looking up a symbol in
 * a dlopen'ed build. */
#ifndef TFE_BENCH_PAIRED_H
#define TFE_BENCH_PAIRED_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* dlsym's object pointer into the function pointer at fn (POSIX guarantees they convert; ISO C
 * does not, hence the copy); exits naming `tool` when the build lacks it. */
static inline void paired_symbol(const char *tool, void *h, const char *path, const char *name,
                                 void *fn)
{
    void *p = dlsym(h, name);
    if (!p) {
        fprintf(stderr, "%s: %s has no %s\n", tool, path, name);
        exit(1);
    }
    memcpy(fn, &p, sizeof p);
}

#endif
