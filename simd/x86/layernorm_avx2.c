/* AVX2 LayerNorm with fused residual add (mirrors tfe_layernorm__scalar in
 * src/layernorm_scalar.c): two passes around the mean, masked loads/stores for n % 8. */
#include <immintrin.h>
#include <math.h>

#include "layernorm.h"
#include "vecmath_avx2.h"

#define INLINE static inline __attribute__((always_inline))

/* The sum of four accumulators' lanes (pairs first). */
INLINE float hsum4(__m256 a, __m256 b, __m256 c, __m256 d)
{
    return tfe_hsum_avx2(_mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
}

/* z = x + r for the 8 floats at i. */
INLINE __m256 load_z(const int HAS_R, const float *x, const float *r, int i)
{
    __m256 z = _mm256_loadu_ps(x + i);
    return HAS_R ? _mm256_add_ps(z, _mm256_loadu_ps(r + i)) : z;
}

/* z = x + r for the lanes of `tail` at i; the other lanes read as 0. */
INLINE __m256 load_z_tail(const int HAS_R, const float *x, const float *r, int i, __m256i tail)
{
    __m256 z = _mm256_maskload_ps(x + i, tail);
    return HAS_R ? _mm256_add_ps(z, _mm256_maskload_ps(r + i, tail)) : z;
}

/* Four accumulators per pass hide the add latency of a single dependency chain (with two, the
 * layernorm/.../rows128 bench row took 1.16x the time); y is written only after the z it
 * replaces has been read, so y may alias x or r. */
INLINE void layernorm(const int HAS_R, int n, const float *x, const float *r, const float *gamma,
                      const float *beta, float eps, float *y)
{
    const int nfull = n & ~7;
    const __m256i tail = tfe_tail_mask_avx2(n & 7);
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 32 <= nfull; i += 32) {
        s0 = _mm256_add_ps(s0, load_z(HAS_R, x, r, i));
        s1 = _mm256_add_ps(s1, load_z(HAS_R, x, r, i + 8));
        s2 = _mm256_add_ps(s2, load_z(HAS_R, x, r, i + 16));
        s3 = _mm256_add_ps(s3, load_z(HAS_R, x, r, i + 24));
    }
    for (; i < nfull; i += 8)
        s0 = _mm256_add_ps(s0, load_z(HAS_R, x, r, i));
    if (nfull < n)
        s1 = _mm256_add_ps(s1, load_z_tail(HAS_R, x, r, nfull, tail));
    const float mean = hsum4(s0, s1, s2, s3) / (float)n;

    const __m256 mv = _mm256_set1_ps(mean);
    s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (i = 0; i + 32 <= nfull; i += 32) {
        __m256 d0 = _mm256_sub_ps(load_z(HAS_R, x, r, i), mv);
        __m256 d1 = _mm256_sub_ps(load_z(HAS_R, x, r, i + 8), mv);
        __m256 d2 = _mm256_sub_ps(load_z(HAS_R, x, r, i + 16), mv);
        __m256 d3 = _mm256_sub_ps(load_z(HAS_R, x, r, i + 24), mv);
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
        s2 = _mm256_fmadd_ps(d2, d2, s2);
        s3 = _mm256_fmadd_ps(d3, d3, s3);
    }
    for (; i < nfull; i += 8) {
        __m256 d0 = _mm256_sub_ps(load_z(HAS_R, x, r, i), mv);
        s0 = _mm256_fmadd_ps(d0, d0, s0);
    }
    if (nfull < n) { /* masked lanes read 0, which is not the mean: clear them */
        __m256 d1 = _mm256_sub_ps(load_z_tail(HAS_R, x, r, nfull, tail), mv);
        d1 = _mm256_and_ps(d1, _mm256_castsi256_ps(tail));
        s1 = _mm256_fmadd_ps(d1, d1, s1);
    }
    const float var = hsum4(s0, s1, s2, s3) / (float)n;
    const __m256 inv = _mm256_set1_ps(1.0f / sqrtf(var + eps));

    for (i = 0; i < nfull; i += 8) {
        __m256 t = _mm256_mul_ps(_mm256_sub_ps(load_z(HAS_R, x, r, i), mv), inv);
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(t, _mm256_loadu_ps(gamma + i),
                                                _mm256_loadu_ps(beta + i)));
    }
    if (nfull < n) {
        __m256 t = _mm256_mul_ps(_mm256_sub_ps(load_z_tail(HAS_R, x, r, nfull, tail), mv), inv);
        _mm256_maskstore_ps(y + nfull, tail,
                            _mm256_fmadd_ps(t, _mm256_maskload_ps(gamma + nfull, tail),
                                            _mm256_maskload_ps(beta + nfull, tail)));
    }
}

TFE_LAYERNORM_KERNEL(tfe_layernorm__avx2)
{
    if (r)
        layernorm(1, n, x, r, gamma, beta, eps, y);
    else
        layernorm(0, n, x, NULL, gamma, beta, eps, y);
}
