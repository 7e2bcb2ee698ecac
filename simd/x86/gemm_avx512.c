/* AVX-512 GEMM kernels on blocked panels of 48 (gemm.h): the micro-kernel 8x48 (mirrors
 * tfe_gemm_4x16__scalar in src/gemm_scalar.c), its A packer, and the few-rows kernel.
 * 8x48 register budget: 8 rows × 3 zmm = 24 accumulators + 3 B vectors + 1 broadcast = 28 of
 * 32. Per k step: 3 B loads (one from each column block) + 8 broadcasts feed 24 FMAs, well
 * inside two load ports. */
#include <immintrin.h>

#include "gemm.h"
#include "vecmath_avx512.h"

enum { MR = 8, NR = 48, MR_FEW = 24 };
/* Streaming prefetch distance in k steps: 16 (3 KiB) ahead measured best for M = 1 and 16
 * (about 16 GB/s on one thread against 14 at 48 KiB ahead and 13.4 with none). */
enum { STREAM_AHEAD = 16 };
/* Tiles on resident weights prefetch the panel's lines into L1 this many k steps ahead (a
 * K slice of 48 columns, 48 KiB at 256 steps, does not stay in a 48 KiB L1 beside A and C, so
 * part of it comes from L2 again for every tile): one process, both load orders, 128- and
 * 512-row products 0.98-1.0x the time; AVX-512 sessions end to end 0.987-0.997x (BERT-base
 * 1x128 on 1 and 2 threads, 8x128, MiniLM 1x128), 0.969x at 1x32 and 0.986x at 1x64; 16
 * steps ahead gained less. Past the slice's end it prefetches the block's next K rows, which
 * the next slice reads. */
enum { TILE_NEAR = 8 };

/* The epilogue on rows × cols (at most 48) of c, in place, after the kernel stored its sums
 * there: (sum + bias) through the activation, plus the residual, column block by column block.
 * A pass of its own, from L1, rather than on the accumulators in registers: with 24 of them
 * live, gcc kept the GELU's constants in registers and spilled them around every vector, and
 * the epilogue of a 128×3072×768 product took ~13 ns a vector against 5.7 for the GELU alone.
 * Bits are the same either way (same operations, same order). ACT is a constant in each
 * instance (epilogue_c), so no vector waits on a switch. */
static inline __attribute__((always_inline)) void epilogue_rows(const int ACT, int rows, int cols,
                                                                float *c, size_t ldc,
                                                                const tfe_gemm_epilogue *ep)
{
    for (int j = 0; 16 * j < cols; j++) {
        const __mmask16 mk = tfe_tail_mask_avx512(cols - 16 * j);
        const __m512 bias =
            ep->bias ? _mm512_maskz_loadu_ps(mk, ep->bias + 16 * j) : _mm512_setzero_ps();
        for (int i = 0; i < rows; i++) {
            float *ci = c + (size_t)i * ldc + 16 * j;
            __m512 v = tfe_act_avx512(ACT, _mm512_add_ps(_mm512_maskz_loadu_ps(mk, ci), bias));
            if (ep->residual)
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(
                                         mk, ep->residual + (size_t)i * ep->ldr + 16 * j));
            _mm512_mask_storeu_ps(ci, mk, v);
        }
    }
}

static __attribute__((noinline)) void epilogue_c(int rows, int cols, float *c, size_t ldc,
                                                 const tfe_gemm_epilogue *ep)
{
#define EPILOGUE_ROWS(ACT) epilogue_rows(ACT, rows, cols, c, ldc, ep)
    TFE_GEMM_ACT_DISPATCH(ep->act, EPILOGUE_ROWS);
#undef EPILOGUE_ROWS
}

/* One k step: row i of the tile gets a[i·lda] times the panel row at bp: three vectors, one
 * from each column block, bs floats apart. */
static inline __attribute__((always_inline)) void k_step(const int M, __m512 acc[][3],
                                                         const float *bp, size_t bs,
                                                         const float *a, size_t lda)
{
    __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + bs),
           b2 = _mm512_load_ps(bp + 2 * bs);
