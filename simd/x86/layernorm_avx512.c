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

/* The sum of four accumulators' lanes (pairs first). */
static inline float sum4(__m512 a, __m512 b, __m512 c, __m512 d)
{
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d)));
}

/* Four accumulators per pass: one chain of adds waits on the add latency at every vector (a
 * 768-float row: 48 dependent adds a pass); the layernorm/.../rows128 bench row took 1.4x the
 * time with one. */
TFE_LAYERNORM_KERNEL(tfe_layernorm__avx512)
{
    const int full = n & ~15, quad = n & ~63;
    const __mmask16 tail = (__mmask16)((1u << (n & 15)) - 1);
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i < quad; i += 64) {
        s0 = _mm512_add_ps(s0, load_z(0xffff, x, r, i));
        s1 = _mm512_add_ps(s1, load_z(0xffff, x, r, i + 16));
        s2 = _mm512_add_ps(s2, load_z(0xffff, x, r, i + 32));
        s3 = _mm512_add_ps(s3, load_z(0xffff, x, r, i + 48));
    }
    for (; i < full; i += 16)
        s0 = _mm512_add_ps(s0, load_z(0xffff, x, r, i));
    if (tail)
        s1 = _mm512_add_ps(s1, load_z(tail, x, r, full));
    const float mean = sum4(s0, s1, s2, s3) / (float)n;
    const __m512 vm = _mm512_set1_ps(mean);
    /* Second pass around the mean: no cancellation for rows with a large mean. */
    __m512 q0 = _mm512_setzero_ps(), q1 = q0, q2 = q0, q3 = q0;
    for (i = 0; i < quad; i += 64) {
        const __m512 d0 = _mm512_sub_ps(load_z(0xffff, x, r, i), vm);
        const __m512 d1 = _mm512_sub_ps(load_z(0xffff, x, r, i + 16), vm);
        const __m512 d2 = _mm512_sub_ps(load_z(0xffff, x, r, i + 32), vm);
        const __m512 d3 = _mm512_sub_ps(load_z(0xffff, x, r, i + 48), vm);
        q0 = _mm512_fmadd_ps(d0, d0, q0);
        q1 = _mm512_fmadd_ps(d1, d1, q1);
        q2 = _mm512_fmadd_ps(d2, d2, q2);
        q3 = _mm512_fmadd_ps(d3, d3, q3);
    }
    for (; i < full; i += 16) {
        const __m512 d = _mm512_sub_ps(load_z(0xffff, x, r, i), vm);
        q0 = _mm512_fmadd_ps(d, d, q0);
    }
    if (tail) {
        const __m512 d = _mm512_maskz_sub_ps(tail, load_z(tail, x, r, full), vm);
        q1 = _mm512_fmadd_ps(d, d, q1);
    }
    const float var = sum4(q0, q1, q2, q3) / (float)n;
    const __m512 vi = _mm512_set1_ps(1.0f / sqrtf(var + eps));
    for (i = 0; i < n; i += 16) {
        __mmask16 m = i < full ? (__mmask16)0xffff : tail;
        __m512 d = _mm512_mul_ps(_mm512_sub_ps(load_z(m, x, r, i), vm), vi);
        __m512 g = _mm512_maskz_loadu_ps(m, gamma + i), b = _mm512_maskz_loadu_ps(m, beta + i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(d, g, b));
    }
}
