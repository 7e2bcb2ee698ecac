/* Registry lists (best first, scalar last) and kernel selection. */
#define _POSIX_C_SOURCE 200809L /* sched_yield */
#include "kernels.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#if TFE_HAVE_AMX
static const tfe_gemm_amx gemm_amx = {tfe_gemm_amx_pack_a, tfe_gemm_amx_pack_b, tfe_gemm_amx_tile,
                                      tfe_gemm_amx_finish, tfe_gemm_amx_begin, tfe_gemm_amx_end};
#endif

static const tfe_gemm_impl gemm_impls[] = {
#if TFE_HAVE_AMX
    {.name = "bf16x3_16x48__amx", .isa = TFE_ISA_AMX, .mr = 16, .nr = 48, .blocked = 1,
     .amx = &gemm_amx},
#endif
#if TFE_HAVE_AVX512
    {.name = "8x48__avx512", .isa = TFE_ISA_AVX512, .mr = 8, .nr = 48, .blocked = 1,
     .ukernel = tfe_gemm_8x48__avx512, .few_rows = tfe_gemm_few24x16__avx512,
     .few_pack = tfe_gemm_few_pack__avx512, .mr_few = 24,
     .tile_pack = tfe_gemm_tile_pack8__avx512, .a_in_place = 1,
     /* 64 rows a thread, against 128 (a panel split at 1×128 on 2 threads), in one process
      * (tfenc-ab-libs, 21 rounds): BERT-base 1×128 0.974x the time, MiniLM 1×128 0.950x,
      * 1×200 the same. Each thread then streams all the weights but reads A, writes C and
      * normalises only its own rows, half of which the other core wrote under a panel split.
      * (Splitting only the products of N = d_model gave about half of that; AVX2 sessions
      * were 4.1% slower with that and AMX sessions 4.3%, and AVX2 with every product split
      * BERT-base 3.1% slower, MiniLM 3.4% faster, AMX with every product split 18.5% and
      * 4.6%: they keep 128.) */
     .rows_per_thread = 64},
#endif
#if TFE_HAVE_AVX2
    /* Always A packed: on every product of 256 rows a thread or more measured (K = 384 to
     * 3072), the panel orders ran 5-10% faster than the tile order, whose 6 strided rows of A
     * the kernel broadcasts from; BERT-base 8×128 3.2-3.8% faster end to end. */
    {.name = "6x16__avx2", .isa = TFE_ISA_AVX2, .mr = 6, .nr = 16,
     .ukernel = tfe_gemm_6x16__avx2, .tile_pack = tfe_gemm_tile_pack6__avx2,
     .row_panels = {[1] = 3, [2] = 3, [3] = 2}},
#endif
#if TFE_HAVE_NEON
    {.name = "8x8__neon", .isa = TFE_ISA_NEON, .mr = 8, .nr = 8, .ukernel = tfe_gemm_8x8__neon,
     .a_in_place = 1},
#endif
    {.name = "4x16__scalar", .isa = TFE_ISA_SCALAR, .mr = 4, .nr = 16,
     .ukernel = tfe_gemm_4x16__scalar, .a_in_place = 1},
};

static const tfe_attention_impl attention_impls[] = {
#if TFE_HAVE_AMX
    {"flash_q32k64__amx", TFE_ISA_AMX, 32, 64, tfe_attention_q32k64__amx,
     &tfe_attention_prep_amx},
#endif
#if TFE_HAVE_AVX512
    {"flash_q32k64__avx512", TFE_ISA_AVX512, 32, 64, tfe_attention_q32k64__avx512, NULL},
#endif
#if TFE_HAVE_AVX2
    {"flash_q24k64__avx2", TFE_ISA_AVX2, 24, 64, tfe_attention_q24k64__avx2,
     &tfe_attention_prep_avx2},
#endif
#if TFE_HAVE_NEON
    {"flash_q8k64__neon", TFE_ISA_NEON, 8, 64, tfe_attention_q8k64__neon, NULL},
#endif
    {"flash_q8k64__scalar", TFE_ISA_SCALAR, 8, 64, tfe_attention_q8k64__scalar, NULL},
};

static const tfe_layernorm_impl layernorm_impls[] = {
#if TFE_HAVE_AVX512
    {"residual__avx512", TFE_ISA_AVX512, tfe_layernorm__avx512},
#endif
#if TFE_HAVE_AVX2
    {"residual__avx2", TFE_ISA_AVX2, tfe_layernorm__avx2},
#endif
#if TFE_HAVE_NEON
    {"residual__neon", TFE_ISA_NEON, tfe_layernorm__neon},
#endif
    {"residual__scalar", TFE_ISA_SCALAR, tfe_layernorm__scalar},
};

