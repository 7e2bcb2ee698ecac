/* AVX-512 GEMM micro-kernel 8x48 (mirrors tfe_gemm_4x16__scalar in src/gemm_scalar.c).
 * Register budget: 8 rows × 3 zmm = 24 accumulators + 3 B vectors + 1 broadcast = 28 of 32.
 * Per k step: 3 B loads + 8 broadcasts feed 24 FMAs, well inside two load ports. */
#include <immintrin.h>

#include "gemm.h"
#include "vecmath_avx512.h"

enum { MR = 8, NR = 48 };
/* Streaming prefetch distance in k steps: 16 (3 KiB) ahead measured best for M = 1 and 16
 * (about 16 GB/s on one thread against 14 at 48 KiB ahead and 13.4 with none). */
enum { STREAM_AHEAD = 16 };

/* One k step: row i of the tile gets a[i·lda] times the panel row bp (three vectors). */
static inline __attribute__((always_inline)) void k_step(const int M, __m512 acc[][3],
                                                         const float *bp, const float *a,
                                                         size_t lda)
{
    __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16), b2 = _mm512_load_ps(bp + 32);
#pragma GCC unroll 8
    for (int i = 0; i < M; i++) {
        __m512 av = _mm512_set1_ps(a[i * lda]);
        acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
        acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
        acc[i][2] = _mm512_fmadd_ps(av, b2, acc[i][2]);
    }
}

/* One tile with a compile-time row count M (the switch below instantiates 1..8). Columns past
 * n are masked on every load and store of c and of the epilogue's bias/residual. */
static inline __attribute__((always_inline)) void tile(const int M, const int STREAM, int n, int kc,
                                                       const float *a, size_t lda,
                                                       const float *bp, float *c, size_t ldc,
                                                       int accumulate, const tfe_gemm_epilogue *ep,
                                                       const char *pf, int pf_lines)
{
    __mmask16 mk[3];
    for (int j = 0; j < 3; j++)
        mk[j] = tfe_tail_mask_avx512(n - 16 * j);
    __m512 acc[MR][3];
#pragma GCC unroll 8
    for (int i = 0; i < M; i++)
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++)
            acc[i][j] = accumulate ? _mm512_maskz_loadu_ps(mk[j], c + i * ldc + 16 * j)
                                   : _mm512_setzero_ps();
    int p = 0;
    /* A tile that starts from zero has not touched its C lines yet; with many rows they are
     * far out of L1 (in L3 when C outgrows L2), and the stores at the end would wait for them.
     * So the first 3·M k steps each take ownership of one line (prefetchw) while they compute:
     * +3-5% on M = 512 and 1024, neutral on M = 128. (The streaming tiles have no time to
     * spare for it.) Only lines holding the tile's columns: one past them may be another
     * thread's, and taking it away would cost that thread a round trip. */
    if (!STREAM && !accumulate)
        for (const int own = kc < 3 * M ? kc : 3 * M; p < own; p++, bp += NR) {
            if (16 * (p % 3) < n)
                _mm_prefetch((const char *)(c + p / 3 * ldc + 16 * (p % 3)), _MM_HINT_ET0);
            k_step(M, acc, bp, a + p, lda);
        }
    /* The remaining k steps run in chunks with one L2 prefetch of the hinted lines before
     * each, so the inner loop stays free of prefetch bookkeeping. */
    const int chunk = tfe_gemm_pf_chunk(kc - p, pf_lines);
    while (p < kc) {
        const int end = kc - p > chunk ? p + chunk : kc;
        if (pf_lines-- > 0) {
            _mm_prefetch(pf, _MM_HINT_T1);
            pf += 64;
        }
        for (; p < end; p++, bp += NR) {
            if (STREAM) { /* a little ahead of the hardware prefetcher, into L2 */
                _mm_prefetch((const char *)(bp + STREAM_AHEAD * NR), _MM_HINT_T2);
                _mm_prefetch((const char *)(bp + STREAM_AHEAD * NR + 16), _MM_HINT_T2);
                _mm_prefetch((const char *)(bp + STREAM_AHEAD * NR + 32), _MM_HINT_T2);
            }
            k_step(M, acc, bp, a + p, lda);
        }
    }
    if (ep) {
        __m512 bias[3];
        for (int j = 0; j < 3; j++)
            bias[j] = ep->bias ? _mm512_maskz_loadu_ps(mk[j], ep->bias + 16 * j) : _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int i = 0; i < M; i++)
#pragma GCC unroll 3
            for (int j = 0; j < 3; j++) {
                __m512 v = tfe_act_avx512(ep->act, _mm512_add_ps(acc[i][j], bias[j]));
                if (ep->residual)
                    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk[j], ep->residual + i * ep->ldr + 16 * j));
                acc[i][j] = v;
            }
    }
#pragma GCC unroll 8
    for (int i = 0; i < M; i++)
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++)
            _mm512_mask_storeu_ps(c + i * ldc + 16 * j, mk[j], acc[i][j]);
}

/* All row counts × {resident, streaming}: compile-time constants keep the 24 accumulators in
 * registers and the prefetch out of the resident loop. */
#define TILE_ROWS(STREAM)                                                                       \
    switch (m) {                                                                               \
    case 8: tile(8, STREAM, n, kc, a, lda, bp, c, ldc, accumulate, ep, pf, pf_lines); break;                 \
    case 7: tile(7, STREAM, n, kc, a, lda, bp, c, ldc, accumulate, ep, pf, pf_lines); break;                 \
    case 6: tile(6, STREAM, n, kc, a, lda, bp, c, ldc, accumulate, ep, pf, pf_lines); break;                 \
    case 5: tile(5, STREAM, n, kc, a, lda, bp, c, ldc, accumulate, ep, pf, pf_lines); break;                 \
    case 4: tile(4, STREAM, n, kc, a, lda, bp, c, ldc, accumulate, ep, pf, pf_lines); break;                 \
    case 3: tile(3, STREAM, n, kc, a, lda, bp, c, ldc, accumulate, ep, pf, pf_lines); break;                 \
    case 2: tile(2, STREAM, n, kc, a, lda, bp, c, ldc, accumulate, ep, pf, pf_lines); break;                 \
    default: tile(1, STREAM, n, kc, a, lda, bp, c, ldc, accumulate, ep, pf, pf_lines); break;                \
    }

TFE_GEMM_UKERNEL(tfe_gemm_8x48__avx512)
{
    const int accumulate = flags & TFE_GEMM_ACCUMULATE;
    if (flags & TFE_GEMM_STREAM_B)
        TILE_ROWS(1)
    else
        TILE_ROWS(0)
}
