/* AVX-512 fused attention, query tile 32 × key block 64 (mirrors tfe_attention_q8k64__scalar
 * in src/attention_scalar.c).
 *
 * The 32 queries of a tile fill two zmm, so the scores are computed transposed,
 * St[key][query]: Qᵀ (scaled) is built once per tile and every key element is broadcast
 * against it (one broadcast feeds two FMAs). Softmax statistics (row max, row sum, rescale
 * factor) are then plain vector ops across the queries, and P·V broadcasts St[key][query]
 * against rows of V, vectorised over d_head.
 *
 * The scores are kept in log2 units (Qᵀ carries scale·log2 e), so the softmax needs 2^x, which
 * is one vreduceps, five FMAs and one vscalefps (tfe_exp2_avx512). The softmax runs on the same
 * two ports as the FMAs: with a 13-instruction e^x it took a quarter of the kernel's time at
 * d_head 32, now a fifth. */
#include <immintrin.h>
#include <float.h>

#include "attention.h"
#include "vecmath_avx512.h"

/* P·V takes ROWS query rows at a time for a 64-column block of d_head with more than 32
 * columns (3 or 4 vectors a row: 12 or 16 accumulators), ROWS_NARROW for one of 32 or fewer
 * (1 or 2 vectors: 8 or 16), enough to hide the FMA latency. */
enum { TQ = 32, QV = TQ / 16, TK = 64, KEYS = 8, ROWS = 4, ROWS_NARROW = 8 };

/* St[j][:] for KEYS keys at once: KEYS × NQV accumulators share each Qᵀ row load, and each
 * broadcast key element feeds NQV FMAs (16 + 2 + 1 of 32 zmm). NQV = 1 when the tile holds at
 * most 16 queries (short sequences), so no FMA works on empty lanes. */
static inline __attribute__((always_inline)) void scores8(const int NQV, int dh, const float *qt,
                                                          const float *k, size_t ld, float *st)
{
    __m512 s[KEYS][QV];
#pragma GCC unroll 8
    for (int u = 0; u < KEYS; u++)
#pragma GCC unroll 2
        for (int h = 0; h < NQV; h++)
            s[u][h] = _mm512_setzero_ps();
    for (int d = 0; d < dh; d++) {
        __m512 q[QV];
#pragma GCC unroll 2
        for (int h = 0; h < NQV; h++)
            q[h] = _mm512_load_ps(qt + d * TQ + 16 * h);
#pragma GCC unroll 8
        for (int u = 0; u < KEYS; u++) {
            __m512 kv = _mm512_set1_ps(k[u * ld + d]);
#pragma GCC unroll 2
            for (int h = 0; h < NQV; h++)
                s[u][h] = _mm512_fmadd_ps(kv, q[h], s[u][h]);
        }
    }
#pragma GCC unroll 8
    for (int u = 0; u < KEYS; u++)
#pragma GCC unroll 2
        for (int h = 0; h < NQV; h++)
            _mm512_store_ps(st + u * TQ + 16 * h, s[u][h]);
}

/* acc[r][d0 .. d0+16C) = acc·alpha[r] + Σ_j St[j][r]·v[j][d0 ..] for R rows r0..r0+R-1.
 * R × C accumulators (at most 16); C V loads are shared by the R rows. */
