/* Where an AVX-512 weight product loses against the zmm FMA peak, measured in one process with
 * the peak loop run between every measurement (medians of ROUNDS rounds, as % of the peak's
 * median). Not part of the suite: it answers a design question once per CPU, with numbers.
 *
 *   tfenc-probe-gemm-ceiling [ROUNDS]
 *
 * Part 1, the k step alone (no tile boundaries, its loads from L1): the 8x48 step as the
 * kernel issues it, the same step fed from L2, the same step arranged otherwise, other tile
 * shapes that fit 32 zmm registers, and the step with some of its loads taken away. It gives
 * the ceiling of a broadcast-and-FMA micro-kernel on this core.
 * Part 2, one 128-row product (N = 3072, K = 768, 1 thread) through the library's own
 * driver, then the same tile calls replayed by a plain loop with one input at a time held
 * in cache: the pieces between the kernel's ceiling and the product. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ab/paired.h"
#include "cpu.h"
#include "gemm.h"
#include "kernels.h"
#include "model.h" /* tfe_alloc_floats */
#include "parallel.h"
#include "peak.h"

/* WINDOW k steps of every shape's panel (at most 6 blocks of 64 B a step) and A fit L1
 * together; WINDOW_L2 steps of the 8x48 panel and A (56 KiB) do not, as in a K slice of 256. */
enum { STEPS = 4000000, WINDOW = 64, WINDOW_L2 = 256, KDIM = 768, MAX_ROUNDS = 101 };

/* One k step of an MR x (16·NB) tile: NB panel vectors, MR broadcasts, MR·NB FMAs; the
 * inputs walk a window of `window` k steps so the addresses move as in a real slice. */
#define SHAPE(NAME, MR, NB)                                                                    \
    static __attribute__((noinline)) float NAME##_w(const float *b, const float *a, size_t bs, \
                                                   long window)                                \
    {                                                                                          \
        __m512 acc[MR][NB];                                                                    \
        for (int i = 0; i < MR; i++)                                                           \
            for (int j = 0; j < NB; j++)                                                       \
                acc[i][j] = _mm512_setzero_ps();                                               \
        for (long p = 0, o = 0; p < STEPS; p++, o = o + 1 == window ? 0 : o + 1) {             \
            const float *bp = b + 16 * o, *ap = a + MR * o;                                    \
            __m512 bv[NB];                                                                     \
            _Pragma("GCC unroll 8") for (int j = 0; j < NB; j++) bv[j] =                       \
                _mm512_load_ps(bp + j * bs);                                                   \
            _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                              \
            {                                                                                  \
                const __m512 av = _mm512_set1_ps(ap[i]);                                       \
                _Pragma("GCC unroll 8") for (int j = 0; j < NB; j++) acc[i][j] =               \
                    _mm512_fmadd_ps(av, bv[j], acc[i][j]);                                     \
            }                                                                                  \
        }                                                                                      \
        __m512 s = _mm512_setzero_ps();                                                        \
        for (int i = 0; i < MR; i++)                                                           \
            for (int j = 0; j < NB; j++)                                                       \
                s = _mm512_add_ps(s, acc[i][j]);                                               \
        return _mm512_reduce_add_ps(s);                                                        \
    }                                                                                          \
    static float NAME(const float *b, const float *a, size_t bs)                               \
    {                                                                                          \
        return NAME##_w(b, a, bs, WINDOW);                                                     \
    }
SHAPE(step_8x48, 8, 3)
SHAPE(step_12x32, 12, 2)
SHAPE(step_14x32, 14, 2)
SHAPE(step_9x48, 9, 3)
SHAPE(step_6x64, 6, 4)
SHAPE(step_4x96, 4, 6)

/* The 8x48 step with two broadcasts live, FMAs of two rows interleaved. */
static __attribute__((noinline)) float step_8x48_pairs(const float *b, const float *a, size_t bs)
{
    __m512 acc[8][3];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 3; j++)
            acc[i][j] = _mm512_setzero_ps();
    for (long p = 0, o = 0; p < STEPS; p++, o = o + 1 == WINDOW ? 0 : o + 1) {
        const float *bp = b + 16 * o, *ap = a + 8 * o;
        const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + bs),
                     b2 = _mm512_load_ps(bp + 2 * bs);
