/* Tile-unit (AMX) fused attention, query tile 32 × key block 64: the two products of each
 * block on the bf16 tile unit with the bf16x3 split of gemm_amx.c (three bf16 terms per fp32
 * value, six tile products per fp32 product, so each dot product errs like an fp32 one); the
 * online softmax on zmm registers as in attention_avx512.c.
 *
 * Everything is transposed, as in attention_avx512.c: the scores come out as Sᵀ = K·Qᵀ (a row
 * per key, a vector per 16 queries), so the softmax statistics are plain vector operations
 * across the queries, and the output as Oᵀ = Vᵀ·Pᵀ, whose rescaling by the running factor is
 * one vector FMA per row. Per block: Sᵀ (64 keys × 32 queries: a C tile pair per key
 * tile), the block max, 2^(s - max) (scores in log2 units: Qᵀ carries scale·log2 e), the sums
 * and the rescale factor, Pᵀ split into B tiles, then Vᵀ·Pᵀ (a C tile pair per 16 dims) and
 * accᵀ = accᵀ·alpha + Vᵀ·Pᵀ in memory.
 *
 * Tiles hold 16 rows × 32 bf16; dword j of a row pairs K index k0+j with k0+16+j.
 *   A tiles, K: natural (row n = key n; K index = dims).
 *   A tiles, Vᵀ: row d = dim d, K index = keys: V transposed, 16×16 at a time.
 *   B tiles, Qᵀ and Pᵀ: row j = K index pair (k0+j, k0+16+j) across 16 queries: Q's rows
 *   transposed once per call; Pᵀ's rows are that already.
 * K and V are converted once per head a thread works on (`prepare`, called by the driver),
 * not by every query tile. A prepared block of 64 keys: K [key tile][chunk of 32 dims][term]
 * [512], then Vᵀ [16-dim tile][key chunk][term][512]; missing keys and dims are zeros, and
 * missing keys get probability 0. */
#include <float.h>
#include <immintrin.h>
#include <stdint.h>

#include "attention.h"
#include "bf16x3_amx.h"
#include "gemm.h"
#include "vecmath_avx512.h"

enum { TQ = 32, QT = TQ / 16, TK = 64, KT = TK / 16, KCH = TK / 32, TILE = TFE_TILE_BF16 };
enum { TERMS = 3 * TILE }; /* bf16 of one tile's three terms */

/* Chunks of 32 dims and tiles of 16 dims of a head of dh. */
static inline int dim_chunks(int dh) { return (dh + 31) / 32; }
static inline int dim_tiles(int dh) { return (dh + 15) / 16; }

/* bf16 of one prepared block of TK keys (a multiple of 32: whole floats, 64-byte aligned). */
static inline size_t block_bf16(int dh)
{
    return ((size_t)KT * dim_chunks(dh) + (size_t)dim_tiles(dh) * KCH) * TERMS;
}

static size_t prep_floats(int nk, int dh)
{
    return (size_t)((nk + TK - 1) / TK) * block_bf16(dh) / 2;
}

/* The kernel's scratch, in this order (all 64-byte aligned): Qᵀ's B tiles, Sᵀ (TK × TQ), Pᵀ's
 * B tiles, Vᵀ·Pᵀ (16 dims × TQ), accᵀ (dhp × TQ), row max and sum (TQ each), and one prepared
 * block for callers without `prepare`. */
static size_t qt_bf16(int dh) { return (size_t)QT * dim_chunks(dh) * TERMS; }

static size_t scratch_floats(int dh)
{
    const size_t dhp = 16 * (size_t)dim_tiles(dh);
    return qt_bf16(dh) / 2 + TK * TQ + (size_t)KCH * QT * TERMS / 2 + 16 * TQ + dhp * TQ +
           2 * TQ + block_bf16(dh) / 2;
}

/* r[i] = row i of src (16 rows of 16 columns; zeros past nrows rows and ncols columns), then
 * transposed: on return r[j] is column j across the 16 rows. */
static inline void load_transposed(const float *src, size_t ld, int nrows, int ncols, __m512 r[16])
{
    const __mmask16 mc = tfe_tail_mask_avx512(ncols);
    for (int i = 0; i < 16; i++)
        r[i] = i < nrows ? _mm512_maskz_loadu_ps(mc, src + (size_t)i * ld) : _mm512_setzero_ps();
    tfe_transpose16_avx512(r);
}

