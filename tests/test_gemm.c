/* GEMM tests: every registered micro-kernel and the blocked, threaded driver vs the oracle. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels.h"
#include "ref.h"
#include "tolerance.h"
#include "util.h"

enum { GUARD = 16 }; /* canary floats before (and, in the tight layout, after) each output */

/* What the epilogue of the last K block does; ep == 0 passes a NULL epilogue. */
typedef struct epi_case {
    const char *name;
    int ep, bias, act, residual;
} epi_case;

static const epi_case epis[] = {
    {"no-epilogue", 0, 0, TFE_GEMM_ACT_NONE, 0},
    {"empty-epilogue", 1, 0, TFE_GEMM_ACT_NONE, 0},
    {"bias", 1, 1, TFE_GEMM_ACT_NONE, 0},
    {"bias+relu", 1, 1, TFE_GEMM_ACT_RELU, 0},
    {"bias+gelu", 1, 1, TFE_GEMM_ACT_GELU, 0},
    {"bias+gelu_tanh", 1, 1, TFE_GEMM_ACT_GELU_TANH, 0},
    {"residual", 1, 0, TFE_GEMM_ACT_NONE, 1},
    {"bias+gelu+residual", 1, 1, TFE_GEMM_ACT_GELU, 1},
};
enum { N_EPIS = (int)(sizeof epis / sizeof epis[0]), EPI_FULL = N_EPIS - 1 };

/* Per-element tolerances for an oracle result (see tolerance.h). */
static void gemm_tolerances(int m, int n, int k, const double *want, const double *mag,
                            const float *residual, size_t ldr, int act, double *tol)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            size_t e = (size_t)i * n + j;
            double t = tol_act(act, tol_gemm(k, mag[e]), mag[e]) + tol_round(want[e]);
            if (residual)
                t += tol_round(residual[(size_t)i * ldr + j]);
            tol[e] = t;
        }
}

/* One micro-kernel call (few = 1: the impl's few-rows kernel, which reads A transposed).
 * wide = 1: strides wider than the rows, canaries in the gaps, and the c and a buffers end
 * exactly at the tile (ASan catches over-reads); wide = 0: dense rows with canaries after the
 * tile. */
static void ukernel_case(const tfe_gemm_impl *impl, int few, int m, int n, int kc,
                         int accumulate, const epi_case *e, int wide, uint64_t case_id)
{
    const int nr = impl->nr;
    const size_t lda = (size_t)kc + (wide ? 3 : 0), ldc = (size_t)n + (wide ? 5 : 0);
    const size_t ldr = (size_t)n + (wide ? 2 : 0);
    char what[256];
    snprintf(what, sizeof what, "%s %s m=%d n=%d kc=%d accumulate=%d %s %s case %llu",
             impl->name, few ? "few-rows kernel" : "ukernel", m, n, kc, accumulate, e->name,
             wide ? "wide" : "tight", (unsigned long long)case_id);
    tt_rng rng = tt_rng_for(case_id);

    float *a = tt_alloc((size_t)(m - 1) * lda + kc);
    tt_gaps_fill(a, m, kc, lda);
    for (int i = 0; i < m; i++)
        tt_fill(&rng, a + i * lda, (size_t)kc, -1.0f, 1.0f);
    float *w = tt_alloc((size_t)n * kc);
    tt_fill(&rng, w, (size_t)n * kc, -1.0f, 1.0f);
    float *bp = tt_alloc((size_t)kc * nr);
    tfe_pack_b(n, kc, nr, impl->blocked, w, bp);
    float *bias = e->bias ? tt_alloc((size_t)n) : NULL;
    if (bias)
        tt_fill(&rng, bias, (size_t)n, -1.0f, 1.0f);
    float *res = NULL;
    if (e->residual) {
        res = tt_alloc((size_t)(m - 1) * ldr + n);
        tt_gaps_fill(res, m, n, ldr);
        for (int i = 0; i < m; i++)
            tt_fill(&rng, res + i * ldr, (size_t)n, -2.0f, 2.0f);
    }
    const size_t tile = (size_t)(m - 1) * ldc + n;
    float *cbuf = tt_alloc(GUARD + tile + (wide ? 0 : GUARD));
    tt_canary_fill(cbuf, GUARD + tile + (wide ? 0 : GUARD));
    float *c = cbuf + GUARD;
    float *c0 = tt_alloc((size_t)m * n);
    tt_fill(&rng, c0, (size_t)m * n, -1.0f, 1.0f);
    for (int i = 0; i < m; i++)
        memcpy(c + i * ldc, c0 + (size_t)i * n, (size_t)n * sizeof *c);

    tfe_gemm_epilogue ep = {.bias = bias, .residual = res, .ldr = ldr, .act = e->act};
    const size_t bstride = impl->blocked ? (size_t)16 * kc : 0;
    if (few) { /* A transposed: row i's k-th value at at[k·ldt + i], ldt > m when wide */
        const size_t ldt = (size_t)m + (wide ? 3 : 0);
        float *at = tt_alloc((size_t)(kc - 1) * ldt + m);
        tt_gaps_fill(at, kc, m, ldt);
        for (int kk = 0; kk < kc; kk++)
            for (int i = 0; i < m; i++)
                at[(size_t)kk * ldt + i] = a[(size_t)i * lda + kk];
        impl->few_rows(m, n, kc, at, ldt, bp, bstride, c, ldc, accumulate, e->ep ? &ep : NULL,
                       NULL, 0);
        CHECK(tt_gaps_check(at, kc, m, ldt) < 0, "%s: wrote into A", what);
        free(at);
    } else {
        impl->ukernel(m, n, kc, a, lda, bp, bstride, c, ldc, accumulate, e->ep ? &ep : NULL,
                      NULL, 0);
    }

    double *want = malloc(3 * (size_t)m * n * sizeof *want);
    CHECK(want != NULL, "out of memory");
    double *mag = want + (size_t)m * n, *tol = mag + (size_t)m * n;
    ref_gemm(m, n, kc, a, lda, w, (size_t)kc, accumulate ? c0 : NULL, (size_t)n, bias, e->act,
             res, ldr, want, mag);
    gemm_tolerances(m, n, kc, want, mag, res, ldr, e->act, tol);
    tt_check_close(what, c, ldc, want, tol, m, n);
    CHECK(tt_canary_check(cbuf, GUARD) < 0, "%s: wrote before the c tile", what);
    long at = tt_gaps_check(c, m, n, ldc);
    CHECK(at < 0, "%s: wrote c[%ld] in a row gap (ldc %zu)", what, at, ldc);
    if (!wide)
        CHECK(tt_canary_check(c + tile, GUARD) < 0, "%s: wrote past the c tile", what);
    if (res)
        CHECK(tt_gaps_check(res, m, n, ldr) < 0, "%s: wrote into the residual", what);
    free(want), free(c0), free(cbuf), free(res), free(bias), free(bp), free(w), free(a);
}