#pragma GCC unroll 8
    for (int i = 0; i < M; i++) {
        __m512 av = _mm512_set1_ps(a[i * lda]);
        acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
        acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
        acc[i][2] = _mm512_fmadd_ps(av, b2, acc[i][2]);
    }
}

/* A tile's 3 column blocks of M rows: its column masks (past n: none) and accumulators, from
 * c (accumulate) or zero; and, at the end, the accumulators stored back, then the epilogue
 * pass. Shared by the 8x48 tile and the few-rows kernel's joint pass. */
static inline __attribute__((always_inline)) void acc3_start(const int M, __m512 acc[][3],
                                                             __mmask16 mk[3], int n,
                                                             const float *c, size_t ldc,
                                                             int accumulate)
{
    for (int j = 0; j < 3; j++)
        mk[j] = tfe_tail_mask_avx512(n - 16 * j);
#pragma GCC unroll 8
    for (int i = 0; i < M; i++)
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++)
            acc[i][j] = accumulate ? _mm512_maskz_loadu_ps(mk[j], c + i * ldc + 16 * j)
                                   : _mm512_setzero_ps();
}

static inline __attribute__((always_inline)) void acc3_finish(const int M, __m512 acc[][3],
                                                              const __mmask16 mk[3], int n,
                                                              float *c, size_t ldc,
                                                              const tfe_gemm_epilogue *ep)
{
#pragma GCC unroll 8
    for (int i = 0; i < M; i++)
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++)
            _mm512_mask_storeu_ps(c + i * ldc + 16 * j, mk[j], acc[i][j]);
    if (tfe_gemm_epilogue_active(ep))
        epilogue_c(M, n < NR ? n : NR, c, ldc, ep);
}

/* One tile with a compile-time row count M (the switch below instantiates 1..8). Columns past
 * n are masked on every load and store of c and of the epilogue's bias/residual. PACKED: a
 * holds the tile packed (k step p's rows at a[8p..8p+M)), so one pointer with immediate
 * offsets reads all rows, in one stream. */
static inline __attribute__((always_inline)) void tile(const int M, const int STREAM,
                                                       const int PACKED, int n, int kc,
                                                       const float *a, size_t lda,
                                                       const float *bp, size_t bs, float *c,
                                                       size_t ldc,
                                                       int accumulate, const tfe_gemm_epilogue *ep,
                                                       const char *pf, int pf_lines)
{
    __mmask16 mk[3];
    __m512 acc[MR][3];
    acc3_start(M, acc, mk, n, c, ldc, accumulate);
    int p = 0;
    /* A tile that starts from zero has not touched its C lines yet; with many rows they are
     * far out of L1 (in L3 when C outgrows L2), and the stores at the end would wait for them.
     * So the first 3·M k steps each take ownership of one line (prefetchw) while they compute:
     * +3-5% on M = 512 and 1024, neutral on M = 128. (The streaming tiles have no time to
     * spare for it.) Only lines holding the tile's columns: one past them may be another
     * thread's, and taking it away would cost that thread a round trip. */
    if (!STREAM && !accumulate)
        for (const int own = kc < 3 * M ? kc : 3 * M; p < own; p++, bp += 16) {
            if (16 * (p % 3) < n)
                _mm_prefetch((const char *)(c + p / 3 * ldc + 16 * (p % 3)), _MM_HINT_ET0);
            k_step(M, acc, bp, bs, PACKED ? a + MR * p : a + p, PACKED ? 1 : lda);
        }
    /* The remaining k steps run in chunks with one L2 prefetch of the hinted lines before
     * each, so the inner loop stays free of prefetch bookkeeping. */
    const int chunk = tfe_gemm_pf_chunk(kc - p, pf_lines);
    while (p < kc) {
        const int end = kc - p > chunk ? p + chunk : kc;
        if (pf_lines-- > 0) { /* the same line of each column block */
            _mm_prefetch(pf, _MM_HINT_T1);
            _mm_prefetch(pf + 4 * bs, _MM_HINT_T1);
            _mm_prefetch(pf + 8 * bs, _MM_HINT_T1);
            pf += 64;
        }
        for (; p < end; p++, bp += 16) {
            if (STREAM) { /* a little ahead of the hardware prefetcher, into L2 */
                _mm_prefetch((const char *)(bp + STREAM_AHEAD * 16), _MM_HINT_T2);
                _mm_prefetch((const char *)(bp + bs + STREAM_AHEAD * 16), _MM_HINT_T2);
                _mm_prefetch((const char *)(bp + 2 * bs + STREAM_AHEAD * 16), _MM_HINT_T2);
            } else { /* from L2 into L1 (TILE_NEAR) */
                _mm_prefetch((const char *)(bp + TILE_NEAR * 16), _MM_HINT_T0);
                _mm_prefetch((const char *)(bp + bs + TILE_NEAR * 16), _MM_HINT_T0);
                _mm_prefetch((const char *)(bp + 2 * bs + TILE_NEAR * 16), _MM_HINT_T0);
            }
            k_step(M, acc, bp, bs, PACKED ? a + MR * p : a + p, PACKED ? 1 : lda);
        }
    }
    acc3_finish(M, acc, mk, n, c, ldc, ep);
}