#pragma GCC unroll 4
        for (int i = 0; i < 8; i += 2) {
            const __m512 u = _mm512_set1_ps(ap[i]), v = _mm512_set1_ps(ap[i + 1]);
            acc[i][0] = _mm512_fmadd_ps(u, b0, acc[i][0]);
            acc[i + 1][0] = _mm512_fmadd_ps(v, b0, acc[i + 1][0]);
            acc[i][1] = _mm512_fmadd_ps(u, b1, acc[i][1]);
            acc[i + 1][1] = _mm512_fmadd_ps(v, b1, acc[i + 1][1]);
            acc[i][2] = _mm512_fmadd_ps(u, b2, acc[i][2]);
            acc[i + 1][2] = _mm512_fmadd_ps(v, b2, acc[i + 1][2]);
        }
    }
    __m512 s = _mm512_setzero_ps();
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 3; j++)
            s = _mm512_add_ps(s, acc[i][j]);
    return _mm512_reduce_add_ps(s);
}

/* The 8x48 step with loads taken away: `drop_b` keeps the panel vectors in registers (8
 * broadcasts, no vector load), otherwise one broadcast serves all rows (3 vector loads). */
static __attribute__((noinline)) float step_8x48_fewer_loads(const float *b, const float *a,
                                                            size_t bs, int drop_b)
{
    __m512 acc[8][3];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 3; j++)
            acc[i][j] = _mm512_setzero_ps();
    __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + bs), b2 = _mm512_load_ps(b + 2 * bs);
    for (long p = 0, o = 0; p < STEPS; p++, o = o + 1 == WINDOW ? 0 : o + 1) {
        const float *ap = a + 8 * o;
        if (!drop_b) {
            b0 = _mm512_load_ps(b + 16 * o);
            b1 = _mm512_load_ps(b + 16 * o + bs);
            b2 = _mm512_load_ps(b + 16 * o + 2 * bs);
        }
        const __m512 one = _mm512_set1_ps(ap[0]);
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            const __m512 av = drop_b ? _mm512_set1_ps(ap[i]) : one;
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
            acc[i][2] = _mm512_fmadd_ps(av, b2, acc[i][2]);
        }
    }
    __m512 s = _mm512_setzero_ps();
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 3; j++)
            s = _mm512_add_ps(s, acc[i][j]);
    return _mm512_reduce_add_ps(s);
}
static float step_8x48_from_l2(const float *b, const float *a, size_t bs)
{
    return step_8x48_w(b, a, bs, WINDOW_L2);
}
static float step_8x48_no_panel_loads(const float *b, const float *a, size_t bs)
{
    return step_8x48_fewer_loads(b, a, bs, 1);
}
static float step_8x48_one_broadcast(const float *b, const float *a, size_t bs)
{
    return step_8x48_fewer_loads(b, a, bs, 0);
}

typedef struct step_row {
    const char *name;
    float (*fn)(const float *, const float *, size_t);
    int fmas; /* per k step */
} step_row;

static const step_row step_rows[] = {
    {"8x48 step (the kernel's)", step_8x48, 24},
    {"8x48, 256-step window (56 KiB: from L2)", step_8x48_from_l2, 24},
    {"8x48, rows in pairs", step_8x48_pairs, 24},
    {"12x32", step_12x32, 24},
    {"14x32", step_14x32, 28},
    {"9x48", step_9x48, 27},
    {"6x64", step_6x64, 24},
    {"4x96", step_4x96, 24},
    {"8x48, panel in registers", step_8x48_no_panel_loads, 24},
    {"8x48, one broadcast", step_8x48_one_broadcast, 24},
};
#define N_STEP_ROWS ((int)(sizeof step_rows / sizeof step_rows[0]))

/* Part 2: the product, and the same tile calls replayed with inputs held in cache. */
typedef struct product {
    const tfe_gemm_impl *impl;
    tfe_gemm_blocking blk;
    tfe_gemm_args g;
    tfe_packed w;
    float *apack;  /* A packed in tiles once, for the replays */
    float *repack; /* where REPLAY_REPACK packs it on every call */
    int m, n, k;
} product;

enum { REPLAY_DRIVER, REPLAY_PLAIN, REPLAY_REPACK, REPLAY_NO_PF, REPLAY_B_FIXED,
       REPLAY_A_FIXED, REPLAY_C_FIXED, REPLAY_ALL_FIXED, N_REPLAYS };