static const tfe_peak_impl peak_impls[] = {
#if TFE_HAVE_AMX
    {"bf16x3__amx", TFE_ISA_AMX, tfe_peak_bf16x3__amx},
#endif
#if TFE_HAVE_AVX512
    {"fma_zmm__avx512", TFE_ISA_AVX512, tfe_peak_fma_zmm__avx512},
#endif
#if TFE_HAVE_AVX2
    {"fma_ymm__avx2", TFE_ISA_AVX2, tfe_peak_fma_ymm__avx2},
#endif
#if TFE_HAVE_NEON
    {"fma_q__neon", TFE_ISA_NEON, tfe_peak_fma_q__neon},
#endif
    {"fma__scalar", TFE_ISA_SCALAR, tfe_peak_fma__scalar},
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

const tfe_gemm_impl *tfe_gemm_impls(int *count)
{
    *count = COUNT(gemm_impls);
    return gemm_impls;
}

const tfe_attention_impl *tfe_attention_impls(int *count)
{
    *count = COUNT(attention_impls);
    return attention_impls;
}

const tfe_layernorm_impl *tfe_layernorm_impls(int *count)
{
    *count = COUNT(layernorm_impls);
    return layernorm_impls;
}

const tfe_peak_impl *tfe_peak_impls(int *count)
{
    *count = COUNT(peak_impls);
    return peak_impls;
}

static int isa_built(tfe_isa isa)
{
    switch (isa) {
    case TFE_ISA_SCALAR: return 1;
    case TFE_ISA_AVX2: return TFE_HAVE_AVX2;
    case TFE_ISA_AVX512: return TFE_HAVE_AVX512;
    case TFE_ISA_NEON: return TFE_HAVE_NEON;
    case TFE_ISA_AMX: return TFE_HAVE_AMX;
    default: return 0;
    }
}

int tfe_isa_supported(tfe_isa isa)
{
    if ((int)isa < 0 || isa >= TFE_ISA_COUNT)
        return 0;
    return isa_built(isa) && tfe_cpu()->isa[isa] &&
           (isa != TFE_ISA_AMX || tfe_cpu_amx_enable());
}

int tfe_isa_allowed(tfe_isa isa, tfe_isa cap)
{
    /* Each x86 level runs the ones below it: a cap of amx still allows the AVX-512 and AVX2
     * kernels (for the ops with no AMX kernel), a cap of avx512 the AVX2 ones. The cap is
     * checked first, so a cap below amx never asks the OS for the tile state. */
    const int in_cap = cap == TFE_ISA_AUTO || isa == TFE_ISA_SCALAR || isa == cap ||
                       (cap == TFE_ISA_AMX && (isa == TFE_ISA_AVX512 || isa == TFE_ISA_AVX2)) ||
                       (cap == TFE_ISA_AVX512 && isa == TFE_ISA_AVX2);
    return in_cap && tfe_isa_supported(isa);
}

void tfe_kernels_select(tfe_isa cap, tfe_kernels *k)
{
    int n;
    memset(k, 0, sizeof *k);
    static const tfe_isa preference[] = {TFE_ISA_AMX, TFE_ISA_AVX512, TFE_ISA_AVX2, TFE_ISA_NEON};
    k->isa = TFE_ISA_SCALAR;
    for (int i = 0; i < COUNT(preference); i++)
        if (tfe_isa_allowed(preference[i], cap)) {
            k->isa = preference[i];
            break;
        }
    const tfe_gemm_impl *g = tfe_gemm_impls(&n);
    for (int i = 0; i < n && !k->gemm; i++)
        if (tfe_isa_allowed(g[i].isa, cap))
            k->gemm = &g[i];
    const tfe_attention_impl *a = tfe_attention_impls(&n);
    for (int i = 0; i < n && !k->attention; i++)
        if (tfe_isa_allowed(a[i].isa, cap))
            k->attention = &a[i];
    for (int i = 0; i < n && !k->attention_fma; i++)
        if (tfe_isa_allowed(a[i].isa, cap) && !a[i].prep)
            k->attention_fma = &a[i];
    const tfe_layernorm_impl *l = tfe_layernorm_impls(&n);
    for (int i = 0; i < n && !k->layernorm; i++)
        if (tfe_isa_allowed(l[i].isa, cap))
            k->layernorm = &l[i];
    tfe_gemm_blocking_init(k->gemm, &k->gemm_blocking);
    /* A cap that allows a tile-unit impl allows every FMA level below it (tfe_isa_allowed). */
    const tfe_gemm_impl *twin = k->gemm->amx ? tfe_gemm_fma_twin(k->gemm) : NULL;
    k->gemm_fma = twin ? twin : k->gemm;
    tfe_gemm_blocking_init(k->gemm_fma, &k->gemm_fma_blocking);
}

int tfe_tile_unit_pays(double tile_gflops, double fma_gflops)
{
    return tile_gflops > 0.0 && tile_gflops >= TFE_TILE_UNIT_MIN_GAIN * fma_gflops;
}

static tfe_tile_unit_check check;
static int check_state; /* 0: not run, 1: running, 2: done */

const tfe_tile_unit_check *tfe_tile_unit_check_peek(void)
{
    return __atomic_load_n(&check_state, __ATOMIC_ACQUIRE) == 2 ? &check : NULL;
}

const tfe_tile_unit_check *tfe_tile_unit_check_run(void)
{
    int expected = 0;
    if (__atomic_compare_exchange_n(&check_state, &expected, 1, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        if (tfe_isa_supported(TFE_ISA_AMX) && tfe_isa_supported(TFE_ISA_AVX512)) {
#ifdef _OPENMP
            check.threads = omp_get_max_threads();
#else
            check.threads = 1;
#endif
            /* On every core the sessions will use, 60 ms in all. */
            tfe_peak_pair_gflops(TFE_ISA_AMX, TFE_ISA_AVX512, check.threads, 0.06,
                                 &check.tile_gflops, &check.fma_gflops);
            check.gain = check.fma_gflops > 0.0 ? check.tile_gflops / check.fma_gflops : 0.0;
            check.pays = tfe_tile_unit_pays(check.tile_gflops, check.fma_gflops);
            check.measured = 1;
        }
        __atomic_store_n(&check_state, 2, __ATOMIC_RELEASE);
    }
    const tfe_tile_unit_check *done;
    while (!(done = tfe_tile_unit_check_peek()))
        sched_yield();
    return done;
}

void tfe_tile_unit_check_set(const tfe_tile_unit_check *result)
{
    tfe_tile_unit_check_run();
    check = *result;
}

tfe_isa tfe_effective_cap(tfe_isa cap)
{
    if (cap == TFE_ISA_AUTO && tfe_isa_allowed(TFE_ISA_AMX, cap) &&
        !tfe_tile_unit_check_run()->pays)
        return TFE_ISA_AVX512;
    return cap;
}

const tfe_gemm_impl *tfe_gemm_fma_twin(const tfe_gemm_impl *impl)
{
    int n;
    const tfe_gemm_impl *g = tfe_gemm_impls(&n);
    for (int i = 0; i < n; i++)
        if (!g[i].amx && g[i].nr == impl->nr && g[i].blocked == impl->blocked &&
            tfe_isa_supported(g[i].isa))
            return &g[i];
    return NULL;
}

tfe_isa tfe_kernel_isa(const char *name)
{
    const char *suffix = name ? strstr(name, "__") : NULL;
    const int isa = suffix ? tfe_isa_parse(suffix + 2) : -2;
    return isa >= 0 ? (tfe_isa)isa : TFE_ISA_SCALAR;
}

tfe_isa tfe_fma_isa(tfe_isa isa)
{
    return isa == TFE_ISA_AMX ? TFE_ISA_AVX512 : isa;
}

const tfe_gemm_impl *tfe_kernels_gemm_for(const tfe_kernels *k, long max_tokens,
                                          const tfe_gemm_blocking **blocking)
{
    const int fma = k->gemm->amx && max_tokens < TFE_TILE_GEMM_MIN_TOKENS;
    *blocking = fma ? &k->gemm_fma_blocking : &k->gemm_blocking;
    return fma ? k->gemm_fma : k->gemm;
}

void tfe_kernels_log(const tfe_kernels *k)
{
    const char *v = getenv("TFENC_VERBOSE");
    if (!v || strcmp(v, "1") != 0)
        return;
    static int printed;
    if (__atomic_exchange_n(&printed, 1, __ATOMIC_RELAXED))
        return;
    fprintf(stderr, "tfenc: isa %s; gemm %s (kc %d, L2 budget %ld floats); attention %s; "
            "layernorm %s\n", tfe_isa_name(k->isa), k->gemm->name, k->gemm_blocking.kc,
            k->gemm_blocking.l2_floats,
            k->attention->name, k->layernorm->name);
    const tfe_tile_unit_check *tu = tfe_tile_unit_check_peek();
    if (tu && tu->measured)
        fprintf(stderr, "tfenc: tile unit %.0f GFLOP/s (bf16x3) = %.2fx the avx512 FMA peak on %d "
                "threads: %s (it pays from %.1fx)\n", tu->tile_gflops, tu->gain, tu->threads,
                tu->pays ? "used" : "not used", TFE_TILE_UNIT_MIN_GAIN);
}
