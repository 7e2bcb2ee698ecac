/* Peak fp32 FMA throughput on NEON q-registers (mirrors tfe_peak_fma__scalar in src/peak.c). */
#include <arm_neon.h>

#include "peak.h"

/* 24 independent accumulators of 32 q-registers: covers FMA latency 4 × up to 4 FMA pipes
 * (Neoverse V1/V2, Apple cores) with slack, and leaves the two constants their registers. */
TFE_PEAK_KERNEL(tfe_peak_fma_q__neon)
{
    float32x4_t acc[24];
    const float32x4_t b = vdupq_n_f32(0.9999999f), c = vdupq_n_f32(1e-7f);
    for (int j = 0; j < 24; j++)
        acc[j] = vdupq_n_f32((float)j);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 24
        for (int j = 0; j < 24; j++)
            acc[j] = vfmaq_f32(c, acc[j], b);
    }
    float32x4_t s = acc[0];
    for (int j = 1; j < 24; j++)
        s = vaddq_f32(s, acc[j]);
    volatile float sink = vgetq_lane_f32(s, 0);
    (void)sink;
    return 2.0 * 4.0 * 24.0 * (double)iters;
}
