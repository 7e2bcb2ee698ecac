/* Attention tests: every registered kernel, alone and through the team driver, vs the oracle. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels.h"
#include "ref.h"
#include "tolerance.h"
#include "util.h"

enum { GUARD = 16 };

/* Head sizes from 1, around the 16-float vector, odd ones, and the common 64/80/96/128. */
static const int d_heads[] = {1, 3, 8, 12, 16, 20, 32, 64, 80, 96, 128};
enum { N_DHEADS = (int)(sizeof d_heads / sizeof d_heads[0]) };

/* How q and k are drawn: uniform at a magnitude, or with scores rising (falling) along the
 * keys so that every key block brings a new row maximum (or none does). */
enum pattern { RANDOM, RISING, FALLING };
static const char *const pattern_names[] = {"random", "rising", "falling"};

/* Lengths at the edges of the impl's query tile and key block, and one long sequence. */
static int edge_lengths(const tfe_attention_impl *impl, int *out)
{
    const int cand[] = {1, impl->tq - 1, impl->tq, impl->tq + 1, impl->tk - 1, impl->tk,
                        impl->tk + 1, 2 * impl->tk + 1, 301};
    int n = 0;
    for (int i = 0; i < (int)(sizeof cand / sizeof cand[0]); i++) {
        int dup = cand[i] < 1;
        for (int j = 0; j < n && !dup; j++)
            dup = out[j] == cand[i];
        if (!dup)
            out[n++] = cand[i];
    }
    return n;
}

/* One kernel call on separate q, k, v buffers of exact size (rows of dh with NaN canaries in
 * the gaps up to ld), o with canaries before the tile and in its row gaps. */
static void kernel_case(const tfe_attention_impl *impl, int nq, int nk, int dh, float mag,
                        enum pattern pat, uint64_t case_id)
{
    const size_t ld = (size_t)dh + 3, ldo = (size_t)dh + 5;
    char what[256];
    snprintf(what, sizeof what, "%s kernel nq=%d nk=%d dh=%d |q|,|k|<=%g %s case %llu",
             impl->name, nq, nk, dh, (double)mag, pattern_names[pat],
             (unsigned long long)case_id);
    tt_rng rng = tt_rng_for(case_id);
    float *q = tt_alloc((size_t)(nq - 1) * ld + dh), *k = tt_alloc((size_t)(nk - 1) * ld + dh);
    float *v = tt_alloc((size_t)(nk - 1) * ld + dh);
    tt_gaps_fill(q, nq, dh, ld), tt_gaps_fill(k, nk, dh, ld), tt_gaps_fill(v, nk, dh, ld);
    for (int i = 0; i < nq; i++)
        tt_fill(&rng, q + i * ld, (size_t)dh, -mag, mag);
    for (int j = 0; j < nk; j++) {
        if (pat == RANDOM) {
            tt_fill(&rng, k + j * ld, (size_t)dh, -mag, mag);
        } else {
            /* k_j = q_0 · ramp: scores of query 0 grow (or shrink) linearly with j. */
            float ramp = (float)(pat == RISING ? j + 1 : nk - j) / (float)nk;
            for (int d = 0; d < dh; d++)
                k[j * ld + d] = q[d] * ramp;
        }
        tt_fill(&rng, v + j * ld, (size_t)dh, -1.0f, 1.0f);
    }
    const size_t o_len = GUARD + (size_t)(nq - 1) * ldo + dh;
    float *obuf = tt_alloc(o_len), *o = obuf + GUARD;
    tt_canary_fill(obuf, o_len);
    float *scratch = tt_alloc(tfe_attention_scratch_floats(impl, dh));
    const float scale = 1.0f / sqrtf((float)dh);

    impl->kernel(nq, nk, dh, q, k, v, ld, scale, o, ldo, scratch);

    double *want = malloc(((size_t)nq * dh * 2 + (size_t)nq) * sizeof *want);
    CHECK(want != NULL, "out of memory");
    double *tol = want + (size_t)nq * dh, *smax = tol + (size_t)nq * dh;
    ref_attention(nq, nk, dh, q, k, v, ld, scale, want, smax);
    for (int i = 0; i < nq; i++)
        for (int d = 0; d < dh; d++)
            tol[(size_t)i * dh + d] = tol_attention(dh, nk, smax[i], 1.0);
    tt_check_close(what, o, ldo, want, tol, nq, dh);
    CHECK(tt_canary_check(obuf, GUARD) < 0, "%s: wrote before o", what);
    long at = tt_gaps_check(o, nq, dh, ldo);
    CHECK(at < 0, "%s: wrote o[%ld] in a row gap (ldo %zu)", what, at, ldo);
    CHECK(tt_gaps_check(q, nq, dh, ld) < 0 && tt_gaps_check(k, nk, dh, ld) < 0 &&
              tt_gaps_check(v, nk, dh, ld) < 0, "%s: wrote into q, k or v", what);
    free(want), free(scratch), free(obuf), free(v), free(k), free(q);
}

