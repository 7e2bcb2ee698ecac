/* GEMM driver: panel packing, cache blocking and the per-thread tile split. */
#include "gemm.h"

#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "kernels.h"
#include "model.h"
#include "parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

size_t tfe_packed_floats(int n, int k, int nr)
{
    size_t panels = ((size_t)n + (size_t)nr - 1) / (size_t)nr;
    return panels * (size_t)k * (size_t)nr;
}

void tfe_pack_b(int n, int k, int nr, int blocked, const float *w, float *dst)
{
    int panels = (n + nr - 1) / nr;
    for (int p = 0; p < panels; p++) {
        float *panel = dst + (size_t)p * k * nr;
        int cols = n - p * nr < nr ? n - p * nr : nr;
        for (int kk = 0; kk < k; kk++)
            for (int j = 0; j < nr; j++) {
                float *row = (float *)tfe_panel_row(panel, k, nr, blocked, kk, j / 16);
                row[j % 16] = j < cols ? w[(size_t)(p * nr + j) * k + kk] : 0.0f;
            }
    }
}

/* The panel orders' shortest K slice. Every tile call pays a fixed ~85-105 cycles where its
 * C round trip and the accumulators' chains start and drain (measured with 8x48 tiles in
 * L1: the same with the call, the loop branch and C's cache level taken away), 4-5% of a
 * 128-step AVX-512 tile. Half of a 48 KiB L1 gives the 48-wide panels 128 steps; 256 (the
 * slice then fills L1, and part of it comes from L2 while the tiles pass) made AVX-512
 * sessions 1.2-1.9% faster at 1x128 on 1 and 2 threads (tfenc-ab-libs, 21 rounds; 192:
 * 1.0%; 384: 2.3% slower on 1 thread) and 128-row products 1-3% (8x128 and 1x512, in the
 * tile order, the same). AVX2's 16-wide panels already get 384 (at 512: the same, at 768:
 * 2-4% slower). */
enum { PANEL_KC_MIN = 256 };

/* The K slice whose `width` floats per k step fill half of L1: a multiple of 16, at least 64. */
static int half_l1_kc(long l1d, int width)
{
    int kc = (int)(l1d / 2 / ((long)width * (long)sizeof(float))) / 16 * 16;
    return kc < 64 ? 64 : kc;
}

void tfe_gemm_blocking_init(const tfe_gemm_impl *impl, tfe_gemm_blocking *blk)
{
    const tfe_cpu_info *ci = tfe_cpu();
    /* Panel orders: half of L1 for the kc×nr slice of a weight panel (the other half: rows
     * of A, the C tile), but at least PANEL_KC_MIN k steps; half of L2 for the rows of A or
     * the C block. */
    blk->kc = half_l1_kc(ci->l1d, impl->nr);
    if (blk->kc < PANEL_KC_MIN)
        blk->kc = PANEL_KC_MIN;
    if (impl->amx) {
        /* The AMX tiles read the slice converted: three bf16 terms a value (6 bytes, not 4), in
         * whole chunks of 32 values of K. On a 48 KiB L1 that gives 64 (128 before): the
         * slice (36 KiB at 128), the next one being converted and a tile's A had overflowed
         * L1. In one process against 128: BERT-base 8×128 6-7% faster on 1 and 2 threads,
         * 1×512 6%, 1×128 2-3% on 2 threads and the same on 1, MiniLM 1×128 3-8%. (Before
         * the thread's stage held the partial sums, the twice as many round trips through C
         * made 2 threads 5-12% slower.) */
        const long chunk_bytes = 32L * impl->nr * 3 * 2;
        int kc = (int)(ci->l1d / 2 / chunk_bytes) * 32;
        kc = kc < 32 ? 32 : kc;
        blk->kc = kc < TFE_GEMM_AMX_KC_MAX ? kc : TFE_GEMM_AMX_KC_MAX;
    }
    blk->l2_floats = ci->l2 / 2 / (long)sizeof(float);
    /* The rows-resident order's M block: half of L2, at most 384 KiB (128 rows of K = 768).
     * The cap was measured on a 2 MiB L2 (Xeon) as a fifth of L2 against half (256 rows
     * there), when the product starts with other data in L2, as in a forward pass: +8% on
     * 512×3072×768, +2% on 256×2304×768, +5% on 512 rows of K = 384, although the weights then
     * pass once per 128 rows (from L3 after the first pass); when the same product repeats
     * back to back (the bench rows): +0-3%. On a 512 KiB L2 (Zen 1 EPYC) a fifth held 34
     * rows, so the weights passed 4 times for 128 rows: half of L2 made 128×768×768,
     * 128×3072×768 and 512×3072×768 0.955×, 0.974× and 0.934× the time on one thread,
     * 128×3072×768 0.943× on two (tfenc-ab-gemm, both load orders); all of L2: the same as
     * half. */
    const long a_block_bytes = ci->l2 / 2 < 384L * 1024 ? ci->l2 / 2 : 384L * 1024;
    blk->a_block_floats = a_block_bytes / (long)sizeof(float);
    /* Tile order: half of L1 for the mr×kc tile of A (the other half: weight rows streaming
     * through from L2, the C tile); a third of L2 for the weight block (measured on a 2 MiB
     * L2: blocks of 4 panels of 768 beat 3 and 6). */
    blk->kc_tile = half_l1_kc(ci->l1d, impl->mr);
    /* Measured against "over twice the L2 budget" as the only test: in the tile order, 512
     * rows of K = 768 on one thread 1-3% faster (11% on 512×2304×768 in one run), 256 rows a
     * thread 4-10%, AVX-512 sessions at 8×128 1-5% faster and at 1×512 the same; but 128 rows
     * of K = 3072 (FFN down) 1-2% slower end to end at 1×128. (That was with K slices of 128
     * in the panel orders; with 256, see tile_block_rows.) */
    blk->tile_rows = impl->a_in_place ? 256 : INT_MAX;
    /* With K slices of 256, the rows-resident order caught up where its M block holds 128
     * rows or more (K <= 768 on a 2 MiB L2): AVX-512, one process, against the tile order,
     * 512 and 1024 rows of K = 768 (N = 768 to 3072) and 512 of K = 384: 0.998-1.025x the
     * rate on 1 and 2 threads, 1.6-2.5% faster on the wide ones; BERT-base and MiniLM 8×128
     * and BERT-base 1×512 end to end 0.986-1.008x the time. Deeper products keep the tile order
     * (512×768×3072: 3-4% faster there), and so do products whose weights the rows-resident
     * order would pass more than 4 times: 1024 rows of K = 768 (8 passes) ran 3.5-5.7% faster
     * in the tile order on one thread (N = 768 and 3072). */
    blk->tile_block_rows = 128;
    blk->tile_max_passes = 4;
    blk->b_block_floats = ci->l2 / 3 / (long)sizeof(float);
}

