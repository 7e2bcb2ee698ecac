/* GEMM driver: panel packing, cache blocking and the per-thread tile split. */
#include "gemm.h"

#include <string.h>

#include "cpu.h"
#include "parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* A hint only: __builtin_prefetch never faults, so reading past the packed weights is safe. */
static inline void tfe_prefetch_l2(const void *p)
{
    __builtin_prefetch(p, 0, 2);
}

size_t tfe_packed_floats(int n, int k, int nr)
{
    size_t panels = ((size_t)n + (size_t)nr - 1) / (size_t)nr;
    return panels * (size_t)k * (size_t)nr;
}

void tfe_pack_b(int n, int k, int nr, const float *w, float *dst)
{
    int panels = (n + nr - 1) / nr;
    for (int p = 0; p < panels; p++) {
        float *panel = dst + (size_t)p * k * nr;
        int cols = n - p * nr < nr ? n - p * nr : nr;
        for (int kk = 0; kk < k; kk++) {
            float *row = panel + (size_t)kk * nr;
            for (int j = 0; j < cols; j++)
                row[j] = w[(size_t)(p * nr + j) * k + kk];
            for (int j = cols; j < nr; j++)
                row[j] = 0.0f;
        }
    }
}

void tfe_gemm_blocking_init(const tfe_gemm_impl *impl, tfe_gemm_blocking *blk)
{
    const tfe_cpu_info *ci = tfe_cpu();
    /* Half of L1 for the kc×nr slice of the B panel (the other half: rows of A, C tile). */
    int kc = (int)(ci->l1d / 2 / ((long)impl->nr * (long)sizeof(float)));
    kc = kc / 16 * 16;
    if (kc < 64)
        kc = 64;
    blk->kc = kc;
    blk->l2_floats = ci->l2 / 2 / (long)sizeof(float);
}

/* Prefetch distance: slices ahead in a panel (rows-resident order), panels ahead (C-resident). */
#ifndef PF_SLICES
#define PF_SLICES 4
#endif
#ifndef PF_PANELS
#define PF_PANELS 2
#endif

/* What one thread's tiles share while it walks its part of C. */
typedef struct gemm_strip {
    const tfe_gemm_impl *impl;
    const tfe_gemm_args *g;
    int mr, nr, n, k, kc;
} gemm_strip;

/* Rows [i0, i1) of panel p against its K slice at k0, tile by tile. The weights come from
 * DRAM once per forward pass and the hardware prefetchers stop at every 4 KiB page, so while
 * the tiles compute, the slice `ahead` floats further on (the next one this thread uses) is
 * fetched into L2 in equal parts, one part per tile. */
static void run_strip(const gemm_strip *s, int i0, int i1, int p, int k0, size_t ahead)
{
    const tfe_gemm_args *g = s->g;
    const int mr = s->mr, nr = s->nr, k = s->k;
    const int kc = k - k0 < s->kc ? k - k0 : s->kc;
    const int last = k0 + kc == k;
    const int j0 = p * nr, cols = s->n - j0 < nr ? s->n - j0 : nr;
    const float *bp = g->b->data + (size_t)p * k * nr + (size_t)k0 * nr;
    const char *next = (const char *)(bp + ahead);
    const int tiles = (i1 - i0 + mr - 1) / mr;
    /* With few tiles per slice the weights stream at the kernel's pace: the kernel prefetches
     * line by line (bursts of hundreds of prefetches here would overflow the miss queues). */
    const int stream = tiles < 4;
    const size_t next_bytes = ahead && !stream ? (size_t)s->kc * nr * sizeof(float) : 0;
    const size_t part = (next_bytes / (size_t)tiles + 63) & ~(size_t)63;
    for (int i = i0, t = 0; i < i1; i += mr, t++) {
        for (size_t off = (size_t)t * part; off < (size_t)(t + 1) * part && off < next_bytes;
             off += 64)
            tfe_prefetch_l2(next + off);
        tfe_gemm_epilogue ep;
        if (last) {
            ep.bias = g->bias ? g->bias + j0 : NULL;
            ep.residual = g->residual ? g->residual + (size_t)i * g->ldr + j0 : NULL;
            ep.ldr = g->ldr;
            ep.act = g->act;
        }
        s->impl->ukernel(i1 - i < mr ? i1 - i : mr, cols, kc, g->a + (size_t)i * g->lda + k0,
                         g->lda, bp, g->c + (size_t)i * g->ldc + j0, g->ldc,
                         (k0 > 0 ? TFE_GEMM_ACCUMULATE : 0) | (stream ? TFE_GEMM_STREAM_B : 0),
                         last ? &ep : NULL);
    }
}