/* m = 1..mr, n around nr, kc from 1 to past a cache line multiple, every epilogue. The long
 * kc values run with the two extreme epilogues only, to keep the sweep quick. */
static void kernel_sweep(const tfe_gemm_impl *impl, int few)
{
    static const int kcs[] = {1, 2, 15, 16, 17, 64, 257};
    const int ns[] = {1, impl->nr - 1, impl->nr};
    uint64_t id = few ? 500000 : 0;
    for (int m = 1; m <= (few ? impl->mr_few : impl->mr); m++)
        for (int ni = 0; ni < 3; ni++) {
            if (ns[ni] < 1 || (ni > 0 && ns[ni] == ns[ni - 1]))
                continue;
            for (size_t ki = 0; ki < sizeof kcs / sizeof kcs[0]; ki++)
                for (int acc = 0; acc <= 1; acc++)
                    for (int ei = 0; ei < N_EPIS; ei++)
                        for (int wide = 0; wide <= 1; wide++) {
                            id++;
                            if (kcs[ki] > 17 && ei != 0 && ei != EPI_FULL)
                                continue;
                            ukernel_case(impl, few, m, ns[ni], kcs[ki], acc, &epis[ei],
                                         wide, id);
                        }
        }
}

static void ukernel_sweep(const tfe_gemm_impl *impl)
{
    kernel_sweep(impl, 0);
}

/* The few-rows kernel over the same sweep, m = 1..mr_few, plus column counts that end inside
 * each of its 16-column blocks. */
static void few_rows_sweep(const tfe_gemm_impl *impl)
{
    if (!impl->few_rows)
        return;
    CHECK(impl->blocked && impl->mr_few >= 1, "%s: few-rows kernel without blocked panels",
          impl->name);
    kernel_sweep(impl, 1);
    /* its A packer: every m, k around 16, strides wider than the rows, gaps untouched */
    static const int pks[] = {1, 15, 16, 17, 100};
    for (int m = 1; m <= impl->mr_few; m++)
        for (size_t ki = 0; ki < sizeof pks / sizeof pks[0]; ki++) {
            const int k = pks[ki];
            const size_t lda = (size_t)k + 5, ldt = (size_t)m + 3;
            tt_rng rng = tt_rng_for(700000 + (uint64_t)m * 10 + ki);
            float *a = tt_alloc((size_t)(m - 1) * lda + k);
            float *at = tt_alloc((size_t)(k - 1) * ldt + m);
            tt_gaps_fill(a, m, k, lda);
            for (int i = 0; i < m; i++)
                tt_fill(&rng, a + (size_t)i * lda, (size_t)k, -1.0f, 1.0f);
            tt_gaps_fill(at, k, m, ldt);
            impl->few_pack(m, k, a, lda, at, ldt);
            for (int kk = 0; kk < k; kk++)
                for (int i = 0; i < m; i++)
                    CHECK(at[(size_t)kk * ldt + i] == a[(size_t)i * lda + kk],
                          "%s few-rows pack m=%d k=%d: at[%d][%d] wrong", impl->name, m, k, kk, i);
            CHECK(tt_gaps_check(at, k, m, ldt) < 0, "%s few-rows pack m=%d k=%d: wrote a gap",
                  impl->name, m, k);
            free(a), free(at);
        }
    uint64_t id = 600000;
    for (int n = 15; n <= impl->nr; n += 16)
        for (int m = 1; m <= impl->mr_few; m += 7)
            for (int wide = 0; wide <= 1; wide++)
                ukernel_case(impl, 1, m, n + 2 > impl->nr ? n : n + 2, 129, 0, &epis[EPI_FULL],
                             wide, id++);
}