/* Panel p of b at K row k0: its row (plain) or its first column block's row (blocked). */
static const float *panel_at(const tfe_packed *b, int p, int k0)
{
    return tfe_panel_row(b->data + (size_t)p * b->k * b->nr, b->k, b->nr, b->blocked, k0, 0);
}

/* Step s of a thread's walk over the (K slice of kc rows, panel) pairs of panels
 * [p_lo, p_lo + np), panels outer (each panel's slices in a row) or K slices outer: where the
 * step's weights start, or NULL past the walk's end. */
static const float *walk_at(const tfe_packed *b, int p_lo, int np, int kc, int panels_outer,
                            int s)
{
    const int slices = (b->k + kc - 1) / kc;
    if (s >= np * slices)
        return NULL;
    const int p = panels_outer ? s / slices : s % np, ks = panels_outer ? s % slices : s / np;
    return panel_at(b, p_lo + p, ks * kc);
}

/* Floats per K row along one weight stream (a plain panel, or one column block). */
static size_t stream_row(const tfe_packed *b)
{
    return b->blocked ? 16 : (size_t)b->nr;
}

/* Floats between the column blocks of a blocked panel (the micro-kernel's bstride). */
static size_t block_stride(const tfe_packed *b)
{
    return b->blocked ? (size_t)16 * b->k : 0;
}

/* Values in the K slice that starts at k0: kc, or what is left of K. */
static inline int slice_len(int k, int k0, int kc)
{
    return k - k0 < kc ? k - k0 : kc;
}

/* Rows per M block for `rows` rows and blocks of at most `mc_max`: equal blocks (a thin last
 * block would stream all the weights for a few rows), a multiple of mr, at least mr. */
static int equal_m_blocks(int rows, int mc_max, int mr)
{
    int mc = mc_max / mr * mr;
    if (mc < mr)
        mc = mr;
    const int blocks = (rows + mc - 1) / mc;
    return ((rows + blocks - 1) / blocks + mr - 1) / mr * mr;
}

/* The epilogue of the tile at row i, column j0 (used on the last K slice only). */
static tfe_gemm_epilogue tile_epilogue(const tfe_gemm_args *g, int i, int j0)
{
    tfe_gemm_epilogue ep;
    ep.bias = g->bias ? g->bias + j0 : NULL;
    ep.residual = g->residual ? g->residual + (size_t)i * g->ldr + j0 : NULL;
    ep.ldr = g->ldr;
    ep.act = g->act;
    return ep;
}

/* Rows per thread from which a team splits the rows before the panels (tfe_gemm_team).
 * Measured end to end on 2 threads against the panels-first split: 64 rows per thread cost
 * BERT-base 14% (each thread streams all the weights; an early build: the AVX-512 kernel, with
 * A packed and K slices of 256, now gains from 64, see its registry entry) and MiniLM
 * nothing; 128 rows per thread gained 5% and 7%, 256 and 512 rows 4-10%. In a big team a row
 * group streams only its share of the weights, while a panel share reads every row of A, which the op before left
 * spread over all the cores' caches. So bigger teams split rows sooner. On a 16-core Xeon VM
 * (tfenc-ab-libs, both orders, AVX-512 sessions, 1x128): at 16 threads, 32 rows (4 row
 * groups) against 128 made BERT-base 3-9% and MiniLM 16-25% faster, 64 rows 5-7% and 4-5%
 * (AMX sessions 3-4%); at 8 threads 64 rows 3-4% and 9-10%; 8x128 at 16 threads (16 row
 * groups instead of 8) was neutral (-4..+3%). Teams beyond 16 are unmeasured. */
static int rows_per_thread(const tfe_gemm_impl *impl, int nthreads)
{
    const int rows = nthreads >= 16 ? 32 : nthreads >= 8 ? 64 : 128;
    /* An impl may split sooner (gemm.h, tfe_gemm_impl.rows_per_thread). */
    return impl->rows_per_thread > 0 && impl->rows_per_thread < rows ? impl->rows_per_thread
                                                                      : rows;
}

/* What one thread's tiles share while it walks its part of C. */
typedef struct gemm_strip {
    const tfe_gemm_impl *impl;
    const tfe_gemm_args *g;
    int mr, nr, n, k, kc;
    /* A's rows packed in tiles (impl->tile_pack) from row a_i0, K values [a_k0, a_k0 + a_k),
     * or NULL: the kernel reads A strided. */
    float *apack;
    int a_i0, a_k0, a_k;
} gemm_strip;