static inline __attribute__((always_inline)) void pv_block(const int FULL, const int R,
                                                           const int C, int kb, int r0, int d0,
                                                           int dhp, const __mmask16 *mk,
                                                           const float *st, const float *alpha,
                                                           const float *v, size_t ld, float *acc)
{
    __m512 o[ROWS_NARROW][4];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        __m512 al = _mm512_set1_ps(alpha[r0 + r]);
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            o[r][c] = _mm512_mul_ps(_mm512_load_ps(acc + (r0 + r) * dhp + d0 + 16 * c), al);
    }
    for (int j = 0; j < kb; j++) {
        __m512 vv[4];
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            vv[c] = FULL ? _mm512_loadu_ps(v + j * ld + d0 + 16 * c)
                         : _mm512_maskz_loadu_ps(mk[c], v + j * ld + d0 + 16 * c);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m512 p = _mm512_set1_ps(st[j * TQ + r0 + r]);
#pragma GCC unroll 4
            for (int c = 0; c < C; c++)
                o[r][c] = _mm512_fmadd_ps(p, vv[c], o[r][c]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            _mm512_store_ps(acc + (r0 + r) * dhp + d0 + 16 * c, o[r][c]);
}

/* P·V for all query rows of one block of d_head columns [d0, d0 + 16·chunks). FULL: no
 * partial vector among them, so V is read with plain loads (masked loads cost a port-0/5 uop
 * each: 8% of the kernel at d_head 64). */
static inline __attribute__((always_inline)) void pv_rows(const int FULL, int chunks, int rows,
                                                          int kb, int d0, int dh, int dhp,
                                                          const float *st, const float *alpha,
                                                          const float *v, size_t ld, float *acc)
{
    __mmask16 mk[4];
    for (int c = 0; c < 4; c++)
        mk[c] = tfe_tail_mask_avx512(dh - d0 - 16 * c);
    if (chunks > 2) {
        for (int r0 = 0; r0 < rows; r0 += ROWS) {
            if (chunks == 4)
                pv_block(FULL, ROWS, 4, kb, r0, d0, dhp, mk, st, alpha, v, ld, acc);
            else
                pv_block(FULL, ROWS, 3, kb, r0, d0, dhp, mk, st, alpha, v, ld, acc);
        }
    } else {
        for (int r0 = 0; r0 < rows; r0 += ROWS_NARROW) {
            if (chunks == 2)
                pv_block(FULL, ROWS_NARROW, 2, kb, r0, d0, dhp, mk, st, alpha, v, ld, acc);
            else
                pv_block(FULL, ROWS_NARROW, 1, kb, r0, d0, dhp, mk, st, alpha, v, ld, acc);
        }
    }
}

/* qt[c·TQ + r] = q[r·ld + c] · scale for one 16×16 block: rows r >= nrows read as 0, and only
 * columns c < ncols are read and written. */
static inline void transpose_scaled(const float *q, size_t ld, int nrows, int ncols, float scale,
                                    float *qt)
{
    const __mmask16 mc = tfe_tail_mask_avx512(ncols);
    const __m512 sc = _mm512_set1_ps(scale);
    __m512 r[16];
    for (int i = 0; i < 16; i++)
        r[i] = i < nrows ? _mm512_mul_ps(_mm512_maskz_loadu_ps(mc, q + (size_t)i * ld), sc)
                         : _mm512_setzero_ps();
    tfe_transpose16_avx512(r);
    for (int c = 0; c < ncols && c < 16; c++)
        _mm512_store_ps(qt + (size_t)c * TQ, r[c]);
}

TFE_ATTENTION_KERNEL(tfe_attention_q32k64__avx512)
{
    const int dhp = (dh + 15) & ~15;
    /* P·V rounds the rows up to its row block (at most TQ); padded query rows carry harmless
     * values that are never stored. */
    const int rows = (nq + ROWS_NARROW - 1) / ROWS_NARROW * ROWS_NARROW;
    const int qv = (nq + 15) / 16;                  /* query vectors holding real queries */
    float *st = scratch;                /* [TK][TQ] scores, then probabilities */
    float *qt = st + TQ * TK;           /* [dh][TQ] scaled Qᵀ, zero past nq */
    float *acc = qt + (size_t)TQ * dhp; /* [TQ][dhp] running Σ p·v */
    float alpha_s[TQ] __attribute__((aligned(64)));

    const float scale2 = scale * 1.44269504088896341f; /* scores in log2 units */
    for (int i0 = 0; i0 < TQ; i0 += 16)
        for (int d0 = 0; d0 < dh; d0 += 16)
            transpose_scaled(q + (size_t)i0 * ld + d0, ld, nq - i0, dh - d0, scale2,
                             qt + (size_t)d0 * TQ + i0);
    for (int i = 0; i < rows * dhp; i++)
        acc[i] = 0.0f;

    __m512 mx[QV], sum[QV];
    for (int h = 0; h < QV; h++)
        mx[h] = _mm512_set1_ps(-FLT_MAX), sum[h] = _mm512_setzero_ps();
    for (int k0 = 0; k0 < nk; k0 += TK) {
        const int kb = nk - k0 < TK ? nk - k0 : TK;
        const float *kblk = k + (size_t)k0 * ld, *vblk = v + (size_t)k0 * ld;
        int j = 0;
        for (; j + KEYS <= kb; j += KEYS) {
            if (qv == 1)
                scores8(1, dh, qt, kblk + (size_t)j * ld, ld, st + j * TQ);
            else
                scores8(2, dh, qt, kblk + (size_t)j * ld, ld, st + j * TQ);
        }
        for (; j < kb; j++) { /* fewer than 8 keys left: one key at a time */
            __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
            for (int d = 0; d < dh; d++) {
                __m512 kv = _mm512_set1_ps(kblk[(size_t)j * ld + d]);
                s0 = _mm512_fmadd_ps(kv, _mm512_load_ps(qt + d * TQ), s0);
                s1 = _mm512_fmadd_ps(kv, _mm512_load_ps(qt + d * TQ + 16), s1);
            }
            _mm512_store_ps(st + j * TQ, s0);
            _mm512_store_ps(st + j * TQ + 16, s1);
        }
        /* Online softmax, vectorised across the queries (only vectors with real ones). */
        for (int h = 0; h < qv; h++) {
            float *sth = st + 16 * h;
            /* Four running maxima: one chain of dependent vmaxps over the block's keys was
             * 4-5% of the kernel's time at d_head 64 (a max is exact, so the order is free). */
            __m512 m4[4];
            for (int u = 0; u < 4; u++)
                m4[u] = _mm512_load_ps(sth + (u < kb ? u : 0) * TQ);
            for (j = 4; j + 4 <= kb; j += 4)
                for (int u = 0; u < 4; u++)
                    m4[u] = _mm512_max_ps(m4[u], _mm512_load_ps(sth + (j + u) * TQ));
            for (; j < kb; j++)
                m4[0] = _mm512_max_ps(m4[0], _mm512_load_ps(sth + j * TQ));
            const __m512 bmax = _mm512_max_ps(_mm512_max_ps(m4[0], m4[1]),
                                              _mm512_max_ps(m4[2], m4[3]));
            __m512 mnew = _mm512_max_ps(mx[h], bmax);
            __m512 alpha = tfe_exp2_avx512(_mm512_sub_ps(mx[h], mnew)); /* first block: 0 */
            __m512 bsum = _mm512_setzero_ps();
            for (j = 0; j < kb; j++) {
                __m512 p = tfe_exp2_avx512(_mm512_sub_ps(_mm512_load_ps(sth + j * TQ), mnew));
                _mm512_store_ps(sth + j * TQ, p);
                bsum = _mm512_add_ps(bsum, p);
            }
            sum[h] = _mm512_fmadd_ps(sum[h], alpha, bsum);
            mx[h] = mnew;
            _mm512_store_ps(alpha_s + 16 * h, alpha);
        }

        for (int d0 = 0; d0 < dh; d0 += 64) {
            const int chunks = (dh - d0 + 15) / 16 < 4 ? (dh - d0 + 15) / 16 : 4;
            if (dh - d0 >= 16 * chunks)
                pv_rows(1, chunks, rows, kb, d0, dh, dhp, st, alpha_s, vblk, ld, acc);
            else
                pv_rows(0, chunks, rows, kb, d0, dh, dhp, st, alpha_s, vblk, ld, acc);
        }
    }
    float inv[TQ] __attribute__((aligned(64)));
    for (int h = 0; h < qv; h++)
        _mm512_store_ps(inv + 16 * h, _mm512_div_ps(_mm512_set1_ps(1.0f), sum[h]));
    for (int i = 0; i < nq; i++) {
        __m512 s = _mm512_set1_ps(inv[i]);
        for (int d0 = 0; d0 < dh; d0 += 16) {
            __mmask16 m = tfe_tail_mask_avx512(dh - d0);
            _mm512_mask_storeu_ps(o + (size_t)i * ldo + d0, m,
                                  _mm512_mul_ps(_mm512_load_ps(acc + i * dhp + d0), s));
        }
    }
}