/* All row counts × {resident, streaming, resident on packed A}: compile-time constants keep
 * the 24 accumulators in registers and the prefetch out of the resident loop. Each variant is
 * its own function: with all three in one, gcc spilled accumulators to the stack in every k
 * step of some (AVX-512 sessions 30% slower). (Streaming tiles are few to a panel slice, and
 * the driver does not pack A for them.) */
#define TILE_VARIANT(name, STREAM, PACKED)                                                     \
    static __attribute__((noinline)) void name(                                                \
        int m, int n, int kc, const float *a, size_t lda, const float *bp, size_t bstride,    \
        float *c, size_t ldc, int accumulate, const tfe_gemm_epilogue *ep, const char *pf,    \
        int pf_lines)                                                                          \
    {                                                                                          \
        switch (m) {                                                                           \
        case 8: tile(8, STREAM, PACKED, TILE_ARGS); break;                                     \
        case 7: tile(7, STREAM, PACKED, TILE_ARGS); break;                                     \
        case 6: tile(6, STREAM, PACKED, TILE_ARGS); break;                                     \
        case 5: tile(5, STREAM, PACKED, TILE_ARGS); break;                                     \
        case 4: tile(4, STREAM, PACKED, TILE_ARGS); break;                                     \
        case 3: tile(3, STREAM, PACKED, TILE_ARGS); break;                                     \
        case 2: tile(2, STREAM, PACKED, TILE_ARGS); break;                                     \
        default: tile(1, STREAM, PACKED, TILE_ARGS); break;                                    \
        }                                                                                      \
    }
#define TILE_ARGS n, kc, a, lda, bp, bstride, c, ldc, accumulate, ep, pf, pf_lines
TILE_VARIANT(tiles_resident, 0, 0)
TILE_VARIANT(tiles_stream, 1, 0)
TILE_VARIANT(tiles_packed, 0, 1)

TFE_GEMM_UKERNEL(tfe_gemm_8x48__avx512)
{
    const int accumulate = flags & TFE_GEMM_ACCUMULATE;
    if (flags & TFE_GEMM_STREAM_B)
        tiles_stream(m, TILE_ARGS);
    else if (flags & TFE_GEMM_A_PACKED)
        tiles_packed(m, TILE_ARGS);
    else
        tiles_resident(m, TILE_ARGS);
}

/* The rows × cols block at a (row stride lda; at most 16 × 16) as columns: r[c] holds column
 * c, one lane per row, zeros past rows (and r[c] for c >= cols all zero). For both packers. */
static inline void load_columns16(const float *a, size_t lda, int rows, int cols, __m512 r[16])
{
    const __mmask16 mk = tfe_tail_mask_avx512(cols);
    for (int i = 0; i < 16; i++)
        r[i] = i < rows ? _mm512_maskz_loadu_ps(mk, a + (size_t)i * lda) : _mm512_setzero_ps();
    tfe_transpose16_avx512(r);
}

