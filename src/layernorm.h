/* LayerNorm fused with the residual add: kernel contract and registry descriptor. */
#ifndef TFE_LAYERNORM_H
#define TFE_LAYERNORM_H

#include "tfenc.h"

/* One row of n floats: y = (z - mean(z)) / sqrt(var(z) + eps) * gamma + beta with z = x + r
 * (r may be NULL: z = x). Biased variance, computed in two passes around the mean so large
 * means do not cancel. y may alias x or r (each element is read before it is written). */
#define TFE_LAYERNORM_KERNEL(fn)                                                               \
    void fn(int n, const float *x, const float *r, const float *gamma, const float *beta,     \
            float eps, float *y)
typedef TFE_LAYERNORM_KERNEL((*tfe_layernorm_fn));

typedef struct tfe_layernorm_impl {
    const char *name; /* e.g. "residual__avx512" */
    tfe_isa isa;
    tfe_layernorm_fn kernel;
} tfe_layernorm_impl;

TFE_LAYERNORM_KERNEL(tfe_layernorm__scalar);
TFE_LAYERNORM_KERNEL(tfe_layernorm__avx2);
TFE_LAYERNORM_KERNEL(tfe_layernorm__avx512);
TFE_LAYERNORM_KERNEL(tfe_layernorm__neon);

#endif
