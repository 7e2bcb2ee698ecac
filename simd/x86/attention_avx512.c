/* AVX-512 fused attention, query tile 32 × key block 64 (mirrors tfe_attention_q8k64__scalar
 * in src/attention_scalar.c).
 *
 * The 32 queries of a tile fill two zmm, so the scores are computed transposed,
 * St[key][query]: Qᵀ (scaled) is built once per tile and every key element is broadcast
 * against it (one broadcast feeds two FMAs). Softmax statistics (row max, row sum, rescale
 * factor) are then plain vector ops across the queries, and P·V broadcasts St[key][query]
 * against rows of V, vectorised over d_head. */
#include <immintrin.h>
#include <math.h>

#include "attention.h"
#include "vecmath_avx512.h"

enum { TQ = 32, QV = TQ / 16, TK = 64, KEYS = 8, ROWS = 4 };

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

/* acc[r][d0 .. d0+16C) = acc·alpha[r] + Σ_j St[j][r]·v[j][d0 ..] for ROWS rows r0..r0+3.
 * ROWS × C <= 16 accumulators; C V loads are shared by the ROWS rows. */
static inline __attribute__((always_inline)) void pv_block(const int C, int kb, int r0, int d0,
                                                           int dhp, const __mmask16 *mk,
                                                           const float *st, const float *alpha,
                                                           const float *v, size_t ld, float *acc)
{
    __m512 o[ROWS][4];
#pragma GCC unroll 4
    for (int r = 0; r < ROWS; r++) {
        __m512 al = _mm512_set1_ps(alpha[r0 + r]);
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            o[r][c] = _mm512_mul_ps(_mm512_load_ps(acc + (r0 + r) * dhp + d0 + 16 * c), al);
    }
    for (int j = 0; j < kb; j++) {
        __m512 vv[4];
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            vv[c] = _mm512_maskz_loadu_ps(mk[c], v + j * ld + d0 + 16 * c);
#pragma GCC unroll 4
        for (int r = 0; r < ROWS; r++) {
            __m512 p = _mm512_set1_ps(st[j * TQ + r0 + r]);
#pragma GCC unroll 4
            for (int c = 0; c < C; c++)
                o[r][c] = _mm512_fmadd_ps(p, vv[c], o[r][c]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < ROWS; r++)
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            _mm512_store_ps(acc + (r0 + r) * dhp + d0 + 16 * c, o[r][c]);
}

TFE_ATTENTION_KERNEL(tfe_attention_q32k64__avx512)
{
    const int dhp = (dh + 15) & ~15;
    const int rows = (nq + ROWS - 1) / ROWS * ROWS; /* padded query rows carry harmless zeros */
    const int qv = (nq + 15) / 16;                  /* query vectors holding real queries */
    float *st = scratch;                /* [TK][TQ] scores, then probabilities */
    float *qt = st + TQ * TK;           /* [dh][TQ] scaled Qᵀ, zero past nq */
    float *acc = qt + (size_t)TQ * dhp; /* [TQ][dhp] running Σ p·v */
    float alpha_s[TQ] __attribute__((aligned(64)));

    for (int d = 0; d < dh; d++)
        for (int i = 0; i < TQ; i++)
            qt[d * TQ + i] = i < nq ? q[(size_t)i * ld + d] * scale : 0.0f;
    for (int i = 0; i < rows * dhp; i++)
        acc[i] = 0.0f;

    __m512 mx[QV], sum[QV];
    for (int h = 0; h < QV; h++)
        mx[h] = _mm512_set1_ps(-INFINITY), sum[h] = _mm512_setzero_ps();
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
            __m512 bmax = _mm512_load_ps(sth);
            for (j = 1; j < kb; j++)
                bmax = _mm512_max_ps(bmax, _mm512_load_ps(sth + j * TQ));
            __m512 mnew = _mm512_max_ps(mx[h], bmax);
            __m512 alpha = tfe_exp_avx512(_mm512_sub_ps(mx[h], mnew)); /* first block: 0 */
            __m512 bsum = _mm512_setzero_ps();
            for (j = 0; j < kb; j++) {
                __m512 p = tfe_exp_avx512(_mm512_sub_ps(_mm512_load_ps(sth + j * TQ), mnew));
                _mm512_store_ps(sth + j * TQ, p);
                bsum = _mm512_add_ps(bsum, p);
            }
            sum[h] = _mm512_fmadd_ps(sum[h], alpha, bsum);
            mx[h] = mnew;
            _mm512_store_ps(alpha_s + 16 * h, alpha);
        }

        for (int d0 = 0; d0 < dh; d0 += 64) {
            int chunks = (dh - d0 + 15) / 16 < 4 ? (dh - d0 + 15) / 16 : 4;
            __mmask16 mk[4];
            for (int c = 0; c < 4; c++)
                mk[c] = tfe_tail_mask_avx512(dh - d0 - 16 * c);
            for (int r0 = 0; r0 < rows; r0 += ROWS) {
                switch (chunks) {
                case 4: pv_block(4, kb, r0, d0, dhp, mk, st, alpha_s, vblk, ld, acc); break;
                case 3: pv_block(3, kb, r0, d0, dhp, mk, st, alpha_s, vblk, ld, acc); break;
                case 2: pv_block(2, kb, r0, d0, dhp, mk, st, alpha_s, vblk, ld, acc); break;
                default: pv_block(1, kb, r0, d0, dhp, mk, st, alpha_s, vblk, ld, acc); break;
                }
            }
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
