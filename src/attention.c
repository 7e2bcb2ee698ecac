/* Attention driver: enumerates (sequence, head, query tile) items and hands them to a kernel. */
#include "attention.h"

#include <math.h>
#include <string.h>

size_t tfe_attention_scratch_floats(const tfe_attention_impl *impl, int dh)
{
    if (impl->prep)
        return (impl->prep->scratch_floats(dh) + 15) & ~(size_t)15;
    size_t dhp = (size_t)((dh + 15) & ~15);
    size_t n = (size_t)impl->tq * impl->tk + (size_t)impl->tq * dhp * 2 + 2 * (size_t)impl->tq;
    return (n + 15) & ~(size_t)15; /* keep each thread's slice 64-byte aligned */
}

/* Floats of one head's queries, keys and values copied into rows of dh rounded up to 16 (the
 * kernel takes one row stride for all three). */
static size_t qkv_floats(int dh, int len)
{
    return 3 * (size_t)len * (size_t)((dh + 15) & ~15);
}

/* Floats the driver keeps for one head's K and V of `len` keys (copied or prepared). */
static size_t head_floats(const tfe_attention_impl *impl, int dh, int len)
{
    return impl->prep ? impl->prep->prep_floats(len, dh) : qkv_floats(dh, len);
}

size_t tfe_attention_team_scratch_floats(const tfe_attention_impl *impl, int dh, int max_len)
{
    const int len = max_len > 0 ? max_len : 0;
    return tfe_attention_scratch_floats(impl, dh) + head_floats(impl, dh, len);
}

/* Work of one query tile: its score and P·V products (nq·len each) plus a fixed part. */
static long long tile_cost(int nq, int len)
{
    return (long long)nq * (len + 64);
}

void tfe_attention_team(const tfe_attention_impl *impl, const tfe_attention_args *a, int tid,
                        int nthreads)
{
    const int H = a->n_heads, dh = a->d_head, D = H * dh, tq = impl->tq;
    const int dhp = (dh + 15) & ~15;
    const size_t ld = a->qkv_ld;
    const float scale = 1.0f / sqrtf((float)dh);
    float *scratch = a->scratch + (size_t)tid * a->scratch_stride;
    /* The rest of the scratch holds one head's Q, K and V in contiguous rows: in the packed
     * QKV buffer a head's rows lie 3D floats apart, which maps them onto few L1 sets and
     * leaves the hardware prefetchers little to go on (contiguous rows: ~20% faster kernels). */
    const size_t kscr = tfe_attention_scratch_floats(impl, dh);
    const size_t room = a->scratch_stride > kscr ? a->scratch_stride - kscr : 0;
    float *const qp = scratch + kscr;
    const tfe_attention_impl *const short_impl =
        impl->prep && a->short_impl && !a->short_impl->prep && a->short_impl->tq >= tq &&
                tfe_attention_scratch_floats(a->short_impl, dh) <= kscr
            ? a->short_impl
            : NULL;

    /* Items in (sequence, head, tile) order, so a thread's run shares its heads' K and V;
     * each thread takes the items whose middle falls in its equal share of the total cost. */
    long long total = 0;
    for (int b = 0; b < a->batch; b++) { /* a head's tiles cost tile_cost(len, len) */
        int len = a->offsets[b + 1] - a->offsets[b];
        total += (long long)H * tile_cost(len, len);
    }
    const long long lo = total * tid / nthreads, hi = total * (tid + 1) / nthreads;
    long long at = 0;
    for (int b = 0; b < a->batch && at < hi; b++) {
        const int row0 = a->offsets[b], len = a->offsets[b + 1] - row0;
        const float *base = a->qkv + (size_t)row0 * ld;
        const long long head_cost = tile_cost(len, len);
        for (int h = 0; h < H && at < hi; h++, at += head_cost) {
            if (at + head_cost <= lo)
                continue;
            const float *q = base + (size_t)h * dh, *k = q + D, *v = q + 2 * (size_t)D;
            /* the kernel for this sequence: short ones go to short_impl (see attention.h) */
            const tfe_attention_impl *ki =
                short_impl && len < impl->prep->min_len ? short_impl : impl;
            size_t hld = ld;
            int copied = 0, prepared = 0;
            long long c = at;
            for (int q0 = 0; q0 < len; q0 += tq) {
                const int nq = len - q0 < tq ? len - q0 : tq;
                const long long mid = c + tile_cost(nq, len) / 2;
                c += tile_cost(nq, len);
                if (mid < lo || mid >= hi)
                    continue;
                if (ki->prep && !copied) {
                    /* the head's K and V in the kernel's layout, once per thread and head */
                    prepared = head_floats(ki, dh, len) <= room;
                    if (prepared)
                        ki->prep->prepare(len, dh, k, v, ld, qp);
                    copied = 1;
                }
                if (prepared) {
                    ki->prep->prepared(nq, len, dh, q + (size_t)q0 * ld, ld, qp, scale,
                                       a->ctx + (size_t)(row0 + q0) * D + (size_t)h * dh,
                                       (size_t)D, scratch);
                    continue;
                }
                if (!copied && qkv_floats(dh, len) <= room) {
                    float *kp = qp + (size_t)len * dhp, *vp = kp + (size_t)len * dhp;
                    const size_t row = (size_t)dh * sizeof(float);
                    for (int j = 0; j < len; j++) {
                        memcpy(qp + (size_t)j * dhp, q + (size_t)j * ld, row);
                        memcpy(kp + (size_t)j * dhp, k + (size_t)j * ld, row);
                        memcpy(vp + (size_t)j * dhp, v + (size_t)j * ld, row);
                    }
                    q = qp, k = kp, v = vp, hld = (size_t)dhp;
                }
                copied = 1;
                ki->kernel(nq, len, dh, q + (size_t)q0 * hld, k, v, hld, scale,
                             a->ctx + (size_t)(row0 + q0) * D + (size_t)h * dh, (size_t)D,
                             scratch);
            }
        }
    }
}
