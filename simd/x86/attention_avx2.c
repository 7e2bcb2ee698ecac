/* AVX2 fused attention, 8 queries against 64-key blocks with an online softmax (mirrors
 * tfe_attention_q8k64__scalar in src/attention_scalar.c).
 *
 * Q·Kᵀ is vectorised over dh: transposing a K block would need 64×dh floats of scratch, but the
 * contract gives only tq×tk + 2·tq·dh_padded + 2·tq, so each dot product runs along a key row
 * and 8 of them are reduced together by one horizontal-add tree. P·V is a small GEMM
 * (P: nq×kb, V: kb×dh) vectorised over dh. Scratch: scores [8][64], the running P·V
 * accumulator [8][dhp] and a zero-padded copy of the query tile [8][dhp] (dhp = dh rounded up
 * to 16), so query loads and accumulator loads/stores never need masks; K, V and o do. */
#include <immintrin.h>
#include <math.h>

#include "attention.h"
#include "vecmath_avx2.h"

enum { TQ = 8, TK = 64 };

#define INLINE static inline __attribute__((always_inline))

/* The horizontal sums of a[0..3] then b[0..3], in order, in one vector. */
INLINE __m256 hsum8(const __m256 a[4], const __m256 b[4])
{
    __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
    __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(b[0], b[1]), _mm256_hadd_ps(b[2], b[3]));
    /* u0 holds the low-lane and high-lane partial sums of a[0..3] in its two halves. */
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

/* The 4 horizontal sums of a[0..3], in order. */
INLINE __m128 hsum4(const __m256 a[4])
{
    __m256 u = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
    return _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1));
}

INLINE float hmax(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

INLINE float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Scores of QB (1 or 2) queries against 4 key rows kr[0..3], written to s[i][0..3].
 * Budget: 2×4 = 8 accumulators + 2 query + 1 key vector = 11 of 16 ymm; 8 independent FMA
 * chains cover latency 4 × 2 pipes, and each key load feeds 2 FMAs. */
INLINE void score_block(const int QB, int dh, const float *qc, size_t dhp,
                        const float *const kr[4], __m256i tail, float scale, float *s)
{
    __m256 acc[2][4];
    for (int i = 0; i < QB; i++)
        for (int t = 0; t < 4; t++)
            acc[i][t] = _mm256_setzero_ps();
    int d = 0;
    for (; d + 8 <= dh; d += 8) {
        __m256 q0 = _mm256_load_ps(qc + d);
        __m256 q1 = QB > 1 ? _mm256_load_ps(qc + dhp + d) : q0;
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++) {
            __m256 kv = _mm256_loadu_ps(kr[t] + d);
            acc[0][t] = _mm256_fmadd_ps(q0, kv, acc[0][t]);
            if (QB > 1)
                acc[1][t] = _mm256_fmadd_ps(q1, kv, acc[1][t]);
        }
    }
    if (d < dh) { /* the key rows end here: masked loads; the padded query copy is zero */
        __m256 q0 = _mm256_load_ps(qc + d);
        __m256 q1 = QB > 1 ? _mm256_load_ps(qc + dhp + d) : q0;
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++) {
            __m256 kv = _mm256_maskload_ps(kr[t] + d, tail);
            acc[0][t] = _mm256_fmadd_ps(q0, kv, acc[0][t]);
            if (QB > 1)
                acc[1][t] = _mm256_fmadd_ps(q1, kv, acc[1][t]);
        }
    }
    if (QB > 1) {
        __m256 r = _mm256_mul_ps(hsum8(acc[0], acc[1]), _mm256_set1_ps(scale));
        _mm_store_ps(s, _mm256_castps256_ps128(r));
        _mm_store_ps(s + TK, _mm256_extractf128_ps(r, 1));
    } else {
        _mm_store_ps(s, _mm_mul_ps(hsum4(acc[0]), _mm_set1_ps(scale)));
    }
}

