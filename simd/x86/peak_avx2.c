/* Peak fp32 FMA throughput on ymm registers (mirrors tfe_peak_fma__scalar in src/peak.c). */
#include <immintrin.h>

#include "peak.h"

/* 12 independent accumulators of 16 ymm: covers FMA latency 4 × 2 pipes with slack. */
TFE_PEAK_KERNEL(tfe_peak_fma_ymm__avx2)
{
    __m256 acc[12];
    const __m256 b = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
    for (int j = 0; j < 12; j++)
        acc[j] = _mm256_set1_ps((float)j);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
        for (int j = 0; j < 12; j++)
            acc[j] = _mm256_fmadd_ps(acc[j], b, c);
    }
    __m256 s = acc[0];
    for (int j = 1; j < 12; j++)
        s = _mm256_add_ps(s, acc[j]);
    float out[8];
    _mm256_storeu_ps(out, s);
    volatile float sink = out[0];
    (void)sink;
    return 2.0 * 8.0 * 12.0 * (double)iters;
}
