/* AVX2 GEMM micro-kernel 6x16 (mirrors tfe_gemm_4x16__scalar in src/gemm_scalar.c).
 * Register budget: 6 rows × 2 ymm = 12 accumulators + 2 B vectors + 1 broadcast = 15 of 16. */
#include <immintrin.h>

#include "gemm.h"
#include "vecmath_avx2.h"

enum { MR = 6, NR = 16 };

/* One tile with a compile-time row count M; columns past n are masked on c, bias, residual. */
static inline __attribute__((always_inline)) void tile(const int M, int n, int kc,
                                                       const float *a, size_t lda,
                                                       const float *bp, float *c, size_t ldc,
                                                       int accumulate, const tfe_gemm_epilogue *ep,
                                                       const char *pf, int pf_lines)
{
    const __m256i mk[2] = {tfe_tail_mask_avx2(n), tfe_tail_mask_avx2(n - 8)};
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < M; i++)
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++)
            acc[i][j] = accumulate ? _mm256_maskload_ps(c + i * ldc + 8 * j, mk[j])
                                   : _mm256_setzero_ps();
    /* Chunks of k steps, one L2 prefetch of the hinted lines before each (see gemm_avx512.c). */
    const int chunk = tfe_gemm_pf_chunk(kc, pf_lines);
    for (int p = 0; p < kc;) {
        const int end = kc - p > chunk ? p + chunk : kc;
        if (pf_lines-- > 0) {
            _mm_prefetch(pf, _MM_HINT_T1);
            pf += 64;
        }
        for (; p < end; p++) {
            __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
            bp += NR;
#pragma GCC unroll 6
            for (int i = 0; i < M; i++) {
                __m256 av = _mm256_broadcast_ss(a + i * lda + p);
                acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
            }
        }
    }
    if (ep) {
        __m256 bias[2];
        for (int j = 0; j < 2; j++)
            bias[j] = ep->bias ? _mm256_maskload_ps(ep->bias + 8 * j, mk[j]) : _mm256_setzero_ps();
#pragma GCC unroll 6
        for (int i = 0; i < M; i++)
#pragma GCC unroll 2
            for (int j = 0; j < 2; j++) {
                __m256 v = tfe_act_avx2(ep->act, _mm256_add_ps(acc[i][j], bias[j]));
                if (ep->residual)
                    v = _mm256_add_ps(v, _mm256_maskload_ps(ep->residual + i * ep->ldr + 8 * j, mk[j]));
                acc[i][j] = v;
            }
    }
#pragma GCC unroll 6
    for (int i = 0; i < M; i++)
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++)
            _mm256_maskstore_ps(c + i * ldc + 8 * j, mk[j], acc[i][j]);
}

TFE_GEMM_UKERNEL(tfe_gemm_6x16__avx2)
{
    (void)bstride; /* plain panels */
    const int accumulate = flags & TFE_GEMM_ACCUMULATE;
    switch (m) {
    case 6: tile(6, n, kc, a, lda, bp, c, ldc, accumulate, ep, pf, pf_lines); break;
    case 5: tile(5, n, kc, a, lda, bp, c, ldc, accumulate, ep, pf, pf_lines); break;
    case 4: tile(4, n, kc, a, lda, bp, c, ldc, accumulate, ep, pf, pf_lines); break;
    case 3: tile(3, n, kc, a, lda, bp, c, ldc, accumulate, ep, pf, pf_lines); break;
    case 2: tile(2, n, kc, a, lda, bp, c, ldc, accumulate, ep, pf, pf_lines); break;
    default: tile(1, n, kc, a, lda, bp, c, ldc, accumulate, ep, pf, pf_lines); break;
    }
}
