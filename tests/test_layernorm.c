/* LayerNorm tests: every registered kernel vs the oracle, with and without the residual,
 * in place over either input, and on rows whose mean dwarfs their spread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels.h"
#include "ref.h"
#include "tolerance.h"
#include "util.h"

enum { GUARD = 16 };

/* Where y goes: its own buffer, over x, or over r. */
enum alias { OWN, OVER_X, OVER_R };
static const char *const alias_names[] = {"y separate", "y == x", "y == r"};

/* One row: z = x + r ~ mean + U(-spread, spread), split between x and r when r is used. */
static void ln_case(const tfe_layernorm_impl *impl, int n, int with_r, enum alias alias,
                    float mean, float spread, float eps, uint64_t case_id)
{
    char what[256];
    snprintf(what, sizeof what, "%s n=%d %s %s mean=%g spread=%g eps=%g case %llu", impl->name, n,
             with_r ? "x+r" : "x", alias_names[alias], (double)mean, (double)spread, (double)eps,
             (unsigned long long)case_id);
    tt_rng rng = tt_rng_for(case_id);
    float *x = tt_alloc((size_t)n), *r = with_r ? tt_alloc((size_t)n) : NULL;
    float *gamma = tt_alloc((size_t)n), *beta = tt_alloc((size_t)n);
    for (int i = 0; i < n; i++) {
        float z = mean + tt_uniform(&rng, -spread, spread);
        x[i] = with_r ? tt_uniform(&rng, -spread, spread) : z;
        if (r)
            r[i] = z - x[i];
    }
    tt_fill(&rng, gamma, (size_t)n, 0.5f, 1.5f);
    tt_fill(&rng, beta, (size_t)n, -0.5f, 0.5f);
    float *x0 = tt_alloc((size_t)n), *r0 = tt_alloc((size_t)n);
    memcpy(x0, x, (size_t)n * sizeof *x);
    if (r)
        memcpy(r0, r, (size_t)n * sizeof *r);
    /* A separate y ends exactly at the row (ASan), with canaries before it. */
    float *ybuf = alias == OWN ? tt_alloc(GUARD + (size_t)n) : NULL;
    if (ybuf)
        tt_canary_fill(ybuf, GUARD + (size_t)n);
    float *y = alias == OWN ? ybuf + GUARD : alias == OVER_X ? x : r;

    impl->kernel(n, x, r, gamma, beta, eps, y);

    double *want = malloc(2 * (size_t)n * sizeof *want), *tol = want + n;
    CHECK(want != NULL, "out of memory");
    double mu, denom;
    ref_layernorm(n, x0, r ? r0 : NULL, gamma, beta, eps, want, &mu, &denom);
    for (int i = 0; i < n; i++)
        tol[i] = tol_layernorm(n, mu, denom, gamma[i], beta[i], (want[i] - beta[i]) / gamma[i]);
    tt_check_close(what, y, (size_t)n, want, tol, 1, n);
    if (ybuf)
        CHECK(tt_canary_check(ybuf, GUARD) < 0, "%s: wrote before y", what);
    if (y != x)
        CHECK(memcmp(x, x0, (size_t)n * sizeof *x) == 0, "%s: x was modified", what);
    if (r && y != r)
        CHECK(memcmp(r, r0, (size_t)n * sizeof *r) == 0, "%s: r was modified", what);
    free(want), free(ybuf), free(r0), free(x0), free(beta), free(gamma), free(r), free(x);
}

static const int widths[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 384, 768, 1000};
enum { N_WIDTHS = (int)(sizeof widths / sizeof widths[0]) };

/* Widths around every vector length; with and without r; y separate or over x or r. */
static void widths_sweep(const tfe_layernorm_impl *impl)
{
    uint64_t id = 0;
    for (int wi = 0; wi < N_WIDTHS; wi++)
        for (int with_r = 0; with_r <= 1; with_r++)
            for (int alias = OWN; alias <= OVER_R; alias++, id++)
                if (alias != OVER_R || with_r)
                    ln_case(impl, widths[wi], with_r, (enum alias)alias, 0.3f, 2.0f, 1e-5f, id);
}

