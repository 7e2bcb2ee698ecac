/* Peak fp32 FMA throughput on zmm registers (mirrors tfe_peak_fma__scalar in src/peak.c). */
#include <immintrin.h>

#include "peak.h"

/* 16 independent accumulators: FMA latency 4 × 2 pipes needs 8; 16 hides any scheduling slack. */
TFE_PEAK_KERNEL(tfe_peak_fma_zmm__avx512)
{
    __m512 acc[16];
    const __m512 b = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
    for (int j = 0; j < 16; j++)
        acc[j] = _mm512_set1_ps((float)j);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++)
            acc[j] = _mm512_fmadd_ps(acc[j], b, c);
    }
    __m512 s = acc[0];
    for (int j = 1; j < 16; j++)
        s = _mm512_add_ps(s, acc[j]);
    volatile float sink = _mm512_reduce_add_ps(s);
    (void)sink;
    return 2.0 * 16.0 * 16.0 * (double)iters;
}