void tfe_gemm_team(const tfe_gemm_impl *impl, const tfe_gemm_blocking *blk,
                   const tfe_gemm_args *g, int tid, int nthreads)
{
    const int mr = impl->mr, nr = impl->nr;
    const int n = g->b->n, k = g->b->k;
    const int panels = (n + nr - 1) / nr;
    const int mblocks = (g->m + mr - 1) / mr;
    if (g->m <= 0 || n <= 0)
        return;
    /* Threads split the panels first (each then streams only its own slice of the weights,
     * which is what bounds small-M products); rows are split only when panels run out. */
    int tn = nthreads < panels ? nthreads : panels;
    int tm = nthreads / tn;
    if (tm > mblocks)
        tm = mblocks;
    if (tid >= tn * tm)
        return;
    int p_lo, p_hi, mb_lo, mb_hi;
    tfe_split_range(panels, tn, tid % tn, &p_lo, &p_hi);
    tfe_split_range(mblocks, tm, tid / tn, &mb_lo, &mb_hi);

    const int row_lo = mb_lo * mr, row_hi = mb_hi * mr < g->m ? mb_hi * mr : g->m;
    const int kc_max = blk->kc;
    /* Two loop orders, both streaming the weights as few times as L2 allows:
     *  - rows-resident: an M block's full rows of A (mc×K) stay in L2 while each panel
     *    passes once, all its K slices in a row (wide products: QKV, FFN up);
     *  - C-resident: the block's C (mc × this thread's columns) stays in L2 while the K
     *    slices pass, each over all panels (deep products: FFN down).
     * Whichever admits the taller M block wins. Every tile still sees its K slices in
     * ascending order, so the result does not depend on the order or on the team size. */
    const long cols = (long)(p_hi - p_lo) * nr;
    int mc_rows = (int)(blk->l2_floats / k), mc_c = (int)(blk->l2_floats / (cols + kc_max));
    /* (When all of this thread's rows fit rows-resident, that order is right: C is tiny and
     * each panel then streams front to back, as the micro-kernel's prefetch expects.) */
    int c_resident = mc_c > mc_rows && mc_rows < row_hi - row_lo;
    int mc = (c_resident ? mc_c : mc_rows) / mr * mr;
    if (mc < mr)
        mc = mr;
    /* Equal M blocks: a thin last block would stream all the weights for a few rows. */
    const int rows = row_hi - row_lo, blocks = (rows + mc - 1) / mc;
    mc = ((rows + blocks - 1) / blocks + mr - 1) / mr * mr;
    gemm_strip strip = {impl, g, mr, nr, n, k, kc_max};
    const size_t panel_floats = (size_t)k * nr, slice_floats = (size_t)kc_max * nr;
    for (int i0 = row_lo; i0 < row_hi; i0 += mc) {
        int i1 = i0 + mc < row_hi ? i0 + mc : row_hi;
        if (!c_resident) {
            for (int p = p_lo; p < p_hi; p++)
                for (int k0 = 0; k0 < k; k0 += kc_max) {
                    /* next: the rest of this panel, then the next panel (contiguous) */
                    int more = k0 + kc_max < k || p + 1 < p_hi;
                    run_strip(&strip, i0, i1, p, k0, more ? PF_SLICES * slice_floats : 0);
                }
        } else {
            for (int k0 = 0; k0 < k; k0 += kc_max)
                for (int p = p_lo; p < p_hi; p++) {
                    /* next: the same K slice of the next panel */
                    size_t ahead = p + 1 < p_hi ? PF_PANELS * panel_floats : 0;
                    run_strip(&strip, i0, i1, p, k0, ahead);
                }
        }
    }
}

void tfe_gemm(const tfe_gemm_impl *impl, const tfe_gemm_blocking *blk, const tfe_gemm_args *args,
              int threads)
{
    if (threads <= 1) {
        tfe_gemm_team(impl, blk, args, 0, 1);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
    tfe_gemm_team(impl, blk, args, omp_get_thread_num(), omp_get_num_threads());
#else
    tfe_gemm_team(impl, blk, args, 0, 1);
#endif
}
