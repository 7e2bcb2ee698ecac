/* Scalar activations shared by the portable kernels and the encoder (exact per DESIGN §1). */
#ifndef TFE_ACTIVATION_H
#define TFE_ACTIVATION_H

#include <math.h>

#include "gemm.h"

static inline float tfe_act_scalar(int act, float x)
{
    switch (act) {
    case TFE_GEMM_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case TFE_GEMM_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case TFE_GEMM_ACT_GELU_TANH: {
        float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
        return 0.5f * x * (1.0f + tanhf(u));
    }
    default: return x;
    }
}

#endif