/* Tiles that must share a K slice of a panel for it to be reused from L1; with fewer, the
 * weights stream at the kernel's pace (TFE_GEMM_STREAM_B) and A is read in place. */
enum { REUSE_TILES = 4 };

/* Rows [i0, i1) × K values [k0, k0 + klen) of A into the strip's packed buffer, which
 * run_strip then reads for those rows. A block of fewer than REUSE_TILES tiles (a short last
 * M block) streams the weights and reads A in place (run_strip), so it is not packed. */
static void strip_pack(gemm_strip *s, int i0, int i1, int k0, int klen)
{
    const tfe_gemm_args *g = s->g;
    if ((i1 - i0 + s->mr - 1) / s->mr < REUSE_TILES)
        return;
    s->a_i0 = i0, s->a_k0 = k0, s->a_k = klen;
    s->impl->tile_pack(i1 - i0, klen, g->a + (size_t)i0 * g->lda + k0, g->lda, s->apack);
}

/* Rows [i0, i1) of panel p against its K slice at k0, tile by tile. The weights come from
 * DRAM once per forward pass and the hardware prefetchers stop at every 4 KiB page, so while
 * the tiles compute, a slice this thread uses later (`ahead`: its first column block, or
 * NULL) is fetched into L2 in equal parts, one part per tile, through the micro-kernel's
 * prefetch hint (spread over its k steps: 3-6% faster on cold 128-row products than issuing
 * each part as a burst before the call). */
static void run_strip(const gemm_strip *s, int i0, int i1, int p, int k0, const float *ahead)
{
    const tfe_gemm_args *g = s->g;
    const int mr = s->mr, nr = s->nr, k = s->k;
    const int kc = slice_len(k, k0, s->kc);
    const int last = k0 + kc == k;
    const int j0 = p * nr, cols = s->n - j0 < nr ? s->n - j0 : nr;
    const float *bp = panel_at(g->b, p, k0);
    const char *next = (const char *)ahead;
    const int tiles = (i1 - i0 + mr - 1) / mr;
    /* With few tiles per slice the weights stream at the kernel's pace: the kernel prefetches
     * line by line (bursts of hundreds of prefetches here would overflow the miss queues). */
    const int stream = tiles < REUSE_TILES;
    const int next_lines =
        ahead && !stream ? (int)(((size_t)s->kc * stream_row(g->b) * sizeof(float) + 63) / 64) : 0;
    const int packed = s->apack && !stream;
    for (int i = i0, t = 0; i < i1; i += mr, t++) {
        int lo, hi; /* this tile's share of the next slice's lines */
        tfe_split_range(next_lines, tiles, t, &lo, &hi);
        const tfe_gemm_epilogue ep = tile_epilogue(g, i, j0);
        const float *a =
            packed ? s->apack + ((size_t)(i - s->a_i0) / mr * s->a_k + (size_t)(k0 - s->a_k0)) * mr
                   : g->a + (size_t)i * g->lda + k0;
        s->impl->ukernel(i1 - i < mr ? i1 - i : mr, cols, kc, a, g->lda, bp, block_stride(g->b),
                         g->c + (size_t)i * g->ldc + j0, g->ldc,
                         (k0 > 0 ? TFE_GEMM_ACCUMULATE : 0) | (stream ? TFE_GEMM_STREAM_B : 0) |
                             (packed ? TFE_GEMM_A_PACKED : 0),
                         last ? &ep : NULL, hi > lo ? next + (size_t)lo * 64 : NULL, hi - lo);
    }
}

/* Tile order, for products with many rows: M blocks, weight blocks of nb panels, K slices,
 * tiles, panels. An mr×kc tile of A stays in L1 while it meets the block's nb panels, and
 * the block stays in L2 while the M block's tiles pass (BLIS's order, A unpacked). */
typedef struct gemm_nest {
    const tfe_gemm_impl *impl;
    const tfe_gemm_args *g;
    int n, k;
    int kc;   /* this product's K slice: K split into equal slices of at most kc_tile */
    int nb;   /* panels per weight block */
    int mc;   /* rows per M block (a multiple of mr) */
} gemm_nest;

/* A weight block: panels [p0, p1) at the K slice starting at k0. */
typedef struct gemm_block {
    int p0, p1, k0;
} gemm_block;

/* Rows [i0, i1) against weight block b. While its tiles compute, the next block this thread
 * uses (nx, if nx.p1 > nx.p0) is prefetched into L2, a share per micro-kernel call: the
 * weights come from DRAM once per forward pass and the hardware prefetchers stop at every
 * 4 KiB page. With few tiles the block is not reused, so the kernel streams it instead. */
static void run_block(const gemm_nest *s, int i0, int i1, gemm_block b, gemm_block nx)
{
    const tfe_gemm_args *g = s->g;
    const int mr = s->impl->mr, nr = s->impl->nr, k = s->k;
    const int kc = slice_len(k, b.k0, s->kc), last = b.k0 + kc == k;
    const int tiles = (i1 - i0 + mr - 1) / mr, stream = tiles < REUSE_TILES;
    const int flags = (b.k0 > 0 ? TFE_GEMM_ACCUMULATE : 0) | (stream ? TFE_GEMM_STREAM_B : 0);
    /* The next block's panel slices, each cut into equal chunks, one chunk per call. */
    const int nx_np = stream ? 0 : nx.p1 - nx.p0;
    const int nx_kc = slice_len(k, nx.k0, s->kc);
    const int slice_lines = (int)((size_t)nx_kc * stream_row(g->b) * sizeof(float) / 64);
    const int chunks = nx_np > 0 ? tiles * (b.p1 - b.p0) / nx_np : 0;
    int call = 0;
    for (int i = i0; i < i1; i += mr) {
        const int rows = i1 - i < mr ? i1 - i : mr;
        const float *a = g->a + (size_t)i * g->lda + b.k0;
        for (int p = b.p0; p < b.p1; p++, call++) {
            const int j0 = p * nr, cols = s->n - j0 < nr ? s->n - j0 : nr;
            const tfe_gemm_epilogue ep = tile_epilogue(g, i, j0);
            const char *pf = NULL;
            int pf_lines = 0;
            if (chunks > 0 && call / chunks < nx_np) {
                int lo, hi;
                tfe_split_range(slice_lines, chunks, call % chunks, &lo, &hi);
                pf = (const char *)panel_at(g->b, nx.p0 + call / chunks, nx.k0) +
                     (size_t)lo * 64;
                pf_lines = hi - lo;
            }
            s->impl->ukernel(rows, cols, kc, a, g->lda, panel_at(g->b, p, b.k0),
                             block_stride(g->b), g->c + (size_t)i * g->ldc + j0, g->ldc, flags,
                             last ? &ep : NULL, pf, pf_lines);
        }
    }
}

