/* Attention driver: enumerates (sequence, query tile, head) items and hands them to a kernel. */
#include "attention.h"

#include <math.h>

size_t tfe_attention_scratch_floats(const tfe_attention_impl *impl, int dh)
{
    size_t dhp = (size_t)((dh + 15) & ~15);
    size_t n = (size_t)impl->tq * impl->tk + (size_t)impl->tq * dhp * 2 + 2 * (size_t)impl->tq;
    return (n + 15) & ~(size_t)15; /* keep each thread's slice 64-byte aligned */
}

/* The sequence that holds global query tile `t` (tiles[] is ascending). */
static int sequence_of_tile(const int *tiles, int batch, int t)
{
    int lo = 0, hi = batch - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (tiles[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

void tfe_attention_team(const tfe_attention_impl *impl, const tfe_attention_args *a, int tid,
                        int nthreads)
{
    const int H = a->n_heads, dh = a->d_head, D = H * dh, tq = impl->tq;
    const size_t ld = a->qkv_ld;
    const int items = a->tiles[a->batch] * H;
    const float scale = 1.0f / sqrtf((float)dh);
    float *scratch = a->scratch + (size_t)tid * a->scratch_stride;
    /* Interleaved items: neighbouring tiles (similar cost) land on different threads. */
    for (int it = tid; it < items; it += nthreads) {
        int tile = it / H, h = it % H;
        int b = sequence_of_tile(a->tiles, a->batch, tile);
        int row0 = a->offsets[b], len = a->offsets[b + 1] - row0;
        int q0 = (tile - a->tiles[b]) * tq;
        int nq = len - q0 < tq ? len - q0 : tq;
        const float *base = a->qkv + (size_t)row0 * ld;
        impl->kernel(nq, len, dh, base + (size_t)q0 * ld + (size_t)h * dh,
                     base + D + (size_t)h * dh, base + 2 * (size_t)D + (size_t)h * dh, ld, scale,
                     a->ctx + (size_t)(row0 + q0) * D + (size_t)h * dh, (size_t)D, scratch);
    }
}
