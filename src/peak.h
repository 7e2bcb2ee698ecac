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

TFE_PEAK_KERNEL(tfe_peak_fma__scalar);
TFE_PEAK_KERNEL(tfe_peak_fma_ymm__avx2);
TFE_PEAK_KERNEL(tfe_peak_fma_zmm__avx512);
TFE_PEAK_KERNEL(tfe_peak_fma_q__neon);
TFE_PEAK_KERNEL(tfe_peak_bf16x3__amx);

#endif