/* Rows [row_lo, row_hi) × panels [p_lo, p_hi) of one thread in tile order. */
static void gemm_tile_order(const tfe_gemm_impl *impl, const tfe_gemm_blocking *blk,
                            const tfe_gemm_args *g, int row_lo, int row_hi, int p_lo, int p_hi)
{
    const int mr = impl->mr, nr = impl->nr;
    const int n = g->b->n, k = g->b->k;
    gemm_nest s = {impl, g, n, k, 0, 0, 0};
    /* Equal K slices (a thin last slice would pay a C round trip for little work); this
     * depends on K and the blocking only, never on the team. */
    const int slices = (k + blk->kc_tile - 1) / blk->kc_tile;
    s.kc = (k + slices - 1) / slices;
    s.nb = (int)(blk->b_block_floats / ((long)s.kc * nr));
    /* M blocks of four times the L2 budget of mc×kc: A's tiles then come from L3 once per
     * weight block, which costs less than one more pass of the weights per M block (in one
     * process against one budget, 512-2048 rows of K = 768 or 3072: +2-5%, same bits). */
    s.mc = equal_m_blocks(row_hi - row_lo, (int)(4 * blk->l2_floats / s.kc), mr);
    /* Few tiles share a weight block: nothing to reuse, so each panel streams front to back. */
    if (s.nb < 1 || (s.mc + mr - 1) / mr < REUSE_TILES)
        s.nb = 1;
    /* Walk the blocks in order, one step behind, so each knows the block that follows. */
    int have = 0, pi0 = 0, pi1 = 0;
    gemm_block prev = {0, 0, 0};
    for (int i0 = row_lo; i0 < row_hi; i0 += s.mc) {
        const int i1 = i0 + s.mc < row_hi ? i0 + s.mc : row_hi;
        for (int p0 = p_lo; p0 < p_hi; p0 += s.nb)
            for (int k0 = 0; k0 < k; k0 += s.kc) {
                gemm_block b = {p0, p0 + s.nb < p_hi ? p0 + s.nb : p_hi, k0};
                if (have)
                    run_block(&s, pi0, pi1, prev, b);
                prev = b, pi0 = i0, pi1 = i1, have = 1;
            }
    }
    if (have)
        run_block(&s, pi0, pi1, prev, (gemm_block){0, 0, 0});
}

/* Tile-unit order (impl->amx), for one group of panels (tfe_gemm_team walks a thread's panels
 * in groups, amx_blocking): M blocks of `mc` rows, K slices of blk->kc, panels, tiles. Each K
 * slice of the block's rows is converted to bf16 terms once and meets every panel; each
 * panel's slice is converted once per M block, in shares by the tile calls of the panel
 * before it (double buffered), and meets every tile.
 * Partial sums wait between K slices (a tile reloads them) in fp32, so the bits do not depend
 * on the team, the M block, the panel group or where a row sits in it; the last slice's tile
 * goes through the epilogue into C.
 *
 * They wait in a stage of the thread's own (whole 16×48 tiles, so ragged ones need no
 * special case), not in C. C's rows are shared with the thread computing the panels beside
 * them, and partial sums stored to and reloaded from them every K slice ran both threads
 * slower: 128 rows × 768 × K = 768 on two threads, the tile calls alone (no conversion) took
 * 1.4× their time on one thread with half the panels, and exactly that time with a stage per
 * thread. On one thread too, 16-row tiles of C 12 KiB apart (N = 3072) cost more than the
 * stage's contiguous ones: BERT-base 1×128 on 1 thread 7-10% faster with FFN up's 64 panels
 * in two staged groups (A converted twice) than kept in C. */
enum {
    AMX_MAX_ROW_TILES = 32, /* an M block: up to 512 rows */
    /* The stage: 320 tiles of 16×48 partial sums (960 KiB), a group's panels × the M block's
     * row tiles; amx_blocking trades the two. */
    AMX_STAGE_TILES = 320,
    AMX_TILE = 512, /* bf16 per tile */
    AMX_CHUNKS = TFE_GEMM_AMX_KC_MAX / 32,
    AMX_A_BF16 = AMX_MAX_ROW_TILES * AMX_CHUNKS * 3 * AMX_TILE, /* an M block's K slice */
    AMX_B_BF16 = AMX_CHUNKS * 9 * AMX_TILE,                     /* a panel's K slice */
    AMX_STAGE_FLOATS = AMX_STAGE_TILES * 16 * 48,
    AMX_SCRATCH_FLOATS = (2 * AMX_A_BF16 + 2 * AMX_B_BF16) / 2 + AMX_STAGE_FLOATS,
};
static_assert(TFE_GEMM_AMX_KC_MAX % 32 == 0, "K slices are whole chunks");
static_assert(AMX_SCRATCH_FLOATS % 16 == 0, "each thread's scratch starts on a cache line");

