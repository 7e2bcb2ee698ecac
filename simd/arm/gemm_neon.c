/* NEON GEMM micro-kernel 8x8 (mirrors tfe_gemm_4x16__scalar in src/gemm_scalar.c).
 * Register budget: 8 rows × 2 q = 16 accumulators + 8 A vectors (4 consecutive k of one row
 * each, used by lane) + 2 B = 26 of 32 q-registers; per 4 k steps 8 A + 8 B loads feed 64
 * FMAs. 8x16 would need 32 accumulators alone; 6x16 (24 + 6 A + 2 B = 32) fits on paper, but
 * GCC 12 then spills accumulators inside the k loop, and 8x8 loads as little per FMA (0.25). */
#include <arm_neon.h>

#include "gemm.h"
#include "vecmath_neon.h"

enum { MR = 8, NR = 8 };

#define INLINE static inline __attribute__((always_inline))

/* The activation on v[0..count), out of line: one copy serves all 16 tile variants, and the
 * accumulators stay in registers because only the copy t is passed by address. */
static __attribute__((noinline)) void act_vectors(int act, float32x4_t *v, int count)
{
    for (int i = 0; i < count; i++)
        v[i] = tfe_act_neon(act, v[i]);
}

/* Four floats of a row at column 4j: all, or (partial tiles) only the columns below n. */
INLINE float32x4_t load_cols(const int FULL, const float *p, int n, int j)
{
    return FULL ? vld1q_f32(p + 4 * j) : tfe_load_partial_neon(p + 4 * j, n - 4 * j);
}

/* One tile with compile-time row count M; FULL: all 8 columns, else columns past n are left
 * unread on c, bias and residual and unwritten on c. */
INLINE void tile(const int M, const int FULL, int n, int kc, const float *a, size_t lda,
                 const float *bp, float *c, size_t ldc, int accumulate,
                 const tfe_gemm_epilogue *ep)
{
    float32x4_t acc[MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < M; i++)
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++)
            acc[i][j] = accumulate ? load_cols(FULL, c + i * ldc, n, j) : vdupq_n_f32(0.0f);
    int p = 0;
    for (; p + 4 <= kc; p += 4) {
        float32x4_t av[MR];
#pragma GCC unroll 8
        for (int i = 0; i < M; i++)
            av[i] = vld1q_f32(a + i * lda + p);
#pragma GCC unroll 4
        for (int kk = 0; kk < 4; kk++) {
            const float *b = bp + (size_t)(p + kk) * NR;
#pragma GCC unroll 2
            for (int j = 0; j < 2; j++) {
                float32x4_t bv = vld1q_f32(b + 4 * j);
#pragma GCC unroll 8
                for (int i = 0; i < M; i++)
                    acc[i][j] = tfe_fma_lane_neon(acc[i][j], bv, av[i], kk);
            }
        }
    }
    for (; p < kc; p++) { /* kc % 4 tail: one k at a time, A broadcast per row */
        const float *b = bp + (size_t)p * NR;
#pragma GCC unroll 8
        for (int i = 0; i < M; i++) {
            float32x4_t av = vld1q_dup_f32(a + i * lda + p);
#pragma GCC unroll 2
            for (int j = 0; j < 2; j++)
                acc[i][j] = vfmaq_f32(acc[i][j], vld1q_f32(b + 4 * j), av);
        }
    }
    if (ep) {
        float32x4_t bias[2], t[MR][2];
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++)
            bias[j] = ep->bias ? load_cols(FULL, ep->bias, n, j) : vdupq_n_f32(0.0f);
#pragma GCC unroll 8
        for (int i = 0; i < M; i++)
#pragma GCC unroll 2
            for (int j = 0; j < 2; j++)
                t[i][j] = vaddq_f32(acc[i][j], bias[j]);
        if (ep->act != TFE_GEMM_ACT_NONE)
            act_vectors(ep->act, &t[0][0], 2 * M);
#pragma GCC unroll 8
        for (int i = 0; i < M; i++)
#pragma GCC unroll 2
            for (int j = 0; j < 2; j++)
                acc[i][j] = ep->residual
                                ? vaddq_f32(t[i][j], load_cols(FULL, ep->residual + i * ep->ldr, n, j))
                                : t[i][j];
    }
#pragma GCC unroll 8
    for (int i = 0; i < M; i++)
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++) {
            if (FULL)
                vst1q_f32(c + i * ldc + 4 * j, acc[i][j]);
            else
                tfe_store_partial_neon(c + i * ldc + 4 * j, acc[i][j], n - 4 * j);
        }
}

INLINE void rows(const int FULL, int m, int n, int kc, const float *a, size_t lda,
                 const float *bp, float *c, size_t ldc, int accumulate,
                 const tfe_gemm_epilogue *ep)
{
    switch (m) {
    case 8: tile(8, FULL, n, kc, a, lda, bp, c, ldc, accumulate, ep); break;
    case 7: tile(7, FULL, n, kc, a, lda, bp, c, ldc, accumulate, ep); break;
    case 6: tile(6, FULL, n, kc, a, lda, bp, c, ldc, accumulate, ep); break;
    case 5: tile(5, FULL, n, kc, a, lda, bp, c, ldc, accumulate, ep); break;
    case 4: tile(4, FULL, n, kc, a, lda, bp, c, ldc, accumulate, ep); break;
    case 3: tile(3, FULL, n, kc, a, lda, bp, c, ldc, accumulate, ep); break;
    case 2: tile(2, FULL, n, kc, a, lda, bp, c, ldc, accumulate, ep); break;
    default: tile(1, FULL, n, kc, a, lda, bp, c, ldc, accumulate, ep); break;
    }
}

TFE_GEMM_UKERNEL(tfe_gemm_8x8__neon)
{
    (void)bstride; /* plain panels */
    /* The driver's prefetch hint, as one burst before the tile (the k loop stays free of
     * bookkeeping; Arm cannot be timed on our machines, so the simple form). */
    for (int l = 0; l < pf_lines; l++)
        __builtin_prefetch(pf + 64 * (size_t)l, 0, 2);
    const int accumulate = flags & TFE_GEMM_ACCUMULATE;
    if (n == NR)
        rows(1, m, n, kc, a, lda, bp, c, ldc, accumulate, ep);
    else
        rows(0, m, n, kc, a, lda, bp, c, ldc, accumulate, ep);
}
