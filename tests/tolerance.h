/* Every tolerance the tests use against the double oracles, each with its reason. */
#ifndef TFE_TEST_TOLERANCE_H
#define TFE_TEST_TOLERANCE_H

#include <float.h>
#include <math.h>

/* GEMM: a float sum of k products errs by at most ~k·u·Σ|a·w| in any order (u = FLT_EPSILON/2);
 * FLT_EPSILON·(k + 4) leaves room for the c0, bias and FMA-vs-separate rounding. */
static inline double tol_gemm(int k, double mag) { return FLT_EPSILON * (k + 4) * mag; }

/* Activations: relu is exact; SIMD erf/tanh are polynomial approximations good to ~1e-7 of
 * the pre-activation scale, and GELU's slope is at most 1.13, so it may grow the error 1.13x. */
static inline double tol_act(int act, double pre_tol, double pre)
{
    return act ? 1.13 * pre_tol + 1e-6 * (1.0 + fabs(pre)) : pre_tol;
}

/* The final additions of the GEMM epilogue round once per term. */
static inline double tol_round(double value) { return 4.0 * FLT_EPSILON * fabs(value); }

/* Attention: scores err by ~(dh + 4)·ε·smax, turning into a relative error of the softmax
 * weights; the Σp over nk keys and the Σp·v over nk rows add ~nk·ε each. The error of the
 * output is then relative to max|v|. */
static inline double tol_attention(int dh, int nk, double smax, double vmax)
{
    return vmax * FLT_EPSILON * (4.0 * (dh + 4) * smax + 4.0 * nk + 16.0) + 1e-7;
}

/* LayerNorm: the float mean errs by ~√n·ε·|mean| (partial sums round about randomly), which
 * shifts every normalised value by that over the divisor sqrt(var + eps); 16√n + 64 covers
 * sequential and SIMD summation orders and the rounding of z = x + r. */
static inline double tol_layernorm(int n, double mean, double denom, double gamma, double beta,
                                   double y_hat)
{
    double rel = FLT_EPSILON * (16.0 * sqrt((double)n) + 64.0) * (1.0 + fabs(mean) / denom);
    return rel * fabs(gamma) * (1.0 + fabs(y_hat)) + 2.0 * FLT_EPSILON * fabs(beta) + 1e-7;
}

/* End to end against expected.npy (tests/fixtures/make_fixtures.py asserts PyTorch's own float32
 * forward is within this of the float64 reference on every fixture). */
#define TOL_ENCODER 1e-4

#endif