/* The M block (rows) and the panel group (panels) for a thread's `rows` × `np` panels. Every
 * group converts the thread's rows of A to bf16 terms, every M block converts the group's
 * panels, and the stage holds a group's panels × a block's row tiles: of the blockings the
 * stage admits, the one that converts the fewest values (rows·groups + 48·np·blocks, per
 * value of K). Before stop 17 the block was fixed at 160 rows and the group at 32 panels: at
 * 8×128 on 2 threads, 512 rows a thread, every weight was converted four times per thread
 * (one block of 512 rows and groups of 10 panels convert about half as many values there). */
static void amx_blocking(int rows, int np, int *mc, int *group)
{
    const int tiles = (rows + 15) / 16;
    long best = -1;
    *mc = 16, *group = 1; /* what an empty share (never asked for) gets */
    if (rows < 1 || np < 1)
        return;
    for (int blocks = (tiles + AMX_MAX_ROW_TILES - 1) / AMX_MAX_ROW_TILES; blocks <= tiles;
         blocks++) {
        const int t = (tiles + blocks - 1) / blocks; /* row tiles per block */
        const int per = AMX_STAGE_TILES / t < np ? AMX_STAGE_TILES / t : np;
        const int groups = (np + per - 1) / per;
        const long cost = (long)groups * rows + 48L * np * blocks;
        if (best < 0 || cost < best) {
            best = cost;
            *mc = equal_m_blocks(rows, 16 * t, 16);
            *group = (np + groups - 1) / groups;
        }
    }
}

/* Few-rows scratch: the C of FEW_STAGE_PANELS panels (row tiles of nr, one panel after the
 * other) and the rows of A transposed (k-major, K up to k_max). */
enum { FEW_STAGE_PANELS = 16 };

static size_t few_stage_floats(const tfe_gemm_impl *impl)
{
    return (size_t)impl->mr_few * FEW_STAGE_PANELS * (size_t)impl->nr;
}

static size_t few_scratch_floats(const tfe_gemm_impl *impl, int k_max)
{
    const size_t floats = few_stage_floats(impl) + (size_t)impl->mr_few * (size_t)k_max;
    return (floats + 15) / 16 * 16;
}

/* Packed-A scratch (impl->tile_pack): the rows-resident order's M block, its rows × K, which
 * also holds most C-resident blocks (their rows × a K slice). The driver packs only what fits
 * and reads A in place otherwise, so a caller's own blocking stays safe. (AVX2's C-resident
 * blocks of 342 rows at 8×128 on one thread do not fit; scratch for them measured the same.) */
static size_t tile_pack_floats(const tfe_gemm_impl *impl, int k_max)
{
    tfe_gemm_blocking b;
    tfe_gemm_blocking_init(impl, &b);
    const size_t floats = (size_t)b.a_block_floats + (size_t)impl->mr * (size_t)k_max;
    return (floats + 15) / 16 * 16;
}

size_t tfe_gemm_scratch_floats(const tfe_gemm_impl *impl, int k_max)
{
    if (impl->amx)
        return AMX_SCRATCH_FLOATS;
    const size_t few = impl->few_rows ? few_scratch_floats(impl, k_max) : 0;
    const size_t pack = impl->tile_pack ? tile_pack_floats(impl, k_max) : 0;
    return few > pack ? few : pack;
}

/* Step s's panel slice to convert into dst, with step s + 1's to prefetch (an M block's walk
 * over (K slice, panel), K slices outer). */
static tfe_gemm_amx_pack amx_step(const tfe_gemm_args *g, int kc_max, int p_lo, int np, int s,
                                  uint16_t *dst)
{
    const int k = g->b->k, k0 = s / np * kc_max, kc = slice_len(k, k0, kc_max);
    return (tfe_gemm_amx_pack){walk_at(g->b, p_lo, np, kc_max, 0, s), block_stride(g->b),
                               kc, 0, 16 * ((kc + 31) / 32), dst,
                               walk_at(g->b, p_lo, np, kc_max, 0, s + 1)};
}

/* Row tiles [t_lo, t_hi) of rows [i0, i1)'s K slice at k0 (kc values) into dst, the block's
 * converted slice. */
static void amx_pack_a_tiles(const tfe_gemm_amx *x, const tfe_gemm_args *g, int i0, int i1,
                             int k0, int kc, int t_lo, int t_hi, uint16_t *dst)
{
    const int tiles = (i1 - i0 + 15) / 16, first = i0 + 16 * t_lo;
    const int last = i0 + 16 * t_hi < i1 ? i0 + 16 * t_hi : i1;
    if (t_lo < t_hi)
        x->pack_a(last - first, t_hi - t_lo, kc, (kc + 31) / 32,
                  g->a + (size_t)first * g->lda + k0, g->lda,
                  dst + (size_t)t_lo * 3 * AMX_TILE, (size_t)tiles * 3 * AMX_TILE);
}

/* `scratch`: AMX_SCRATCH_FLOATS, 64-byte aligned: the M block's converted slice and the next
 * one, two panel slices, the stage (panel-major 16×48 tiles). */
