/* The kernel registry: best-first implementation lists per op and the selection function.
 * Selection, tests and benchmarks walk the same lists, so no variant can be forgotten. */
#ifndef TFE_KERNELS_H
#define TFE_KERNELS_H

#include "attention.h"
#include "gemm.h"
#include "layernorm.h"
#include "peak.h"

/* The chosen kernels, held by each model (and so by its sessions). */
typedef struct tfe_kernels {
    tfe_isa isa;                          /* the best ISA allowed: the cap met by the host */
    const tfe_gemm_impl *gemm;
    tfe_gemm_blocking gemm_blocking;
    /* The best allowed fp32-FMA GEMM on the same panels (gemm itself unless gemm is a
     * tile-unit impl): sessions sized for few tokens run it instead (tfe_kernels_gemm_for). */
    const tfe_gemm_impl *gemm_fma;
    tfe_gemm_blocking gemm_fma_blocking;
    const tfe_attention_impl *attention;
    /* The best allowed attention without `prep` (attention itself if it has none): the
     * driver's short_impl for sequences under the chosen kernel's prep->min_len (AMX's 384;
     * the AVX2 kernel's 0 never hands any over). */
    const tfe_attention_impl *attention_fma;
    const tfe_layernorm_impl *layernorm;
} tfe_kernels;

/* Best-first lists, scalar last; `count` receives the length. */
const tfe_gemm_impl *tfe_gemm_impls(int *count);
const tfe_attention_impl *tfe_attention_impls(int *count);
const tfe_layernorm_impl *tfe_layernorm_impls(int *count);
const tfe_peak_impl *tfe_peak_impls(int *count);

/* 1 when the host supports `isa` and the cap allows it (cap TFE_ISA_AUTO allows all). */
int tfe_isa_allowed(tfe_isa isa, tfe_isa cap);

/* Pure: (host flags, cap) -> table. cap TFE_ISA_AUTO means "no cap" (the caller reads the
 * TFENC_ISA environment variable, if it wants to, before calling). */
void tfe_kernels_select(tfe_isa cap, tfe_kernels *out);

/* Tokens per call from which the tile unit beats FMAs end to end (its bf16 conversion costs
 * what its dot products save at few rows). In one process, AMX against AVX-512 (on packed A):
 * BERT-base on 2 threads 1.21x the time at 16 tokens, 1.14x at 32, 1.01x at 36, 0.96x at 40,
 * 0.90x at 44; MiniLM 1.09x at 36, 1.02x at 40, 0.93x at 44; on 1 thread at 44, 0.90x and
 * 0.94x. */
#define TFE_TILE_GEMM_MIN_TOKENS 44

/* A host can have a tile unit that does not pay: on a 16-core Xeon VM that lends one, its
 * fp32-equivalent (bf16x3) peak came out at 0.9-1.8x the AVX-512 FMA peak with 2-16 cores
 * busy (2.1-2.2x on one), and AVX-512 sessions ran faster than AMX ones in 12 of 15
 * cells (bench/results/scaling/xeon-16core-run5-*); on the 2-vCPU Xeon of bench/results the
 * ratio is 2.4-2.5x and AMX sessions run 1.4-1.5x faster. The AMX path's speed-up end to end
 * is about 0.6x the ratio, so it pays from about 1.7x; 1.8 leaves the tie band to AVX-512. */
#define TFE_TILE_UNIT_MIN_GAIN 1.8

/* Pure: whether a tile unit measured at `tile_gflops` (fp32-equivalent) pays against an FMA
 * peak of `fma_gflops` (TFE_TILE_UNIT_MIN_GAIN). */
int tfe_tile_unit_pays(double tile_gflops, double fma_gflops);

typedef struct tfe_tile_unit_check {
    int measured; /* 0 when the host (or build) has no tile unit: nothing was run */
    int threads;  /* the team both peaks ran on: the process's OpenMP team */
    double tile_gflops, fma_gflops;
    double gain; /* tile_gflops / fma_gflops (0 if not measured) */
    int pays;
} tfe_tile_unit_check;

/* Measures both peaks once per process (~60-75 ms on the first call on a host with AMX;
 * every later call, from any thread, returns that first result). */
const tfe_tile_unit_check *tfe_tile_unit_check_run(void);
/* The result if the check has run, else NULL (never measures). */
const tfe_tile_unit_check *tfe_tile_unit_check_peek(void);
/* For tests: replaces the kept result (after running the check if it had not run), so both
 * outcomes can be tested on any host. Not safe while other threads create models. */
void tfe_tile_unit_check_set(const tfe_tile_unit_check *result);

/* The cap a model runs under: an explicit cap as given; no cap (TFE_ISA_AUTO) on a host
 * whose tile unit does not pay becomes avx512, so the model runs the FMA kernels. */
tfe_isa tfe_effective_cap(tfe_isa cap);

/* The GEMM a session sized for `max_tokens` per call runs, and its blocking. Fixed for the
 * session's life, so its results never depend on the size of a call. */
const tfe_gemm_impl *tfe_kernels_gemm_for(const tfe_kernels *k, long max_tokens,
                                          const tfe_gemm_blocking **blocking);

/* The best FMA (micro-kernel) impl the host runs on the panels of a tile-unit impl, or NULL:
 * what small sessions run, and what a tile-unit call without scratch falls back to. */
const tfe_gemm_impl *tfe_gemm_fma_twin(const tfe_gemm_impl *impl);

/* The ISA a kernel name ends in ("8x48__avx512" -> avx512; scalar if none), and the vector ISA
 * whose FMA peak is the fp32 yardstick for `isa` (amx -> avx512). */
tfe_isa tfe_kernel_isa(const char *name);
tfe_isa tfe_fma_isa(tfe_isa isa);

/* Prints the table once to stderr when TFENC_VERBOSE=1. */
void tfe_kernels_log(const tfe_kernels *k);

#endif