/* acc[i][0..16) = alpha[i]·acc[i] + Σ_j p[i][j]·v[j][0..16) for M (1..4) rows.
 * Budget: 4 rows × 2 ymm = 8 accumulators + 2 V + 1 broadcast = 11 of 16 ymm; per key,
 * 2 V loads + M broadcasts feed 2·M FMAs. MASKED: the V columns end inside these 16. */
INLINE void pv_block(const int M, const int MASKED, int kb, const float *p, const float *v,
                     size_t ld, float *acc, size_t dhp, const float *alpha, __m256i m0,
                     __m256i m1)
{
    __m256 c[4][2];
    for (int i = 0; i < M; i++) {
        __m256 a = _mm256_broadcast_ss(alpha + i);
        c[i][0] = _mm256_mul_ps(_mm256_load_ps(acc + i * dhp), a);
        c[i][1] = _mm256_mul_ps(_mm256_load_ps(acc + i * dhp + 8), a);
    }
    for (int j = 0; j < kb; j++) {
        const float *vj = v + (size_t)j * ld;
        __m256 v0 = MASKED ? _mm256_maskload_ps(vj, m0) : _mm256_loadu_ps(vj);
        __m256 v1 = MASKED ? _mm256_maskload_ps(vj + 8, m1) : _mm256_loadu_ps(vj + 8);
#pragma GCC unroll 4
        for (int i = 0; i < M; i++) {
            __m256 pb = _mm256_broadcast_ss(p + i * TK + j);
            c[i][0] = _mm256_fmadd_ps(pb, v0, c[i][0]);
            c[i][1] = _mm256_fmadd_ps(pb, v1, c[i][1]);
        }
    }
    for (int i = 0; i < M; i++) {
        _mm256_store_ps(acc + i * dhp, c[i][0]);
        _mm256_store_ps(acc + i * dhp + 8, c[i][1]);
    }
}

/* One 16-column strip of P·V for all nq rows: row blocks of 4, then the 1..3 left over. */
INLINE void pv_strip(const int MASKED, int nq, int kb, const float *p, const float *v, size_t ld,
                     float *acc, size_t dhp, const float *alpha, __m256i m0, __m256i m1)
{
    int i = 0;
    for (; i + 4 <= nq; i += 4)
        pv_block(4, MASKED, kb, p + i * TK, v, ld, acc + i * dhp, dhp, alpha + i, m0, m1);
    switch (nq - i) {
    case 3: pv_block(3, MASKED, kb, p + i * TK, v, ld, acc + i * dhp, dhp, alpha + i, m0, m1); break;
    case 2: pv_block(2, MASKED, kb, p + i * TK, v, ld, acc + i * dhp, dhp, alpha + i, m0, m1); break;
    case 1: pv_block(1, MASKED, kb, p + i * TK, v, ld, acc + i * dhp, dhp, alpha + i, m0, m1); break;
    default: break;
    }
}

