/* AVX-512 LayerNorm with fused residual add (mirrors tfe_layernorm__scalar in
 * src/layernorm_scalar.c): two passes over z = x + r, masked tails, no over-read. */
#include <immintrin.h>
#include <math.h>

#include "layernorm.h"

static inline __m512 load_z(__mmask16 m, const float *x, const float *r, int i)
{
    __m512 z = _mm512_maskz_loadu_ps(m, x + i);
    return r ? _mm512_add_ps(z, _mm512_maskz_loadu_ps(m, r + i)) : z;
}

TFE_LAYERNORM_KERNEL(tfe_layernorm__avx512)
{
    const int full = n & ~15;
    const __mmask16 tail = (__mmask16)((1u << (n & 15)) - 1);
    __m512 s = _mm512_setzero_ps();
    for (int i = 0; i < full; i += 16)
        s = _mm512_add_ps(s, load_z(0xffff, x, r, i));
    if (tail)
        s = _mm512_add_ps(s, load_z(tail, x, r, full));
    const float mean = _mm512_reduce_add_ps(s) / (float)n;
    const __m512 vm = _mm512_set1_ps(mean);
    /* Second pass around the mean: no cancellation for rows with a large mean. */
    __m512 q = _mm512_setzero_ps();
    for (int i = 0; i < full; i += 16) {
        __m512 d = _mm512_sub_ps(load_z(0xffff, x, r, i), vm);
        q = _mm512_fmadd_ps(d, d, q);
    }
    if (tail) {
        __m512 d = _mm512_maskz_sub_ps(tail, load_z(tail, x, r, full), vm);
        q = _mm512_fmadd_ps(d, d, q);
    }
    const float inv = 1.0f / sqrtf(_mm512_reduce_add_ps(q) / (float)n + eps);
    const __m512 vi = _mm512_set1_ps(inv);
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = i < full ? (__mmask16)0xffff : tail;
        __m512 d = _mm512_mul_ps(_mm512_sub_ps(load_z(m, x, r, i), vm), vi);
        __m512 g = _mm512_maskz_loadu_ps(m, gamma + i), b = _mm512_maskz_loadu_ps(m, beta + i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(d, g, b));
    }
}