static void gemm_amx_order(const tfe_gemm_impl *impl, const tfe_gemm_blocking *blk,
                           const tfe_gemm_args *g, int row_lo, int row_hi, int mc, int p_lo,
                           int p_hi, float *scratch)
{
    const tfe_gemm_amx *x = impl->amx;
    const int n = g->b->n, k = g->b->k, nr = impl->nr;
    const int kc_max = blk->kc < TFE_GEMM_AMX_KC_MAX ? blk->kc : TFE_GEMM_AMX_KC_MAX;
    const int np = p_hi - p_lo, steps = (k + kc_max - 1) / kc_max * np;
    /* the stage holds the group's panels × the block's row tiles */
    assert(mc % 16 == 0 && mc <= 16 * AMX_MAX_ROW_TILES && np * (mc / 16) <= AMX_STAGE_TILES);
    enum { TILE = AMX_TILE };
    uint16_t *abuf[2] = {(uint16_t *)scratch, (uint16_t *)scratch + AMX_A_BF16};
    uint16_t *bbuf[2] = {abuf[1] + AMX_A_BF16, abuf[1] + AMX_A_BF16 + AMX_B_BF16};
    float *stage = scratch + (2 * AMX_A_BF16 + 2 * AMX_B_BF16) / 2;
    x->begin();
    for (int i0 = row_lo; i0 < row_hi; i0 += mc) {
        const int i1 = i0 + mc < row_hi ? i0 + mc : row_hi;
        const int tiles = (i1 - i0 + 15) / 16;
        /* The steps form one stream: the tiles of each convert the next step's panel slice,
         * across K slices too, so no slice but the block's first is converted alone. The
         * block's next K slice of A is converted the same way, a row tile at a time after the
         * tile calls of the slice before (double buffered). */
        tfe_gemm_amx_pack first = amx_step(g, kc_max, p_lo, np, 0, bbuf[0]);
        x->pack_b(&first);
        amx_pack_a_tiles(x, g, i0, i1, 0, slice_len(k, 0, kc_max), 0, tiles, abuf[0]);
        const int calls = np * tiles; /* tile calls a K slice */
        for (int s = 0; s < steps; s++) {
            const int k0 = s / np * kc_max, p = p_lo + s % np;
            const int kc = slice_len(k, k0, kc_max), chunks = (kc + 31) / 32;
            const int last = k0 + kc == k, j0 = p * nr, cols = n - j0 < nr ? n - j0 : nr;
            const uint16_t *a = abuf[s / np & 1];
            uint16_t *a_next = last ? NULL : abuf[(s / np + 1) & 1];
            const int kn = k0 + kc, kc_next = slice_len(k, kn, kc_max);
            const uint16_t *b = bbuf[s & 1];
            tfe_gemm_amx_pack next = {0};
            if (s + 1 < steps)
                next = amx_step(g, kc_max, p_lo, np, s + 1, bbuf[(s + 1) & 1]);
            const int units = next.hi; /* all of the next slice's units, shared by the tiles */
            for (int t = 0; t < tiles; t++) {
                const int i = i0 + 16 * t, rows = i1 - i < 16 ? i1 - i : 16;
                float *part = stage + ((size_t)(p - p_lo) * tiles + t) * 16 * 48;
                if (units)
                    tfe_split_range(units, tiles, t, &next.lo, &next.hi);
                x->tile(chunks, a + (size_t)t * 3 * TILE, (size_t)tiles * 3 * TILE, b, part,
                        48, k0 > 0, units ? &next : NULL);
                if (a_next) { /* this call's share of the next slice's row tiles */
                    const int j = (p - p_lo) * tiles + t;
                    amx_pack_a_tiles(x, g, i0, i1, kn, kc_next, j * tiles / calls,
                                     (j + 1) * tiles / calls, a_next);
                }
                if (last) {
                    const tfe_gemm_epilogue ep = tile_epilogue(g, i, j0);
                    x->finish(rows, cols, part, 48, g->c + (size_t)i * g->ldc + j0, g->ldc, &ep);
                }
            }
        }
    }
    x->end();
}

static void gemm_fma_share(const tfe_gemm_impl *impl, const tfe_gemm_blocking *blk,
                           const tfe_gemm_args *g, int row_lo, int row_hi, int p_lo, int p_hi,
                           float *pack, size_t pack_floats);
static void gemm_few_rows(const tfe_gemm_impl *impl, const tfe_gemm_args *g, int row_lo,
                          int row_hi, int p_lo, int p_hi, float *scratch);

void tfe_gemm_team(const tfe_gemm_impl *impl, const tfe_gemm_blocking *blk,
                   const tfe_gemm_args *g, int tid, int nthreads)
{
    const int mr = impl->mr, nr = impl->nr, n = g->b->n;
    const int panels = (n + nr - 1) / nr;
    const int mblocks = (g->m + mr - 1) / mr;
    if (g->m <= 0 || n <= 0)
        return;
    /* With few rows, threads split the panels (each then streams only its own slice of the
     * weights, which is what bounds small-M products) and rows only when panels run out. With
     * many rows they split the rows first, into groups of at least rows_per_thread():
     * each thread then reads and writes only its own rows, which the op before it (LayerNorm,
     * the previous GEMM) left in its own L2, at the price of streaming all the weights. */
    int tm = 1;
    for (int d = nthreads; d > 1 && tm == 1; d--)
        if (nthreads % d == 0 && g->m >= d * rows_per_thread(impl, nthreads))
            tm = d;
    int tn = nthreads / tm < panels ? nthreads / tm : panels;
    tm = nthreads / tn;
    if (tm > mblocks)
        tm = mblocks;
    if (tid >= tn * tm)
        return;
    int p_lo, p_hi, mb_lo, mb_hi;
    tfe_split_range(panels, tn, tid % tn, &p_lo, &p_hi);
    tfe_split_range(mblocks, tm, tid / tn, &mb_lo, &mb_hi);

    const int row_lo = mb_lo * mr, row_hi = mb_hi * mr < g->m ? mb_hi * mr : g->m;
    if (!impl->amx) {
        /* Few rows (a short request): one pass per panel (see the few-rows kernel), with
         * scratch for A and C (without it, the tiles below). */
        float *scratch = g->scratch ? g->scratch + (size_t)tid * g->scratch_stride : NULL;
        if (impl->few_rows && row_hi - row_lo <= impl->mr_few && scratch &&
            g->scratch_stride >= few_scratch_floats(impl, g->b->k))
            gemm_few_rows(impl, g, row_lo, row_hi, p_lo, p_hi, scratch);
        else
            gemm_fma_share(impl, blk, g, row_lo, row_hi, p_lo, p_hi, scratch,
                           scratch ? g->scratch_stride : 0);
        return;
    }
    float *own = g->scratch ? NULL : tfe_alloc_floats(AMX_SCRATCH_FLOATS);
    float *scratch = g->scratch ? g->scratch + (size_t)tid * g->scratch_stride : own;
    const tfe_gemm_impl *fma = scratch ? NULL : tfe_gemm_fma_twin(impl);
    if (scratch) {
        /* Equal M blocks and equal groups (amx_blocking): a thin last block would convert
         * every panel for a few tiles, with too few tile calls to hide the conversion among. */
        int mc, group;
        amx_blocking(row_hi - row_lo, p_hi - p_lo, &mc, &group);
        for (int q0 = p_lo; q0 < p_hi; q0 += group)
            gemm_amx_order(impl, blk, g, row_lo, row_hi, mc, q0,
                           q0 + group < p_hi ? q0 + group : p_hi, scratch);
    }
    else if (fma) /* out of memory, which only a caller without scratch meets: the FMA kernel
                     on the same panels computes this share instead (other bits, no gap) */
        gemm_fma_share(fma, blk, g, row_lo, row_hi, p_lo, p_hi, NULL, 0);
    free(own);
}

