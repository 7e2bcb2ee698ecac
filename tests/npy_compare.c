/* npy_compare: checks a float32 .npy against a reference within a tolerance (and, given the
 * lengths, that padded rows are exactly zero), so tests need no Python at run time. With POOL,
 * the reference hidden states are pooled first (sentence embeddings, tfenc encode --pool). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/npy.h"

static int usage(void)
{
    fprintf(stderr, "usage: npy_compare GOT.npy WANT.npy TOL [LENGTHS.npy [POOL]]\n"
                    "  float32 arrays of one shape; max |GOT - WANT| <= TOL; with LENGTHS (int [B])"
                    "\n  and [B,S,D] arrays, GOT[b][t][:] must be exactly 0 for t >= LENGTHS[b]\n"
                    "  POOL (mean, cls, mean-normalized, cls-normalized): WANT [B,S,D] is pooled\n"
                    "  over each sequence's LENGTHS[b] rows (in double) and GOT is [B,D]\n");
    return 2;
}

static int load(const char *path, npy_array *a)
{
    tfe_error err;
    if (npy_read(path, a, &err) != TFE_OK) {
        fprintf(stderr, "npy_compare: %s\n", err.message);
        return -1;
    }
    return 0;
}

/* Replaces the [B,S,D] hidden states in *want by their pooled [B,D] vectors. */
static int pool(npy_array *want, const npy_array *lens, const char *how)
{
    const int cls = strncmp(how, "cls", 3) == 0, mean = strncmp(how, "mean", 4) == 0;
    const char *rest = how + (cls ? 3 : 4);
    if ((!cls && !mean) || (*rest && strcmp(rest, "-normalized") != 0) || want->ndim != 3 ||
        want->dtype != NPY_F32 || lens->ndim != 1 || lens->shape[0] != want->shape[0] ||
        lens->dtype == NPY_F32)
        return -1;
    const size_t B = (size_t)want->shape[0], S = (size_t)want->shape[1];
    const size_t D = (size_t)want->shape[2];
    float *w = want->data;
    for (size_t b = 0; b < B; b++) {
        const long long len = lens->dtype == NPY_I64 ? ((const int64_t *)lens->data)[b]
                                                     : ((const int32_t *)lens->data)[b];
        const size_t n = cls ? 1 : (size_t)len;
        double sq = 0.0, v[4096];
        if (D > 4096 || len < 1 || (size_t)len > S)
            return -1;
        for (size_t d = 0; d < D; d++) {
            v[d] = 0.0;
            for (size_t t = 0; t < n; t++)
                v[d] += w[(b * S + t) * D + d];
            v[d] /= (double)n;
            sq += v[d] * v[d];
        }
        for (size_t d = 0; d < D; d++) /* row b of [B,D] lies before row b of [B,S,D] */
            w[b * D + d] = (float)(*rest ? v[d] / sqrt(sq) : v[d]);
    }
    want->ndim = 2;
    want->shape[1] = (int64_t)D;
    want->count = B * D;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6)
        return usage();
    char *end;
    const double tol = strtod(argv[3], &end);
    if (*end || !(tol >= 0))
        return usage();
    npy_array got, want, lens = {0};
    if (load(argv[1], &got) || load(argv[2], &want) || (argc >= 5 && load(argv[4], &lens)))
        return 2;
    if (argc == 6) {
        if (pool(&want, &lens, argv[5]))
            return usage();
        argc = 4; /* a [B,D] comparison from here on */
    }
    int ok = got.dtype == NPY_F32 && want.dtype == NPY_F32 && got.ndim == want.ndim;
    for (int i = 0; ok && i < got.ndim; i++)
        ok = got.shape[i] == want.shape[i];
    if (!ok) {
        fprintf(stderr, "npy_compare: %s and %s differ in dtype or shape\n", argv[1], argv[2]);
        return 1;
    }
    const float *g = got.data, *w = want.data;
    const size_t row = got.ndim == 3 ? (size_t)got.shape[2] : 1;
    const size_t seq = got.ndim == 3 ? (size_t)got.shape[1] : 1;
    if (argc == 5 && (got.ndim != 3 || lens.ndim != 1 || lens.shape[0] != got.shape[0] ||
                      lens.dtype == NPY_F32)) {
        fprintf(stderr, "npy_compare: lengths %s do not fit a [B,S,D] array\n", argv[4]);
        return 1;
    }
    double worst = 0.0;
    for (size_t i = 0; i < got.count; i++) {
        const size_t b = i / (seq * row), t = i / row % seq;
        if (argc == 5) {
            const long long len = lens.dtype == NPY_I64 ? ((const int64_t *)lens.data)[b]
                                                        : ((const int32_t *)lens.data)[b];
            if ((long long)t >= len) {
                if (g[i] != 0.0f) {
                    fprintf(stderr, "npy_compare: padded element [%zu][%zu][%zu] is %g, not 0\n",
                            b, t, i % row, (double)g[i]);
                    return 1;
                }
                continue;
            }
        }
        const double diff = fabs((double)g[i] - (double)w[i]);
        if (!(diff <= tol)) {
            fprintf(stderr, "npy_compare: element %zu ([%zu][%zu][%zu]) is %.8g, expected %.8g "
                    "(|diff| %.3g > %g)\n", i, b, t, i % row, (double)g[i], (double)w[i], diff,
                    tol);
            return 1;
        }
        worst = diff > worst ? diff : worst;
    }
    printf("max |diff| %.3g over %zu elements (tolerance %g)\n", worst, got.count, tol);
    npy_free(&got), npy_free(&want), npy_free(&lens);
    return 0;
}