/* Converts keys [0, nkb) of a block (nkb <= TK; k, v point at its first key) into `dst`. */
static void prepare_block(int nkb, int dh, const float *k, const float *v, size_t ld,
                          uint16_t *dst)
{
    const int nch = dim_chunks(dh), nd = dim_tiles(dh);
    /* K: row n of the tile for key tile t and chunk c is key 16t+n, dims 32c+j and 32c+16+j. */
    for (int t = 0; t < KT && 16 * t < nkb; t++) /* tiles without real keys are never read */
        for (int c = 0; c < nch; c++) {
            uint16_t *tile = dst + ((size_t)t * nch + c) * TERMS;
            const __mmask16 mlo = tfe_tail_mask_avx512(dh - 32 * c);
            const __mmask16 mhi = tfe_tail_mask_avx512(dh - 32 * c - 16);
            for (int n = 0; n < 16; n++) {
                const int key = 16 * t + n;
                const float *r = k + (size_t)key * ld + 32 * c;
                const __m512 lo = key < nkb ? _mm512_maskz_loadu_ps(mlo, r) : _mm512_setzero_ps();
                const __m512 hi =
                    key < nkb ? _mm512_maskz_loadu_ps(mhi, r + 16) : _mm512_setzero_ps();
                split3(lo, hi, tile + n * 32);
            }
        }
    /* Vᵀ: row d of the tile for dim tile dt and key chunk kc is dim 16dt+d, keys 32kc+j and
     * 32kc+16+j: V's 16×16 pieces transposed. */
    uint16_t *vt = dst + (size_t)KT * nch * TERMS;
    for (int dt = 0; dt < nd; dt++)
        for (int kc = 0; kc < KCH && 32 * kc < nkb; kc++) {
            __m512 lo[16], hi[16];
            const float *vb = v + (size_t)(32 * kc) * ld + 16 * dt;
            load_transposed(vb, ld, nkb - 32 * kc, dh - 16 * dt, lo);
            load_transposed(vb + 16 * ld, ld, nkb - 32 * kc - 16, dh - 16 * dt, hi);
            uint16_t *tile = vt + ((size_t)dt * KCH + kc) * TERMS;
            for (int d = 0; d < 16; d++)
                split3(lo[d], hi[d], tile + d * 32);
        }
}

static TFE_ATTENTION_PREPARE(prepare)
{
    uint16_t *dst = (uint16_t *)prep;
    for (int k0 = 0; k0 < nk; k0 += TK, dst += block_bf16(dh))
        prepare_block(nk - k0 < TK ? nk - k0 : TK, dh, k + (size_t)k0 * ld, v + (size_t)k0 * ld,
                      ld, dst);
}

/* Pointers into the scratch; see scratch_floats. */
typedef struct work {
    uint16_t *qt, *pt, *block;
    float *st, *pv, *acc, *mx, *sum;
} work;

static work work_at(float *scratch, int dh)
{
    const size_t dhp = 16 * (size_t)dim_tiles(dh);
    work w;
    w.qt = (uint16_t *)scratch;
    w.st = scratch + qt_bf16(dh) / 2;
    w.pt = (uint16_t *)(w.st + TK * TQ);
    w.pv = (float *)(w.pt + (size_t)KCH * QT * TERMS);
    w.acc = w.pv + 16 * TQ;
    w.mx = w.acc + dhp * TQ;
    w.sum = w.mx + TQ;
    w.block = (uint16_t *)(w.sum + TQ);
    return w;
}

/* Sᵀ = K·Qᵀ for one prepared block of nkb keys into st (TK × TQ): per key tile holding real
 * keys, its A terms meet both query tiles (the second only when qv = 2 vectors hold queries). */
static void scores(int nkb, int dh, int qv, const uint16_t *blk, const uint16_t *qt, float *st)
{
    const int nch = dim_chunks(dh);
    const size_t row_bytes = TQ * sizeof(float);
    for (int t = 0; t < KT && 16 * t < nkb; t++) {
        _tile_zero(0);
        _tile_zero(1);
        for (int c = 0; c < nch; c++) {
            TFE_BF16X3_LOAD_A(blk + ((size_t)t * nch + c) * TERMS);
            TFE_BF16X3_DOT6(0, qt + (size_t)c * TERMS);
            if (qv > 1)
                TFE_BF16X3_DOT6(1, qt + ((size_t)nch + c) * TERMS);
        }
        _tile_stored(0, st + 16 * t * TQ, row_bytes);
        if (qv > 1)
            _tile_stored(1, st + 16 * t * TQ + 16, row_bytes);
    }
}