/* Every d_head, query counts 1..tq at the edges, key counts at the tile and block edges. */
static void kernel_sweep(const tfe_attention_impl *impl)
{
    int lengths[16];
    const int n_len = edge_lengths(impl, lengths);
    const int nqs[] = {1, impl->tq - 1, impl->tq};
    uint64_t id = 0;
    for (int di = 0; di < N_DHEADS; di++)
        for (int qi = 0; qi < 3; qi++)
            for (int ki = 0; ki < n_len; ki++, id++)
                if (nqs[qi] >= 1 && (qi == 0 || nqs[qi] != nqs[qi - 1]))
                    kernel_case(impl, nqs[qi], lengths[ki], d_heads[di], 1.0f, RANDOM, id);
}

/* Scores of magnitude ~100 and beyond: e^s overflows float unless the running max is
 * subtracted, and the rising pattern makes every key block rescale what came before. */
static void large_scores_sweep(const tfe_attention_impl *impl)
{
    const int nks[] = {impl->tk + 1, 3 * impl->tk + 5, 301};
    const int dhs[] = {16, 64, 80};
    uint64_t id = 100000;
    for (int di = 0; di < 3; di++)
        for (int ki = 0; ki < 3; ki++)
            for (int pat = RANDOM; pat <= FALLING; pat++, id++) {
                /* Random: scores have a spread of mag²/3 ≈ 190. Rising/falling: query 0 meets
                 * scores up to |q0|²·scale ≈ mag²/3·√dh ≈ 85..190 at the top key. */
                float mag = pat == RANDOM ? 24.0f : 8.0f;
                kernel_case(impl, impl->tq, nks[ki], dhs[di], mag, (enum pattern)pat, id);
            }
}

/* A packed multi-sequence QKV buffer laid out as src/encoder.c builds it, and the driver's
 * bookkeeping (first row of each sequence). */
typedef struct batch {
    int n, heads, dh, tokens;
    int *offsets;
    float *qkv; /* [tokens × 3D] */
} batch;

static batch batch_make(int heads, int dh, const int *lengths, int n, uint64_t case_id)
{
    batch B = {.n = n, .heads = heads, .dh = dh};
    B.offsets = malloc(((size_t)n + 1) * sizeof(int));
    CHECK(B.offsets, "out of memory");
    B.offsets[0] = 0;
    for (int b = 0; b < n; b++)
        B.offsets[b + 1] = B.offsets[b] + lengths[b];
    B.tokens = B.offsets[n];
    const size_t floats = (size_t)B.tokens * 3 * heads * dh;
    B.qkv = tt_alloc(floats);
    tt_rng rng = tt_rng_for(case_id);
    tt_fill(&rng, B.qkv, floats, -1.5f, 1.5f);
    return B;
}

static void batch_free(batch *B)
{
    free(B->offsets), free(B->qkv);
}

/* Longest sequence of a batch. */
static int batch_max_len(const batch *B)
{
    int m = 0;
    for (int b = 0; b < B->n; b++)
        m = B->offsets[b + 1] - B->offsets[b] > m ? B->offsets[b + 1] - B->offsets[b] : m;
    return m;
}

/* Runs the driver as a team of `threads`, one tid after the other (so the split is tested
 * without OpenMP), into a canary-guarded ctx; returns the guarded buffer. The scratch has
 * room to copy K and V of sequences up to kv_len long (0: the kernel's scratch only, so every
 * head reads K and V in place). */
