/* Peak fp32 FMA throughput kernels (per ISA) and their registry descriptor. */
#ifndef TFE_PEAK_H
#define TFE_PEAK_H

#include "tfenc.h"

/* Runs `iters` rounds of independent FMA chains with no memory traffic; returns the number of
 * floating-point operations done (2 per multiply-add lane). */
#define TFE_PEAK_KERNEL(fn) double fn(long iters)
typedef TFE_PEAK_KERNEL((*tfe_peak_fn));

typedef struct tfe_peak_impl {
    const char *name; /* e.g. "fma_zmm__avx512" */
    tfe_isa isa;
    tfe_peak_fn kernel;
} tfe_peak_impl;

/* Peaks of two ISAs on `threads` threads, each thread's rate over its own CPU time, in short
 * rounds taken in turn (a then b, eight times, ~`seconds` in all), best round of each: so
 * their ratio holds up on a busy host, where wall-clock peaks only measure the load. */
void tfe_peak_pair_gflops(tfe_isa a, tfe_isa b, int threads, double seconds, double *ga,
                          double *gb);

TFE_PEAK_KERNEL(tfe_peak_fma__scalar);
TFE_PEAK_KERNEL(tfe_peak_fma_ymm__avx2);
TFE_PEAK_KERNEL(tfe_peak_fma_zmm__avx512);
TFE_PEAK_KERNEL(tfe_peak_fma_q__neon);
TFE_PEAK_KERNEL(tfe_peak_bf16x3__amx);

#endif
