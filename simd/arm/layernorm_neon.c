/* NEON LayerNorm with fused residual add (mirrors tfe_layernorm__scalar in
 * src/layernorm_scalar.c): two passes around the mean, partial loads/stores for n % 4. */
#include <arm_neon.h>
#include <math.h>

#include "layernorm.h"
#include "vecmath_neon.h"

#define INLINE static inline __attribute__((always_inline))

/* z = x + r for the 4 floats at i. */
INLINE float32x4_t load_z(const int HAS_R, const float *x, const float *r, int i)
{
    float32x4_t z = vld1q_f32(x + i);
    return HAS_R ? vaddq_f32(z, vld1q_f32(r + i)) : z;
}

/* z = x + r for the first w (1..3) floats at i; the other lanes read as 0. */
INLINE float32x4_t load_z_tail(const int HAS_R, const float *x, const float *r, int i, int w)
{
    float32x4_t z = tfe_load_partial_neon(x + i, w);
    return HAS_R ? vaddq_f32(z, tfe_load_partial_neon(r + i, w)) : z;
}

/* Four accumulators per pass hide the add latency of a single dependency chain; y is written
 * only after the z it replaces has been read, so y may alias x or r. */
INLINE void layernorm(const int HAS_R, int n, const float *x, const float *r, const float *gamma,
                      const float *beta, float eps, float *y)
{
    const int nfull = n & ~3, w = n & 3;
    const uint32x4_t tail = tfe_tail_mask_neon(w);
    float32x4_t s[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    int i = 0;
    for (; i + 16 <= nfull; i += 16)
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++)
            s[u] = vaddq_f32(s[u], load_z(HAS_R, x, r, i + 4 * u));
    for (; i < nfull; i += 4)
        s[0] = vaddq_f32(s[0], load_z(HAS_R, x, r, i));
    if (w)
        s[1] = vaddq_f32(s[1], load_z_tail(HAS_R, x, r, nfull, w));
    const float mean = vaddvq_f32(vaddq_f32(vaddq_f32(s[0], s[1]), vaddq_f32(s[2], s[3]))) / (float)n;

    const float32x4_t mv = vdupq_n_f32(mean);
    for (int u = 0; u < 4; u++)
        s[u] = vdupq_n_f32(0.0f);
    for (i = 0; i + 16 <= nfull; i += 16)
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
            float32x4_t d = vsubq_f32(load_z(HAS_R, x, r, i + 4 * u), mv);
            s[u] = vfmaq_f32(s[u], d, d);
        }
    for (; i < nfull; i += 4) {
        float32x4_t d = vsubq_f32(load_z(HAS_R, x, r, i), mv);
        s[0] = vfmaq_f32(s[0], d, d);
    }
    if (w) { /* lanes past n read 0, which is not the mean: clear them */
        float32x4_t d = vsubq_f32(load_z_tail(HAS_R, x, r, nfull, w), mv);
        d = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(d), tail));
        s[1] = vfmaq_f32(s[1], d, d);
    }
    const float var = vaddvq_f32(vaddq_f32(vaddq_f32(s[0], s[1]), vaddq_f32(s[2], s[3]))) / (float)n;
    const float inv = 1.0f / sqrtf(var + eps);

    for (i = 0; i < nfull; i += 4) {
        float32x4_t t = vmulq_n_f32(vsubq_f32(load_z(HAS_R, x, r, i), mv), inv);
        vst1q_f32(y + i, vfmaq_f32(vld1q_f32(beta + i), t, vld1q_f32(gamma + i)));
    }
    if (w) {
        float32x4_t t = vmulq_n_f32(vsubq_f32(load_z_tail(HAS_R, x, r, nfull, w), mv), inv);
        tfe_store_partial_neon(y + nfull, vfmaq_f32(tfe_load_partial_neon(beta + nfull, w), t,
                                                    tfe_load_partial_neon(gamma + nfull, w)), w);
    }
}

TFE_LAYERNORM_KERNEL(tfe_layernorm__neon)
{
    if (r)
        layernorm(1, n, x, r, gamma, beta, eps, y);
    else
        layernorm(0, n, x, NULL, gamma, beta, eps, y);
}