/* A weight matrix packed for `impl`, with its unpacked copy for the oracle. */
typedef struct weights {
    float *w;
    tfe_packed packed;
} weights;

static weights make_weights(const tfe_gemm_impl *impl, int n, int k, tt_rng *rng)
{
    weights W = {.w = tt_alloc((size_t)n * k),
                 .packed = {.n = n, .k = k, .nr = impl->nr, .blocked = impl->blocked}};
    tt_fill(rng, W.w, (size_t)n * k, -1.0f, 1.0f);
    W.packed.data = tt_alloc(tfe_packed_floats(n, k, impl->nr));
    tfe_pack_b(n, k, impl->nr, impl->blocked, W.w, W.packed.data);
    return W;
}

static void free_weights(weights *W)
{
    free(W->w), free(W->packed.data);
}

/* Inputs and a canary-guarded output of one driver product. */
typedef struct product {
    int m, n, k;
    const epi_case *e;
    float *a, *bias, *res, *cbuf, *c;
    size_t lda, ldr, ldc, c_len;
    weights W;
    tfe_gemm_args args;
} product;

static void product_init(product *p, const tfe_gemm_impl *impl, int m, int n, int k,
                         const epi_case *e, uint64_t case_id)
{
    tt_rng rng = tt_rng_for(case_id);
    memset(p, 0, sizeof *p);
    p->m = m, p->n = n, p->k = k, p->e = e;
    p->lda = (size_t)k + 1, p->ldr = (size_t)n + 2, p->ldc = (size_t)n + 3;
    p->a = tt_alloc((size_t)(m - 1) * p->lda + k);
    tt_gaps_fill(p->a, m, k, p->lda);
    for (int i = 0; i < m; i++)
        tt_fill(&rng, p->a + i * p->lda, (size_t)k, -1.0f, 1.0f);
    p->W = make_weights(impl, n, k, &rng);
    if (e->bias) {
        p->bias = tt_alloc((size_t)n);
        tt_fill(&rng, p->bias, (size_t)n, -1.0f, 1.0f);
    }
    if (e->residual) {
        p->res = tt_alloc((size_t)(m - 1) * p->ldr + n);
        tt_gaps_fill(p->res, m, n, p->ldr);
        for (int i = 0; i < m; i++)
            tt_fill(&rng, p->res + i * p->ldr, (size_t)n, -2.0f, 2.0f);
    }
    p->c_len = GUARD + (size_t)(m - 1) * p->ldc + n;
    p->cbuf = tt_alloc(p->c_len);
    tt_canary_fill(p->cbuf, p->c_len);
    p->c = p->cbuf + GUARD;
    p->args = (tfe_gemm_args){.m = m, .a = p->a, .lda = p->lda, .b = &p->W.packed,
                              .bias = p->bias, .residual = p->res, .ldr = p->ldr,
                              .act = e->act, .c = p->c, .ldc = p->ldc};
}

static void product_free(product *p)
{
    free(p->a), free(p->bias), free(p->res), free(p->cbuf);
    free_weights(&p->W);
}

/* Checks c against the oracle and the canaries around and between its rows. */
static void product_check(const product *p, const char *what)
{
    const size_t mn = (size_t)p->m * p->n;
    double *want = malloc(3 * mn * sizeof *want);
    CHECK(want != NULL, "out of memory");
    double *mag = want + mn, *tol = mag + mn;
    ref_gemm(p->m, p->n, p->k, p->a, p->lda, p->W.w, (size_t)p->k, NULL, 0, p->bias, p->e->act,
             p->res, p->ldr, want, mag);
    gemm_tolerances(p->m, p->n, p->k, want, mag, p->res, p->ldr, p->e->act, tol);
    tt_check_close(what, p->c, p->ldc, want, tol, p->m, p->n);
    free(want);
    CHECK(tt_canary_check(p->cbuf, GUARD) < 0, "%s: wrote before c", what);
    long at = tt_gaps_check(p->c, p->m, p->n, p->ldc);
    CHECK(at < 0, "%s: wrote c[%ld] in a row gap (ldc %zu)", what, at, p->ldc);
}

static int next_prime(int x)
{
    for (;; x++) {
        int prime = x > 1;
        for (int d = 2; d * d <= x && prime; d++)
            prime = x % d != 0;
        if (prime)
            return x;
    }
}

