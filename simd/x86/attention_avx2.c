/* AVX2 fused attention, 24 queries against 64-key blocks with an online softmax (the maths of
 * tfe_attention_q8k64__scalar in src/attention_scalar.c).
 *
 * Both products run as the GEMM's 6x16 register tile (12 accumulators, 2 loaded vectors, 1
 * broadcast: 15 of 16 ymm), which keeps both FMA pipes busy on every x86 core:
 *   S = Q·Kᵀ: 6 query rows × 16 keys, the query values broadcast along d, Kᵀ's row d loaded;
 *   O += P·V: 6 rows × 16 dims, the probabilities broadcast along the keys, V's row loaded.
 * Kᵀ comes from `prepare` (a head's keys transposed once, zero past the last key, and its
 * values in rows of dh rounded up to 16), so no horizontal sums and no masks in the loops.
 * Callers without `prepare` get the same arithmetic on each key block transposed into the
 * scratch: the same bits. (The kernel before this one dotted 2 queries with 4 key rows along
 * d and reduced with hadd trees: ~48% of the FMA peak on a Zen 1 core at 12 heads of 64.) */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "attention.h"
#include "vecmath_avx2.h"

enum { TQ = 24, TK = 64, MQ = 6 };

#define INLINE static inline __attribute__((always_inline))

static size_t dim_pad(int dh) { return (size_t)((dh + 15) & ~15); }
static int key_blocks(int nk) { return (nk + TK - 1) / TK; }

/* prep: Kᵀ one key block after the other, each [dh][TK] (zeros past nk: every 16-key load
 * stays inside its block), then V [nk][dim_pad(dh)] (zeros past dh). Block by block, not
 * [dh][all keys]: rows of 512 keys lie 2 KiB apart, and a block's 64 rows then fall into two
 * L1 sets (12 heads of 64 at 512 tokens ran at 55% of the FMA peak that way). */
static size_t prep_floats(int nk, int dh)
{
    return (size_t)key_blocks(nk) * dh * TK + (size_t)nk * dim_pad(dh);
}

/* Scratch: scores/probabilities [TQ][TK], the running P·V [TQ][dhp], the query tile [TQ][dh]
 * in contiguous rows, and for callers without `prepare` one key block transposed, [dh][TK]. */
static size_t scratch_floats(int dh)
{
    return (size_t)TQ * TK + (size_t)TQ * dim_pad(dh) + (size_t)TQ * dh + (size_t)dh * TK;
}

/* 8 keys × 8 dims of k into kt[d·ktld + j]. */
static inline void transpose8(const float *k, size_t ld, float *kt, size_t ktld)
{
    __m256 r[8];
    for (int j = 0; j < 8; j++)
        r[j] = _mm256_loadu_ps(k + (size_t)j * ld);
    tfe_transpose8_avx2(r);
    for (int d = 0; d < 8; d++)
        _mm256_storeu_ps(kt + (size_t)d * ktld, r[d]);
}

/* Keys [0, nk) of k (rows of dh, stride ld) into kt[d·ktld + j], zeros for j in [nk, cols). */
static void transpose_keys(int nk, int cols, int dh, const float *k, size_t ld, float *kt,
                           size_t ktld)
{
    const int nk8 = nk & ~7, dh8 = dh & ~7;
    for (int j = 0; j < nk8; j += 8)
        for (int d = 0; d < dh8; d += 8)
            transpose8(k + (size_t)j * ld + d, ld, kt + (size_t)d * ktld + j, ktld);
    for (int d = 0; d < dh; d++) {
        float *row = kt + (size_t)d * ktld;
        for (int j = d < dh8 ? nk8 : 0; j < nk; j++)
            row[j] = k[(size_t)j * ld + d];
        for (int j = nk; j < cols; j++)
            row[j] = 0.0f;
    }
}

