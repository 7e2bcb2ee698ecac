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