static void driver_case(const tfe_gemm_impl *impl, const tfe_gemm_blocking *blk, int m, int n,
                        int k, const epi_case *e, int threads, uint64_t case_id)
{
    product p;
    product_init(&p, impl, m, n, k, e, case_id);
    char what[256];
    snprintf(what, sizeof what, "%s driver m=%d n=%d k=%d (kc %d) %s threads=%d case %llu",
             impl->name, m, n, k, blk->kc, e->name, threads, (unsigned long long)case_id);
    tfe_gemm(impl, blk, &p.args, threads);
    product_check(&p, what);
    product_free(&p);
}

/* K slices of at most 32, weight blocks of two panels and M blocks of four tiles, so that
 * small shapes cross every block edge (the host's caches would hold each test product in
 * one block). */
static tfe_gemm_blocking small_blocking(const tfe_gemm_impl *impl)
{
    tfe_gemm_blocking blk;
    tfe_gemm_blocking_init(impl, &blk);
    blk.kc = 32;
    blk.l2_floats = 3L * impl->mr * (impl->nr + blk.kc);
    blk.a_block_floats = blk.l2_floats;
    blk.kc_tile = 32;
    blk.b_block_floats = 2L * blk.kc_tile * impl->nr;
    blk.tile_rows = 1;
    blk.tile_block_rows = 1 << 30, blk.tile_max_passes = 1;
    return blk;
}

/* Shapes around mr, nr and the K block: with a small K block for every shape, then with the
 * host's own blocking for k around its kc and for one large product. */
static void driver_sweep(const tfe_gemm_impl *impl)
{
    const int mr = impl->mr, nr = impl->nr;
    /* every m up to mr + 1 (1-3 rows: the row-panel calls, TFE_GEMM_ROW_PANELS) */
    int ms[16], n_ms = 0;
    for (int m = 1; m <= mr + 1 && n_ms < 14; m++)
        ms[n_ms++] = m;
    ms[n_ms++] = 37, ms[n_ms++] = 130;
    const int ns[] = {1, nr - 1, nr, nr + 1, next_prime(2 * nr + 1)};
    const tfe_gemm_blocking small = small_blocking(impl);
    const int ks[] = {small.kc - 1, small.kc, small.kc + 1, 2 * small.kc + 3};
    uint64_t id = 1000000;
    for (int mi = 0; mi < n_ms; mi++)
        for (int ni = 0; ni < 5; ni++)
            for (int ki = 0; ki < 4; ki++, id++)
                if (ms[mi] >= 1 && ns[ni] >= 1)
                    driver_case(impl, &small, ms[mi], ns[ni], ks[ki],
                                &epis[1 + (int)(id % (N_EPIS - 1))], 1, id);

    tfe_gemm_blocking host;
    tfe_gemm_blocking_init(impl, &host);
    CHECK(host.kc >= 1, "%s: blocking kc %d", impl->name, host.kc);
    const int hm[] = {1, 2, 3, mr + 1, 37}, hn[] = {nr + 1, next_prime(2 * nr + 1)};
    const int hk[] = {host.kc - 1, host.kc, host.kc + 1, 2 * host.kc + 3};
    for (int mi = 0; mi < 5; mi++)
        for (int ni = 0; ni < 2; ni++)
            for (int ki = 0; ki < 4; ki++, id++)
                driver_case(impl, &host, hm[mi], hn[ni], hk[ki], &epis[EPI_FULL], 1, id);
    driver_case(impl, &host, 128, 768, 768, &epis[EPI_FULL], 2, id++);
    driver_case(impl, &small, 37, 33 * nr + 5, 2 * small.kc + 3, &epis[EPI_FULL], 1, id++);
}

/* Same product computed by teams of 1..5, 8 and 16: through tfe_gemm's OpenMP region (1, 2, 3
 * threads) and by calling tfe_gemm_team for every tid in turn (teams of 8 and more split the
 * rows sooner); all must match bit for bit. */