/* Rows [row_lo, row_hi) (at most mr_few) × panels [p_lo, p_hi), one few-rows call a panel
 * over all of K. The kernel reads A transposed (one pointer for all rows: with a pointer per
 * row, 16 rows spill them) and writes C into a stage of FEW_STAGE_PANELS panels, copied out
 * row by row: measured on BERT-base's weights streaming from DRAM at 16 rows on 2 threads, the
 * kernel storing straight into C's rows (a few lines in each of 16 rows 9 KiB apart, between
 * the streams) cost 25% more than storing into the stage. */
static void gemm_few_rows(const tfe_gemm_impl *impl, const tfe_gemm_args *g, int row_lo,
                          int row_hi, int p_lo, int p_hi, float *scratch)
{
    const int nr = impl->nr, n = g->b->n, k = g->b->k, m = row_hi - row_lo;
    float *stage = scratch, *at = scratch + few_stage_floats(impl);
    const float *a = g->a + (size_t)row_lo * g->lda;
    impl->few_pack(m, k, a, g->lda, at, (size_t)m);
    for (int p0 = p_lo; p0 < p_hi; p0 += FEW_STAGE_PANELS) {
        const int p1 = p0 + FEW_STAGE_PANELS < p_hi ? p0 + FEW_STAGE_PANELS : p_hi;
        for (int p = p0; p < p1; p++) {
            const int j0 = p * nr, cols = n - j0 < nr ? n - j0 : nr;
            const tfe_gemm_epilogue ep = tile_epilogue(g, row_lo, j0);
            const float *panel = panel_at(g->b, p, 0);
            impl->few_rows(m, cols, k, at, (size_t)m, panel, block_stride(g->b),
                           stage + (size_t)(p - p0) * m * nr, (size_t)nr, 0, &ep, NULL, 0);
        }
        const int j0 = p0 * nr, cols = (n < p1 * nr ? n : p1 * nr) - j0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < cols; j += nr)
                memcpy(g->c + (size_t)(row_lo + i) * g->ldc + j0 + j,
                       stage + (size_t)(j / nr) * m * nr + (size_t)i * nr,
                       (size_t)(cols - j < nr ? cols - j : nr) * sizeof(float));
    }
}

