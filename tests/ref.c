/* Naive oracles: the maths of DESIGN §1 written out once, in double, with no blocking. */
#include "ref.h"

#include <math.h>

#include "gemm.h"

double ref_act(int act, double x)
{
    switch (act) {
    case TFE_GEMM_ACT_RELU: return x > 0.0 ? x : 0.0;
    case TFE_GEMM_ACT_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case TFE_GEMM_ACT_GELU_TANH:
        return 0.5 * x * (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
    default: return x;
    }
}

void ref_gemm(int m, int n, int k, const float *a, size_t lda, const float *w, size_t ldw,
              const float *c0, size_t ldc0, const float *bias, int act, const float *residual,
              size_t ldr, double *out, double *mag)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = c0 ? c0[i * ldc0 + j] : 0.0, g = fabs(s);
            for (int p = 0; p < k; p++) {
                double t = (double)a[i * lda + p] * (double)w[j * ldw + p];
                s += t;
                g += fabs(t);
            }
            if (bias) {
                s += bias[j];
                g += fabs(bias[j]);
            }
            s = ref_act(act, s);
            if (residual)
                s += residual[i * ldr + j];
            out[i * n + j] = s;
            if (mag)
                mag[i * n + j] = g;
        }
}

void ref_attention(int nq, int nk, int dh, const float *q, const float *k, const float *v,
                   size_t ld, double scale, double *o, double *smax)
{
    for (int i = 0; i < nq; i++) {
        const float *qi = q + i * ld;
        double mx = -INFINITY, bound = 0.0, sum = 0.0;
        for (int j = 0; j < nk; j++) {
            double s = 0.0, g = 0.0;
            for (int d = 0; d < dh; d++) {
                double t = (double)qi[d] * (double)k[j * ld + d];
                s += t;
                g += fabs(t);
            }
            mx = s * scale > mx ? s * scale : mx;
            bound = g * scale > bound ? g * scale : bound;
        }
        double *oi = o + (size_t)i * dh;
        for (int d = 0; d < dh; d++)
            oi[d] = 0.0;
        for (int j = 0; j < nk; j++) {
            double s = 0.0;
            for (int d = 0; d < dh; d++)
                s += (double)qi[d] * (double)k[j * ld + d];
            double p = exp(s * scale - mx);
            sum += p;
            for (int d = 0; d < dh; d++)
                oi[d] += p * v[j * ld + d];
        }
        for (int d = 0; d < dh; d++)
            oi[d] /= sum;
        if (smax)
            smax[i] = bound;
    }
}

void ref_layernorm(int n, const float *x, const float *r, const float *gamma, const float *beta,
                   double eps, double *y, double *mean, double *denom)
{
    double mu = 0.0, var = 0.0;
    for (int i = 0; i < n; i++)
        mu += (double)x[i] + (r ? (double)r[i] : 0.0);
    mu /= n;
    for (int i = 0; i < n; i++) {
        double d = (double)x[i] + (r ? (double)r[i] : 0.0) - mu;
        var += d * d;
    }
    var /= n;
    double inv = 1.0 / sqrt(var + eps);
    for (int i = 0; i < n; i++)
        y[i] = ((double)x[i] + (r ? (double)r[i] : 0.0) - mu) * inv * gamma[i] + beta[i];
    if (mean)
        *mean = mu;
    if (denom)
        *denom = sqrt(var + eps);
}