static void threads_case(const tfe_gemm_impl *impl, const tfe_gemm_blocking *blk, int m, int n,
                         int k, uint64_t case_id)
{
    product p;
    product_init(&p, impl, m, n, k, &epis[EPI_FULL], case_id);
    char what[256];
    snprintf(what, sizeof what, "%s m=%d n=%d k=%d (kc %d) case %llu", impl->name, m, n, k,
             blk->kc, (unsigned long long)case_id);
    tfe_gemm(impl, blk, &p.args, 1);
    product_check(&p, what);
    float *first = tt_alloc(p.c_len);
    memcpy(first, p.cbuf, p.c_len * sizeof *first);
    static const int teams[] = {2, 3, 4, 5, 8, 16};
    for (int i = 0; i < (int)(sizeof teams / sizeof *teams); i++)
        for (int omp = 0; omp <= 1; omp++) {
            const int t = teams[i];
            if (omp && t > 3)
                continue;
            tt_canary_fill(p.cbuf, p.c_len);
            if (omp)
                tfe_gemm(impl, blk, &p.args, t);
            else
                for (int tid = 0; tid < t; tid++)
                    tfe_gemm_team(impl, blk, &p.args, tid, t);
            CHECK(memcmp(first, p.cbuf, p.c_len * sizeof *first) == 0,
                  "%s: %s with %d threads differs from 1 thread", what,
                  omp ? "tfe_gemm" : "tfe_gemm_team", t);
        }
    /* Each thread writes only its own share, and the shares cover C: run every tid of a team
     * alone over canaries and count the writers of each element. (Run in turn, a thread that
     * wrote into another's columns would go unseen above: the values are the same, only
     * threads running at once would race on them.) */
    unsigned char *writers = malloc(p.c_len);
    CHECK(writers != NULL, "out of memory");
    for (int i = 0; i < (int)(sizeof teams / sizeof *teams); i++) {
        memset(writers, 0, p.c_len);
        for (int tid = 0; tid < teams[i]; tid++) {
            tt_canary_fill(p.cbuf, p.c_len);
            tfe_gemm_team(impl, blk, &p.args, tid, teams[i]);
            for (size_t e = 0; e < p.c_len; e++)
                writers[e] += tt_canary_check(p.cbuf + e, 1) >= 0;
        }
        for (size_t e = GUARD; e < p.c_len; e++) {
            const size_t r = (e - GUARD) / p.ldc, col = (e - GUARD) % p.ldc;
            if (col >= (size_t)n)
                continue;
            CHECK(writers[e] == 1, "%s: element [%zu][%zu] written by %d of a team of %d",
                  what, r, col, writers[e], teams[i]);
        }
    }
    free(writers);
    free(first);
    product_free(&p);
}

static void threads_sweep(const tfe_gemm_impl *impl)
{
    const int mr = impl->mr, nr = impl->nr;
    const tfe_gemm_blocking small = small_blocking(impl);
    /* 130 rows: impls with a rows_per_thread of 64 split them on 2 threads, the others split
     * the panels. */
    threads_case(impl, &small, 130, next_prime(3 * nr), 2 * small.kc + 3, 2000000);
    threads_case(impl, &small, 37, nr + 1, small.kc + 1, 2000001);
    threads_case(impl, &small, 1, 5 * nr + 3, small.kc - 1, 2000002);
    threads_case(impl, &small, 2, 7 * nr + 5, small.kc + 9, 2000007);
    threads_case(impl, &small, 3, 5 * nr, 2 * small.kc + 1, 2000008);
    threads_case(impl, &small, mr + 1, 1, 7, 2000003);
    tfe_gemm_blocking host;
    tfe_gemm_blocking_init(impl, &host);
    threads_case(impl, &host, 64, 4 * nr, host.kc + 5, 2000004);
    /* Enough rows that teams of 2..5 split the rows before the panels (128 rows a thread and
     * more), with a ragged last tile. */
    threads_case(impl, &small, 643, 2 * nr + 1, small.kc + 7, 2000005);
    /* More panels than one AMX stage group holds beside 9 row tiles (the stage: 320 tiles):
     * two groups on one thread (A converted for each), one on two or more; the same bits
     * either way. (643 rows above: M blocks of up to 512 rows on one thread, smaller ones in
     * teams.) */
    threads_case(impl, &small, 130, 41 * nr + 5, 2 * small.kc + 3, 2000006);
}

/* A row's result does not depend on the product it sits in: rows taken out of a tall product
 * (which the driver runs in its tile order) and computed alone or in small groups (panel
 * orders, a single tile, other K slices) give the same bits. This is what makes a sequence's
 * output the same alone and in any batch. */
static void rows_case(const tfe_gemm_impl *impl, const tfe_gemm_blocking *blk, int m, int n,
                      int k, uint64_t case_id)
{
    product p;
    product_init(&p, impl, m, n, k, &epis[EPI_FULL], case_id);
    char what[256];
    snprintf(what, sizeof what, "%s rows of m=%d n=%d k=%d case %llu", impl->name, m, n, k,
             (unsigned long long)case_id);
    tfe_gemm(impl, blk, &p.args, 2);
    product_check(&p, what);
    float *alone = tt_alloc(p.c_len);
    const int mr = impl->mr;
    const int groups[][2] = {{0, 1}, {3, mr}, {mr + 1, 2 * mr + 3}, {m - 37, 37}};
    for (int gi = 0; gi < 4; gi++) {
        const int r0 = groups[gi][0], rows = groups[gi][1];
        tfe_gemm_args sub = p.args;
        sub.m = rows;
        sub.a += (size_t)r0 * p.lda;
        if (sub.residual)
            sub.residual += (size_t)r0 * p.ldr;
        sub.c = alone + (p.c - p.cbuf) + (size_t)r0 * p.ldc;
        tfe_gemm(impl, blk, &sub, 1);
        for (int i = r0; i < r0 + rows; i++)
            CHECK(memcmp(alone + (p.c - p.cbuf) + (size_t)i * p.ldc, p.c + (size_t)i * p.ldc,
                         (size_t)n * sizeof(float)) == 0,
                  "%s: row %d differs computed with rows %d..%d alone", what, i, r0,
                  r0 + rows - 1);
    }
    free(alone);
    product_free(&p);
}

