/* exp, erf, tanh, the GEMM epilogue activations and partial loads/stores on NEON q-registers
 * (static inline only, see STYLE.md). Mirrors simd/x86/vecmath_avx2.h and so the libm calls of
 * src/activation.h to within ~1e-6 absolute error. */
#ifndef TFE_VECMATH_NEON_H
#define TFE_VECMATH_NEON_H

#include <arm_neon.h>

#include "gemm.h"

/* e^x: x = n·ln2 + r with |r| <= ln2/2, degree-6 polynomial, 2^n built in the exponent field.
 * The clamp keeps n inside the normal range so the bit trick never overflows. */
static inline float32x4_t tfe_exp_neon(float32x4_t x)
{
    x = vmaxq_f32(x, vdupq_n_f32(-87.3f));
    x = vminq_f32(x, vdupq_n_f32(88.3f));
    float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693145751953125f));
    r = vfmsq_f32(r, n, vdupq_n_f32(1.428606765330187045e-06f));
    float32x4_t p = vdupq_n_f32(1.0f / 720.0f);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    /* n in [-126, 127]: (n + 127) << 23 is the bit pattern of 2^n. */
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(e));
}

/* erf(x), Abramowitz–Stegun 7.1.26 (|error| <= 1.5e-7), odd symmetry via the sign bit. */
static inline float32x4_t tfe_erf_neon(float32x4_t x)
{
    float32x4_t ax = vabsq_f32(x);
    float32x4_t t = vdivq_f32(vdupq_n_f32(1.0f), vfmaq_n_f32(vdupq_n_f32(1.0f), ax, 0.3275911f));
    float32x4_t p = vdupq_n_f32(1.061405429f);
    p = vfmaq_f32(vdupq_n_f32(-1.453152027f), p, t);
    p = vfmaq_f32(vdupq_n_f32(1.421413741f), p, t);
    p = vfmaq_f32(vdupq_n_f32(-0.284496736f), p, t);
    p = vfmaq_f32(vdupq_n_f32(0.254829592f), p, t);
    p = vmulq_f32(p, t);
    float32x4_t e = tfe_exp_neon(vnegq_f32(vmulq_f32(ax, ax)));
    float32x4_t y = vfmsq_f32(vdupq_n_f32(1.0f), p, e);
    /* y >= 0, so copying x's sign bit in is the odd extension. */
    uint32x4_t sign = vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u));
    return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(y), sign));
}

/* tanh(u) = 1 - 2 / (e^{2u} + 1). */
static inline float32x4_t tfe_tanh_neon(float32x4_t u)
{
    float32x4_t e = tfe_exp_neon(vaddq_f32(u, u));
    return vsubq_f32(vdupq_n_f32(1.0f),
                     vdivq_f32(vdupq_n_f32(2.0f), vaddq_f32(e, vdupq_n_f32(1.0f))));
}

static inline float32x4_t tfe_act_neon(int act, float32x4_t x)
{
    switch (act) {
    case TFE_GEMM_ACT_RELU: return vmaxq_f32(x, vdupq_n_f32(0.0f));
    case TFE_GEMM_ACT_GELU: {
        float32x4_t e = tfe_erf_neon(vmulq_n_f32(x, 0.70710678118654752f));
        return vmulq_f32(vmulq_n_f32(x, 0.5f), vaddq_f32(vdupq_n_f32(1.0f), e));
    }
    case TFE_GEMM_ACT_GELU_TANH: {
        float32x4_t x3 = vmulq_f32(vmulq_f32(x, x), x);
        float32x4_t u = vmulq_n_f32(vfmaq_n_f32(x, x3, 0.044715f), 0.79788456080286536f);
        return vmulq_f32(vmulq_n_f32(x, 0.5f), vaddq_f32(vdupq_n_f32(1.0f), tfe_tanh_neon(u)));
    }
    default: return x;
    }
}

/* The first n floats at p (n <= 0: none, n >= 4: all four); the other lanes are 0. NEON has no
 * masked load, so tails are assembled from 64- and 32-bit loads that stay inside [p, p+n). */
static inline float32x4_t tfe_load_partial_neon(const float *p, int n)
{
    const float32x2_t z = vdup_n_f32(0.0f);
    switch (n <= 0 ? 0 : n >= 4 ? 4 : n) {
    case 4: return vld1q_f32(p);
    case 3: return vcombine_f32(vld1_f32(p), vld1_lane_f32(p + 2, z, 0));
    case 2: return vcombine_f32(vld1_f32(p), z);
    case 1: return vcombine_f32(vld1_lane_f32(p, z, 0), z);
    default: return vdupq_n_f32(0.0f);
    }
}

/* Stores the first n lanes of v to p (n <= 0: nothing, n >= 4: all four). */
static inline void tfe_store_partial_neon(float *p, float32x4_t v, int n)
{
    switch (n <= 0 ? 0 : n >= 4 ? 4 : n) {
    case 4: vst1q_f32(p, v); break;
    case 3: vst1_f32(p, vget_low_f32(v)); vst1q_lane_f32(p + 2, v, 2); break;
    case 2: vst1_f32(p, vget_low_f32(v)); break;
    case 1: vst1q_lane_f32(p, v, 0); break;
    default: break;
    }
}

/* All-ones lanes for the first n (0..4) lanes, for selects on tails. */
static inline uint32x4_t tfe_tail_mask_neon(int n)
{
    const int32x4_t lanes = vcombine_s32(vcreate_s32(0x0000000100000000ull),
                                         vcreate_s32(0x0000000300000002ull));
    return vcltq_s32(lanes, vdupq_n_s32(n));
}

/* acc + b·a[L]; the intrinsic wants a literal lane, L is one after inlining and unrolling. */
static inline __attribute__((always_inline)) float32x4_t tfe_fma_lane_neon(float32x4_t acc,
                                                                         float32x4_t b,
                                                                         float32x4_t a,
                                                                         const int L)
{
    switch (L) {
    case 0: return vfmaq_laneq_f32(acc, b, a, 0);
    case 1: return vfmaq_laneq_f32(acc, b, a, 1);
    case 2: return vfmaq_laneq_f32(acc, b, a, 2);
    default: return vfmaq_laneq_f32(acc, b, a, 3);
    }
}

#endif