TFE_ATTENTION_KERNEL(tfe_attention_q8k64__avx2)
{
    const size_t dhp = (size_t)((dh + 15) & ~15);
    float *s = scratch;        /* [TQ][TK] scores, then probabilities */
    float *acc = s + TQ * TK;  /* [TQ][dhp] running Σ p·v */
    float *qc = acc + TQ * dhp; /* [TQ][dhp] query rows, zero padded */
    float mx[TQ], sum[TQ], alpha[TQ], bmax[TQ];
    const __m256i dtail = tfe_tail_mask_avx2(dh & 7);
    const __m256 zero = _mm256_setzero_ps();

    for (int i = 0; i < TQ; i++) {
        mx[i] = i < nq ? -INFINITY : 0.0f; /* rows past nq stay finite and are never used */
        sum[i] = 0.0f;
        bmax[i] = 0.0f;
    }
    for (int i = 0; i < nq; i++) {
        const float *qi = q + (size_t)i * ld;
        for (size_t d = 0; d < dhp; d += 8) {
            __m256i m = tfe_tail_mask_avx2(dh - (int)d);
            _mm256_store_ps(qc + i * dhp + d, _mm256_maskload_ps(qi + d, m));
            _mm256_store_ps(acc + i * dhp + d, zero);
        }
    }

    for (int k0 = 0; k0 < nk; k0 += TK) {
        const int kb = nk - k0 < TK ? nk - k0 : TK;
        /* Scores, 4 keys at a time; past kb the last key row is reread (never past the buffer)
         * and those lanes are masked out below. */
        for (int j = 0; j < kb; j += 4) {
            const float *kr[4];
            for (int t = 0; t < 4; t++)
                kr[t] = k + (size_t)(k0 + (j + t < kb ? j + t : kb - 1)) * ld;
            int i = 0;
            for (; i + 2 <= nq; i += 2)
                score_block(2, dh, qc + i * dhp, dhp, kr, dtail, scale, s + i * TK + j);
            if (i < nq)
                score_block(1, dh, qc + i * dhp, dhp, kr, dtail, scale, s + i * TK + j);
        }

        /* Online softmax: new row max, the factor alpha that rescales the old sums, p = e^{s-m}.
         * Lanes at or past kb are -inf for the max and 0 for the sum (they may hold stale
         * scratch, so they are selected away, never computed with). */
        const __m256i ktail = tfe_tail_mask_avx2(kb & 7);
        const int kfull = kb & ~7;
        const __m256 ninf = _mm256_set1_ps(-INFINITY);
        for (int i = 0; i < nq; i++) {
            const float *si = s + i * TK;
            __m256 m = ninf;
            for (int j = 0; j < kfull; j += 8)
                m = _mm256_max_ps(m, _mm256_load_ps(si + j));
            if (kfull < kb)
                m = _mm256_max_ps(m, _mm256_blendv_ps(ninf, _mm256_load_ps(si + kfull),
                                                      _mm256_castsi256_ps(ktail)));
            bmax[i] = hmax(m);
        }
        __m256 mold = _mm256_loadu_ps(mx);
        __m256 mnew = _mm256_max_ps(mold, _mm256_loadu_ps(bmax));
        _mm256_storeu_ps(alpha, tfe_exp_avx2(_mm256_sub_ps(mold, mnew)));
        _mm256_storeu_ps(mx, mnew);
        for (int i = 0; i < nq; i++) {
            float *si = s + i * TK;
            const __m256 mi = _mm256_set1_ps(mx[i]);
            __m256 bs = zero;
            for (int j = 0; j < kfull; j += 8) {
                __m256 e = tfe_exp_avx2(_mm256_sub_ps(_mm256_load_ps(si + j), mi));
                _mm256_store_ps(si + j, e);
                bs = _mm256_add_ps(bs, e);
            }
            if (kfull < kb) {
                __m256 e = tfe_exp_avx2(_mm256_sub_ps(_mm256_load_ps(si + kfull), mi));
                e = _mm256_and_ps(e, _mm256_castsi256_ps(ktail));
                _mm256_store_ps(si + kfull, e);
                bs = _mm256_add_ps(bs, e);
            }
            sum[i] = sum[i] * alpha[i] + hsum(bs);
        }

        /* P·V in 16-column strips; only the strip that crosses dh masks its V loads. */
        const float *vb = v + (size_t)k0 * ld;
        int d = 0;
        for (; d + 16 <= dh; d += 16)
            pv_strip(0, nq, kb, s, vb + d, ld, acc + d, dhp, alpha, _mm256_setzero_si256(),
                     _mm256_setzero_si256());
        if (d < dh)
            pv_strip(1, nq, kb, s, vb + d, ld, acc + d, dhp, alpha, tfe_tail_mask_avx2(dh - d),
                     tfe_tail_mask_avx2(dh - d - 8));
    }

    for (int i = 0; i < nq; i++) {
        const __m256 inv = _mm256_set1_ps(1.0f / sum[i]);
        float *oi = o + (size_t)i * ldo;
        int d = 0;
        for (; d + 8 <= dh; d += 8)
            _mm256_storeu_ps(oi + d, _mm256_mul_ps(_mm256_load_ps(acc + i * dhp + d), inv));
        if (d < dh)
            _mm256_maskstore_ps(oi + d, dtail, _mm256_mul_ps(_mm256_load_ps(acc + i * dhp + d), inv));
    }
}
