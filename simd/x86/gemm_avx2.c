/* AVX2 GEMM micro-kernel 6x16 (mirrors tfe_gemm_4x16__scalar in src/gemm_scalar.c) and its
 * A packer.
 * Register budget: 6 rows × 2 ymm = 12 accumulators + 2 B vectors + 1 broadcast = 15 of 16. */
#include <immintrin.h>

#include "gemm.h"
#include "vecmath_avx2.h"

enum { MR = 6, NR = 16 };
/* TFE_GEMM_STREAM_B: each k step's line of the panel (64 bytes) is prefetched this many steps
 * ahead, into L1, by tiles of 2 rows or more. On a Zen 1 EPYC, cold weights from DRAM, one
 * thread (tfenc-ab-gemm, both load orders): 16×3072×768 0.904x the time (64 and 128 steps:
 * the same), 6 rows 0.796x, 2 rows 0.914x, 16×768×768 and 16×768×3072 on 2 threads 0.889x
 * and 0.921x. A single row (its k step a 5-cycle FMA chain) gains nothing: 1.002x at 32 steps,
 * 1.04-1.08x at 64-128, so it leaves the stream to the hardware prefetcher. */
enum { STREAM_AHEAD = 32 };

/* The epilogue on rows × cols (at most 16) of c, in place, after the tile stored its sums:
 * a pass of its own from L1, as in gemm_avx512.c (with 12 accumulators live, the GELU's
 * constants had no registers left). ACT is a constant in each instance. */