/* Rows [row_lo, row_hi) × panels [p_lo, p_hi) of C with a micro-kernel impl. */
static void gemm_fma_share(const tfe_gemm_impl *impl, const tfe_gemm_blocking *blk,
                           const tfe_gemm_args *g, int row_lo, int row_hi, int p_lo, int p_hi,
                           float *pack, size_t pack_floats)
{
    const int mr = impl->mr, nr = impl->nr;
    const int n = g->b->n, k = g->b->k;
    /* Three loop orders. When this thread has blk->tile_rows rows or more and they are more
     * than the rows-resident order's M block (which would stream the weights once per block;
     * the tile order's M blocks are larger), and that block holds fewer than
     * blk->tile_block_rows rows or the weights would pass more than blk->tile_max_passes
     * times, the tile order (gemm_tile_order); otherwise one of two panel orders, both
     * streaming the weights as few times as L2 allows. */
    const int mc_rows = (int)(blk->l2_floats / k); /* rows of A that fit the L2 budget */
    const int rows = row_hi - row_lo;
    const int block_rows = blk->a_block_floats / k > 0 ? (int)(blk->a_block_floats / k) : 1;
    const int passes = (rows + block_rows - 1) / block_rows;
    if (rows >= blk->tile_rows && passes > 1 &&
        (block_rows < blk->tile_block_rows || passes > blk->tile_max_passes)) {
        gemm_tile_order(impl, blk, g, row_lo, row_hi, p_lo, p_hi);
        return;
    }
    /* A single tile reuses nothing from L1: its panels stream front to back in one call each,
     * with no C round trips (K slices only change where partial sums wait, never the order of
     * the additions, so the bits are the same). */
    const int kc_max = rows <= mr ? k : blk->kc;
    /*  - rows-resident: an M block's full rows of A (mc×K) stay in L2 while each panel
     *    passes once, all its K slices in a row (wide products: QKV, FFN up);
     *  - C-resident: the block's C (mc × this thread's columns) stays in L2 while the K
     *    slices pass, each over all panels (deep products: FFN down).
     * Whichever admits the taller M block wins. Every tile still sees its K slices in
     * ascending order, so the result does not depend on the order or on the team size. */
    const long cols = (long)(p_hi - p_lo) * nr;
    const int mc_c = (int)(blk->l2_floats / (cols + kc_max));
    /* (When all of this thread's rows fit one rows-resident block, that order is right: C is
     * tiny and each panel then streams front to back, as the micro-kernel's prefetch expects.
     * When they need two or more, the weights would pass once per block, while the C-resident
     * block may hold them all: FFN down of BERT-base at 1×128 on 2 threads, 64 rows a thread,
     * ran as two rows-resident blocks of 32 (K = 3072 leaves a fifth of L2 32 rows) and now
     * as one C-resident block: that product 0.968× / 0.960× the time, the AVX-512 session
     * 0.970× / 0.974× (tfenc-ab-gemm and tfenc-ab-libs, both load orders; same bits).) */
    int c_resident = mc_c > mc_rows && block_rows < rows;
    /* Rows-resident blocks are cut smaller than the order's choice allows (a_block_floats). */
    const int mc = equal_m_blocks(rows, c_resident ? mc_c : block_rows, mr);
    gemm_strip strip = {impl, g, mr, nr, n, k, kc_max, NULL, 0, 0, 0};
    const int slices = (k + kc_max - 1) / kc_max, np = p_hi - p_lo; /* slices per panel */
    /* A packed in tiles where the impl has a packer and the thread's scratch holds the block's
     * rows (rows-resident: × K, once per block; C-resident: × the K slice, once per slice),
     * for blocks of 4 tiles or more (fewer stream the weights, unpacked). Every panel then
     * reads A as one stream from one pointer (README, "A packed in tiles": AVX-512 128-row
     * products 2.5-5% faster, packing included). The values and their order are the same, so
     * are the bits. */
    const int pack_k = c_resident ? kc_max : k;
    if (impl->tile_pack && pack && (mc + mr - 1) / mr >= REUSE_TILES &&
        (size_t)((mc + mr - 1) / mr) * mr * (size_t)pack_k <= pack_floats)
        strip.apack = pack;
    for (int i0 = row_lo; i0 < row_hi; i0 += mc) {
        int i1 = i0 + mc < row_hi ? i0 + mc : row_hi;
        const int rp = i1 - i0 <= TFE_GEMM_ROW_PANELS_MAX_M ? impl->row_panels[i1 - i0] : 0;
        if (!c_resident && rp > 1) {
            /* 1-3 rows: one call per rp panels, all of K (kc_max is k), so that several
             * weight streams are in flight (gemm_avx2.c, row_panels) */
            for (int p = p_lo; p < p_hi; p += rp) {
                const int end = (p + rp < p_hi ? p + rp : p_hi) * nr; /* this thread's panels */
                const int j0 = p * nr, cols = (n < end ? n : end) - j0;
                const tfe_gemm_epilogue ep = tile_epilogue(g, i0, j0);
                impl->ukernel(i1 - i0, cols, k, g->a + (size_t)i0 * g->lda, g->lda,
                              panel_at(g->b, p, 0), (size_t)k * nr,
                              g->c + (size_t)i0 * g->ldc + j0, g->ldc, TFE_GEMM_ROW_PANELS, &ep,
                              NULL, 0);
            }
        } else if (!c_resident) {
            if (strip.apack)
                strip_pack(&strip, i0, i1, 0, k);
            for (int p = p_lo; p < p_hi; p++)
                for (int k0 = 0; k0 < k; k0 += kc_max) {
                    /* ahead: TFE_GEMM_PF_SLICES steps on in this walk (the rest of this
                     * panel, then the next panels) */
                    const int s = (p - p_lo) * slices + k0 / kc_max;
                    run_strip(&strip, i0, i1, p, k0,
                              walk_at(g->b, p_lo, np, kc_max, 1, s + TFE_GEMM_PF_SLICES));
                }
        } else {
            for (int k0 = 0; k0 < k; k0 += kc_max) {
                if (strip.apack)
                    strip_pack(&strip, i0, i1, k0, slice_len(k, k0, kc_max));
                for (int p = p_lo; p < p_hi; p++) {
                    /* ahead: TFE_GEMM_PF_PANELS steps on in this walk (the same K slice,
                     * then the next one's first panels) */
                    const int s = k0 / kc_max * np + (p - p_lo);
                    run_strip(&strip, i0, i1, p, k0,
                              walk_at(g->b, p_lo, np, kc_max, 0, s + TFE_GEMM_PF_PANELS));
                }
            }
        }
    }
}

void tfe_gemm(const tfe_gemm_impl *impl, const tfe_gemm_blocking *blk, const tfe_gemm_args *g,
              int threads)
{
    /* Scratch for the whole team at once, when the caller brought none. */
    tfe_gemm_args with = *g;
    const tfe_gemm_args *args = g;
    const size_t floats = tfe_gemm_scratch_floats(impl, g->b->k);
    if (floats && !g->scratch) {
        with.scratch = tfe_alloc_floats(floats * (size_t)(threads > 1 ? threads : 1));
        with.scratch_stride = floats;
        args = &with;
    }
    if (threads <= 1) {
        tfe_gemm_team(impl, blk, args, 0, 1);
    } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
        tfe_gemm_team(impl, blk, args, omp_get_thread_num(), omp_get_num_threads());
#else
        tfe_gemm_team(impl, blk, args, 0, 1);
#endif
    }
    if (args == &with)
        free(with.scratch);
}
