/* exp, GELU, tanh and the GEMM epilogue activations on ymm registers (static inline only, see
 * STYLE.md). Mirrors the libm calls of src/activation.h to within ~1e-6 absolute error. */
#ifndef TFE_VECMATH_AVX2_H
#define TFE_VECMATH_AVX2_H

#include <immintrin.h>

#include "gemm.h"

/* e^x: x = n·ln2 + r with |r| <= ln2/2, degree-6 polynomial, 2^n built in the exponent field.
 * The clamp keeps n inside the normal range so the bit trick never overflows. */
static inline __m256 tfe_exp_avx2(__m256 x)
{
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
    x = _mm256_min_ps(x, _mm256_set1_ps(88.3f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187045e-06f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* n in [-126, 127]: (n + 127) << 23 is the bit pattern of 2^n. */
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* 2^x for x <= 127, x below -126 taken as -126 (2^-126, not 0: callers multiply it by zeros or
 * add it to sums of 1 and more). The softmax's exponent, a third cheaper than tfe_exp_avx2: no
 * ln 2 split, since x = n + r with n the nearest integer is exact; n comes from adding
 * 1.5·2^23 + 127, which leaves n + 127 in the sum's low mantissa bits, and shifting those bits
 * up into the exponent field gives 2^n with one integer op. 2^r for |r| <= 1/2: degree 5,
 * interpolated at Chebyshev nodes with the constant term 1 (2^0 is exactly 1), 2.6e-7
 * relative error evaluated in fp32. */
static inline __m256 tfe_exp2_avx2(__m256 x)
{
    const __m256 shift = _mm256_set1_ps(12582912.0f + 127.0f);
    x = _mm256_max_ps(x, _mm256_set1_ps(-126.0f));
    const __m256 t = _mm256_add_ps(x, shift);
    const __m256 r = _mm256_sub_ps(x, _mm256_sub_ps(t, shift));
    __m256 p = _mm256_set1_ps(1.338130212e-03f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(9.666368365e-03f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.550381169e-02f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(2.402234972e-01f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(6.931471825e-01f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23)));
}

/* GELU(x) = x·Φ(x), as tfe_gelu_avx512 (vecmath_avx512.h) explains: q = 1 - Φ(|x|) =
 * 0.5·t·P(t)·e^{-x²/2} from Abramowitz–Stegun 7.1.26, Φ(x) = 0.5 + sign(x)·(0.5 - q). The
 * reciprocal is rcpps and one Newton step (~2^-22), not vdivps. */
static inline __m256 tfe_gelu_avx2(__m256 x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 ax = _mm256_andnot_ps(sign, x);
    const __m256 d = _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f * 0.70710678118654752f), ax,
                                     _mm256_set1_ps(1.0f));
    __m256 t = _mm256_rcp_ps(d);
    t = _mm256_mul_ps(t, _mm256_fnmadd_ps(d, t, _mm256_set1_ps(2.0f)));
    __m256 p = _mm256_set1_ps(0.5f * 1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.5f * -1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.5f * 1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.5f * -0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.5f * 0.254829592f));
    p = _mm256_mul_ps(p, t);
    /* e^{-x²/2} = 2^{-x²·log2(e)/2}: an exponent <= 0, tfe_exp2_avx2's cheaper range */
    const __m256 e = tfe_exp2_avx2(
        _mm256_mul_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(-0.5f * 1.44269504088896341f))));
    const __m256 r = _mm256_fnmadd_ps(p, e, _mm256_set1_ps(0.5f)); /* 0.5 - q */
    const __m256 rs = _mm256_xor_ps(r, _mm256_and_ps(x, sign));
    return _mm256_fmadd_ps(x, rs, _mm256_mul_ps(x, _mm256_set1_ps(0.5f)));
}

/* tanh(u) = 1 - 2 / (e^{2u} + 1). */
static inline __m256 tfe_tanh_avx2(__m256 u)
{
    __m256 e = tfe_exp_avx2(_mm256_add_ps(u, u));
    return _mm256_sub_ps(_mm256_set1_ps(1.0f),
                         _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
}

static inline __m256 tfe_act_avx2(int act, __m256 x)
{
    switch (act) {
    case TFE_GEMM_ACT_RELU: return _mm256_max_ps(x, _mm256_setzero_ps());
    case TFE_GEMM_ACT_GELU: return tfe_gelu_avx2(x);
    case TFE_GEMM_ACT_GELU_TANH: {
        __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
        __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.79788456080286536f),
                                 _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x));
        return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x),
                             _mm256_add_ps(_mm256_set1_ps(1.0f), tfe_tanh_avx2(u)));
    }
    default: return x;
    }
}

/* CALL(M) with M the compile-time constant equal to rows (1..6; 6 at most: the 6x16 register
 * tile of the GEMM and the attention), so each row count gets its own unrolled tile. */
#define TFE_BY_ROWS6(rows, CALL)                                                               \
    switch (rows) {                                                                            \
    case 6: CALL(6); break;                                                                    \
    case 5: CALL(5); break;                                                                    \
    case 4: CALL(4); break;                                                                    \
    case 3: CALL(3); break;                                                                    \
    case 2: CALL(2); break;                                                                    \
    default: CALL(1); break;                                                                   \
    }

/* The sum and the maximum of v's 8 lanes. */
static inline float tfe_hsum_avx2(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float tfe_hmax_avx2(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* In place: on return r[j] holds column j of the 8×8 block whose rows r[0..7] held. */
static inline void tfe_transpose8_avx2(__m256 r[8])
{
    __m256 u[8], v[8];
    for (int i = 0; i < 4; i++) {
        u[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        u[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            v[4 * i + j] = _mm256_shuffle_ps(u[4 * i + j], u[4 * i + j + 2], 0x44);
            v[4 * i + j + 2] = _mm256_shuffle_ps(u[4 * i + j], u[4 * i + j + 2], 0xee);
        }
    /* column c < 4 of rows 0..3 sits in v[order[c]]'s low lane, of rows 4..7 in
     * v[order[c] + 4]'s; column c + 4 in the high lanes */
    static const int order[4] = {0, 2, 1, 3};
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(v[order[c]], v[order[c] + 4], 0x20);
        r[c + 4] = _mm256_permute2f128_ps(v[order[c]], v[order[c] + 4], 0x31);
    }
}

/* Lane mask for the first `n` (0..8) floats, for maskload/maskstore tails. */
static inline __m256i tfe_tail_mask_avx2(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#endif
