/* GEMM: contract of the micro-kernels, their registry descriptors, packing and the driver.
 *
 * Every weight product of the encoder is C[M×N] = A[M×K] · Wᵀ with W stored [N×K] (PyTorch's
 * Linear layout). At load time W is packed once into column panels of `nr` outputs: panel p
 * holds the K×nr block W[p*nr + j][k] (zero padded past N), k×nr floats from p·k·nr on, in one
 * of two layouts (the impl's `blocked`):
 *   - plain: row k is the nr values of j = 0..nr-1, contiguous;
 *   - blocked (nr a multiple of 16): the nr columns are nr/16 column blocks, one after the
 *     other, each K rows of 16 contiguous floats (16·K floats, the block stride). A kernel
 *     for few rows then keeps every row in registers and reads each weight from memory once,
 *     along contiguous blocks (see the few-rows kernel below). For nr = 16 the two layouts
 *     are the same.
 * A is read in place (micro-kernels broadcast its elements from the row-major activations)
 * except where packing pays: blocks of several tiles pack it in tiles (TFE_GEMM_A_PACKED,
 * the impl's tile_pack), the few-rows kernel reads it transposed (few_pack), and the AMX
 * path converts it to bf16 terms. */
#ifndef TFE_GEMM_H
#define TFE_GEMM_H

#include <stddef.h>
#include <stdint.h>

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

/* Whether an epilogue changes anything: the driver passes one on every last K slice, and a
 * pass over C that adds no bias, applies no activation and adds no residual is wasted. */
static inline int tfe_gemm_epilogue_active(const tfe_gemm_epilogue *ep)
{
    return ep && (ep->bias || ep->residual || ep->act != TFE_GEMM_ACT_NONE);
}

/* The epilogue of the columns `cols_from` on in the same rows: bias and residual moved along
 * (kernels that cover a tile in column pieces: a block, a panel of a row-panel call). */
static inline tfe_gemm_epilogue tfe_gemm_epilogue_from(const tfe_gemm_epilogue *ep,
                                                       int cols_from)
{
    tfe_gemm_epilogue e = *ep;
    e.bias = e.bias ? e.bias + cols_from : NULL;
    e.residual = e.residual ? e.residual + cols_from : NULL;
    return e;
}

/* Runs CALL(ACT) with ACT the compile-time constant equal to act, so that an inlined activation
 * in CALL's body needs no switch per vector (the SIMD epilogue passes). */
#define TFE_GEMM_ACT_DISPATCH(act, CALL)                                                       \
    do {                                                                                       \
        switch (act) {                                                                         \
        case TFE_GEMM_ACT_RELU: CALL(TFE_GEMM_ACT_RELU); break;                                \
        case TFE_GEMM_ACT_GELU: CALL(TFE_GEMM_ACT_GELU); break;                                \
        case TFE_GEMM_ACT_GELU_TANH: CALL(TFE_GEMM_ACT_GELU_TANH); break;                      \
        default: CALL(TFE_GEMM_ACT_NONE); break;                                               \
        }                                                                                      \
    } while (0)