/* A's rows in tiles of 8 for the 8x48 kernel (TFE_GEMM_TILE_PACK): 16 rows at a time, 16×16
 * in-register transposes, each 16-value column split between the two tiles it holds. */
TFE_GEMM_TILE_PACK(tfe_gemm_tile_pack8__avx512)
{
    for (int g = 0; g < m; g += 16) {
        const int rows = m - g < 16 ? m - g : 16;
        float *t0 = dst + (size_t)(g / MR) * k * MR, *t1 = t0 + (size_t)k * MR;
        for (int k0 = 0; k0 < k; k0 += 16) {
            const int cols = k - k0 < 16 ? k - k0 : 16;
            __m512 r[16];
            load_columns16(a + (size_t)g * lda + k0, lda, rows, cols, r);
            for (int c = 0; c < cols; c++) {
                _mm256_storeu_ps(t0 + (size_t)(k0 + c) * MR, _mm512_castps512_ps256(r[c]));
                if (rows > MR)
                    _mm256_storeu_ps(t1 + (size_t)(k0 + c) * MR,
                                     _mm512_extractf32x8_ps(r[c], 1));
            }
        }
    }
}

/* Few-rows kernel: k steps ahead that each column block's stream prefetches into L2 (4 KiB)
 * and, a second time, into L1 (1 KiB: with 16 FMAs a line the loop otherwise waits on L2 for
 * lines the far prefetch brought; weights from DRAM, one process, both load orders: 16 rows
 * 2.5-4.5% faster on 1 and 2 threads, 24 rows 3%, 1 to 8 rows the same or 1% faster; 8 steps
 * ahead gained less, 32 nothing); and the K slice a panel runs in (few_panel): A's slice, at
 * most 24 rows × 256 = 24 KiB, then fits half of a 48 KiB L1 beside the weights streaming
 * through (128 measured the same; bits do not depend on it). */
enum { FEW_AHEAD = 64, FEW_NEAR = 16, FEW_KC = 256 };

/* One k step of M rows: acc[i] += a_k[i] · bv (a_k: the k-th column of A, transposed). */
static inline __attribute__((always_inline)) void few_step(const int M, __m512 *acc, __m512 bv,
                                                           const float *a_k)
{
#pragma GCC unroll 24
    for (int i = 0; i < M; i++)
        acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(a_k[i]), bv, acc[i]);
}

/* Column block b (16 columns of c, `cols` of them valid) of M rows over kc k steps: one piece
 * of the thread's weight stream. The L2 prefetch runs FEW_AHEAD steps ahead along the piece and
 * then into `next`, the piece that follows it in the stream (few_panel). Two loops, each with
 * one L2 prefetch address: at 24 rows a second prefetch pointer live in one loop had gcc spill
 * accumulators. The L1 prefetch is an offset from the load (no pointer of its own); in the
 * last FEW_NEAR steps it runs past the piece into the block's next K rows, which a later piece
 * reads (the next block's first, after the last slice; past the weights' end it only
 * prefetches, which never faults). The same additions in the same order as the 8x48 tile
 * (one FMA chain per element, k ascending, partial sums through c between K slices, then the
 * same epilogue), so the bits are the tile's. */