static float *run_team_short(const tfe_attention_impl *impl, const batch *B, int threads,
                             int kv_len, const tfe_attention_impl *short_impl)
{
    const size_t D = (size_t)B->heads * B->dh, ctx_len = 2 * GUARD + (size_t)B->tokens * D;
    float *ctx = tt_alloc(ctx_len);
    tt_canary_fill(ctx, ctx_len);
    const size_t stride = kv_len > 0 ? tfe_attention_team_scratch_floats(impl, B->dh, kv_len)
                                     : tfe_attention_scratch_floats(impl, B->dh);
    float *scratch = tt_alloc((size_t)threads * stride);
    tfe_attention_args args = {.batch = B->n, .offsets = B->offsets,
                               .n_heads = B->heads, .d_head = B->dh, .qkv = B->qkv,
                               .qkv_ld = 3 * D,
                               .ctx = ctx + GUARD, .scratch = scratch,
                               .scratch_stride = stride, .short_impl = short_impl};
    for (int tid = 0; tid < threads; tid++)
        tfe_attention_team(impl, &args, tid, threads);
    free(scratch);
    return ctx;
}

static float *run_team(const tfe_attention_impl *impl, const batch *B, int threads, int kv_len)
{
    return run_team_short(impl, B, threads, kv_len, NULL);
}

/* Each sequence and head of ctx against the oracle over that sequence's own keys only. */
static void check_batch(const batch *B, const float *ctx, const char *what)
{
    const int dh = B->dh, D = B->heads * dh;
    const size_t ld = 3 * (size_t)D, ctx_len = 2 * GUARD + (size_t)B->tokens * D;
    CHECK(tt_canary_check(ctx, GUARD) < 0, "%s: wrote before ctx", what);
    CHECK(tt_canary_check(ctx + ctx_len - GUARD, GUARD) < 0, "%s: wrote after ctx", what);
    for (int b = 0; b < B->n; b++) {
        const int len = B->offsets[b + 1] - B->offsets[b];
        double *want = malloc(((size_t)len * dh * 2 + (size_t)len) * sizeof *want);
        CHECK(want != NULL, "out of memory");
        double *tol = want + (size_t)len * dh, *smax = tol + (size_t)len * dh;
        for (int h = 0; h < B->heads; h++) {
            const float *base = B->qkv + (size_t)B->offsets[b] * ld + (size_t)h * dh;
            ref_attention(len, len, dh, base, base + D, base + 2 * D, ld,
                          1.0f / sqrtf((float)dh), want, smax);
            for (int i = 0; i < len; i++)
                for (int d = 0; d < dh; d++)
                    tol[(size_t)i * dh + d] = tol_attention(dh, len, smax[i], 1.5);
            char full[384];
            snprintf(full, sizeof full, "%s: sequence %d (len %d) head %d", what, b, len, h);
            tt_check_close(full, ctx + GUARD + (size_t)B->offsets[b] * D + (size_t)h * dh,
                           (size_t)D, want, tol, len, dh);
        }
        free(want);
    }
}

/* Several heads, sequences of every edge length in one batch; teams of 1, 2 and 3 threads
 * must agree bit for bit, and so must K and V read in place, copied for every sequence, or
 * copied only for the shorter ones. */
static void team_sweep(const tfe_attention_impl *impl)
{
    int lengths[16];
    const int n_len = edge_lengths(impl, lengths);
    uint64_t id = 200000;
    for (int di = 0; di < N_DHEADS; di++, id++) {
        const int heads = d_heads[di] >= 96 ? 2 : 3;
        batch B = batch_make(heads, d_heads[di], lengths, n_len, id);
        char what[256];
        snprintf(what, sizeof what, "%s team heads=%d dh=%d %d sequences case %llu", impl->name,
                 heads, d_heads[di], n_len, (unsigned long long)id);
        const int max_len = batch_max_len(&B);
        float *one = run_team(impl, &B, 1, max_len);
        check_batch(&B, one, what);
        const size_t len = 2 * GUARD + (size_t)B.tokens * heads * d_heads[di];
        for (int t = 2; t <= 3; t++) {
            float *many = run_team(impl, &B, t, max_len);
            CHECK(memcmp(one, many, len * sizeof *one) == 0,
                  "%s: %d threads differ from 1 thread", what, t);
            free(many);
        }
        const int rooms[] = {0, max_len / 2};
        for (int r = 0; r < 2; r++) {
            float *other = run_team(impl, &B, 2, rooms[r]);
            CHECK(memcmp(one, other, len * sizeof *one) == 0,
                  "%s: K/V copied for sequences up to %d differ from all copied", what, rooms[r]);
            free(other);
        }
        free(one);
        batch_free(&B);
    }
}

