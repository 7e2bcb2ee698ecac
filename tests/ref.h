/* Naive double-precision oracles on unpacked data: GEMM with epilogue, attention, LayerNorm. */
#ifndef TFE_TEST_REF_H
#define TFE_TEST_REF_H

#include <stddef.h>

/* act: TFE_GEMM_ACT_NONE / _RELU / _GELU (erf form) / _GELU_TANH. */
double ref_act(int act, double x);

/* out[i][j] = act(c0[i][j] + Σ_p a[i][p]·w[j][p] + bias[j]) + residual[i][j], for an m×n tile.
 * w is [n×k] row-major with row stride ldw (PyTorch Linear layout); c0, bias and residual may
 * be NULL (then 0). out is m×n, stride n. When mag is non-NULL it receives, per element, the
 * magnitude the float rounding error scales with: |c0| + Σ|a·w| + |bias| (before act). */
void ref_gemm(int m, int n, int k, const float *a, size_t lda, const float *w, size_t ldw,
              const float *c0, size_t ldc0, const float *bias, int act, const float *residual,
              size_t ldr, double *out, double *mag);

/* o[i][:] = Σ_j softmax_j(scale · q[i]·k[j]) v[j][:] over all nk keys, for nq queries; q, k and
 * v are rows of dh floats with row stride ld; o is nq×dh, stride dh. When smax is non-NULL it
 * receives, per query, max_j scale·Σ_d|q[i][d]·k[j][d]| (what score rounding scales with). */
void ref_attention(int nq, int nk, int dh, const float *q, const float *k, const float *v,
                   size_t ld, double scale, double *o, double *smax);

/* y = (z - mean) / sqrt(var + eps) · gamma + beta with z = x + r (r may be NULL), biased
 * variance. mean and the divisor sqrt(var + eps) are returned through the pointers if set. */
void ref_layernorm(int n, const float *x, const float *r, const float *gamma, const float *beta,
                   double eps, double *y, double *mean, double *denom);

#endif
