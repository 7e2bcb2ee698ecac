/* NEON fused attention, 8 queries against 64-key blocks with an online softmax (mirrors
 * tfe_attention_q8k64__scalar in src/attention_scalar.c).
 *
 * Q·Kᵀ is vectorised over dh: transposing a K block would need 64×dh floats of scratch, but the
 * contract gives only tq×tk + 2·tq·dh_padded + 2·tq, so each dot product runs along a key row
 * and 4 of them are reduced together by pairwise adds. P·V is a small GEMM (P: nq×kb,
 * V: kb×dh) vectorised over dh. Scratch: scores [8][64], the running P·V accumulator [8][dhp]
 * and a zero-padded copy of the query tile [8][dhp] (dhp = dh rounded up to 16), so query and
 * accumulator accesses never need tails; K, V and o do. */
#include <arm_neon.h>
#include <math.h>

#include "attention.h"
#include "vecmath_neon.h"

enum { TQ = 8, TK = 64 };

#define INLINE static inline __attribute__((always_inline))

/* Scores of M (1..4) queries against 4 key rows kr[0..3], written to s[i][0..3].
 * Budget: 4×4 = 16 accumulators + 4 query + 4 key vectors = 24 of 32 q-registers; each query
 * load and each key load feeds 4 FMAs. */
INLINE void score_block(const int M, int dh, const float *qc, size_t dhp,
                        const float *const kr[4], float scale, float *s)
{
    float32x4_t acc[4][4];
#pragma GCC unroll 4
    for (int i = 0; i < M; i++)
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++)
            acc[i][t] = vdupq_n_f32(0.0f);
    int d = 0;
    for (; d + 4 <= dh; d += 4) {
        float32x4_t kv[4], qv[4];
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++)
            kv[t] = vld1q_f32(kr[t] + d);
#pragma GCC unroll 4
        for (int i = 0; i < M; i++) {
            qv[i] = vld1q_f32(qc + i * dhp + d);
#pragma GCC unroll 4
            for (int t = 0; t < 4; t++)
                acc[i][t] = vfmaq_f32(acc[i][t], qv[i], kv[t]);
        }
    }
    if (d < dh) { /* the key rows end here: partial loads; the padded query copy is zero */
#pragma GCC unroll 4
        for (int i = 0; i < M; i++) {
            float32x4_t qv = vld1q_f32(qc + i * dhp + d);
#pragma GCC unroll 4
            for (int t = 0; t < 4; t++)
                acc[i][t] = vfmaq_f32(acc[i][t], qv, tfe_load_partial_neon(kr[t] + d, dh - d));
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < M; i++) {
        float32x4_t r = vpaddq_f32(vpaddq_f32(acc[i][0], acc[i][1]), vpaddq_f32(acc[i][2], acc[i][3]));
        vst1q_f32(s + i * TK, vmulq_n_f32(r, scale));
    }
}

/* 4 values of one V row at column 4u of a 16-column strip; MASKED: only the first w columns
 * of the strip exist. */
INLINE float32x4_t load_v(const int MASKED, const float *vj, int u, int w)
{
    return MASKED ? tfe_load_partial_neon(vj + 4 * u, w - 4 * u) : vld1q_f32(vj + 4 * u);
}

/* acc[i][0..16) = alpha[i]·acc[i] + Σ_j p[i][j]·v[j][0..16) for M (1..4) rows.
 * Budget: 4 rows × 4 q = 16 accumulators + 4 P vectors (4 keys of one row, used by lane)
 * + 4 V = 24 of 32 q-registers; per 4 keys, 4 P + 16 V loads feed 64 FMAs. */
INLINE void pv_block(const int M, const int MASKED, int kb, int w, const float *p, const float *v,
                     size_t ld, float *acc, size_t dhp, const float *alpha)
{
    float32x4_t c[4][4];
#pragma GCC unroll 4
    for (int i = 0; i < M; i++)
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++)
            c[i][u] = vmulq_n_f32(vld1q_f32(acc + i * dhp + 4 * u), alpha[i]);
    int j = 0;
    for (; j + 4 <= kb; j += 4) {
        float32x4_t pv[4];
#pragma GCC unroll 4
        for (int i = 0; i < M; i++)
            pv[i] = vld1q_f32(p + i * TK + j);
#pragma GCC unroll 4
        for (int jj = 0; jj < 4; jj++) {
            const float *vj = v + (size_t)(j + jj) * ld;
#pragma GCC unroll 4
            for (int u = 0; u < 4; u++) {
                float32x4_t vv = load_v(MASKED, vj, u, w);
#pragma GCC unroll 4
                for (int i = 0; i < M; i++)
                    c[i][u] = tfe_fma_lane_neon(c[i][u], vv, pv[i], jj);
            }
        }
    }
    for (; j < kb; j++) { /* kb % 4 keys: V rows past kb do not exist, so no 4-key step */
        const float *vj = v + (size_t)j * ld;
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
            float32x4_t vv = load_v(MASKED, vj, u, w);
#pragma GCC unroll 4
            for (int i = 0; i < M; i++)
                c[i][u] = vfmaq_n_f32(c[i][u], vv, p[i * TK + j]);
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < M; i++)
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++)
            vst1q_f32(acc + i * dhp + 4 * u, c[i][u]);
}

/* One 16-column strip of P·V (w <= 16 columns exist) for all nq rows: row blocks of 4, then
 * the 1..3 left over. */