/* The rest of a block once its scores are in st: softmax, Vᵀ·Pᵀ and the accumulators. */
static void block_step(int nkb, int dh, int qv, const uint16_t *blk, const float *st,
                       const work *w)
{
    const int nch = dim_chunks(dh), nd = dim_tiles(dh), kch = (nkb + 31) / 32;
    const uint16_t *vt = blk + (size_t)KT * nch * TERMS;
    const size_t row_bytes = TQ * sizeof(float);

    /* Online softmax across the queries; keys past nkb are not read (probability 0). */
    float alpha_s[TQ] __attribute__((aligned(64)));
    for (int h = 0; h < qv; h++) {
        const float *sth = st + 16 * h;
        __m512 m4[4];
        for (int u = 0; u < 4; u++)
            m4[u] = _mm512_load_ps(sth + (u < nkb ? u : 0) * TQ);
        int j = 4;
        for (; j + 4 <= nkb; j += 4)
            for (int u = 0; u < 4; u++)
                m4[u] = _mm512_max_ps(m4[u], _mm512_load_ps(sth + (j + u) * TQ));
        for (; j < nkb; j++)
            m4[0] = _mm512_max_ps(m4[0], _mm512_load_ps(sth + j * TQ));
        const __m512 bmax =
            _mm512_max_ps(_mm512_max_ps(m4[0], m4[1]), _mm512_max_ps(m4[2], m4[3]));
        const __m512 mold = _mm512_load_ps(w->mx + 16 * h), mnew = _mm512_max_ps(mold, bmax);
        const __m512 alpha = tfe_exp2_avx512(_mm512_sub_ps(mold, mnew)); /* first block: 0 */
        __m512 bsum = _mm512_setzero_ps();
        /* Pᵀ rows in pairs (keys 32c+j and 32c+16+j) straight into the B tiles' terms. */
        for (int c = 0; c < kch; c++)
            for (int r = 0; r < 16; r++) {
                const int klo = 32 * c + r, khi = klo + 16;
                __m512 plo = _mm512_setzero_ps(), phi = _mm512_setzero_ps();
                if (klo < nkb) {
                    plo = tfe_exp2_avx512(_mm512_sub_ps(_mm512_load_ps(sth + klo * TQ), mnew));
                    bsum = _mm512_add_ps(bsum, plo);
                }
                if (khi < nkb) {
                    phi = tfe_exp2_avx512(_mm512_sub_ps(_mm512_load_ps(sth + khi * TQ), mnew));
                    bsum = _mm512_add_ps(bsum, phi);
                }
                split3(plo, phi, w->pt + ((size_t)c * QT + h) * TERMS + r * 32);
            }
        _mm512_store_ps(w->sum + 16 * h,
                        _mm512_fmadd_ps(_mm512_load_ps(w->sum + 16 * h), alpha, bsum));
        _mm512_store_ps(w->mx + 16 * h, mnew);
        _mm512_store_ps(alpha_s + 16 * h, alpha);
    }

    /* Vᵀ·Pᵀ per 16-dim tile (both query tiles at once), then accᵀ = accᵀ·alpha + Vᵀ·Pᵀ. */
    for (int dt = 0; dt < nd; dt++) {
        _tile_zero(0);
        _tile_zero(1);
        for (int c = 0; c < kch; c++) {
            TFE_BF16X3_LOAD_A(vt + ((size_t)dt * KCH + c) * TERMS);
            TFE_BF16X3_DOT6(0, w->pt + ((size_t)c * QT) * TERMS);
            if (qv > 1)
                TFE_BF16X3_DOT6(1, w->pt + ((size_t)c * QT + 1) * TERMS);
        }
        _tile_stored(0, w->pv, row_bytes);
        if (qv > 1)
            _tile_stored(1, w->pv + 16, row_bytes);
        float *acc = w->acc + (size_t)16 * dt * TQ;
        for (int d = 0; d < 16; d++)
            for (int h = 0; h < qv; h++)
                _mm512_store_ps(acc + d * TQ + 16 * h,
                                _mm512_fmadd_ps(_mm512_load_ps(acc + d * TQ + 16 * h),
                                                _mm512_load_ps(alpha_s + 16 * h),
                                                _mm512_load_ps(w->pv + d * TQ + 16 * h)));
    }
}