/* A sequence's context rows do not depend on its neighbours: alone, in a batch, and in the
 * batch in reverse order give the same bits (the key-padding mask of DESIGN §1). */
static void independence_sweep(const tfe_attention_impl *impl)
{
    const int lengths[] = {impl->tk + 3, 1, impl->tq + 1, 2 * impl->tk, 5};
    const int n = (int)(sizeof lengths / sizeof lengths[0]), heads = 2, dh = 20, D = heads * dh;
    int reversed[sizeof lengths / sizeof lengths[0]];
    for (int b = 0; b < n; b++)
        reversed[b] = lengths[n - 1 - b];
    batch all = batch_make(heads, dh, lengths, n, 300000);
    batch rev = batch_make(heads, dh, reversed, n, 300001);
    /* Same token rows, sequence order reversed. */
    for (int b = 0; b < n; b++)
        memcpy(rev.qkv + (size_t)rev.offsets[n - 1 - b] * 3 * D,
               all.qkv + (size_t)all.offsets[b] * 3 * D,
               (size_t)lengths[b] * 3 * D * sizeof(float));
    float *ctx_all = run_team(impl, &all, 2, batch_max_len(&all));
    float *ctx_rev = run_team(impl, &rev, 2, batch_max_len(&rev));
    check_batch(&all, ctx_all, impl->name);
    for (int b = 0; b < n; b++) {
        const size_t rows = (size_t)lengths[b] * D * sizeof(float);
        batch one = batch_make(heads, dh, &lengths[b], 1, 300002);
        memcpy(one.qkv, all.qkv + (size_t)all.offsets[b] * 3 * D, rows * 3);
        float *ctx_one = run_team(impl, &one, 1, lengths[b]);
        const float *in_batch = ctx_all + GUARD + (size_t)all.offsets[b] * D;
        CHECK(memcmp(ctx_one + GUARD, in_batch, rows) == 0,
              "%s: sequence %d (len %d) differs alone and in a batch", impl->name, b,
              lengths[b]);
        CHECK(memcmp(ctx_rev + GUARD + (size_t)rev.offsets[n - 1 - b] * D, in_batch, rows) == 0,
              "%s: sequence %d (len %d) differs when the batch order is reversed", impl->name,
              b, lengths[b]);
        free(ctx_one);
        batch_free(&one);
    }
    free(ctx_all), free(ctx_rev);
    batch_free(&all), batch_free(&rev);
}

/* The kernel an impl with its own K/V layout is measured against and hands its short
 * sequences to: the best supported impl without one whose query tile is at least impl's (it
 * runs impl's tiles). */
static const tfe_attention_impl *fma_partner(const tfe_attention_impl *impl)
{
    int n;
    const tfe_attention_impl *all = tfe_attention_impls(&n);
    for (int i = 0; i < n; i++)
        if (!all[i].prep && all[i].tq >= impl->tq && tfe_isa_supported(all[i].isa))
            return &all[i];
    CHECK(0, "%s: no FMA attention with query tiles of %d or more", impl->name, impl->tq);
    return NULL;
}

/* Impls with their own K/V layout hand sequences shorter than prep->min_len to the driver's
 * short_impl: those rows must be the short impl's bits, the others the impl's own, all within
 * the oracle's tolerance, for any team size. */
static void short_sweep(const tfe_attention_impl *impl)
{
    if (!impl->prep)
        return;
    const tfe_attention_impl *fma = fma_partner(impl);
    const int m = impl->prep->min_len;
    const int lengths[] = {1, m - 1, m, m + 1, 2 * m + 3, m / 2};
    const int nb = (int)(sizeof lengths / sizeof lengths[0]), heads = 2, dh = 64;
    batch B = batch_make(heads, dh, lengths, nb, 400000);
    const int max_len = batch_max_len(&B);
    float *mixed = run_team_short(impl, &B, 2, max_len, fma);
    char what[256];
    snprintf(what, sizeof what, "%s with %s below %d keys", impl->name, fma->name, m);
    check_batch(&B, mixed, what);
    float *own = run_team(impl, &B, 1, max_len), *other = run_team(fma, &B, 3, max_len);
    float *mixed3 = run_team_short(impl, &B, 3, max_len, fma);
    const size_t D = (size_t)heads * dh;
    for (int b = 0; b < nb; b++) {
        const size_t at = GUARD + (size_t)B.offsets[b] * D, bytes = lengths[b] * D * sizeof(float);
        const float *want = lengths[b] < m ? other : own;
        CHECK(memcmp(mixed + at, want + at, bytes) == 0, "%s: sequence %d (len %d) is not %s's",
              what, b, lengths[b], lengths[b] < m ? fma->name : impl->name);
        CHECK(memcmp(mixed3 + at, mixed + at, bytes) == 0, "%s: 3 threads differ from 2", what);
    }
    free(mixed), free(own), free(other), free(mixed3);
    batch_free(&B);
}

