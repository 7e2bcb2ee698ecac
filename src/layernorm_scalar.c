/* Portable LayerNorm with fused residual add: the reference for the SIMD variants. */
#include <math.h>

#include "layernorm.h"

TFE_LAYERNORM_KERNEL(tfe_layernorm__scalar)
{
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += x[i] + (r ? r[i] : 0.0f);
    float mean = sum / (float)n;
    float var = 0.0f;
    for (int i = 0; i < n; i++) {
        float d = x[i] + (r ? r[i] : 0.0f) - mean;
        var += d * d;
    }
    float inv = 1.0f / sqrtf(var / (float)n + eps);
    for (int i = 0; i < n; i++) {
        float z = x[i] + (r ? r[i] : 0.0f);
        y[i] = (z - mean) * inv * gamma[i] + beta[i];
    }
}