/* Micro-kernel flags. */
#define TFE_GEMM_ACCUMULATE 1 /* add to c instead of overwriting it */
#define TFE_GEMM_STREAM_B 2   /* hint: few rows share this panel, so the weights stream from
                                 DRAM at the kernel's pace; prefetch far ahead in the panel
                                 (past the K block is fine: it is the panel's next one) */
#define TFE_GEMM_A_PACKED 4   /* a holds the tile packed by the impl's tile_pack: k step p's
                                 rows at a[mr·p ..], lda ignored (only impls with a tile_pack) */
#define TFE_GEMM_ROW_PANELS 8 /* m <= TFE_GEMM_ROW_PANELS_MAX_M rows over all of K against
                                 up to the impl's row_panels[m] panels at once:
                                 n <= row_panels[m]·nr, panel q at bp + q·bstride; no other
                                 flag (only impls with row_panels) */
#define TFE_GEMM_ROW_PANELS_MAX_M 3

/* Micro-kernel: one tile of 1 <= m <= mr rows and 1 <= n <= nr columns.
 *   acc = (flags & TFE_GEMM_ACCUMULATE ? c : 0) + a[m×kc] · bp[kc×nr]
 * a: row-major, row stride lda; bp: the panel at this K block (kc rows of nr floats; for a
 * blocked panel, the first column block's, the others bstride floats apart);
 * c: row-major, row stride ldc; only the m×n tile is read or written (no over-read of a or c,
 * bp may be read in full since panels are zero padded).
 * ep: NULL on all but the last K block; on the last, the epilogue above is applied.
 * pf, pf_lines: a hint: bring these pf_lines 64-byte lines into L2, spread evenly over the
 * k steps (the driver's next weight slice or block, fetched while this one computes; for a
 * blocked panel, lines of its first column block, and the kernel fetches the same lines of
 * every block). The
 * lines may lie past the end of the packed weights, so a kernel only prefetches them (which
 * never faults), never loads them; the scalar kernel ignores the hint. */
#define TFE_GEMM_UKERNEL(fn)                                                                   \
    void fn(int m, int n, int kc, const float *a, size_t lda, const float *bp, size_t bstride, \
            float *c, size_t ldc, int flags, const tfe_gemm_epilogue *ep, const char *pf,       \
            int pf_lines)
typedef TFE_GEMM_UKERNEL((*tfe_gemm_ukernel_fn));

/* Where a panel of K rows keeps row kk's columns 16·cb.. (16 of them). */
static inline const float *tfe_panel_row(const float *panel, int k, int nr, int blocked, int kk,
                                         int cb)
{
    return blocked ? panel + (size_t)cb * 16 * k + (size_t)kk * 16
                   : panel + (size_t)kk * nr + 16 * cb;
}

/* Few-rows kernel of a blocked impl: the same contract as a micro-kernel for 1 <= m <= mr_few
 * rows, except that a holds A transposed (row i's k-th value at a[k·lda + i], lda >= m), and
 * each weight read once: up to 8 rows run the panel's blocks side by side over all of K
 * (three streams in flight), more rows one 16-column block at a time (m accumulators) in K
 * slices, slices outer, partial sums waiting in c (simd/x86/gemm_avx512.c). With the panel
 * streaming from DRAM, a tile of mr rows passes it in mr-row strips, and the strips after the
 * first compute while no weight is in flight; one pass keeps the stream busy throughout. It ignores the prefetch hint: it prefetches along
 * its blocks and on past their end, where the next block and the next panel follow. */

/* How kernels that honour the prefetch hint spread it: one line before each chunk of this many
 * k steps, at most one line per step (a hint longer than kc is cut to its first kc lines). */
static inline int tfe_gemm_pf_chunk(int kc, int pf_lines)
{
    return pf_lines <= 0 ? kc : kc > pf_lines ? kc / pf_lines : 1;
}

/* A's rows [0, m) × [0, k) in tiles of mr rows for a micro-kernel's TFE_GEMM_A_PACKED: tile t
 * at dst + t·k·mr holds row t·mr + i's value p at [p·mr + i] (rows past m: zeros). Packed
 * once, a block's rows are read by every panel as one stream from a single pointer, instead
 * of mr strided streams that need a register each. */
#define TFE_GEMM_TILE_PACK(fn) void fn(int m, int k, const float *a, size_t lda, float *dst)
typedef TFE_GEMM_TILE_PACK((*tfe_gemm_tile_pack_fn));

/* The few-rows kernel's A: at[k·ldt + i] = a[i·lda + k] for i < m, k < k. */
#define TFE_GEMM_FEW_PACK(fn)                                                                  \
    void fn(int m, int k, const float *a, size_t lda, float *at, size_t ldt)
typedef TFE_GEMM_FEW_PACK((*tfe_gemm_few_pack_fn));

/* Tile-unit kernels (AMX, simd/x86/gemm_amx.c): fp32 products from three bf16 terms per value.
 * The weights stay packed in fp32 blocked panels of 48; the driver converts a K slice of A (a
 * block of 16-row tiles) and of each panel into bf16 terms just before the tiles use them, so
 * memory and the weight stream are the same as for the fp32 kernels. A K slice is `chunks`
 * chunks of 32 values (missing K, rows and columns are zeros).
 *   pack_a: rows (<= 16·tiles) rows of a[.. × kc] → dst, chunks·tiles·3 tiles of 512 bf16,
 *           chunk c at dst + c·chunk_stride (a share of a block's tiles, or all of them)
 *   pack_b: units [lo, hi) of a panel's slice bp[kc × 48] → dst (chunks·9 tiles of 512 bf16
 *           for the whole slice; unit u is row pair u % 16 of chunk u / 16, so 16·chunks units)
 *   tile:   one 16×48 block of c (row stride ldc) += or = the row tile a (its chunks a_chunk
 *           bf16 apart) times the panel slice b; full 16×48 blocks only. Converts `next`
 *           (NULL: nothing) while its dot products run.
 *   finish: dst[rows × cols] = epilogue(src) with masks (ep NULL: a copy)
 * begin/end configure and release the tile registers of the calling thread. */
#define TFE_GEMM_AMX_KC_MAX 128 /* the driver's conversion buffers hold this much of K */
typedef struct tfe_gemm_amx_pack {
    const float *bp; /* the panel's slice: kc rows of 48 floats, in 3 column blocks */
    size_t bstride;  /* floats between the column blocks (16·K) */
    int kc, lo, hi;  /* its K rows; the units to convert */
    uint16_t *dst;   /* the whole slice's tiles */
    const float *pf; /* the slice converted after this one (prefetched into L2), or NULL */
} tfe_gemm_amx_pack;
#define TFE_GEMM_AMX_PACK_A(fn)                                                                \
    void fn(int rows, int tiles, int kc, int chunks, const float *a, size_t lda, uint16_t *dst,  \
            size_t chunk_stride)
#define TFE_GEMM_AMX_PACK_B(fn) void fn(const tfe_gemm_amx_pack *pk)
#define TFE_GEMM_AMX_TILE(fn)                                                                  \
    void fn(int chunks, const uint16_t *a, size_t a_chunk, const uint16_t *b, float *c,        \
            size_t ldc, int accumulate, const tfe_gemm_amx_pack *next)
#define TFE_GEMM_AMX_FINISH(fn)                                                                \
    void fn(int rows, int cols, const float *src, size_t lds, float *dst, size_t ldd,          \
            const tfe_gemm_epilogue *ep)
typedef struct tfe_gemm_amx {
    TFE_GEMM_AMX_PACK_A((*pack_a));
    TFE_GEMM_AMX_PACK_B((*pack_b));
    TFE_GEMM_AMX_TILE((*tile));
    TFE_GEMM_AMX_FINISH((*finish));
    void (*begin)(void);
    void (*end)(void);
} tfe_gemm_amx;
TFE_GEMM_AMX_PACK_A(tfe_gemm_amx_pack_a);
TFE_GEMM_AMX_PACK_B(tfe_gemm_amx_pack_b);
TFE_GEMM_AMX_TILE(tfe_gemm_amx_tile);
TFE_GEMM_AMX_FINISH(tfe_gemm_amx_finish);
void tfe_gemm_amx_begin(void);
void tfe_gemm_amx_end(void);

typedef struct tfe_gemm_impl {
    const char *name; /* e.g. "8x48__avx512": tile and ISA, as in tests and benchmarks */
    tfe_isa isa;      /* what the host must support */
    int mr, nr;       /* tile rows / panel width the packer and driver use */
    int blocked;      /* panel layout: column blocks of 16 (1) or plain rows (0) */
    tfe_gemm_ukernel_fn ukernel; /* NULL for tile-unit impls */
    tfe_gemm_ukernel_fn few_rows; /* blocked impls: products of at most mr_few rows, or NULL */
    tfe_gemm_few_pack_fn few_pack; /* and its A packer */
    int mr_few;
    const tfe_gemm_amx *amx;     /* tile-unit kernels, or NULL */
    tfe_gemm_tile_pack_fn tile_pack; /* A's packer for the micro-kernel, or NULL (A strided) */
    int a_in_place;   /* 1: products of many rows may run in the tile order, which reads A in
                         place (tfe_gemm_blocking's tile_rows); 0: always the panel orders */
    int row_panels[TFE_GEMM_ROW_PANELS_MAX_M + 1]; /* [m] > 1: a call for a share of m rows
                         may cover this many panels, each its own weight stream
                         (TFE_GEMM_ROW_PANELS); 0: one panel a call */
    int rows_per_thread; /* > 0: a team splits the rows before the panels from this many
                         rows a thread when that is sooner than the team's default (128 under
                         8 threads); 0: the default (src/gemm.c, rows_per_thread) */
} tfe_gemm_impl;

TFE_GEMM_UKERNEL(tfe_gemm_4x16__scalar);
TFE_GEMM_UKERNEL(tfe_gemm_6x16__avx2);
TFE_GEMM_TILE_PACK(tfe_gemm_tile_pack6__avx2);
TFE_GEMM_UKERNEL(tfe_gemm_8x48__avx512);
TFE_GEMM_UKERNEL(tfe_gemm_few24x16__avx512);
TFE_GEMM_FEW_PACK(tfe_gemm_few_pack__avx512);
TFE_GEMM_TILE_PACK(tfe_gemm_tile_pack8__avx512);
TFE_GEMM_UKERNEL(tfe_gemm_8x8__neon);

/* Weights packed for one impl. */
typedef struct tfe_packed {
    int n, k;        /* logical shape of W: [n × k] */
    int nr, blocked; /* panel width and layout it was packed for (the impl's) */
    float *data;     /* ceil(n/nr) panels of k×nr floats, 64-byte aligned */
} tfe_packed;

size_t tfe_packed_floats(int n, int k, int nr);
/* Packs row-major W[n×k] into dst (tfe_packed_floats(n, k, nr) floats): panels of nr,
 * blocked or plain. */
void tfe_pack_b(int n, int k, int nr, int blocked, const float *w, float *dst);

/* Cache blocking derived from the host caches and the impl, for the driver's loop orders
 * (see tfe_gemm_team). */
typedef struct tfe_gemm_blocking {
    int kc;               /* panel orders: a kc×nr weight panel slice stays in L1 (or
                             fills it, from 256 k steps) while the rows of A stream by (AMX:
                             the slice converted to bf16 terms) */
    long l2_floats;       /* L2 budget that picks the loop order (rows of A that fit, mc×K)
                             and sizes the C-resident block (its C) and the tile order's M
                             block (mc×kc_tile) */
    long a_block_floats;  /* rows-resident order: the M block's rows of A (mc×K) */
    int kc_tile;          /* tile order: an mr×kc_tile tile of A stays in L1 while it meets
                             the panels of a weight block */
    long b_block_floats;  /* tile order: L2 budget for the weight block (kc_tile × nb panels) */
    int tile_rows;        /* tile order for a thread's rows from this many (and more than
                             the rows-resident order's M block, when that block holds fewer
                             than tile_block_rows rows or the rows are more than
                             tile_max_passes blocks); INT_MAX: never */
    int tile_block_rows, tile_max_passes;
} tfe_gemm_blocking;

void tfe_gemm_blocking_init(const tfe_gemm_impl *impl, tfe_gemm_blocking *blk);

/* The driver's weight prefetch distance (src/gemm.c, gemm_fma_share): K slices ahead in the
 * rows-resident order's walk, panels ahead in the C-resident order's. Here so that tools which
 * replay the driver's calls (bench/probes) hint the same slices. */
#ifndef TFE_GEMM_PF_SLICES
#define TFE_GEMM_PF_SLICES 4
#endif
#ifndef TFE_GEMM_PF_PANELS
#define TFE_GEMM_PF_PANELS 2
#endif

typedef struct tfe_gemm_args {
    int m;
    const float *a;   size_t lda;
    const tfe_packed *b;
    const float *bias;     /* [n] or NULL */
    const float *residual; size_t ldr; /* [m×n] or NULL; must not overlap c (the first K
                                       * blocks write partial sums into c) */
    int act;
    float *c;         size_t ldc;
    /* Per-thread scratch for impls that need it (tfe_gemm_scratch_floats): thread tid of a
     * team uses scratch + tid·scratch_stride floats. NULL: allocated per call (tests, tools);
     * the encoder passes its session's, so a forward pass allocates nothing. */
    float *scratch;   size_t scratch_stride;
} tfe_gemm_args;

/* Floats of per-thread scratch `impl` needs for products of K <= k_max (a multiple of 16:
 * 64-byte aligned per thread). A thread given too little for its product's K does without
 * (the few-rows kernel needs it; tiles take over, other speed, same bits). */
size_t tfe_gemm_scratch_floats(const tfe_gemm_impl *impl, int k_max);

/* The share of C = A·Wᵀ owned by thread `tid` of `nthreads`: a fixed 2-D split of output
 * tiles; K is never split, so every element is computed the same way for any team size. */
void tfe_gemm_team(const tfe_gemm_impl *impl, const tfe_gemm_blocking *blk,
                   const tfe_gemm_args *args, int tid, int nthreads);
/* Whole product with its own OpenMP region of `threads` threads. */
void tfe_gemm(const tfe_gemm_impl *impl, const tfe_gemm_blocking *blk, const tfe_gemm_args *args,
              int threads);

#endif