static inline __attribute__((always_inline)) void few_block(const int M, int cols, int kc,
                                                            const float *a, size_t lda,
                                                            const float *b, const float *next,
                                                            float *c, size_t ldc, int accumulate,
                                                            const tfe_gemm_epilogue *ep)
{
    const __mmask16 mk = tfe_tail_mask_avx512(cols);
    __m512 acc[MR_FEW];
#pragma GCC unroll 24
    for (int i = 0; i < M; i++)
        acc[i] = accumulate ? _mm512_maskz_loadu_ps(mk, c + i * ldc) : _mm512_setzero_ps();
    const int along = kc > FEW_AHEAD ? kc - FEW_AHEAD : 0;
    int p = 0;
    for (; p < along; p++) {
        _mm_prefetch((const char *)(b + 16 * (p + FEW_AHEAD)), _MM_HINT_T2);
        _mm_prefetch((const char *)(b + 16 * (p + FEW_NEAR)), _MM_HINT_T0);
        few_step(M, acc, _mm512_load_ps(b + 16 * p), a + (size_t)p * lda);
    }
    for (const float *pf = next + 16 * (p + FEW_AHEAD - kc); p < kc; p++, pf += 16) {
        _mm_prefetch((const char *)pf, _MM_HINT_T2);
        _mm_prefetch((const char *)(b + 16 * (p + FEW_NEAR)), _MM_HINT_T0);
        few_step(M, acc, _mm512_load_ps(b + 16 * p), a + (size_t)p * lda);
    }
#pragma GCC unroll 24
    for (int i = 0; i < M; i++)
        _mm512_mask_storeu_ps(c + i * ldc, mk, acc[i]);
    if (tfe_gemm_epilogue_active(ep))
        epilogue_c(M, cols < 16 ? cols : 16, c, ldc, ep);
}

/* few_block for each row count, each its own function: inlined into the three-block loop,
 * the 24-row instance had gcc spill six accumulators to the stack on every k step. */
#define FEW_BLOCK_FN(M)                                                                        \
    static __attribute__((noinline)) void few_block_##M(                                       \
        int cols, int kc, const float *a, size_t lda, const float *b, const float *next,       \
        float *c, size_t ldc, int accumulate, const tfe_gemm_epilogue *ep)                    \
    {                                                                                          \
        few_block(M, cols, kc, a, lda, b, next, c, ldc, accumulate, ep);                       \
    }
FEW_BLOCK_FN(1) FEW_BLOCK_FN(2) FEW_BLOCK_FN(3) FEW_BLOCK_FN(4) FEW_BLOCK_FN(5) FEW_BLOCK_FN(6)
FEW_BLOCK_FN(7) FEW_BLOCK_FN(8) FEW_BLOCK_FN(9) FEW_BLOCK_FN(10) FEW_BLOCK_FN(11)
FEW_BLOCK_FN(12) FEW_BLOCK_FN(13) FEW_BLOCK_FN(14) FEW_BLOCK_FN(15) FEW_BLOCK_FN(16)
FEW_BLOCK_FN(17) FEW_BLOCK_FN(18) FEW_BLOCK_FN(19) FEW_BLOCK_FN(20) FEW_BLOCK_FN(21)
FEW_BLOCK_FN(22) FEW_BLOCK_FN(23) FEW_BLOCK_FN(24)

typedef void (*few_block_fn)(int, int, const float *, size_t, const float *, const float *,
                             float *, size_t, int, const tfe_gemm_epilogue *);
static const few_block_fn few_blocks[MR_FEW] = {
    few_block_1,  few_block_2,  few_block_3,  few_block_4,  few_block_5,  few_block_6,
    few_block_7,  few_block_8,  few_block_9,  few_block_10, few_block_11, few_block_12,
    few_block_13, few_block_14, few_block_15, few_block_16, few_block_17, few_block_18,
    few_block_19, few_block_20, few_block_21, few_block_22, few_block_23, few_block_24};

/* FEW_JOINT rows or fewer: the panel's three column blocks in one pass over all of K, so that
 * three weight streams are in flight instead of one (as the AVX2 kernel's row panels do for
 * 1-3 rows); 8 rows are 24 accumulators, 3 rows of weights and a broadcast. Each stream
 * prefetches into L2 FEW_AHEAD steps ahead and into L1 FEW_NEAR steps ahead, as few_block
 * does; in the last FEW_AHEAD steps the L2 prefetch moves on to the next panel's three blocks
 * (bp + 3·bs in the blocked layout). On the borrowed 16-core Xeon VM (README, thread scaling,
 * run 12), weights 400 MiB from DRAM, tfenc-ab-gemm both load orders, against one block at a
 * time: one thread 1x3072x768 0.955x the time, 1x768x3072 0.991x, 1x768x768 0.962x,
 * 2x3072x768 0.947x, 4x3072x768 0.935x, 8x3072x768 0.907x, 8x768x3072 0.955x; two threads
 * 1x3072x768 0.962x, 1x768x3072 0.981x, 4x768x3072 0.962x, 8x3072x768 0.901x; end to end
 * (tfenc-ab-libs, 2 threads) BERT-base 1x1 0.961x, 1x4 0.950x, MiniLM 1x1 0.996x. The L2
 * prefetch 128 steps ahead instead of 64: 0.998-1.007x. Each element's sum is the same FMA
 * chain over k ascending as in few_block and the 8x48 tile, so the bits are theirs. */
