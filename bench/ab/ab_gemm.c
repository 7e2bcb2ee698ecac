/* One GEMM product in two builds of libtfenc side by side in one process: alternating rounds,
 * the median ratio of their times and its spread (as tfenc-ab-libs does for whole forward
 * passes). For a change to one kernel, where the product resolves what the encoder's noise hides.
 *
 *   tfenc-ab-gemm LIB_A LIB_B IMPL M N K THREADS [ROUNDS] [EPILOGUE]
 *
 * IMPL names a registry entry (8x48__avx512, 6x16__avx2, bf16x3_16x48__amx, ...). EPILOGUE is
 * a set of letters: b bias, g GELU, t GELU (tanh), r relu, s residual; none by default. The
 * weights are packed into as many copies as make ~64 MiB (TFENC_AB_STREAM_MIB: another size,
 * e.g. 400 to outgrow a big shared L3 as BERT-base's 340 MB of weights do), taken in turn, so
 * every call streams them from memory as a forward pass does. The tool reaches into the library's internal GEMM
 * API (src/gemm.h), which the shared library exports; both builds must share that header's
 * layout. Run it both ways round: the library loaded second can sit differently in memory. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "paired.h"

typedef struct lib {
    const tfe_gemm_impl *impl;
    tfe_gemm_blocking blk;
    tfe_gemm_args args;
    tfe_packed *copies;
    int n_copies;
    void (*gemm)(const tfe_gemm_impl *, const tfe_gemm_blocking *, const tfe_gemm_args *, int);
} lib;

static float *filled(float *(*alloc)(size_t), size_t n, float scale, float offset)
{
    float *p = alloc(n);
    if (!p) {
        fprintf(stderr, "tfenc-ab-gemm: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(i * 7 % 13) * scale + offset;
    return p;
}

static void open_lib(lib *l, const char *path, const char *impl_name, int m, int n, int k,
                     int threads, const char *epilogue)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "tfenc-ab-gemm: %s\n", dlerror());
        exit(1);
    }
    const tfe_gemm_impl *(*impls)(int *);
    void (*blocking_init)(const tfe_gemm_impl *, tfe_gemm_blocking *);
    void (*pack_b)(int, int, int, int, const float *, float *);
    size_t (*packed_floats)(int, int, int);
    size_t (*scratch_floats)(const tfe_gemm_impl *, int);
    float *(*alloc)(size_t);
    paired_symbol("tfenc-ab-gemm", h, path, "tfe_gemm_impls", &impls);
    paired_symbol("tfenc-ab-gemm", h, path, "tfe_gemm_blocking_init", &blocking_init);
    paired_symbol("tfenc-ab-gemm", h, path, "tfe_pack_b", &pack_b);
    paired_symbol("tfenc-ab-gemm", h, path, "tfe_packed_floats", &packed_floats);
    paired_symbol("tfenc-ab-gemm", h, path, "tfe_gemm_scratch_floats", &scratch_floats);
    paired_symbol("tfenc-ab-gemm", h, path, "tfe_alloc_floats", &alloc);
    paired_symbol("tfenc-ab-gemm", h, path, "tfe_gemm", &l->gemm);
    int count;
    const tfe_gemm_impl *all = impls(&count);
    l->impl = NULL;
    for (int i = 0; i < count; i++)
        if (strcmp(all[i].name, impl_name) == 0)
            l->impl = &all[i];
    if (!l->impl) {
        fprintf(stderr, "tfenc-ab-gemm: %s has no GEMM impl %s\n", path, impl_name);
        exit(1);
    }
    if (l->impl->amx) { /* the tile state is granted per process, as tfe_model_create does */
        int (*amx_enable)(void);
        paired_symbol("tfenc-ab-gemm", h, path, "tfe_cpu_amx_enable", &amx_enable);
        if (!amx_enable()) {
            fprintf(stderr, "tfenc-ab-gemm: the kernel refused the AMX tile state\n");
            exit(1);
        }
    }
    blocking_init(l->impl, &l->blk);
    const size_t floats = packed_floats(n, k, l->impl->nr);
    const char *mib_env = getenv("TFENC_AB_STREAM_MIB");
    const double mib = mib_env && atof(mib_env) > 0 ? atof(mib_env) : 64.0;
    l->n_copies = (int)(mib * (1 << 20) / (double)(floats * sizeof(float))) + 1;
    l->n_copies = l->n_copies < 2 ? 2 : l->n_copies > 1024 ? 1024 : l->n_copies;
    l->copies = calloc((size_t)l->n_copies, sizeof *l->copies);
    float *w = filled(alloc, (size_t)n * k, 0.01f, -0.06f);
    for (int c = 0; c < l->n_copies; c++) {
        l->copies[c] = (tfe_packed){.n = n, .k = k, .nr = l->impl->nr,
                                    .blocked = l->impl->blocked, .data = alloc(floats)};
        if (!l->copies[c].data) {
            fprintf(stderr, "tfenc-ab-gemm: out of memory\n");
            exit(1);
        }
        pack_b(n, k, l->impl->nr, l->impl->blocked, w, l->copies[c].data);
    }
    free(w);
    const size_t scratch = scratch_floats(l->impl, k);
    l->args = (tfe_gemm_args){.m = m, .a = filled(alloc, (size_t)m * k, 0.1f, -0.6f), .lda = k,
                              .b = &l->copies[0], .c = filled(alloc, (size_t)m * n, 0.0f, 0.0f),
                              .ldc = n,
                              .scratch = scratch ? filled(alloc, scratch * threads, 0.0f, 0.0f)
                                                 : NULL,
                              .scratch_stride = scratch};
    if (strchr(epilogue, 'b'))
        l->args.bias = filled(alloc, (size_t)n, 0.01f, -0.05f);
    if (strchr(epilogue, 's')) {
        l->args.residual = filled(alloc, (size_t)m * n, 0.1f, -0.5f);
        l->args.ldr = n;
    }
    l->args.act = strchr(epilogue, 'g')   ? TFE_GEMM_ACT_GELU
                  : strchr(epilogue, 't') ? TFE_GEMM_ACT_GELU_TANH
                  : strchr(epilogue, 'r') ? TFE_GEMM_ACT_RELU
                                          : TFE_GEMM_ACT_NONE;
}