static const char *const replay_names[N_REPLAYS] = {
    "the library's driver (tfe_gemm)",
    "replay: same calls, A packed beforehand",
    "replay: A packed on every call",
    "replay: no prefetch hint",
    "replay: weights of one panel only",
    "replay: A of one tile only",
    "replay: C of one tile only",
    "replay: all three held",
};

/* The rows-resident order's calls for one 128-row block (the driver's choice for this shape
 * on a 2 MiB L2; with other caches the driver's row may take another order): panels outer,
 * K slices of blk.kc, tiles inner, the lines of the slice TFE_GEMM_PF_SLICES on hinted in
 * equal shares, one a tile, as src/gemm.c's run_strip does. */
static void replay(const product *pr, int how)
{
    const int kc = pr->blk.kc, tiles = pr->m / 8, panels = pr->n / 48, slices = pr->k / kc;
    const int b_fixed = how == REPLAY_B_FIXED || how == REPLAY_ALL_FIXED;
    const int a_fixed = how == REPLAY_A_FIXED || how == REPLAY_ALL_FIXED;
    const int c_fixed = how == REPLAY_C_FIXED || how == REPLAY_ALL_FIXED;
    float *apack = pr->apack;
    if (how == REPLAY_REPACK) {
        apack = pr->repack;
        pr->impl->tile_pack(pr->m, pr->k, pr->g.a, pr->g.lda, apack);
    }
    const float *w = pr->w.data;
    const size_t panel = (size_t)pr->k * 48, bs = (size_t)16 * pr->k;
    const int lines = kc * 16 * (int)sizeof(float) / 64;
    for (int p = 0; p < panels; p++)
        for (int s = 0; s < slices; s++)
            for (int t = 0; t < tiles; t++) {
                const int k0 = s * kc, ahead = p * slices + s + TFE_GEMM_PF_SLICES;
                const char *pf = NULL;
                int pf_lines = 0;
                if (how != REPLAY_NO_PF && ahead / slices < panels) {
                    int lo, hi;
                    tfe_split_range(lines, tiles, t, &lo, &hi);
                    pf = (const char *)(w + (size_t)(b_fixed ? 0 : ahead / slices) * panel +
                                        (size_t)(ahead % slices) * kc * 16) +
                         (size_t)lo * 64;
                    pf_lines = hi - lo;
                }
                pr->impl->ukernel(8, 48, kc, apack + ((size_t)(a_fixed ? 0 : t) * pr->k + k0) * 8,
                                  0, w + (size_t)(b_fixed ? 0 : p) * panel + (size_t)k0 * 16, bs,
                                  pr->g.c + (c_fixed ? 0 : (size_t)t * 8 * pr->n + (size_t)p * 48),
                                  (size_t)pr->n, (k0 ? TFE_GEMM_ACCUMULATE : 0) | TFE_GEMM_A_PACKED,
                                  NULL, pf, pf_lines);
            }
}

