/* GEMM: contract of the micro-kernels, their registry descriptors, packing and the driver.
 *
 * Every weight product of the encoder is C[M×N] = A[M×K] · Wᵀ with W stored [N×K] (PyTorch's
 * Linear layout). At load time W is packed once into column panels of `nr` outputs:
 * panel p holds, for k = 0..K-1, the `nr` values W[p*nr + j][k], j = 0..nr-1, contiguous
 * (zero padded past N). A is never packed: micro-kernels broadcast its elements straight
 * from the row-major activations, which also serves the few-rows (latency) case for free. */
#ifndef TFE_GEMM_H
#define TFE_GEMM_H

#include <stddef.h>

#include "tfenc.h"

/* Applied once per output element on the last K block, in this order:
 * c = act(acc + bias[j]) + residual[i][j]. Any pointer may be NULL. */
typedef struct tfe_gemm_epilogue {
    const float *bias;     /* the tile's n values (bias + first column), or NULL */
    const float *residual; /* tile origin in a row-major [.. × ldr] matrix, or NULL */
    size_t ldr;            /* row stride of residual, in floats */
    int act;               /* TFE_GEMM_ACT_NONE or a tfe_activation + 1 */
} tfe_gemm_epilogue;

#define TFE_GEMM_ACT_NONE 0
#define TFE_GEMM_ACT_RELU (1 + TFE_ACT_RELU)
#define TFE_GEMM_ACT_GELU (1 + TFE_ACT_GELU)
#define TFE_GEMM_ACT_GELU_TANH (1 + TFE_ACT_GELU_TANH)

/* Micro-kernel flags. */
#define TFE_GEMM_ACCUMULATE 1 /* add to c instead of overwriting it */
#define TFE_GEMM_STREAM_B 2   /* hint: few rows share this panel, so the weights stream from
                                 DRAM at the kernel's pace; prefetch far ahead in the panel
                                 (past bp + kc*nr is fine: it is the panel's next K slice) */

/* Micro-kernel: one tile of 1 <= m <= mr rows and 1 <= n <= nr columns.
 *   acc = (flags & TFE_GEMM_ACCUMULATE ? c : 0) + a[m×kc] · bp[kc×nr]
 * a: row-major, row stride lda; bp: the panel at this K block (kc rows of nr floats);
 * c: row-major, row stride ldc; only the m×n tile is read or written (no over-read of a or c,
 * bp may be read in full since panels are zero padded).
 * ep: NULL on all but the last K block; on the last, the epilogue above is applied.
 * pf, pf_lines: a hint: bring these pf_lines 64-byte lines into L2, spread evenly over the
 * k steps (the driver's next weight slice or block, fetched while this one computes). The
 * lines may lie past the end of the packed weights, so a kernel only prefetches them (which
 * never faults), never loads them; the scalar kernel ignores the hint. */
#define TFE_GEMM_UKERNEL(fn)                                                                   \
    void fn(int m, int n, int kc, const float *a, size_t lda, const float *bp, float *c,       \
            size_t ldc, int flags, const tfe_gemm_epilogue *ep, const char *pf, int pf_lines)
typedef TFE_GEMM_UKERNEL((*tfe_gemm_ukernel_fn));

/* How kernels that honour the prefetch hint spread it: one line before each chunk of this many
 * k steps, at most one line per step (a hint longer than kc is cut to its first kc lines). */
static inline int tfe_gemm_pf_chunk(int kc, int pf_lines)
{
    return pf_lines <= 0 ? kc : kc > pf_lines ? kc / pf_lines : 1;
}

typedef struct tfe_gemm_impl {
    const char *name; /* e.g. "8x48__avx512": tile and ISA, as in tests and benchmarks */
    tfe_isa isa;      /* what the host must support */
    int mr, nr;       /* tile rows / panel width the packer and driver use */
    tfe_gemm_ukernel_fn ukernel;
} tfe_gemm_impl;

TFE_GEMM_UKERNEL(tfe_gemm_4x16__scalar);
TFE_GEMM_UKERNEL(tfe_gemm_6x16__avx2);
TFE_GEMM_UKERNEL(tfe_gemm_8x48__avx512);
TFE_GEMM_UKERNEL(tfe_gemm_8x8__neon);

/* Weights packed for one impl. */
typedef struct tfe_packed {
    int n, k;        /* logical shape of W: [n × k] */
    int nr;          /* panel width it was packed for */
    float *data;     /* ceil(n/nr) panels of k×nr floats, 64-byte aligned */
} tfe_packed;

size_t tfe_packed_floats(int n, int k, int nr);
/* Packs row-major W[n×k] into dst (tfe_packed_floats(n, k, nr) floats). */
void tfe_pack_b(int n, int k, int nr, const float *w, float *dst);

/* Cache blocking derived from the host caches and the impl, for the driver's loop orders
 * (see tfe_gemm_team). */
typedef struct tfe_gemm_blocking {
    int kc;               /* panel orders: a kc×nr weight panel slice stays in L1 while the
                             rows of A stream by */
    long l2_floats;       /* L2 budget that picks the loop order (rows of A that fit, mc×K)
                             and sizes the C-resident block (its C) and the tile order's M
                             block (mc×kc_tile) */
    long a_block_floats;  /* rows-resident order: the M block's rows of A (mc×K) */
    int kc_tile;          /* tile order: an mr×kc_tile tile of A stays in L1 while it meets
                             the panels of a weight block */
    long b_block_floats;  /* tile order: L2 budget for the weight block (kc_tile × nb panels) */
} tfe_gemm_blocking;

void tfe_gemm_blocking_init(const tfe_gemm_impl *impl, tfe_gemm_blocking *blk);

typedef struct tfe_gemm_args {
    int m;
    const float *a;   size_t lda;
    const tfe_packed *b;
    const float *bias;     /* [n] or NULL */
    const float *residual; size_t ldr; /* [m×n] or NULL; must not overlap c (the first K
                                       * blocks write partial sums into c) */
    int act;
    float *c;         size_t ldc;
} tfe_gemm_args;

/* The share of C = A·Wᵀ owned by thread `tid` of `nthreads`: a fixed 2-D split of output
 * tiles; K is never split, so every element is computed the same way for any team size. */
void tfe_gemm_team(const tfe_gemm_impl *impl, const tfe_gemm_blocking *blk,
                   const tfe_gemm_args *args, int tid, int nthreads);
/* Whole product with its own OpenMP region of `threads` threads. */
void tfe_gemm(const tfe_gemm_impl *impl, const tfe_gemm_blocking *blk, const tfe_gemm_args *args,
              int threads);

#endif