/* One pass over the weight copies: seconds. */
static double run(lib *l, int threads)
{
    const double t0 = paired_now();
    for (int c = 0; c < l->n_copies; c++) {
        l->args.b = &l->copies[c];
        l->gemm(l->impl, &l->blk, &l->args, threads);
    }
    return paired_now() - t0;
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: tfenc-ab-gemm LIB_A LIB_B IMPL M N K THREADS [ROUNDS] "
                        "[EPILOGUE: letters b g t r s]\n");
        return 2;
    }
    const int m = atoi(argv[4]), n = atoi(argv[5]), k = atoi(argv[6]), threads = atoi(argv[7]);
    const int rounds = argc > 8 ? atoi(argv[8]) : 21;
    const char *epilogue = argc > 9 ? argv[9] : "";
    if (m < 1 || n < 1 || k < 1 || threads < 1 || rounds < 3 || rounds > 1000 ||
        strspn(epilogue, "bgtrs") != strlen(epilogue)) {
        fprintf(stderr, "tfenc-ab-gemm: M, N, K, THREADS >= 1, 3 <= ROUNDS <= 1000, EPILOGUE "
                        "of b g t r s\n");
        return 2;
    }
    lib l[2];
    open_lib(&l[0], argv[1], argv[3], m, n, k, threads, epilogue);
    open_lib(&l[1], argv[2], argv[3], m, n, k, threads, epilogue);
    double *t[2] = {malloc(sizeof(double) * rounds), malloc(sizeof(double) * rounds)};
    double *ratio = malloc(sizeof(double) * rounds);
    if (!t[0] || !t[1] || !ratio)
        return 1;
    run(&l[0], threads), run(&l[1], threads); /* first touch, thread start-up */
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < 2; i++) { /* A first in even rounds, B first in odd ones */
            const int v = (r & 1) ^ i;
            t[v][r] = run(&l[v], threads);
        }
        ratio[r] = t[1][r] / t[0][r];
    }
    const double flop = 2.0 * m * n * k * l[0].n_copies;
    paired_sort(ratio, rounds);
    paired_sort(t[0], rounds);
    paired_sort(t[1], rounds);
    printf("%s %dx%dx%d, %d threads, epilogue '%s', %d weight copies, %d rounds: A %.1f, "
           "B %.1f GFLOP/s (medians); B/A time median %.3f, middle two thirds %.3f..%.3f\n",
           argv[3], m, n, k, threads, epilogue, l[0].n_copies, rounds,
           flop / paired_median(t[0], rounds) * 1e-9, flop / paired_median(t[1], rounds) * 1e-9,
           paired_median(ratio, rounds), paired_low(ratio, rounds), paired_high(ratio, rounds));
    return 0;
}