INLINE void pv_strip(const int MASKED, int nq, int kb, int w, const float *p, const float *v,
                     size_t ld, float *acc, size_t dhp, const float *alpha)
{
    int i = 0;
    for (; i + 4 <= nq; i += 4)
        pv_block(4, MASKED, kb, w, p + i * TK, v, ld, acc + i * dhp, dhp, alpha + i);
    switch (nq - i) {
    case 3: pv_block(3, MASKED, kb, w, p + i * TK, v, ld, acc + i * dhp, dhp, alpha + i); break;
    case 2: pv_block(2, MASKED, kb, w, p + i * TK, v, ld, acc + i * dhp, dhp, alpha + i); break;
    case 1: pv_block(1, MASKED, kb, w, p + i * TK, v, ld, acc + i * dhp, dhp, alpha + i); break;
    default: break;
    }
}

/* Scores of all nq queries against 4 key rows. */
INLINE void score_rows(int nq, int dh, const float *qc, size_t dhp, const float *const kr[4],
                       float scale, float *s)
{
    int i = 0;
    for (; i + 4 <= nq; i += 4)
        score_block(4, dh, qc + i * dhp, dhp, kr, scale, s + i * TK);
    switch (nq - i) {
    case 3: score_block(3, dh, qc + i * dhp, dhp, kr, scale, s + i * TK); break;
    case 2: score_block(2, dh, qc + i * dhp, dhp, kr, scale, s + i * TK); break;
    case 1: score_block(1, dh, qc + i * dhp, dhp, kr, scale, s + i * TK); break;
    default: break;
    }
}

TFE_ATTENTION_KERNEL(tfe_attention_q8k64__neon)
{
    const size_t dhp = (size_t)((dh + 15) & ~15);
    float *s = scratch;         /* [TQ][TK] scores, then probabilities */
    float *acc = s + TQ * TK;   /* [TQ][dhp] running Σ p·v */
    float *qc = acc + TQ * dhp; /* [TQ][dhp] query rows, zero padded */
    float mx[TQ], sum[TQ], alpha[TQ], bmax[TQ];
    const float32x4_t zero = vdupq_n_f32(0.0f);

    for (int i = 0; i < TQ; i++) {
        mx[i] = i < nq ? -INFINITY : 0.0f; /* rows past nq stay finite and are never used */
        sum[i] = 0.0f;
        bmax[i] = 0.0f;
    }
    for (int i = 0; i < nq; i++) {
        const float *qi = q + (size_t)i * ld;
        for (size_t d = 0; d < dhp; d += 4) {
            vst1q_f32(qc + i * dhp + d, tfe_load_partial_neon(qi + d, dh - (int)d));
            vst1q_f32(acc + i * dhp + d, zero);
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
            score_rows(nq, dh, qc, dhp, kr, scale, s + j);
        }

        /* Online softmax: new row max, the factor alpha that rescales the old sums, p = e^{s-m}.
         * Lanes at or past kb are -inf for the max and 0 for the sum (selected away). */
        const int kfull = kb & ~3;
        const uint32x4_t ktail = tfe_tail_mask_neon(kb & 3);
        const float32x4_t ninf = vdupq_n_f32(-INFINITY);
        for (int i = 0; i < nq; i++) {
            const float *si = s + i * TK;
            float32x4_t m = ninf;
            for (int j = 0; j < kfull; j += 4)
                m = vmaxq_f32(m, vld1q_f32(si + j));
            if (kfull < kb)
                m = vmaxq_f32(m, vbslq_f32(ktail, vld1q_f32(si + kfull), ninf));
            bmax[i] = vmaxvq_f32(m);
        }
        for (int i = 0; i < TQ; i += 4) {
            float32x4_t mold = vld1q_f32(mx + i);
            float32x4_t mnew = vmaxq_f32(mold, vld1q_f32(bmax + i));
            vst1q_f32(alpha + i, tfe_exp_neon(vsubq_f32(mold, mnew)));
            vst1q_f32(mx + i, mnew);
        }
        for (int i = 0; i < nq; i++) {
            float *si = s + i * TK;
            const float32x4_t mi = vdupq_n_f32(mx[i]);
            float32x4_t bs = zero;
            for (int j = 0; j < kfull; j += 4) {
                float32x4_t e = tfe_exp_neon(vsubq_f32(vld1q_f32(si + j), mi));
                vst1q_f32(si + j, e);
                bs = vaddq_f32(bs, e);
            }
            if (kfull < kb) {
                float32x4_t e = tfe_exp_neon(vsubq_f32(vld1q_f32(si + kfull), mi));
                e = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(e), ktail));
                vst1q_f32(si + kfull, e);
                bs = vaddq_f32(bs, e);
            }
            sum[i] = sum[i] * alpha[i] + vaddvq_f32(bs);
        }

        /* P·V in 16-column strips; only the strip that crosses dh uses partial V loads. */
        const float *vb = v + (size_t)k0 * ld;
        int d = 0;
        for (; d + 16 <= dh; d += 16)
            pv_strip(0, nq, kb, 16, s, vb + d, ld, acc + d, dhp, alpha);
        if (d < dh)
            pv_strip(1, nq, kb, dh - d, s, vb + d, ld, acc + d, dhp, alpha);
    }

    for (int i = 0; i < nq; i++) {
        const float inv = 1.0f / sum[i];
        float *oi = o + (size_t)i * ldo;
        int d = 0;
        for (; d + 4 <= dh; d += 4)
            vst1q_f32(oi + d, vmulq_n_f32(vld1q_f32(acc + i * dhp + d), inv));
        if (d < dh)
            tfe_store_partial_neon(oi + d, vmulq_n_f32(vld1q_f32(acc + i * dhp + d), inv), dh - d);
    }
}