static TFE_ATTENTION_PREPARE(prepare)
{
    const size_t dhp = dim_pad(dh);
    for (int b = 0; b < key_blocks(nk); b++) {
        const int k0 = b * TK, kb = nk - k0 < TK ? nk - k0 : TK;
        transpose_keys(kb, TK, dh, k + (size_t)k0 * ld, ld, prep + (size_t)b * dh * TK, TK);
    }
    float *vp = prep + (size_t)key_blocks(nk) * dh * TK;
    for (int j = 0; j < nk; j++) {
        memcpy(vp + (size_t)j * dhp, v + (size_t)j * ld, (size_t)dh * sizeof(float));
        memset(vp + (size_t)j * dhp + dh, 0, (dhp - (size_t)dh) * sizeof(float));
    }
}

/* s[i][0..16) = Σ_d q[i][d]·kt[d][0..16) for M (1..6) rows (unscaled: the softmax folds the
 * scale into its exponent). */
INLINE void score_tile(const int M, int dh, const float *q, size_t ld, const float *kt,
                       size_t ktld, float *s)
{
    __m256 c[MQ][2];
#pragma GCC unroll 6
    for (int i = 0; i < M; i++)
        c[i][0] = c[i][1] = _mm256_setzero_ps();
    for (int d = 0; d < dh; d++) {
        const float *kd = kt + (size_t)d * ktld;
        const __m256 k0 = _mm256_loadu_ps(kd), k1 = _mm256_loadu_ps(kd + 8);
#pragma GCC unroll 6
        for (int i = 0; i < M; i++) {
            const __m256 qb = _mm256_broadcast_ss(q + (size_t)i * ld + d);
            c[i][0] = _mm256_fmadd_ps(qb, k0, c[i][0]);
            c[i][1] = _mm256_fmadd_ps(qb, k1, c[i][1]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < M; i++) {
        _mm256_store_ps(s + i * TK, c[i][0]);
        _mm256_store_ps(s + i * TK + 8, c[i][1]);
    }
}

/* acc[i][0..16) = alpha[i]·acc[i][0..16) + Σ_j p[i][j]·v[j][0..16) for M (1..6) rows.
 * MASKED: V's rows end inside these 16 columns (callers without `prepare` only). */
INLINE void pv_tile(const int M, const int MASKED, int kb, const float *p, const float *v,
                    size_t vld, float *acc, size_t dhp, const float *alpha, __m256i m0,
                    __m256i m1)
{
    __m256 c[MQ][2];
#pragma GCC unroll 6
    for (int i = 0; i < M; i++) {
        const __m256 a = _mm256_broadcast_ss(alpha + i);
        c[i][0] = _mm256_mul_ps(_mm256_load_ps(acc + i * dhp), a);
        c[i][1] = _mm256_mul_ps(_mm256_load_ps(acc + i * dhp + 8), a);
    }
    for (int j = 0; j < kb; j++) {
        const float *vj = v + (size_t)j * vld;
        const __m256 v0 = MASKED ? _mm256_maskload_ps(vj, m0) : _mm256_loadu_ps(vj);
        const __m256 v1 = MASKED ? _mm256_maskload_ps(vj + 8, m1) : _mm256_loadu_ps(vj + 8);
#pragma GCC unroll 6
        for (int i = 0; i < M; i++) {
            const __m256 pb = _mm256_broadcast_ss(p + i * TK + j);
            c[i][0] = _mm256_fmadd_ps(pb, v0, c[i][0]);
            c[i][1] = _mm256_fmadd_ps(pb, v1, c[i][1]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < M; i++) {
        _mm256_store_ps(acc + i * dhp, c[i][0]);
        _mm256_store_ps(acc + i * dhp + 8, c[i][1]);
    }
}

/* Rows in ceil(nq/6) groups of equal size (8 rows: 4 + 4, not 6 + 2, whose 2-row tile is
 * bound by its loads), each group's row count a compile-time constant (TFE_BY_ROWS6). A
 * row's sums do not depend on its group: the same bits for any split. */
static inline void row_group(int nq, int g, int *i0, int *rows)
{
    const int groups = (nq + MQ - 1) / MQ;
    *i0 = nq * g / groups;
    *rows = nq * (g + 1) / groups - *i0;
}

static __attribute__((noinline)) void scores(int nq, int kb, int dh, const float *q, size_t ld,
                                             const float *kt, size_t ktld, float *s)
{
    for (int c = 0; c < kb; c += 16)
        for (int g = 0, i, rows; g * MQ < nq; g++) {
            row_group(nq, g, &i, &rows);
#define SCORE(M) score_tile(M, dh, q + (size_t)i * ld, ld, kt + c, ktld, s + i * TK + c)
            TFE_BY_ROWS6(rows, SCORE)
#undef SCORE
        }
}

static __attribute__((noinline)) void pv(int nq, int kb, int dh, const float *p, const float *v,
                                         size_t vld, int v_padded, float *acc,
                                         const float *alpha)
{
    const size_t dhp = dim_pad(dh);
    for (int d = 0; d < dh; d += 16) {
        const int masked = !v_padded && dh - d < 16;
        const __m256i m0 = tfe_tail_mask_avx2(dh - d), m1 = tfe_tail_mask_avx2(dh - d - 8);
        for (int g = 0, i, rows; g * MQ < nq; g++) {
            row_group(nq, g, &i, &rows);
#define PV_ARGS kb, p + i * TK, v + d, vld, acc + i * dhp + d, dhp, alpha + i, m0, m1
#define PV_MASKED(M) pv_tile(M, 1, PV_ARGS)
#define PV_PLAIN(M) pv_tile(M, 0, PV_ARGS)
            if (masked) {
                TFE_BY_ROWS6(rows, PV_MASKED)
            } else {
                TFE_BY_ROWS6(rows, PV_PLAIN)
            }
#undef PV_PLAIN
#undef PV_MASKED
#undef PV_ARGS
        }
    }
}

/* Online softmax over one block of kb raw scores per row, in base 2: with c = scale·log2(e),
 * p = 2^{c·s - c·m} = e^{scale·(s - m)}, so the scale rides in one FMA per 8 scores and the
 * exponent is tfe_exp2_avx2 (no ln 2 split). Per row: the new max m (of the raw scores; c > 0),
 * the factor alpha that rescales the old sums (8 rows a vector), p in place. Lanes at or past kb
 * are -inf for the max and 0 for the sum (they hold the zero keys' scores or stale scratch:
 * selected away, never used). mx, sum, alpha: TQ rows each (rows past nq: don't care). */
static void softmax_block(int nq, int kb, float c, float *s, float *mx, float *sum,
                          float *alpha)
{
    const __m256i ktail = tfe_tail_mask_avx2(kb & 7);
    const int kfull = kb & ~7;
    const __m256 ninf = _mm256_set1_ps(-INFINITY), zero = _mm256_setzero_ps();
    const __m256 cv = _mm256_set1_ps(c);
    float mnew[TQ];
    for (int i = 0; i < nq; i++) {
        const float *si = s + i * TK;
        __m256 m = ninf;
        for (int j = 0; j < kfull; j += 8)
            m = _mm256_max_ps(m, _mm256_load_ps(si + j));
        if (kfull < kb)
            m = _mm256_max_ps(m, _mm256_blendv_ps(ninf, _mm256_load_ps(si + kfull),
                                                  _mm256_castsi256_ps(ktail)));
        mnew[i] = fmaxf(mx[i], tfe_hmax_avx2(m));
    }
    for (int i = nq; i < TQ; i++)
        mnew[i] = mx[i];
    for (int i = 0; i < TQ; i += 8) {
        const __m256 mo = _mm256_loadu_ps(mx + i), mn = _mm256_loadu_ps(mnew + i);
        _mm256_storeu_ps(alpha + i, tfe_exp2_avx2(_mm256_mul_ps(_mm256_sub_ps(mo, mn), cv)));
        _mm256_storeu_ps(mx + i, mn);
    }
    for (int i = 0; i < nq; i++) {
        float *si = s + i * TK;
        const __m256 mc = _mm256_set1_ps(mnew[i] * c);
        __m256 bs = zero;
        for (int j = 0; j < kfull; j += 8) {
            const __m256 e = tfe_exp2_avx2(_mm256_fmsub_ps(_mm256_load_ps(si + j), cv, mc));
            _mm256_store_ps(si + j, e);
            bs = _mm256_add_ps(bs, e);
        }
        if (kfull < kb) {
            __m256 e = tfe_exp2_avx2(_mm256_fmsub_ps(_mm256_load_ps(si + kfull), cv, mc));
            e = _mm256_and_ps(e, _mm256_castsi256_ps(ktail));
            _mm256_store_ps(si + kfull, e);
            bs = _mm256_add_ps(bs, e);
        }
        sum[i] = sum[i] * alpha[i] + tfe_hsum_avx2(bs);
    }
}

/* The kernel on either source of Kᵀ: `prep` (a prepared head) or, when NULL, k's key blocks
 * transposed one at a time into the scratch. */
static void attend(int nq, int nk, int dh, const float *q, const float *k, const float *v,
                   size_t ld, const float *prep, float scale, float *o, size_t ldo,
                   float *scratch)
{
    const size_t dhp = dim_pad(dh);
    float *s = scratch;                  /* [TQ][TK] scores, then probabilities */
    float *acc = s + TQ * TK;            /* [TQ][dhp] running Σ p·v */
    float *qc = acc + TQ * dhp;          /* [TQ][dh] the query rows, contiguous */
    float *ktb = qc + TQ * dh;           /* [dh][TK] one key block transposed (no prep) */
    float mx[TQ], sum[TQ], alpha[TQ];
    const float c = (float)(scale * 1.4426950408889634); /* scale · log2(e) */
    for (int i = 0; i < TQ; i++)
        mx[i] = -INFINITY, sum[i] = 0.0f;
    for (int i = 0; i < nq; i++) {
        for (size_t d = 0; d < dhp; d += 8)
            _mm256_store_ps(acc + i * dhp + d, _mm256_setzero_ps());
        memcpy(qc + (size_t)i * dh, q + (size_t)i * ld, (size_t)dh * sizeof(float));
    }
    for (int k0 = 0; k0 < nk; k0 += TK) {
        const int kb = nk - k0 < TK ? nk - k0 : TK;
        const float *kt, *vb;
        size_t vld;
        if (prep) {
            kt = prep + (size_t)(k0 / TK) * dh * TK;
            vb = prep + (size_t)key_blocks(nk) * dh * TK + (size_t)k0 * dhp, vld = dhp;
        } else {
            transpose_keys(kb, (kb + 15) & ~15, dh, k + (size_t)k0 * ld, ld, ktb, TK);
            kt = ktb;
            vb = v + (size_t)k0 * ld, vld = ld;
        }
        scores(nq, kb, dh, qc, (size_t)dh, kt, TK, s);
        softmax_block(nq, kb, c, s, mx, sum, alpha);
        pv(nq, kb, dh, s, vb, vld, prep != NULL, acc, alpha);
    }
    const __m256i dtail = tfe_tail_mask_avx2(dh & 7);
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

static TFE_ATTENTION_PREPARED(prepared)
{
    attend(nq, nk, dh, q, NULL, NULL, ld, prep, scale, o, ldo, scratch);
}

TFE_ATTENTION_KERNEL(tfe_attention_q24k64__avx2)
{
    attend(nq, nk, dh, q, k, v, ld, NULL, scale, o, ldo, scratch);
}

/* min_len 0: every sequence runs on a prepared head (there is no other kernel to hand short
 * ones to). */
const tfe_attention_prep tfe_attention_prep_avx2 = {
    .min_len = 0,
    .prep_floats = prep_floats,
    .scratch_floats = scratch_floats,
    .prepare = prepare,
    .prepared = prepared,
};
