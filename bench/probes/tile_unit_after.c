/* How fast the tile unit runs some time after a kernel has used it: the tile unit's peak loop
 * (tfe_peak_bf16x3__amx, 2000 rounds, ~40 µs) timed SPIN µs after three calls of each
 * attention kernel on 12 heads × 128 tokens, six AMX or AVX-512 products of 128×768×768, or
 * nothing. Not part of the suite: it is behind the AMX attention's min_len (README, "Attention
 * on the tile unit"), where the AMX GEMMs slowed down once attention ran on the tile unit too.
 *
 *   tfenc-probe-tile-unit-after [SPIN_US ...]     (default: 0 1000 3000)
 *
 * Prints per case the loop's median and minimum over ROUNDS rounds, the cases interleaved. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ab/paired.h"
#include "cpu.h"
#include "kernels.h"
#include "model.h" /* tfe_alloc_floats */
#include "peak.h"

enum { ROUNDS = 31, CASES = 5, HEADS = 12, DH = 64, LEN = 128, M = 128, N = 768, K = 768 };
static const char *const case_names[CASES] = {"avx512 attention", "amx attention", "amx gemm",
                                               "avx512 gemm", "nothing"};

static const void *find(const char *op, const char *name)
{
    int n;
    if (strcmp(op, "attention") == 0) {
        const tfe_attention_impl *a = tfe_attention_impls(&n);
        for (int i = 0; i < n; i++)
            if (strcmp(a[i].name, name) == 0)
                return &a[i];
    } else {
        const tfe_gemm_impl *g = tfe_gemm_impls(&n);
        for (int i = 0; i < n; i++)
            if (strcmp(g[i].name, name) == 0)
                return &g[i];
    }
    fprintf(stderr, "tfenc-probe-tile-unit-after: no %s impl %s\n", op, name);
    exit(1);
}

static float *filled(size_t n, unsigned mult)
{
    float *p = tfe_alloc_floats(n);
    if (!p) {
        fprintf(stderr, "tfenc-probe-tile-unit-after: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (float)((i * mult) % 1000u) / 1000.0f - 0.5f;
    return p;
}

int main(int argc, char **argv)
{
    if (!tfe_isa_supported(TFE_ISA_AMX) || !tfe_cpu_amx_enable()) {
        printf("tfenc-probe-tile-unit-after: no AMX on this host\n");
        return 0;
    }
    const tfe_attention_impl *att[2] = {find("attention", "flash_q32k64__avx512"),
                                        find("attention", "flash_q32k64__amx")};
    const tfe_gemm_impl *gemm[2] = {find("gemm", "bf16x3_16x48__amx"),
                                    find("gemm", "8x48__avx512")};
    const int D = HEADS * DH, offsets[2] = {0, LEN};
    float *qkv = filled((size_t)LEN * 3 * D, 2654435761u), *ctx = filled((size_t)LEN * D, 1);
    float *scratch[2];
    tfe_attention_args aa[2];
    for (int i = 0; i < 2; i++) {
        const size_t stride = tfe_attention_team_scratch_floats(att[i], DH, LEN);
        scratch[i] = filled(stride, 1);
        aa[i] = (tfe_attention_args){.batch = 1, .offsets = offsets, .n_heads = HEADS,
                                     .d_head = DH, .qkv = qkv, .qkv_ld = 3 * (size_t)D,
                                     .ctx = ctx, .scratch = scratch[i],
                                     .scratch_stride = stride};
    }
    float *w = filled((size_t)N * K, 7919), *a = filled((size_t)M * K, 31);
    float *c = filled((size_t)M * N, 1);
    tfe_gemm_blocking blk[2];
    tfe_packed packed[2];
    tfe_gemm_args ga[2];
    for (int i = 0; i < 2; i++) {
        tfe_gemm_blocking_init(gemm[i], &blk[i]);
        packed[i] = (tfe_packed){.n = N, .k = K, .nr = gemm[i]->nr, .blocked = gemm[i]->blocked,
                                 .data = filled(tfe_packed_floats(N, K, gemm[i]->nr), 1)};
        tfe_pack_b(N, K, gemm[i]->nr, gemm[i]->blocked, w, packed[i].data);
        const size_t sc = tfe_gemm_scratch_floats(gemm[i], K);
        ga[i] = (tfe_gemm_args){.m = M, .a = a, .lda = K, .b = &packed[i], .c = c, .ldc = N,
                                .scratch = sc ? filled(sc, 1) : NULL, .scratch_stride = sc};
    }

    static const char *const defaults[] = {"0", "1000", "3000"};
    const int nspins = argc > 1 ? argc - 1 : 3;
    printf("# the tile unit's peak loop (2000 rounds), us, SPIN us after each case; median (min) "
           "of %d rounds\n",
           ROUNDS);
    for (int si = 0; si < nspins; si++) {
        const double spin = atof(argc > 1 ? argv[si + 1] : defaults[si]) * 1e-6;
        double t[CASES][ROUNDS];
        for (int r = 0; r < ROUNDS; r++)
            for (int cs = 0; cs < CASES; cs++) {
                if (cs < 2) {
                    for (int it = 0; it < 3; it++)
                        tfe_attention_team(att[cs], &aa[cs], 0, 1);
                } else if (cs < 4) {
                    for (int it = 0; it < 6; it++)
                        tfe_gemm(gemm[cs - 2], &blk[cs - 2], &ga[cs - 2], 1);
                } else {
                    const double t0 = paired_now();
                    while (paired_now() - t0 < 9e-4)
                        ;
                }
                const double tw = paired_now();
                while (paired_now() - tw < spin)
                    ;
                const double t0 = paired_now();
                volatile double flops = tfe_peak_bf16x3__amx(2000);
                (void)flops;
                t[cs][r] = paired_now() - t0;
            }
        for (int cs = 0; cs < CASES; cs++) {
            paired_sort(t[cs], ROUNDS);
            printf("spin %6.0f us, after %-16s  %6.1f (%6.1f)\n", spin * 1e6, case_names[cs],
                   paired_median(t[cs], ROUNDS) * 1e6, t[cs][0] * 1e6);
        }
    }
    return 0;
}