static void rows_sweep(const tfe_gemm_impl *impl)
{
    const tfe_gemm_blocking small = small_blocking(impl);
    rows_case(impl, &small, 130, 2 * impl->nr + 1, 2 * small.kc + 3, 3000000);
    tfe_gemm_blocking host;
    tfe_gemm_blocking_init(impl, &host);
    /* over the host's L2 budget of rows of A (twice): the tile order, K slices of kc_tile */
    const int k = 768, m = 2 * (int)(host.l2_floats / k) + 19;
    rows_case(impl, &host, m, impl->nr + 5, k, 3000001);
}

/* An impl's A packer (impl->tile_pack) against the layout gemm.h describes: tile t, k step p,
 * row i at [t·k·mr + p·mr + i], rows past m zero, nothing written past the last tile. */
static void tile_pack_case(const tfe_gemm_impl *impl, int m, int k, uint64_t case_id)
{
    tt_rng rng = tt_rng_for(case_id);
    const int mr = impl->mr, tiles = (m + mr - 1) / mr;
    const size_t lda = (size_t)k + 3, len = (size_t)tiles * k * mr;
    float *a = tt_alloc((size_t)m * lda), *buf = tt_alloc(len + 2 * GUARD);
    tt_fill(&rng, a, (size_t)m * lda, -1.0f, 1.0f);
    tt_canary_fill(buf, len + 2 * GUARD);
    float *dst = buf + GUARD;
    impl->tile_pack(m, k, a, lda, dst);
    for (int t = 0; t < tiles; t++)
        for (int p = 0; p < k; p++)
            for (int i = 0; i < mr; i++) {
                const int row = t * mr + i;
                const float want = row < m ? a[(size_t)row * lda + p] : 0.0f;
                const float got = dst[((size_t)t * k + p) * mr + i];
                CHECK(memcmp(&got, &want, sizeof got) == 0,
                      "%s tile_pack m=%d k=%d: tile %d k %d row %d is %g, want %g", impl->name,
                      m, k, t, p, i, got, want);
            }
    CHECK(tt_canary_check(buf, GUARD) < 0 && tt_canary_check(dst + len, GUARD) < 0,
          "%s tile_pack m=%d k=%d wrote outside its tiles", impl->name, m, k);
    free(a), free(buf);
}

/* The driver with A packed (scratch given) and read strided (no scratch) gives the same bits,
 * in both panel orders and across K slices, M blocks and ragged tiles; a thread without
 * scratch, or with too little for the block, reads A strided. */
static void packed_case(const tfe_gemm_impl *impl, const tfe_gemm_blocking *blk, int m, int n,
                        int k, uint64_t case_id)
{
    product p;
    product_init(&p, impl, m, n, k, &epis[EPI_FULL], case_id);
    char what[256];
    snprintf(what, sizeof what, "%s packed A m=%d n=%d k=%d (kc %d) case %llu", impl->name, m,
             n, k, blk->kc, (unsigned long long)case_id);
    tfe_gemm_team(impl, blk, &p.args, 0, 1); /* no scratch: strided */
    product_check(&p, what);
    float *strided = tt_alloc(p.c_len);
    memcpy(strided, p.cbuf, p.c_len * sizeof *strided);
    const size_t floats = tfe_gemm_scratch_floats(impl, k);
    float *scratch = tt_alloc(floats);
    const size_t strides[] = {floats, (size_t)impl->mr * 4}; /* enough; too little to pack */
    for (int si = 0; si < 2; si++) {
        tt_canary_fill(p.cbuf, p.c_len);
        tfe_gemm_args g = p.args;
        g.scratch = scratch, g.scratch_stride = strides[si];
        tfe_gemm_team(impl, blk, &g, 0, 1);
        CHECK(memcmp(strided, p.cbuf, p.c_len * sizeof *strided) == 0,
              "%s: differs from A read strided (scratch stride %zu)", what, strides[si]);
    }
    free(scratch), free(strided);
    product_free(&p);
}