enum { FEW_JOINT = 8 };

/* One k step p of few_joint: the three blocks' lines (b0, b1, b2), their L1 prefetch
 * FEW_NEAR steps on, and the L2 prefetch of `far` and the same line of the two blocks after
 * it (bs floats apart). */
static inline __attribute__((always_inline)) void joint_step(const int M, __m512 acc[][3],
                                                             const float *b0, const float *b1,
                                                             const float *b2, size_t bs, int p,
                                                             const float *far, const float *ak)
{
    _mm_prefetch((const char *)far, _MM_HINT_T2);
    _mm_prefetch((const char *)(far + bs), _MM_HINT_T2);
    _mm_prefetch((const char *)(far + 2 * bs), _MM_HINT_T2);
    _mm_prefetch((const char *)(b0 + 16 * (p + FEW_NEAR)), _MM_HINT_T0);
    _mm_prefetch((const char *)(b1 + 16 * (p + FEW_NEAR)), _MM_HINT_T0);
    _mm_prefetch((const char *)(b2 + 16 * (p + FEW_NEAR)), _MM_HINT_T0);
    const __m512 v0 = _mm512_load_ps(b0 + 16 * p), v1 = _mm512_load_ps(b1 + 16 * p),
                 v2 = _mm512_load_ps(b2 + 16 * p);
#pragma GCC unroll 8
    for (int i = 0; i < M; i++) {
        const __m512 av = _mm512_set1_ps(ak[i]);
        acc[i][0] = _mm512_fmadd_ps(av, v0, acc[i][0]);
        acc[i][1] = _mm512_fmadd_ps(av, v1, acc[i][1]);
        acc[i][2] = _mm512_fmadd_ps(av, v2, acc[i][2]);
    }
}

static inline __attribute__((always_inline)) void few_joint(const int M, int n, int kc,
                                                            const float *a, size_t lda,
                                                            const float *bp, size_t bs,
                                                            float *c, size_t ldc, int accumulate,
                                                            const tfe_gemm_epilogue *ep)
{
    __mmask16 mk[3];
    __m512 acc[FEW_JOINT][3];
    acc3_start(M, acc, mk, n, c, ldc, accumulate);
    const float *b0 = bp, *b1 = bp + bs, *b2 = bp + 2 * bs;
    const int along = kc > FEW_AHEAD ? kc - FEW_AHEAD : 0;
    int p = 0;
    for (; p < along; p++)
        joint_step(M, acc, b0, b1, b2, bs, p, b0 + 16 * (p + FEW_AHEAD),
                   a + (size_t)p * lda);
    /* the next panel's three blocks */
    for (const float *pf = bp + 3 * bs + 16 * (p + FEW_AHEAD - kc); p < kc; p++, pf += 16)
        joint_step(M, acc, b0, b1, b2, bs, p, pf, a + (size_t)p * lda);
    acc3_finish(M, acc, mk, n, c, ldc, ep);
}

/* few_joint for each row count, each its own function (as few_block). */
#define FEW_JOINT_FN(M)                                                                        \
    static __attribute__((noinline)) void few_joint_##M(                                      \
        int n, int kc, const float *a, size_t lda, const float *bp, size_t bs, float *c,       \
        size_t ldc, int accumulate, const tfe_gemm_epilogue *ep)                              \
    {                                                                                          \
        few_joint(M, n, kc, a, lda, bp, bs, c, ldc, accumulate, ep);                           \
    }