static inline __attribute__((always_inline)) void epilogue_rows(const int ACT, int rows, int cols,
                                                                float *c, size_t ldc,
                                                                const tfe_gemm_epilogue *ep)
{
    for (int j = 0; 8 * j < cols; j++) {
        /* whole vectors unmasked (masked stores are microcode on AMD) */
        const int whole = cols - 8 * j >= 8;
        const __m256i mk = tfe_tail_mask_avx2(cols - 8 * j);
        const float *bj = ep->bias ? ep->bias + 8 * j : NULL;
        const __m256 bias = !bj ? _mm256_setzero_ps()
                            : whole ? _mm256_loadu_ps(bj)
                                    : _mm256_maskload_ps(bj, mk);
        for (int i = 0; i < rows; i++) {
            float *ci = c + (size_t)i * ldc + 8 * j;
            const float *ri = ep->residual ? ep->residual + (size_t)i * ep->ldr + 8 * j : NULL;
            __m256 v = whole ? _mm256_loadu_ps(ci) : _mm256_maskload_ps(ci, mk);
            v = tfe_act_avx2(ACT, _mm256_add_ps(v, bias));
            if (ri)
                v = _mm256_add_ps(v, whole ? _mm256_loadu_ps(ri) : _mm256_maskload_ps(ri, mk));
            if (whole)
                _mm256_storeu_ps(ci, v);
            else
                _mm256_maskstore_ps(ci, mk, v);
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

/* One row of a tile (16 columns) into c: whole vectors when the tile is full, else masked by
 * mk (AMD's Zen cores run vmaskmovps stores as microcode, tens of uops each, so only the
 * ragged last panel pays for them). */
static inline __attribute__((always_inline)) void store_row16(float *c, __m256 lo, __m256 hi,
                                                              int full, const __m256i mk[2])
{
    if (full) {
        _mm256_storeu_ps(c, lo);
        _mm256_storeu_ps(c + 8, hi);
    } else {
        _mm256_maskstore_ps(c, mk[0], lo);
        _mm256_maskstore_ps(c + 8, mk[1], hi);
    }
}

/* One tile with a compile-time row count M; columns past n are masked on c, bias, residual.
 * PACKED: a holds the tile packed (k step p's rows at a[6p..6p+M)): one pointer for all rows. */
static inline __attribute__((always_inline)) void tile(const int M, const int STREAM,
                                                       const int PACKED, int n,
                                                       int kc, const float *a, size_t lda,
                                                       const float *bp, float *c, size_t ldc,
                                                       int accumulate, const tfe_gemm_epilogue *ep,
                                                       const char *pf, int pf_lines)
{
    /* Full tiles load and store C unmasked (store_row16) */
    const int full = n >= NR;
    const __m256i mk[2] = {tfe_tail_mask_avx2(n), tfe_tail_mask_avx2(n - 8)};
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < M; i++)
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++)
            acc[i][j] = !accumulate ? _mm256_setzero_ps()
                        : full      ? _mm256_loadu_ps(c + i * ldc + 8 * j)
                                    : _mm256_maskload_ps(c + i * ldc + 8 * j, mk[j]);
    /* Chunks of k steps, one L2 prefetch of the hinted lines before each (see gemm_avx512.c). */
    const int chunk = tfe_gemm_pf_chunk(kc, pf_lines);
    for (int p = 0; p < kc;) {
        const int end = kc - p > chunk ? p + chunk : kc;
        if (pf_lines-- > 0) {
            _mm_prefetch(pf, _MM_HINT_T1);
            pf += 64;
        }
        for (; p < end; p++) {
            if (STREAM && M > 1)
                _mm_prefetch((const char *)(bp + STREAM_AHEAD * NR), _MM_HINT_T0);
            __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
            bp += NR;
#pragma GCC unroll 6
            for (int i = 0; i < M; i++) {
                __m256 av = _mm256_broadcast_ss(PACKED ? a + MR * p + i : a + i * lda + p);
                acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
            }
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < M; i++)
        store_row16(c + i * ldc, acc[i][0], acc[i][1], full, mk);
    if (tfe_gemm_epilogue_active(ep))
        epilogue_c(M, n < NR ? n : NR, c, ldc, ep);
}

/* TFE_GEMM_ROW_PANELS: 1-3 rows against up to 3 panels at once (the impl's row_panels),
 * each panel its own weight stream. With so few rows a k step is a handful of FMAs, so the
 * product is bound by the weights' stream from DRAM, and one core draws more from several
 * streams than from one. Zen 1 EPYC, weights from DRAM (tfenc-ab-gemm, both load orders),
 * against one panel a call, on one / two threads:
 *   1 row, 3 panels: 1×768×3072 0.735x / 0.915x the time, 1×3072×768 0.724x / 0.897x,
 *     1×768×768 0.669x / 0.809x (2 panels: 0.80x on one thread; 4: 0.75-0.85x, against 3
 *     1.07-1.11x)
 *   2 rows, 3 panels: 2×768×3072 0.815x / 0.895x, 2×3072×768 0.814x (2 panels: 0.85-0.89x)
 *   3 rows, 2 panels: 3×768×3072 0.848x / 0.906x, 3×3072×768 0.834x
 * (3 panels of 3 rows would need 18 accumulators.) Each column's sum runs over k in the same
 * order as in the tiles, so the bits are those of any other path. */
enum { ROW_PANELS = 3 };
static inline __attribute__((always_inline)) void row_panels(const int M, const int P, int n,
                                                             int k, const float *a, size_t lda,
                                                             const float *bp, size_t bstride,
                                                             float *c, size_t ldc,
                                                             const tfe_gemm_epilogue *ep)
{
    __m256 acc[TFE_GEMM_ROW_PANELS_MAX_M][ROW_PANELS][2];
    const float *b[ROW_PANELS];
#pragma GCC unroll 3
    for (int q = 0; q < P; q++) {
#pragma GCC unroll 3
        for (int i = 0; i < M; i++)
            acc[i][q][0] = acc[i][q][1] = _mm256_setzero_ps();
        b[q] = bp + q * bstride;
    }
    for (int p = 0; p < k; p++) {
        __m256 av[TFE_GEMM_ROW_PANELS_MAX_M];
#pragma GCC unroll 3
        for (int i = 0; i < M; i++)
            av[i] = _mm256_broadcast_ss(a + i * lda + p);
#pragma GCC unroll 3
        for (int q = 0; q < P; q++) {
            const __m256 b0 = _mm256_load_ps(b[q]), b1 = _mm256_load_ps(b[q] + 8);
#pragma GCC unroll 3
            for (int i = 0; i < M; i++) {
                acc[i][q][0] = _mm256_fmadd_ps(av[i], b0, acc[i][q][0]);
                acc[i][q][1] = _mm256_fmadd_ps(av[i], b1, acc[i][q][1]);
            }
            b[q] += NR;
        }
    }
#pragma GCC unroll 3
    for (int q = 0; q < P; q++) {
        const int cols = n - q * NR < NR ? n - q * NR : NR;
        const __m256i mk[2] = {tfe_tail_mask_avx2(cols), tfe_tail_mask_avx2(cols - 8)};
#pragma GCC unroll 3
        for (int i = 0; i < M; i++)
            store_row16(c + i * ldc + q * NR, acc[i][q][0], acc[i][q][1], cols == NR, mk);
        if (tfe_gemm_epilogue_active(ep)) {
            const tfe_gemm_epilogue e = tfe_gemm_epilogue_from(ep, q * NR);
            epilogue_c(M, cols, c + q * NR, ldc, &e);
        }
    }
}

/* Row counts × {A strided, A strided with the weights streamed, A packed}, each variant its
 * own function (as in gemm_avx512.c). */
#define TILE_ARGS n, kc, a, lda, bp, c, ldc, accumulate, ep, pf, pf_lines
#define TILE_VARIANT(name, STREAM, PACKED)                                                     \
    static __attribute__((noinline)) void name(int m, int n, int kc, const float *a,           \
                                               size_t lda, const float *bp, float *c,          \
                                               size_t ldc, int accumulate,                     \
                                               const tfe_gemm_epilogue *ep, const char *pf,    \
                                               int pf_lines)                                   \
    {                                                                                          \
        enum { STREAM_V = STREAM, PACKED_V = PACKED };                                         \
        TFE_BY_ROWS6(m, TILE_M)                                                                \
    }
#define TILE_M(M) tile(M, STREAM_V, PACKED_V, TILE_ARGS)
TILE_VARIANT(tiles_strided, 0, 0)
TILE_VARIANT(tiles_stream, 1, 0)
TILE_VARIANT(tiles_packed, 0, 1)

/* TFE_GEMM_ROW_PANELS: the (rows, panels) pairs the registry's row_panels asks for, compiled
 * each; any other pair (a registry edited without this switch) runs panel by panel through
 * the streaming tiles: slower, the same bits. */
static __attribute__((noinline)) void rows_panels(int m, int n, int k, const float *a,
                                                  size_t lda, const float *bp, size_t bstride,
                                                  float *c, size_t ldc,
                                                  const tfe_gemm_epilogue *ep)
{
#define ROWS_PANELS(M, P) row_panels(M, P, n, k, a, lda, bp, bstride, c, ldc, ep)
    switch (4 * m + (n + NR - 1) / NR) {
    case 4 + 3: ROWS_PANELS(1, 3); return;
    case 4 + 2: ROWS_PANELS(1, 2); return;
    case 4 + 1: ROWS_PANELS(1, 1); return;
    case 8 + 3: ROWS_PANELS(2, 3); return;
    case 8 + 2: ROWS_PANELS(2, 2); return;
    case 8 + 1: ROWS_PANELS(2, 1); return;
    case 12 + 2: ROWS_PANELS(3, 2); return;
    case 12 + 1: ROWS_PANELS(3, 1); return;
    }
#undef ROWS_PANELS
    for (int q = 0; q * NR < n; q++) {
        const tfe_gemm_epilogue e = tfe_gemm_epilogue_from(ep, q * NR);
        tiles_stream(m, n - q * NR < NR ? n - q * NR : NR, k, a, lda, bp + q * bstride,
                     c + q * NR, ldc, 0, &e, NULL, 0);
    }
}

TFE_GEMM_UKERNEL(tfe_gemm_6x16__avx2)
{
    if (flags & TFE_GEMM_ROW_PANELS) { /* (the driver's 1-3 rows: all of K) */
        rows_panels(m, n, kc, a, lda, bp, bstride, c, ldc, ep);
        return;
    }
    const int accumulate = flags & TFE_GEMM_ACCUMULATE;
    if (flags & TFE_GEMM_A_PACKED) /* (the driver streams only tiles of A in place) */
        tiles_packed(m, TILE_ARGS);
    else if (flags & TFE_GEMM_STREAM_B)
        tiles_stream(m, TILE_ARGS);
    else
        tiles_strided(m, TILE_ARGS);
}

/* A's rows in tiles of 6 for the 6x16 kernel (TFE_GEMM_TILE_PACK): per tile, 8 values of K at
 * a time, an 8×8 in-register transpose (rows 6 and 7 zero), each k step's 6 values stored
 * (the next step starts 6 floats on). */
TFE_GEMM_TILE_PACK(tfe_gemm_tile_pack6__avx2)
{
    const __m256i six = tfe_tail_mask_avx2(MR);
    for (int t = 0; t * MR < m; t++) {
        const int rows = m - t * MR < MR ? m - t * MR : MR;
        float *tile = dst + (size_t)t * k * MR;
        for (int k0 = 0; k0 < k; k0 += 8) {
            const int cols = k - k0 < 8 ? k - k0 : 8;
            const __m256i mk = tfe_tail_mask_avx2(cols);
            __m256 r[8];
            for (int i = 0; i < 8; i++)
                r[i] = i < rows ? _mm256_maskload_ps(a + (size_t)(t * MR + i) * lda + k0, mk)
                                : _mm256_setzero_ps();
            tfe_transpose8_avx2(r); /* r[c]: k step k0 + c of rows 0..7 */
            /* In ascending k, each step written whole (its 2 extra lanes land on the next
             * step's first values, written next): only the tile's last step is masked, so no
             * write leaves the buffer and AMD's microcoded masked store runs once a tile. */
            for (int c = 0; c < cols; c++) {
                float *step = tile + (size_t)(k0 + c) * MR;
                if (k0 + c + 1 < k)
                    _mm256_storeu_ps(step, r[c]);
                else
                    _mm256_maskstore_ps(step, six, r[c]);
            }
        }
    }
}