static float *filled(size_t n)
{
    float *p = tfe_alloc_floats(n);
    if (!p) {
        fprintf(stderr, "tfenc-probe-gemm-ceiling: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = 0.01f * (float)((i * 7) % 13) - 0.06f;
    return p;
}

static const tfe_gemm_impl *avx512_impl(void)
{
    int count;
    const tfe_gemm_impl *impls = tfe_gemm_impls(&count);
    for (int i = 0; i < count; i++)
        if (impls[i].isa == TFE_ISA_AVX512 && impls[i].ukernel && impls[i].tile_pack &&
            impls[i].mr == 8 && impls[i].nr == 48 && impls[i].blocked)
            return &impls[i];
    return NULL;
}

static double peak_gflops(void)
{
    const double t0 = paired_now();
    const double flops = tfe_peak_fma_zmm__avx512(16000000);
    return flops / (paired_now() - t0) / 1e9;
}

static void print_row(const char *name, double *v, const double *pk, int rounds)
{
    paired_sort(v, rounds);
    const double peak = paired_median(pk, rounds);
    printf("  %-42s %6.1f GFLOP/s  %5.1f%% of the peak  (middle two thirds %.1f-%.1f%%)\n", name,
           paired_median(v, rounds), 100 * paired_median(v, rounds) / peak,
           100 * paired_low(v, rounds) / peak, 100 * paired_high(v, rounds) / peak);
}

int main(int argc, char **argv)
{
    const int rounds = argc > 1 ? atoi(argv[1]) : 9;
    if (rounds < 3 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: tfenc-probe-gemm-ceiling [ROUNDS: 3..%d]\n", MAX_ROUNDS);
        return 2;
    }
    const tfe_gemm_impl *impl = avx512_impl();
    if (!tfe_cpu()->isa[TFE_ISA_AVX512] || !impl) {
        printf("tfenc-probe-gemm-ceiling: skipped (no AVX-512 on this host or in this build)\n");
        return 0;
    }
    printf("tfenc-probe-gemm-ceiling on %s: %d rounds, medians, each against the median of the "
           "zmm FMA peak loop run between them\n", tfe_cpu()->name, rounds);

    /* Part 1. Panels 48 KiB apart as in a blocked panel of K = 768. */
    const size_t bs = (size_t)16 * KDIM;
    float *b = filled(6 * bs), *a = filled((size_t)16 * WINDOW_L2);
    static double pk[MAX_ROUNDS], v[16][MAX_ROUNDS];
    _Static_assert(N_REPLAYS <= 16, "one column per row");
    volatile float sink = 0;
    for (int r = 0; r < rounds; r++) {
        pk[r] = peak_gflops();
        for (int i = 0; i < N_STEP_ROWS; i++) {
            const double t0 = paired_now();
            sink += step_rows[i].fn(b, a, bs);
            v[i][r] = 32.0 * step_rows[i].fmas * STEPS / (paired_now() - t0) / 1e9;
        }
    }
    printf("\nThe k step alone, no tile boundaries, loads from L1 (one row: from L2):\n");
    for (int i = 0; i < N_STEP_ROWS; i++)
        print_row(step_rows[i].name, v[i], pk, rounds);
    free(b), free(a);

    /* Part 2. */
    product pr = {.impl = impl, .m = 128, .n = 3072, .k = KDIM};
    tfe_gemm_blocking_init(impl, &pr.blk);
    if (pr.k % pr.blk.kc) {
        printf("\n(part 2 skipped: K slice %d does not divide K = %d)\n", pr.blk.kc, pr.k);
        return 0;
    }
    float *wt = filled((size_t)pr.n * pr.k);
    pr.w = (tfe_packed){pr.n, pr.k, 48, 1, filled(tfe_packed_floats(pr.n, pr.k, 48))};
    tfe_pack_b(pr.n, pr.k, 48, 1, wt, pr.w.data);
    free(wt);
    const size_t scratch = tfe_gemm_scratch_floats(impl, pr.k);
    pr.g = (tfe_gemm_args){.m = pr.m, .a = filled((size_t)pr.m * pr.k), .lda = (size_t)pr.k,
                           .b = &pr.w, .c = filled((size_t)pr.m * pr.n), .ldc = (size_t)pr.n,
                           .scratch = filled(scratch), .scratch_stride = scratch};
    pr.apack = filled((size_t)pr.m * pr.k);
    pr.repack = filled((size_t)pr.m * pr.k);
    impl->tile_pack(pr.m, pr.k, pr.g.a, pr.g.lda, pr.apack);
    const double flops = 2.0 * pr.m * pr.n * pr.k;
    const int reps = 20;
    for (int r = 0; r < rounds; r++) {
        pk[r] = peak_gflops();
        for (int i = 0; i < N_REPLAYS; i++) {
            double t0 = 0;
            for (int q = 0; q <= reps; q++) { /* one warm-up call, then `reps` timed */
                if (q == 1)
                    t0 = paired_now();
                if (i == REPLAY_DRIVER)
                    tfe_gemm(impl, &pr.blk, &pr.g, 1);
                else
                    replay(&pr, i);
            }
            v[i][r] = flops * reps / (paired_now() - t0) / 1e9;
        }
    }
    printf("\nOne product, %dx%dx%d on 1 thread (K slices of %d; each replay row changes one "
           "thing against the row above it or the plain replay):\n", pr.m, pr.n, pr.k,
           pr.blk.kc);
    for (int i = 0; i < N_REPLAYS; i++)
        print_row(replay_names[i], v[i], pk, rounds);
    (void)sink;
    return 0;
}