FEW_JOINT_FN(1) FEW_JOINT_FN(2) FEW_JOINT_FN(3) FEW_JOINT_FN(4) FEW_JOINT_FN(5)
FEW_JOINT_FN(6) FEW_JOINT_FN(7) FEW_JOINT_FN(8)

typedef void (*few_joint_fn)(int, int, const float *, size_t, const float *, size_t, float *,
                             size_t, int, const tfe_gemm_epilogue *);
static const few_joint_fn few_joints[FEW_JOINT] = {few_joint_1, few_joint_2, few_joint_3,
                                                   few_joint_4, few_joint_5, few_joint_6,
                                                   few_joint_7, few_joint_8};

/* A panel's column blocks for m rows: up to FEW_JOINT rows all three at once (few_joint);
 * more rows block by block in K slices of FEW_KC, slices outer: the slice of A
 * (m × FEW_KC, transposed) then stays in L1 for the panel's three blocks, where the whole of K
 * (48 KiB at 16 rows) came from L2 again for each block; partial sums wait in c. The weights
 * still pass once, as pieces of FEW_KC rows of one block, each prefetching into the next. */
static void few_panel(int m, int n, int kc, const float *a, size_t lda, const float *bp,
                      size_t bs, float *c, size_t ldc, int accumulate,
                      const tfe_gemm_epilogue *ep)
{
    if (m <= FEW_JOINT) {
        few_joints[m - 1](n, kc, a, lda, bp, bs, c, ldc, accumulate, ep);
        return;
    }
    const int blocks = (n + 15) / 16;
    for (int k0 = 0; k0 < kc; k0 += FEW_KC) {
        const int kn = kc - k0 < FEW_KC ? kc - k0 : FEW_KC, last = k0 + kn == kc;
        for (int cb = 0; cb < blocks; cb++) {
            tfe_gemm_epilogue ep_cb;
            if (ep && last)
                ep_cb = tfe_gemm_epilogue_from(ep, 16 * cb);
            /* the next piece: the next block's slice, the first block's next slice, or past
             * the panel (the next panel's start, in the blocked layout) */
            const float *next = cb + 1 < blocks ? bp + (cb + 1) * bs + (size_t)k0 * 16
                                : !last         ? bp + (size_t)(k0 + kn) * 16
                                                : bp + 3 * bs;
            few_blocks[m - 1](n - 16 * cb, kn, a + (size_t)k0 * lda, lda,
                              bp + cb * bs + (size_t)k0 * 16, next, c + 16 * cb, ldc,
                              accumulate || k0 > 0, ep && last ? &ep_cb : NULL);
        }
    }
}

TFE_GEMM_UKERNEL(tfe_gemm_few24x16__avx512)
{
    (void)pf, (void)pf_lines; /* it prefetches along its own stream (few_block) */
    few_panel(m < MR_FEW ? m : MR_FEW, n, kc, a, lda, bp, bstride, c, ldc,
              flags & TFE_GEMM_ACCUMULATE, ep);
}

/* A's m rows (up to MR_FEW) transposed for the few-rows kernel: at[k·ldt + i] = a[i·lda + k],
 * 16×16 blocks in registers (a scalar loop cost 10-15% of MiniLM's FFN down at 16 rows). */
TFE_GEMM_FEW_PACK(tfe_gemm_few_pack__avx512)
{
    for (int g = 0; g < m; g += 16) {
        const int rows = m - g < 16 ? m - g : 16;
        const __mmask16 mrows = tfe_tail_mask_avx512(rows);
        for (int k0 = 0; k0 < k; k0 += 16) {
            const int cols = k - k0 < 16 ? k - k0 : 16;
            __m512 r[16];
            load_columns16(a + (size_t)g * lda + k0, lda, rows, cols, r);
            for (int c = 0; c < cols; c++)
                _mm512_mask_storeu_ps(at + (size_t)(k0 + c) * ldt + g, mrows, r[c]);
        }
    }
}