static void packed_sweep(const tfe_gemm_impl *impl)
{
    if (!impl->tile_pack)
        return;
    const int mr = impl->mr, nr = impl->nr;
    const int pm[] = {1, mr - 1, mr, mr + 1, 15, 16, 17, 37};
    const int pk[] = {1, 15, 16, 17, 77};
    uint64_t id = 4000000;
    for (int mi = 0; mi < 8; mi++)
        for (int ki = 0; ki < 5; ki++)
            tile_pack_case(impl, pm[mi], pk[ki], id++);
    /* Panel orders only (no tile order), K slices of 32 and M blocks of 5 tiles: rows-resident
     * on a wide product, C-resident on a deep one; 3 tiles (not packed), 4 with a ragged one,
     * several blocks with a ragged last one. */
    tfe_gemm_blocking host;
    tfe_gemm_blocking_init(impl, &host);
    const int sm[] = {3 * mr, 4 * mr - 1, 37, 130};
    for (int mi = 0; mi < 4; mi++) {
        tfe_gemm_blocking blk = host;
        blk.kc = 32, blk.tile_rows = 1 << 30;
        const int wide_n = next_prime(9 * nr), wide_k = 3 * blk.kc + 5;
        blk.l2_floats = blk.a_block_floats = 5L * mr * wide_k;
        packed_case(impl, &blk, sm[mi], wide_n, wide_k, id++);
        const int deep_n = nr + 1, deep_k = 8 * blk.kc + 3;
        blk.l2_floats = blk.a_block_floats = 5L * mr * (2 * nr + blk.kc);
        packed_case(impl, &blk, sm[mi], deep_n, deep_k, id++);
    }
    /* the host's own blocking */
    packed_case(impl, &host, 37, 2 * nr + 1, host.kc + 5, id++);
    packed_case(impl, &host, 130, 4 * nr, 3 * host.kc + 1, id++);
}

/* Largest |c - oracle| / Σ|a·w| over a product's elements. */
static double worst_relative_error(const product *p)
{
    const size_t mn = (size_t)p->m * p->n;
    double *want = malloc(2 * mn * sizeof *want), worst = 0.0;
    CHECK(want != NULL, "out of memory");
    ref_gemm(p->m, p->n, p->k, p->a, p->lda, p->W.w, (size_t)p->k, NULL, 0, NULL, 0, NULL, 0,
             want, want + mn);
    for (int i = 0; i < p->m; i++)
        for (int j = 0; j < p->n; j++) {
            const size_t e = (size_t)i * p->n + j;
            const double err = fabs((double)p->c[(size_t)i * p->ldc + j] - want[e]) / want[mn + e];
            if (!(err <= worst)) /* a NaN result counts as an infinite error, not as none */
                worst = isnan(err) ? INFINITY : err;
        }
    free(want);
    return worst;
}

/* A tile-unit impl is as accurate as the FMA kernel on the same panels: its worst error on
 * products with K = 64 and 3072 stays within 1.5x of the FMA kernel's. (Without the third
 * bf16 term, or one of the six products, the error grows 100x or more; the tolerance of the
 * other tests is too loose to notice.) The third case scales A by 2^120 (~1.3e36): the split
 * into bf16 terms must hold near the top of fp32's range too (a split that overflows there,
 * as Veltkamp's did beyond 5e33, gives NaN). */
static void accuracy_sweep(const tfe_gemm_impl *impl)
{
    const tfe_gemm_impl *fma = tfe_gemm_fma_twin(impl);
    CHECK(fma != NULL, "%s: no FMA impl with panels of %d", impl->name, impl->nr);
    const struct {
        int k;
        float scale;
    } cases[] = {{64, 1.0f}, {3072, 1.0f}, {64, 0x1p120f}};
    for (int ci = 0; ci < 3; ci++) {
        const int k = cases[ci].k;
        product p;
        product_init(&p, impl, 48, 2 * impl->nr + 7, k, &epis[0], 4000000 + (uint64_t)ci);
        for (int i = 0; i < p.m; i++)
            for (int j = 0; j < k; j++)
                p.a[(size_t)i * p.lda + j] *= cases[ci].scale;
        double err[2];
        for (int v = 0; v < 2; v++) {
            const tfe_gemm_impl *im = v ? fma : impl;
            tfe_gemm_blocking blk;
            tfe_gemm_blocking_init(im, &blk);
            tfe_gemm(im, &blk, &p.args, 1);
            err[v] = worst_relative_error(&p);
        }
        CHECK(err[0] <= 1.5 * err[1],
              "%s: worst relative error %.3g at k = %d, A x %g, %s has %.3g", impl->name,
              err[0], k, cases[ci].scale, fma->name, err[1]);
        fprintf(stderr, "%s k=%d, A x %g: worst relative error %.3g (%s: %.3g)\n", impl->name,
                k, cases[ci].scale, err[0], fma->name, err[1]);
        product_free(&p);
    }
}

/* Runs `body` on every GEMM impl of `isa`, or skips when there is none to run. */
static void for_isa(tfe_isa isa, void (*body)(const tfe_gemm_impl *))
{
    tt_require_isa(isa);
    int n, ran = 0;
    const tfe_gemm_impl *impls = tfe_gemm_impls(&n);
    for (int i = 0; i < n; i++)
        if (impls[i].isa == isa) {
            body(&impls[i]);
            ran++;
        }
    if (!ran)
        SKIP("no %s GEMM impl in the registry", tfe_isa_name(isa));
}

