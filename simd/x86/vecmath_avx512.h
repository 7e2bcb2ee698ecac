/* 2^x, GELU, tanh and the GEMM epilogue activations on zmm registers (static inline only: a
 * shared non-inline copy compiled with AVX-512 flags could be picked for AVX2 hosts). Mirrors
 * the libm calls of src/activation.h to within ~2 ulp-scale absolute error (< 1e-6). */
#ifndef TFE_VECMATH_AVX512_H
#define TFE_VECMATH_AVX512_H

#include <immintrin.h>

#include "gemm.h"

/* 2^x: f = x - floor(x) in [0, 1) by one vreduceps (AVX512DQ), a degree-5 polynomial for 2^f
 * (near-minimax on relative error, fitted with p(0) = 1: within 1.7e-7 of 2^f), then vscalefps
 * by 2^floor(x), which gives 0 far below the float range (also for x = -inf) and inf far above.
 * Seven instructions where a round-to-nearest range reduction (n·ln2 + r, two-constant Cody-
 * Waite, degree-6 polynomial) took thirteen: the softmax's and the activations' exponential. */
static inline __m512 tfe_exp2_avx512(__m512 x)
{
    __m512 f = _mm512_reduce_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 p = _mm512_set1_ps(1.867131097e-03f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.017027915e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.579991639e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.401644439e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931512952e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, x);
}

/* 1/x from the 14-bit estimate and one Newton step (~2^-28 relative): a quarter of the cost of
 * vdivps, which would otherwise dominate the GELU epilogue. */
static inline __m512 tfe_recip_avx512(__m512 x)
{
    __m512 r = _mm512_rcp14_ps(x);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(x, r, _mm512_set1_ps(2.0f)));
}

/* GELU(x) = x·Φ(x), Φ the standard normal CDF, with erf from Abramowitz–Stegun 7.1.26
 * (|error| <= 1.5e-7): for z = |x|/√2, 1 - erf(z) = t·P(t)·e^{-z²}, t = 1/(1 + p·z). So
 * q = 1 - Φ(|x|) = 0.5·t·P(t)·2^{-x²·log2(e)/2} (the 0.5 and 1/√2 folded into the constants),
 * and Φ(x) = 0.5 + sign(x)·(0.5 - q) (one vpternlogd puts x's sign on 0.5 - q). 23 instructions
 * where erf's odd-symmetry form with a separate e^x took 35: 0.63x the time (3.6 against 5.7 ns
 * a vector, in L1), the same worst error (1e-7 · (1 + |x|) against double erf). */
static inline __m512 tfe_gelu_avx512(__m512 x)
{
    const __m512 sign = _mm512_set1_ps(-0.0f);
    const __m512 ax = _mm512_andnot_ps(sign, x);
    const __m512 t = tfe_recip_avx512(_mm512_fmadd_ps(
        _mm512_set1_ps(0.3275911f * 0.70710678118654752f), ax, _mm512_set1_ps(1.0f)));
    __m512 p = _mm512_set1_ps(0.5f * 1.061405429f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.5f * -1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.5f * 1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.5f * -0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.5f * 0.254829592f));
    p = _mm512_mul_ps(p, t);
    const __m512 e = tfe_exp2_avx512(
        _mm512_mul_ps(x, _mm512_mul_ps(x, _mm512_set1_ps(-0.5f * 1.44269504088896341f))));
    const __m512 r = _mm512_fnmadd_ps(p, e, _mm512_set1_ps(0.5f)); /* 0.5 - q */
    /* 0x78: r XOR (x AND sign) */
    const __m512 rs = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
        _mm512_castps_si512(r), _mm512_castps_si512(x), _mm512_castps_si512(sign), 0x78));
    return _mm512_fmadd_ps(x, rs, _mm512_mul_ps(x, _mm512_set1_ps(0.5f)));
}

/* tanh(u) = 1 - 2 / (e^{2u} + 1), e^{2u} = 2^{2u·log2(e)}. */
static inline __m512 tfe_tanh_avx512(__m512 u)
{
    /* |u| <= 9: tanh is 1 - 3e-8 there already, and e^{2u} stays finite for the reciprocal. */
    u = _mm512_max_ps(_mm512_min_ps(u, _mm512_set1_ps(9.0f)), _mm512_set1_ps(-9.0f));
    __m512 e = tfe_exp2_avx512(_mm512_mul_ps(u, _mm512_set1_ps(2.0f * 1.44269504088896341f)));
    __m512 r = tfe_recip_avx512(_mm512_add_ps(e, _mm512_set1_ps(1.0f)));
    return _mm512_fnmadd_ps(_mm512_set1_ps(2.0f), r, _mm512_set1_ps(1.0f));
}

static inline __m512 tfe_act_avx512(int act, __m512 x)
{
    switch (act) {
    case TFE_GEMM_ACT_RELU: return _mm512_max_ps(x, _mm512_setzero_ps());
    case TFE_GEMM_ACT_GELU: return tfe_gelu_avx512(x);
    case TFE_GEMM_ACT_GELU_TANH: {
        __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
        __m512 u = _mm512_mul_ps(_mm512_set1_ps(0.79788456080286536f),
                                 _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), x3, x));
        return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x),
                             _mm512_add_ps(_mm512_set1_ps(1.0f), tfe_tanh_avx512(u)));
    }
    default: return x;
    }
}

/* Lane mask for the first `left` floats of a 16-float vector (any int: <= 0 none, >= 16 all). */
static inline __mmask16 tfe_tail_mask_avx512(int left)
{
    return left >= 16 ? (__mmask16)0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
}

/* In place: r[i] holds row i of a 16×16 block on entry, column i on return. Unpack pairs of
 * rows, then pairs of pairs, then two rounds of 128-bit lane shuffles (64 shuffles for 256
 * values, against ~3 scalar instructions a value). */
static inline void tfe_transpose16_avx512(__m512 r[16])
{
    __m512 a[16];
    for (int k = 0; k < 8; k++) {
        a[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        a[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    for (int k = 0; k < 4; k++) {
        __m512d x0 = _mm512_castps_pd(a[4 * k]), x1 = _mm512_castps_pd(a[4 * k + 1]);
        __m512d x2 = _mm512_castps_pd(a[4 * k + 2]), x3 = _mm512_castps_pd(a[4 * k + 3]);
        r[4 * k] = _mm512_castpd_ps(_mm512_unpacklo_pd(x0, x2));
        r[4 * k + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(x0, x2));
        r[4 * k + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(x1, x3));
        r[4 * k + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(x1, x3));
    }
    /* Now r[4k + c], 128-bit lane L, holds rows 4k..4k+3 of column 4L + c. */
    for (int c = 0; c < 4; c++) {
        __m512 u0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
        __m512 u1 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xdd);
        __m512 u2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
        __m512 u3 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xdd);
        a[c] = _mm512_shuffle_f32x4(u0, u2, 0x88);
        a[4 + c] = _mm512_shuffle_f32x4(u1, u3, 0x88);
        a[8 + c] = _mm512_shuffle_f32x4(u0, u2, 0xdd);
        a[12 + c] = _mm512_shuffle_f32x4(u1, u3, 0xdd);
    }
    for (int c = 0; c < 16; c++)
        r[c] = a[c];
}

#endif
