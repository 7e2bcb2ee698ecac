/* Portable GEMM micro-kernel, 4x16: the reference every SIMD kernel is tested beside. */
#include "activation.h"
#include "gemm.h"

enum { MR = 4, NR = 16 };

TFE_GEMM_UKERNEL(tfe_gemm_4x16__scalar)
{
    (void)pf, (void)pf_lines; /* no software prefetch: a hint only */
    (void)bstride;            /* plain panels */
    const int accumulate = flags & TFE_GEMM_ACCUMULATE;
    float acc[MR][NR];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < NR; j++)
            acc[i][j] = (accumulate && j < n) ? c[i * ldc + j] : 0.0f;
    for (int p = 0; p < kc; p++) {
        const float *b = bp + (size_t)p * NR;
        for (int i = 0; i < m; i++) {
            float av = a[i * lda + p];
            for (int j = 0; j < NR; j++)
                acc[i][j] += av * b[j];
        }
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float v = acc[i][j];
            if (ep) {
                if (ep->bias)
                    v += ep->bias[j];
                v = tfe_act_scalar(ep->act, v);
                if (ep->residual)
                    v += ep->residual[i * ep->ldr + j];
            }
            c[i * ldc + j] = v;
        }
}