/* Rows with mean 1e4 and spread 10: a one-pass E[z²] - E[z]² loses every digit of the
 * variance (1e8 against 33); the contract's two passes around the mean keep them. A constant
 * row (zero variance) must give beta. */
static void large_mean_sweep(const tfe_layernorm_impl *impl)
{
    uint64_t id = 1000;
    for (int wi = 0; wi < N_WIDTHS; wi++)
        for (int with_r = 0; with_r <= 1; with_r++, id += 2) {
            ln_case(impl, widths[wi], with_r, OWN, 1e4f, 10.0f, 1e-12f, id);
            ln_case(impl, widths[wi], with_r, with_r ? OVER_R : OVER_X, 0.5f, 0.0f, 1e-5f,
                    id + 1);
        }
}

static void for_isa(tfe_isa isa, void (*body)(const tfe_layernorm_impl *))
{
    tt_require_isa(isa);
    int n, ran = 0;
    const tfe_layernorm_impl *impls = tfe_layernorm_impls(&n);
    for (int i = 0; i < n; i++)
        if (impls[i].isa == isa) {
            body(&impls[i]);
            ran++;
        }
    if (!ran)
        SKIP("no %s layernorm impl in the registry", tfe_isa_name(isa));
}

TFE_TEST(layernorm, widths_scalar) { for_isa(TFE_ISA_SCALAR, widths_sweep); }
TFE_TEST(layernorm, widths_avx2) { for_isa(TFE_ISA_AVX2, widths_sweep); }
TFE_TEST(layernorm, widths_avx512) { for_isa(TFE_ISA_AVX512, widths_sweep); }
TFE_TEST(layernorm, widths_neon) { for_isa(TFE_ISA_NEON, widths_sweep); }

TFE_TEST(layernorm, large_mean_scalar) { for_isa(TFE_ISA_SCALAR, large_mean_sweep); }
TFE_TEST(layernorm, large_mean_avx2) { for_isa(TFE_ISA_AVX2, large_mean_sweep); }
TFE_TEST(layernorm, large_mean_avx512) { for_isa(TFE_ISA_AVX512, large_mean_sweep); }
TFE_TEST(layernorm, large_mean_neon) { for_isa(TFE_ISA_NEON, large_mean_sweep); }

/* Every impl is reachable by the per-ISA tests, named <variant>__<isa>, and selection picks
 * the first allowed entry; scalar is last. */
TFE_TEST(layernorm, registry)
{
    int n;
    const tfe_layernorm_impl *impls = tfe_layernorm_impls(&n);
    CHECK(n >= 1 && impls[n - 1].isa == TFE_ISA_SCALAR, "the layernorm list must end with scalar");
    for (int i = 0; i < n; i++) {
        const tfe_layernorm_impl *l = &impls[i];
        CHECK(l->isa >= TFE_ISA_SCALAR && l->isa < TFE_ISA_COUNT, "%s: bad isa %d", l->name,
              (int)l->isa);
        const char *suffix = strstr(l->name, "__");
        CHECK(suffix && strcmp(suffix + 2, tfe_isa_name(l->isa)) == 0,
              "%s: name must end in __%s", l->name, tfe_isa_name(l->isa));
        CHECK(l->kernel != NULL, "%s: no kernel", l->name);
    }
    for (int cap = TFE_ISA_AUTO; cap < TFE_ISA_COUNT; cap++) {
        tfe_kernels k;
        tfe_kernels_select((tfe_isa)cap, &k);
        const tfe_layernorm_impl *first = NULL;
        for (int i = 0; i < n && !first; i++)
            if (tfe_isa_allowed(impls[i].isa, (tfe_isa)cap))
                first = &impls[i];
        CHECK(k.layernorm == first, "cap %s: selected %s, expected %s",
              tfe_isa_name((tfe_isa)cap), k.layernorm ? k.layernorm->name : "NULL",
              first ? first->name : "NULL");
    }
}