/* The whole call: blocks from `prep` (prepared for all nk keys) or, with prep NULL, each
 * block converted from k and v into the scratch just before its use. */
static void attend(int nq, int nk, int dh, const float *q, const float *k, const float *v,
                   size_t ld, const uint16_t *prep, float scale, float *o, size_t ldo,
                   float *scratch)
{
    const int nch = dim_chunks(dh), nd = dim_tiles(dh), qv = (nq + 15) / 16;
    const work w = work_at(scratch, dh);
    const __m512 sc = _mm512_set1_ps(scale * 1.44269504088896341f); /* log2 units */
    /* Qᵀ: row j of the B tile for query tile h and chunk c is dims 32c+j and 32c+16+j of
     * queries 16h..16h+15 (zero past nq), scaled. */
    for (int h = 0; h < qv; h++)
        for (int c = 0; c < nch; c++) {
            __m512 lo[16], hi[16];
            const float *qb = q + (size_t)(16 * h) * ld + 32 * c;
            load_transposed(qb, ld, nq - 16 * h, dh - 32 * c, lo);
            load_transposed(qb + 16, ld, nq - 16 * h, dh - 32 * c - 16, hi);
            uint16_t *tile = w.qt + ((size_t)h * nch + c) * TERMS;
            for (int j = 0; j < 16; j++)
                split3(_mm512_mul_ps(lo[j], sc), _mm512_mul_ps(hi[j], sc), tile + j * 32);
        }
    for (int i = 0; i < TQ; i++) {
        w.mx[i] = -FLT_MAX;
        w.sum[i] = 0.0f;
    }
    for (int i = 0; i < 16 * nd; i++)
        for (int h = 0; h < qv; h++)
            _mm512_store_ps(w.acc + (size_t)i * TQ + 16 * h, _mm512_setzero_ps());

    tfe_gemm_amx_begin();
    for (int k0 = 0; k0 < nk; k0 += TK) {
        const int nkb = nk - k0 < TK ? nk - k0 : TK;
        const uint16_t *blk = prep ? prep + (size_t)(k0 / TK) * block_bf16(dh) : w.block;
        if (!prep)
            prepare_block(nkb, dh, k + (size_t)k0 * ld, v + (size_t)k0 * ld, ld, w.block);
        scores(nkb, dh, qv, blk, w.qt, w.st);
        block_step(nkb, dh, qv, blk, w.st, &w);
    }
    tfe_gemm_amx_end();

    /* o = accᵀ transposed back, over the row sums. */
    for (int h = 0; h < qv; h++) {
        const __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_load_ps(w.sum + 16 * h));
        for (int dt = 0; dt < nd; dt++) {
            __m512 r[16];
            for (int d = 0; d < 16; d++)
                r[d] = _mm512_mul_ps(_mm512_load_ps(w.acc + (size_t)(16 * dt + d) * TQ + 16 * h),
                                     inv);
            tfe_transpose16_avx512(r);
            const __mmask16 md = tfe_tail_mask_avx512(dh - 16 * dt);
            for (int i = 0; i < 16 && 16 * h + i < nq; i++)
                _mm512_mask_storeu_ps(o + (size_t)(16 * h + i) * ldo + 16 * dt, md, r[i]);
        }
    }
}

static TFE_ATTENTION_PREPARED(prepared)
{
    attend(nq, nk, dh, q, NULL, NULL, ld, (const uint16_t *)prep, scale, o, ldo, scratch);
}

TFE_ATTENTION_KERNEL(tfe_attention_q32k64__amx)
{
    attend(nq, nk, dh, q, k, v, ld, NULL, scale, o, ldo, scratch);
}

/* Alone, the kernel beats the AVX-512 one from 64 keys (one thread, 12 heads of 64: 0.97x the
 * time at 64 keys, 0.87x at 128, 0.72x at 512; 1.65x at 16). End to end it pays only from
 * ~384: BERT-base on 2 threads 0.95x the time at 1x512 and 0.96x at 1x384, but 1.01-1.02x at
 * 1x256 and 1.08x at 1x128, the AMX GEMMs' tile calls slowing down by more than attention
 * gains (see README, "AMX attention"). */
const tfe_attention_prep tfe_attention_prep_amx = {
    .min_len = 384,
    .prep_floats = prep_floats,
    .scratch_floats = scratch_floats,
    .prepare = prepare,
    .prepared = prepared,
};