TFE_TEST(gemm, ukernel_scalar) { for_isa(TFE_ISA_SCALAR, ukernel_sweep); }
TFE_TEST(gemm, ukernel_avx2) { for_isa(TFE_ISA_AVX2, ukernel_sweep); }
TFE_TEST(gemm, ukernel_avx512) { for_isa(TFE_ISA_AVX512, ukernel_sweep); }
TFE_TEST(gemm, few_rows_avx512) { for_isa(TFE_ISA_AVX512, few_rows_sweep); }
TFE_TEST(gemm, ukernel_neon) { for_isa(TFE_ISA_NEON, ukernel_sweep); }

TFE_TEST(gemm, driver_scalar) { for_isa(TFE_ISA_SCALAR, driver_sweep); }
TFE_TEST(gemm, driver_avx2) { for_isa(TFE_ISA_AVX2, driver_sweep); }
TFE_TEST(gemm, driver_avx512) { for_isa(TFE_ISA_AVX512, driver_sweep); }
TFE_TEST(gemm, driver_neon) { for_isa(TFE_ISA_NEON, driver_sweep); }
TFE_TEST(gemm, driver_amx) { for_isa(TFE_ISA_AMX, driver_sweep); }

TFE_TEST(gemm, threads_scalar) { for_isa(TFE_ISA_SCALAR, threads_sweep); }
TFE_TEST(gemm, threads_avx2) { for_isa(TFE_ISA_AVX2, threads_sweep); }
TFE_TEST(gemm, threads_avx512) { for_isa(TFE_ISA_AVX512, threads_sweep); }
TFE_TEST(gemm, threads_neon) { for_isa(TFE_ISA_NEON, threads_sweep); }
TFE_TEST(gemm, threads_amx) { for_isa(TFE_ISA_AMX, threads_sweep); }

TFE_TEST(gemm, packed_a_avx2) { for_isa(TFE_ISA_AVX2, packed_sweep); }
TFE_TEST(gemm, packed_a_avx512) { for_isa(TFE_ISA_AVX512, packed_sweep); }

TFE_TEST(gemm, rows_scalar) { for_isa(TFE_ISA_SCALAR, rows_sweep); }
TFE_TEST(gemm, rows_avx2) { for_isa(TFE_ISA_AVX2, rows_sweep); }
TFE_TEST(gemm, rows_avx512) { for_isa(TFE_ISA_AVX512, rows_sweep); }
TFE_TEST(gemm, rows_neon) { for_isa(TFE_ISA_NEON, rows_sweep); }
TFE_TEST(gemm, rows_amx) { for_isa(TFE_ISA_AMX, rows_sweep); }
TFE_TEST(gemm, accuracy_amx) { for_isa(TFE_ISA_AMX, accuracy_sweep); }

/* Every impl is reachable by one of the per-ISA tests above (the micro-kernel sweeps skip
 * tile-unit impls, which have no micro-kernel), is named <tile>__<isa>, and
 * selection picks the first allowed entry, with scalar last and always there. */
TFE_TEST(gemm, registry)
{
    int n;
    const tfe_gemm_impl *impls = tfe_gemm_impls(&n);
    CHECK(n >= 1 && impls[n - 1].isa == TFE_ISA_SCALAR, "the GEMM list must end with scalar");
    for (int i = 0; i < n; i++) {
        const tfe_gemm_impl *g = &impls[i];
        CHECK(g->isa >= TFE_ISA_SCALAR && g->isa < TFE_ISA_COUNT, "%s: bad isa %d", g->name,
              (int)g->isa);
        const char *suffix = strstr(g->name, "__");
        CHECK(suffix && strcmp(suffix + 2, tfe_isa_name(g->isa)) == 0,
              "%s: name must end in __%s", g->name, tfe_isa_name(g->isa));
        CHECK(g->mr >= 1 && g->nr >= 1, "%s: mr %d nr %d", g->name, g->mr, g->nr);
        CHECK((g->ukernel != NULL) != (g->amx != NULL),
              "%s: needs a micro-kernel or tile-unit kernels, not both", g->name);
        CHECK(!g->tile_pack || g->ukernel,
              "%s: an A packer (tile_pack) serves a micro-kernel, which this impl lacks", g->name);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(impls[j].name, g->name) != 0, "%s is registered twice", g->name);
    }
    for (int cap = TFE_ISA_AUTO; cap < TFE_ISA_COUNT; cap++) {
        tfe_kernels k;
        tfe_kernels_select((tfe_isa)cap, &k);
        const tfe_gemm_impl *first = NULL;
        for (int i = 0; i < n && !first; i++)
            if (tfe_isa_allowed(impls[i].isa, (tfe_isa)cap))
                first = &impls[i];
        CHECK(k.gemm == first, "cap %s: selected %s, expected %s", tfe_isa_name((tfe_isa)cap),
              k.gemm ? k.gemm->name : "NULL", first ? first->name : "NULL");
    }
}