/* Worst |o - oracle| of one kernel call on random q, k (|x| <= mag) and v (|x| <= 1). */
static double worst_error(const tfe_attention_impl *impl, int nq, int nk, int dh, float mag,
                          uint64_t case_id)
{
    tt_rng rng = tt_rng_for(case_id);
    float *q = tt_alloc((size_t)nq * dh), *k = tt_alloc((size_t)nk * dh);
    float *v = tt_alloc((size_t)nk * dh), *o = tt_alloc((size_t)nq * dh);
    tt_fill(&rng, q, (size_t)nq * dh, -mag, mag);
    tt_fill(&rng, k, (size_t)nk * dh, -mag, mag);
    tt_fill(&rng, v, (size_t)nk * dh, -1.0f, 1.0f);
    float *scratch = tt_alloc(tfe_attention_scratch_floats(impl, dh));
    const float scale = 1.0f / sqrtf((float)dh);
    impl->kernel(nq, nk, dh, q, k, v, (size_t)dh, scale, o, (size_t)dh, scratch);
    double *want = malloc((size_t)nq * dh * sizeof *want), worst = 0.0;
    CHECK(want != NULL, "out of memory");
    ref_attention(nq, nk, dh, q, k, v, (size_t)dh, scale, want, NULL);
    for (size_t i = 0; i < (size_t)nq * dh; i++) {
        const double err = fabs((double)o[i] - want[i]);
        if (!(err <= worst)) /* a NaN result counts as an infinite error */
            worst = isnan(err) ? INFINITY : err;
    }
    free(want), free(scratch), free(o), free(v), free(k), free(q);
    return worst;
}

/* A kernel with its own K/V layout (the tile unit's bf16 terms) is as accurate as an FMA
 * kernel on the same inputs: its worst error stays within 1.5x of the FMA kernel's. Dropping
 * even the smallest of its six products per fp32 product passes the tolerance of the other
 * tests, but not this. */
static void accuracy_sweep(const tfe_attention_impl *impl)
{
    if (!impl->prep)
        return;
    const tfe_attention_impl *fma = fma_partner(impl);
    const struct {
        int dh, nk;
        float mag;
    } cases[] = {{64, 301, 1.0f}, {64, 301, 4.0f}, {32, 130, 4.0f}, {128, 77, 2.0f}};
    for (int ci = 0; ci < 4; ci++) {
        double err[2];
        for (int w = 0; w < 2; w++)
            err[w] = worst_error(w ? fma : impl, impl->tq, cases[ci].nk, cases[ci].dh,
                                 cases[ci].mag, 500000 + (uint64_t)ci);
        CHECK(err[0] <= 1.5 * err[1], "%s: worst error %.3g (d_head %d, %d keys, |q|,|k| <= %g), "
              "%s has %.3g", impl->name, err[0], cases[ci].dh, cases[ci].nk,
              (double)cases[ci].mag, fma->name, err[1]);
        fprintf(stderr, "%s d_head %d, %d keys, |q|,|k| <= %g: worst error %.3g (%s: %.3g)\n",
                impl->name, cases[ci].dh, cases[ci].nk, (double)cases[ci].mag, err[0],
                fma->name, err[1]);
    }
}

static void for_isa(tfe_isa isa, void (*body)(const tfe_attention_impl *))
{
    tt_require_isa(isa);
    int n, ran = 0;
    const tfe_attention_impl *impls = tfe_attention_impls(&n);
    for (int i = 0; i < n; i++)
        if (impls[i].isa == isa) {
            body(&impls[i]);
            ran++;
        }
    if (!ran)
        SKIP("no %s attention impl in the registry", tfe_isa_name(isa));
}

TFE_TEST(attention, kernel_scalar) { for_isa(TFE_ISA_SCALAR, kernel_sweep); }
TFE_TEST(attention, kernel_avx2) { for_isa(TFE_ISA_AVX2, kernel_sweep); }
TFE_TEST(attention, kernel_avx512) { for_isa(TFE_ISA_AVX512, kernel_sweep); }
TFE_TEST(attention, kernel_amx) { for_isa(TFE_ISA_AMX, kernel_sweep); }
TFE_TEST(attention, kernel_neon) { for_isa(TFE_ISA_NEON, kernel_sweep); }

