/* GEMM driver: panel packing, cache blocking and the per-thread tile split. */
#include "gemm.h"

#include <string.h>

#include "cpu.h"
#include "parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

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
    /* Rows per M block: the block's whole rows of A (mc×K) stay in L2 while every panel of
     * this thread streams by once, so the weights are read M/mc times in all. */
    int mc = (int)(blk->l2_floats / k) / mr * mr;
    if (mc < mr)
        mc = mr;
    for (int i0 = row_lo; i0 < row_hi; i0 += mc) {
        int i1 = i0 + mc < row_hi ? i0 + mc : row_hi;
        for (int p = p_lo; p < p_hi; p++) {
            int j0 = p * nr;
            int cols = n - j0 < nr ? n - j0 : nr;
            /* The panel's K blocks in order; the block's C strip (mc×nr) stays in L1/L2. */
            for (int k0 = 0; k0 < k; k0 += kc_max) {
                int kc = k - k0 < kc_max ? k - k0 : kc_max;
                int last = k0 + kc == k;
                const float *bp = g->b->data + (size_t)p * k * nr + (size_t)k0 * nr;
                for (int i = i0; i < i1; i += mr) {
                    int rows = i1 - i < mr ? i1 - i : mr;
                    tfe_gemm_epilogue ep;
                    if (last) {
                        ep.bias = g->bias ? g->bias + j0 : NULL;
                        ep.residual = g->residual ? g->residual + (size_t)i * g->ldr + j0 : NULL;
                        ep.ldr = g->ldr;
                        ep.act = g->act;
                    }
                    impl->ukernel(rows, cols, kc, g->a + (size_t)i * g->lda + k0, g->lda, bp,
                                  g->c + (size_t)i * g->ldc + j0, g->ldc, k0 > 0,
                                  last ? &ep : NULL);
                }
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
