/* Small helpers for splitting work over an OpenMP team without OpenMP in the signature. */
#ifndef TFE_PARALLEL_H
#define TFE_PARALLEL_H

/* Splits `count` items into `parts` near-equal contiguous ranges; range `i` is [*lo, *hi). */
static inline void tfe_split_range(int count, int parts, int i, int *lo, int *hi)
{
    int base = count / parts, extra = count % parts;
    *lo = i * base + (i < extra ? i : extra);
    *hi = *lo + base + (i < extra ? 1 : 0);
}

#endif