TFE_TEST(attention, large_scores_scalar) { for_isa(TFE_ISA_SCALAR, large_scores_sweep); }
TFE_TEST(attention, large_scores_avx2) { for_isa(TFE_ISA_AVX2, large_scores_sweep); }
TFE_TEST(attention, large_scores_avx512) { for_isa(TFE_ISA_AVX512, large_scores_sweep); }
TFE_TEST(attention, large_scores_amx) { for_isa(TFE_ISA_AMX, large_scores_sweep); }
TFE_TEST(attention, large_scores_neon) { for_isa(TFE_ISA_NEON, large_scores_sweep); }

TFE_TEST(attention, team_scalar) { for_isa(TFE_ISA_SCALAR, team_sweep); }
TFE_TEST(attention, team_avx2) { for_isa(TFE_ISA_AVX2, team_sweep); }
TFE_TEST(attention, team_avx512) { for_isa(TFE_ISA_AVX512, team_sweep); }
TFE_TEST(attention, team_amx) { for_isa(TFE_ISA_AMX, team_sweep); }
TFE_TEST(attention, team_neon) { for_isa(TFE_ISA_NEON, team_sweep); }

TFE_TEST(attention, independence_scalar) { for_isa(TFE_ISA_SCALAR, independence_sweep); }
TFE_TEST(attention, independence_avx2) { for_isa(TFE_ISA_AVX2, independence_sweep); }
TFE_TEST(attention, independence_avx512) { for_isa(TFE_ISA_AVX512, independence_sweep); }
TFE_TEST(attention, independence_amx) { for_isa(TFE_ISA_AMX, independence_sweep); }
TFE_TEST(attention, independence_neon) { for_isa(TFE_ISA_NEON, independence_sweep); }

/* Impls with their own K/V layout (the tile unit's) against the FMA kernel. */
TFE_TEST(attention, short_sequences_amx) { for_isa(TFE_ISA_AMX, short_sweep); }
TFE_TEST(attention, accuracy_amx) { for_isa(TFE_ISA_AMX, accuracy_sweep); }

/* Every impl is reachable by the per-ISA tests, named <variant>__<isa>, and selection picks
 * the first allowed entry; scalar is last. */
TFE_TEST(attention, registry)
{
    int n;
    const tfe_attention_impl *impls = tfe_attention_impls(&n);
    CHECK(n >= 1 && impls[n - 1].isa == TFE_ISA_SCALAR, "the attention list must end with scalar");
    for (int i = 0; i < n; i++) {
        const tfe_attention_impl *a = &impls[i];
        CHECK(a->isa >= TFE_ISA_SCALAR && a->isa < TFE_ISA_COUNT, "%s: bad isa %d", a->name,
              (int)a->isa);
        const char *suffix = strstr(a->name, "__");
        CHECK(suffix && strcmp(suffix + 2, tfe_isa_name(a->isa)) == 0,
              "%s: name must end in __%s", a->name, tfe_isa_name(a->isa));
        CHECK(a->tq >= 1 && a->tk >= 1, "%s: tq %d tk %d", a->name, a->tq, a->tk);
        CHECK(a->kernel != NULL, "%s: no kernel", a->name);
        /* The size hooks live in the ISA's file, compiled for that ISA: only callable where
         * the host runs it. */
        if (tfe_isa_supported(a->isa))
            CHECK(tfe_attention_scratch_floats(a, 16) % 16 == 0,
                  "%s: scratch size must keep per-thread slices 64-byte aligned", a->name);
    }
    for (int cap = TFE_ISA_AUTO; cap < TFE_ISA_COUNT; cap++) {
        tfe_kernels k;
        tfe_kernels_select((tfe_isa)cap, &k);
        const tfe_attention_impl *first = NULL;
        for (int i = 0; i < n && !first; i++)
            if (tfe_isa_allowed(impls[i].isa, (tfe_isa)cap))
                first = &impls[i];
        CHECK(k.attention == first, "cap %s: selected %s, expected %s",
              tfe_isa_name((tfe_isa)cap), k.attention ? k.attention->name : "NULL",
              first ? first->name : "NULL");
    }
}
