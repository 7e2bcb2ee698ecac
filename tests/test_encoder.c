/* End-to-end tests through the public API: the PyTorch fixtures under every ISA, packed
 * output, bitwise determinism over threads and batch composition, workspace growth. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli/npy.h"
#include "cpu.h"
#include "kernels.h"
#include "tfenc.h"
#include "tolerance.h"
#include "util.h"

/* One fixture case: inputs and PyTorch's float64 output, rounded to float32. */
typedef struct fixture {
    char name[64], dir[4096];
    int batch, seq, d;
    int32_t *ids, *lengths;
    float *expected; /* [batch][seq][d], padded rows 0 */
} fixture;

static int32_t *to_i32(const npy_array *a, const char *path)
{
    CHECK(a->dtype == NPY_I64 || a->dtype == NPY_I32, "%s: expected an integer array", path);
    int32_t *out = malloc(a->count * sizeof *out);
    CHECK(out != NULL, "out of memory");
    for (size_t i = 0; i < a->count; i++)
        out[i] = a->dtype == NPY_I64 ? (int32_t)((const int64_t *)a->data)[i]
                                     : ((const int32_t *)a->data)[i];
    return out;
}

static fixture *fixture_load(const char *name)
{
    fixture *f = calloc(1, sizeof *f);
    CHECK(f != NULL, "out of memory");
    snprintf(f->name, sizeof f->name, "%s", name);
    tt_path(f->dir, sizeof f->dir, tt_fixtures(), name);
    char path[4200];
    npy_array ids, lens, exp;
    tfe_error err = {0};
    tt_path(path, sizeof path, f->dir, "ids.npy");
    CHECK(npy_read(path, &ids, &err) == TFE_OK && ids.ndim == 2, "%s: %s", path, err.message);
    f->batch = (int)ids.shape[0], f->seq = (int)ids.shape[1];
    f->ids = to_i32(&ids, path);
    npy_free(&ids);
    tt_path(path, sizeof path, f->dir, "lengths.npy");
    CHECK(npy_read(path, &lens, &err) == TFE_OK && lens.ndim == 1 && lens.shape[0] == f->batch,
          "%s: %s", path, err.message);
    f->lengths = to_i32(&lens, path);
    npy_free(&lens);
    tt_path(path, sizeof path, f->dir, "expected.npy");
    CHECK(npy_read(path, &exp, &err) == TFE_OK && exp.dtype == NPY_F32 && exp.ndim == 3 &&
              exp.shape[0] == f->batch && exp.shape[1] == f->seq,
          "%s: %s", path, err.message);
    f->d = (int)exp.shape[2];
    f->expected = exp.data;
    return f;
}

static void fixture_free(fixture *f)
{
    free(f->ids), free(f->lengths), free(f->expected), free(f);
}

static int by_name(const void *a, const void *b) { return strcmp(a, b); }

/* The fixture cases: every directory under the fixture root that has an expected.npy. */
static int fixture_names(char names[][64], int cap)
{
    DIR *d = opendir(tt_fixtures());
    CHECK(d != NULL, "cannot open the fixture directory %s", tt_fixtures());
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        char dir[4096], path[4200];
        if (e->d_name[0] == '.' || strlen(e->d_name) >= 64)
            continue;
        tt_path(dir, sizeof dir, tt_fixtures(), e->d_name);
        tt_path(path, sizeof path, dir, "expected.npy");
        FILE *probe = fopen(path, "rb");
        if (probe) {
            fclose(probe);
            snprintf(names[n++], 64, "%s", e->d_name);
        }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], by_name);
    CHECK(n >= 1, "no fixture under %s", tt_fixtures());
    return n;
}

static tfe_model *load(const char *dir, tfe_isa isa)
{
    tfe_model_options opts = {.isa = isa};
    tfe_model *m = NULL;
    tfe_error err = {0};
    tfe_status st = tfe_model_load(dir, &opts, &m, &err);
    CHECK(st == TFE_OK && m, "loading %s: %s (%s)", dir, err.message, tfe_strerror(st));
    return m;
}

static tfe_session *session_sized(const tfe_model *m, int threads, int max_batch, int max_seq)
{
    tfe_session_options so = {.threads = threads, .max_batch = max_batch, .max_seq = max_seq};
    tfe_session *s = NULL;
    tfe_error err = {0};
    CHECK(tfe_session_create(m, &so, &s, &err) == TFE_OK && s, "session: %s", err.message);
    return s;
}

static tfe_session *session(const tfe_model *m, int threads)
{
    return session_sized(m, threads, 1, 8);
}

/* Sessions of both sizes: on a tile-unit (AMX) model, a session sized for few tokens runs the
 * FMA GEMM and a large one the tile unit's (tfe_session_gemm); elsewhere both are the same. */
static const char *const SIZES[2] = {"small session", "large session"};
static tfe_session *session_of_size(const tfe_model *m, int threads, int large)
{
    return large ? session_sized(m, threads, 8, 64) : session(m, threads);
}

/* Encodes into a fresh NaN-filled buffer (so an unwritten row cannot pass) and returns it. */
static float *encode(tfe_session *s, const int32_t *ids, const int32_t *lengths, int batch,
                     int seq, int d, int packed)
{
    size_t rows = (size_t)batch * seq;
    if (packed) {
        rows = 0;
        for (int b = 0; b < batch; b++)
            rows += (size_t)(lengths ? lengths[b] : seq);
    }
    float *out = malloc(rows * d * sizeof *out);
    CHECK(out != NULL, "out of memory");
    for (size_t i = 0; i < rows * d; i++)
        out[i] = NAN;
    tfe_error err = {0};
    tfe_status st = packed ? tfe_encode_packed(s, ids, lengths, batch, seq, out, &err)
                           : tfe_encode(s, ids, lengths, batch, seq, out, &err);
    CHECK(st == TFE_OK, "encode (batch %d, seq %d): %s", batch, seq, err.message);
    return out;
}

/* Real rows within TOL_ENCODER of PyTorch, padded rows exactly zero. */
static void check_fixture_output(const fixture *f, const float *out, const char *what)
{
    for (int b = 0; b < f->batch; b++)
        for (int t = 0; t < f->seq; t++)
            for (int j = 0; j < f->d; j++) {
                size_t i = ((size_t)b * f->seq + t) * f->d + j;
                if (t >= f->lengths[b]) {
                    CHECK(out[i] == 0.0f, "%s: padded out[%d][%d][%d] = %g, must be 0", what, b,
                          t, j, (double)out[i]);
                } else {
                    double diff = fabs((double)out[i] - (double)f->expected[i]);
                    CHECK(diff <= TOL_ENCODER,
                          "%s: out[%d][%d][%d] = %.7g, expected %.7g (|diff| %.3g > %g)", what,
                          b, t, j, (double)out[i], (double)f->expected[i], diff, TOL_ENCODER);
                }
            }
}

enum { MAX_FIXTURES = 64 };

/* Every fixture with the ISA capped at `isa`, on 1 and 2 threads. */
static void fixtures_under(tfe_isa isa)
{
    tt_require_isa(isa);
    char names[MAX_FIXTURES][64];
    const int n = fixture_names(names, MAX_FIXTURES);
    for (int i = 0; i < n; i++) {
        fixture *f = fixture_load(names[i]);
        tfe_model *m = load(f->dir, isa);
        CHECK(tfe_model_isa(m) == isa, "%s: asked for %s, model runs %s", f->name,
              tfe_isa_name(isa), tfe_isa_name(tfe_model_isa(m)));
        CHECK(tfe_model_config(m)->d_model == f->d, "%s: d_model %d, expected.npy has %d",
              f->name, tfe_model_config(m)->d_model, f->d);
        for (int size = 0; size < 2; size++)
            for (int threads = 1; threads <= 2; threads++) {
                tfe_session *s = session_of_size(m, threads, size);
                char what[256];
                snprintf(what, sizeof what, "fixture %s, isa %s, %s (gemm %s, attention %s, "
                         "layernorm %s), %d threads", f->name, tfe_isa_name(isa), SIZES[size],
                         tfe_session_gemm(s), tfe_model_kernel(m, "attention"),
                         tfe_model_kernel(m, "layernorm"), threads);
                float *out = encode(s, f->ids, f->lengths, f->batch, f->seq, f->d, 0);
                check_fixture_output(f, out, what);
                free(out);
                tfe_session_free(s);
            }
        tfe_model_free(m);
        fixture_free(f);
    }
}

TFE_TEST(encoder, fixtures_scalar) { fixtures_under(TFE_ISA_SCALAR); }
TFE_TEST(encoder, fixtures_avx2) { fixtures_under(TFE_ISA_AVX2); }
TFE_TEST(encoder, fixtures_avx512) { fixtures_under(TFE_ISA_AVX512); }
TFE_TEST(encoder, fixtures_neon) { fixtures_under(TFE_ISA_NEON); }
TFE_TEST(encoder, fixtures_amx) { fixtures_under(TFE_ISA_AMX); }

/* A small random model (odd sizes, pre-LN, tanh GELU) for the tests that need no oracle; its
 * positions reach past the 384 tokens from which attention runs on the tile unit. */
static tfe_model *random_model(uint64_t seed, tfe_isa isa)
{
    tfe_config c = {.vocab_size = 37, .d_model = 60, .n_heads = 3, .d_ff = 100, .n_layers = 2,
                    .max_positions = 420, .positional = TFE_POS_LEARNED,
                    .activation = TFE_ACT_GELU_TANH, .norm_first = 1, .embed_scale = 1,
                    .final_norm = 1, .layer_norm_eps = 1e-5f};
    tfe_model_options opts = {.isa = isa};
    tfe_model *m = NULL;
    tfe_error err = {0};
    CHECK(tfe_model_create_random(&c, seed, &opts, &m, &err) == TFE_OK && m,
          "tfe_model_create_random: %s", err.message);
    return m;
}

/* Token ids for `batch` sequences of `seq`, drawn from the test seed. */
static int32_t *random_ids(int batch, int seq, int vocab, uint64_t case_id)
{
    int32_t *ids = malloc((size_t)batch * seq * sizeof *ids);
    CHECK(ids != NULL, "out of memory");
    tt_rng rng = tt_rng_for(case_id);
    for (size_t i = 0; i < (size_t)batch * seq; i++)
        ids[i] = (int32_t)tt_uniform(&rng, 0.0f, (float)vocab - 0.01f);
    return ids;
}

/* tfe_encode_packed writes exactly the real rows of tfe_encode, in order. */
TFE_TEST(encoder, packed_matches_padded)
{
    char names[MAX_FIXTURES][64];
    const int n = fixture_names(names, MAX_FIXTURES);
    for (int i = 0; i < n; i++) {
        fixture *f = fixture_load(names[i]);
        tfe_model *m = load(f->dir, TFE_ISA_AUTO);
        tfe_session *s = session(m, 2);
        float *padded = encode(s, f->ids, f->lengths, f->batch, f->seq, f->d, 0);
        float *packed = encode(s, f->ids, f->lengths, f->batch, f->seq, f->d, 1);
        size_t row = 0;
        for (int b = 0; b < f->batch; b++)
            for (int t = 0; t < f->lengths[b]; t++, row++)
                CHECK(memcmp(packed + row * f->d, padded + ((size_t)b * f->seq + t) * f->d,
                             (size_t)f->d * sizeof(float)) == 0,
                      "fixture %s: packed row %zu differs from out[%d][%d]", f->name, row, b, t);
        free(packed), free(padded);
        tfe_session_free(s);
        tfe_model_free(m);
        fixture_free(f);
    }
}

/* The same call on 1, 2 and 3 threads gives the same bits (DESIGN §4). */
static void check_threads(tfe_model *m, const int32_t *ids, const int32_t *lengths, int batch,
                          int seq, const char *what)
{
    const int d = tfe_model_config(m)->d_model;
    for (int size = 0; size < 2; size++) {
        float *ref = NULL;
        static const int teams[] = {1, 2, 3, 8}; /* 8: a big team splits rows sooner */
        for (int i = 0; i < (int)(sizeof teams / sizeof *teams); i++) {
            const int threads = teams[i];
            tfe_session *s = session_of_size(m, threads, size);
            CHECK(tfe_session_threads(s) == threads, "%s: session has %d threads, asked for %d",
                  what, tfe_session_threads(s), threads);
            float *out = encode(s, ids, lengths, batch, seq, d, 0);
            const char *gemm = tfe_session_gemm(s);
            tfe_session_free(s);
            if (!ref) {
                ref = out;
                continue;
            }
            CHECK(memcmp(ref, out, (size_t)batch * seq * d * sizeof *out) == 0,
                  "%s, %s (gemm %s): %d threads differ from 1 thread", what, SIZES[size], gemm,
                  threads);
            free(out);
        }
        free(ref);
    }
}

TFE_TEST(encoder, threads_bitwise)
{
    char names[MAX_FIXTURES][64];
    const int n = fixture_names(names, MAX_FIXTURES);
    for (int i = 0; i < n; i++) {
        fixture *f = fixture_load(names[i]);
        tfe_model *m = load(f->dir, TFE_ISA_AUTO);
        check_threads(m, f->ids, f->lengths, f->batch, f->seq, f->name);
        tfe_model_free(m);
        fixture_free(f);
    }
    tfe_model *m = random_model(7, TFE_ISA_AUTO);
    const int32_t lengths[] = {300, 1, 65, 17};
    int32_t *ids = random_ids(4, 300, 37, 10);
    check_threads(m, ids, lengths, 4, 300, "random model, lengths 300/1/65/17");
    check_threads(m, ids, NULL, 1, 1, "random model, one token");
    free(ids);
    tfe_model_free(m);
}

/* A sequence's rows are the same bits alone (unpadded), inside a batch with sequences of
 * other lengths, and in that batch reversed; padded rows are zero. */
TFE_TEST(encoder, batch_independence)
{
    tfe_model *m = random_model(8, TFE_ISA_AUTO);
    const int d = tfe_model_config(m)->d_model, seq = 140, batch = 5;
    const int32_t lengths[] = {140, 9, 1, 64, 65};
    int32_t reversed_len[5], *ids = random_ids(batch, seq, 37, 11);
    int32_t *reversed_ids = malloc((size_t)batch * seq * sizeof *ids);
    CHECK(reversed_ids != NULL, "out of memory");
    for (int b = 0; b < batch; b++) {
        reversed_len[b] = lengths[batch - 1 - b];
        memcpy(reversed_ids + (size_t)b * seq, ids + (size_t)(batch - 1 - b) * seq,
               (size_t)seq * sizeof *ids);
    }
    for (int size = 0; size < 2; size++) {
        tfe_session *s = session_of_size(m, 2, size);
        float *all = encode(s, ids, lengths, batch, seq, d, 0);
        float *rev = encode(s, reversed_ids, reversed_len, batch, seq, d, 0);
        for (int b = 0; b < batch; b++) {
            float *alone = encode(s, ids + (size_t)b * seq, NULL, 1, lengths[b], d, 0);
            const size_t bytes = (size_t)lengths[b] * d * sizeof(float);
            const float *in_batch = all + (size_t)b * seq * d;
            CHECK(memcmp(alone, in_batch, bytes) == 0,
                  "%s (gemm %s), sequence %d (length %d): alone and in a batch differ",
                  SIZES[size], tfe_session_gemm(s), b, lengths[b]);
            CHECK(memcmp(rev + (size_t)(batch - 1 - b) * seq * d, in_batch, bytes) == 0,
                  "%s, sequence %d (length %d): differs when the batch order is reversed",
                  SIZES[size], b, lengths[b]);
            for (size_t i = (size_t)lengths[b] * d; i < (size_t)seq * d; i++)
                CHECK(in_batch[i] == 0.0f, "sequence %d: padded element %zu is %g", b, i,
                      (double)in_batch[i]);
            for (size_t i = 0; i < (size_t)lengths[b] * d; i++)
                CHECK(isfinite(in_batch[i]), "sequence %d: element %zu is %g", b, i,
                      (double)in_batch[i]);
            free(alone);
        }
        free(rev), free(all);
        tfe_session_free(s);
    }
    free(reversed_ids), free(ids);
    tfe_model_free(m);
}

/* Pools into a fresh NaN-filled [batch][d] buffer and returns it. */
static float *encode_pooled(tfe_session *s, const int32_t *ids, const int32_t *lengths,
                            int batch, int seq, int d, tfe_pooling pooling, int normalize)
{
    float *out = malloc((size_t)batch * d * sizeof *out);
    CHECK(out != NULL, "out of memory");
    for (size_t i = 0; i < (size_t)batch * d; i++)
        out[i] = NAN;
    tfe_error err = {0};
    CHECK(tfe_encode_pooled(s, ids, lengths, batch, seq, pooling, normalize, out, &err) ==
              TFE_OK,
          "encode_pooled (pooling %d, normalize %d): %s", (int)pooling, normalize, err.message);
    return out;
}

/* Sentence embeddings: tfe_encode_pooled against the pooled hidden states of tfe_encode
 * (mean over the real tokens only, or the first token; optionally unit L2 norm), the same bits
 * on 1, 2 and 3 threads and for a sequence alone or in the batch; bad pooling is an error. */
TFE_TEST(encoder, pooled)
{
    tfe_model *m = random_model(9, TFE_ISA_AUTO);
    const int d = tfe_model_config(m)->d_model, seq = 300, batch = 4;
    const int32_t lengths[] = {300, 1, 65, 17};
    int32_t *ids = random_ids(batch, seq, 37, 12);
    double *want = malloc((size_t)batch * d * sizeof *want);
    CHECK(want != NULL, "out of memory");
    for (int size = 0; size < 2; size++) {
        tfe_session *s = session_of_size(m, 2, size);
        float *hidden = encode(s, ids, lengths, batch, seq, d, 0);
        for (int pooling = TFE_POOL_MEAN; pooling <= TFE_POOL_CLS; pooling++)
            for (int normalize = 0; normalize < 2; normalize++) {
                for (int b = 0; b < batch; b++) {
                    double *w = want + (size_t)b * d, sq = 0.0;
                    const float *rows = hidden + (size_t)b * seq * d;
                    const int n = pooling == TFE_POOL_CLS ? 1 : lengths[b];
                    for (int j = 0; j < d; j++) {
                        w[j] = 0.0;
                        for (int t = 0; t < n; t++)
                            w[j] += rows[(size_t)t * d + j];
                        w[j] /= n;
                        sq += w[j] * w[j];
                    }
                    for (int j = 0; normalize && j < d; j++)
                        w[j] /= sqrt(sq);
                }
                float *ref = NULL;
                for (int threads = 1; threads <= 3; threads++) {
                    tfe_session *st = session_of_size(m, threads, size);
                    float *out = encode_pooled(st, ids, lengths, batch, seq, d,
                                               (tfe_pooling)pooling, normalize);
                    for (size_t i = 0; i < (size_t)batch * d; i++)
                        CHECK(fabs(out[i] - want[i]) <= 2e-6 * (1.0 + fabs(want[i])),
                              "%s, pooling %d, normalize %d, %d threads: [%zu] %.9g, expected "
                              "%.9g",
                              SIZES[size], pooling, normalize, threads, i / d, (double)out[i],
                              want[i]);
                    if (!ref) {
                        ref = out;
                    } else {
                        CHECK(memcmp(ref, out, (size_t)batch * d * sizeof *out) == 0,
                              "%s, pooling %d, normalize %d: %d threads differ from 1",
                              SIZES[size], pooling, normalize, threads);
                        free(out);
                    }
                    tfe_session_free(st);
                }
                for (int b = 0; b < batch; b++) {
                    float *alone = encode_pooled(s, ids + (size_t)b * seq, NULL, 1, lengths[b],
                                                 d, (tfe_pooling)pooling, normalize);
                    CHECK(memcmp(alone, ref + (size_t)b * d, (size_t)d * sizeof *alone) == 0,
                          "%s, pooling %d, normalize %d: sequence %d alone differs from in "
                          "the batch",
                          SIZES[size], pooling, normalize, b);
                    free(alone);
                }
                free(ref);
            }
        free(hidden);
        float out[60];
        tfe_error err = {0};
        CHECK(tfe_encode_pooled(s, ids, lengths, 1, seq, (tfe_pooling)2, 0, out, &err) ==
                      TFE_ERR_ARG &&
                  strstr(err.message, "pooling"),
              "pooling 2 accepted or unclear: '%s'", err.message);
        CHECK(tfe_encode_pooled(s, ids, lengths, 1, seq, TFE_POOL_MEAN, 0, NULL, &err) ==
                  TFE_ERR_ARG,
              "NULL out accepted");
        tfe_session_free(s);
    }
    free(want), free(ids);
    tfe_model_free(m);
}

/* A tile-unit model gives sessions sized for fewer than TFE_TILE_GEMM_MIN_TOKENS tokens its
 * FMA GEMM and larger ones the tile unit's; a session keeps its GEMM when a call makes it
 * grow. Elsewhere every session runs the model's GEMM. */
TFE_TEST(encoder, session_gemm_by_size)
{
    tfe_model *m = random_model(12, TFE_ISA_AUTO);
    const char *model_gemm = tfe_model_kernel(m, "gemm");
    const int tile_unit = strstr(model_gemm, "__amx") != NULL;
    tfe_session *small = session_sized(m, 1, 1, TFE_TILE_GEMM_MIN_TOKENS - 1);
    tfe_session *large = session_sized(m, 1, 1, TFE_TILE_GEMM_MIN_TOKENS);
    CHECK(strcmp(tfe_session_gemm(large), model_gemm) == 0, "large session runs %s, model %s",
          tfe_session_gemm(large), model_gemm);
    if (tile_unit)
        CHECK(strstr(tfe_session_gemm(small), "__avx512") != NULL,
              "small session on an AMX model runs %s, expected the AVX-512 kernel",
              tfe_session_gemm(small));
    else
        CHECK(strcmp(tfe_session_gemm(small), model_gemm) == 0, "small session runs %s, model %s",
              tfe_session_gemm(small), model_gemm);
    const char *before = tfe_session_gemm(small);
    int32_t *ids = random_ids(2, 200, 37, 13);
    float *out = encode(small, ids, NULL, 2, 200, tfe_model_config(m)->d_model, 0);
    CHECK(strcmp(tfe_session_gemm(small), before) == 0, "the session changed GEMM when it grew");
    free(out), free(ids);
    tfe_session_free(small);
    tfe_session_free(large);
    tfe_model_free(m);
}

/* A session that grew for a big call, then serves a small one, gives the bits a fresh
 * session gives. */
TFE_TEST(encoder, session_reuse)
{
    tfe_model *m = random_model(9, TFE_ISA_AUTO);
    const int d = tfe_model_config(m)->d_model;
    int32_t *small = random_ids(2, 12, 37, 12), *big = random_ids(6, 200, 37, 13);
    const int32_t small_len[] = {12, 5};
    tfe_session *fresh = session(m, 2), *reused = session(m, 2);
    const size_t before = tfe_session_workspace_bytes(reused);
    free(encode(reused, big, NULL, 6, 200, d, 0));
    CHECK(tfe_session_workspace_bytes(reused) > before, "workspace did not grow for 6 x 200");
    float *a = encode(fresh, small, small_len, 2, 12, d, 0);
    float *b = encode(reused, small, small_len, 2, 12, d, 0);
    CHECK(memcmp(a, b, (size_t)2 * 12 * d * sizeof *a) == 0,
          "a grown session's output differs from a fresh session's");
    free(a), free(b), free(small), free(big);
    tfe_session_free(fresh), tfe_session_free(reused);
    tfe_model_free(m);
}

/* A call whose tokens fit the session but whose sequence is longer than its max_seq does not
 * grow it: attention reads that sequence's K and V in place, with the bits of a session sized
 * for it (which copies them into contiguous rows, or converts them once for the tile unit). */
TFE_TEST(encoder, long_sequence_in_small_session)
{
    tfe_model *m = random_model(10, TFE_ISA_AUTO);
    const int d = tfe_model_config(m)->d_model, len = 400; /* tile-unit attention where it runs */
    int32_t *ids = random_ids(1, len, 37, 14);
    tfe_session_options small_o = {.threads = 2, .max_batch = 32, .max_seq = 16};
    tfe_session_options fit_o = {.threads = 2, .max_batch = 1, .max_seq = len};
    tfe_session *small = NULL, *fit = NULL;
    CHECK(tfe_session_create(m, &small_o, &small, NULL) == TFE_OK, "session 32 x 16");
    CHECK(tfe_session_create(m, &fit_o, &fit, NULL) == TFE_OK, "session 1 x %d", len);
    const size_t before = tfe_session_workspace_bytes(small);
    float *a = encode(small, ids, NULL, 1, len, d, 0), *b = encode(fit, ids, NULL, 1, len, d, 0);
    CHECK(tfe_session_workspace_bytes(small) == before,
          "a call of %d tokens grew a session sized for 512", len);
    CHECK(memcmp(a, b, (size_t)len * d * sizeof *a) == 0,
          "K/V read in place and copied give different bits");
    free(a), free(b), free(ids);
    tfe_session_free(small), tfe_session_free(fit);
    tfe_model_free(m);
}

/* Sequences may be padded past max_positions as long as every length stays within it. */
TFE_TEST(encoder, padding_beyond_max_positions)
{
    char dir[4096];
    tt_path(dir, sizeof dir, tt_fixtures(), "post_relu_sin"); /* max_positions 12, seq 9 */
    fixture *f = fixture_load("post_relu_sin");
    tfe_model *m = load(dir, TFE_ISA_AUTO);
    const int seq = 20;
    int32_t *ids = calloc((size_t)f->batch * seq, sizeof *ids);
    CHECK(ids != NULL, "out of memory");
    for (int b = 0; b < f->batch; b++)
        memcpy(ids + (size_t)b * seq, f->ids + (size_t)b * f->seq, (size_t)f->seq * sizeof *ids);
    tfe_session *s = session(m, 2);
    float *wide = encode(s, ids, f->lengths, f->batch, seq, f->d, 0);
    for (int b = 0; b < f->batch; b++)
        for (int t = 0; t < seq; t++)
            for (int j = 0; j < f->d; j++) {
                float got = wide[((size_t)b * seq + t) * f->d + j];
                float want = t < f->seq ? f->expected[((size_t)b * f->seq + t) * f->d + j] : 0.0f;
                CHECK(t < f->lengths[b] ? fabsf(got - want) <= TOL_ENCODER : got == 0.0f,
                      "seq %d > max_positions: out[%d][%d][%d] = %g, expected %g", seq, b, t, j,
                      (double)got, (double)want);
            }
    free(wide), free(ids);
    tfe_session_free(s);
    tfe_model_free(m);
    fixture_free(f);
}

/* One model shared by threads, each with its own session (tfenc.h): concurrent encodes give
 * the bits of a lone encode, so there is no hidden shared state. */
typedef struct concurrent_job {
    const tfe_model *m;
    const int32_t *ids, *lengths;
    int batch, seq;
    float *out;
} concurrent_job;

static void *concurrent_encode(void *arg)
{
    concurrent_job *j = arg;
    tfe_session_options so = {.threads = 2, .max_batch = 1, .max_seq = 8};
    tfe_session *s = NULL;
    if (tfe_session_create(j->m, &so, &s, NULL) != TFE_OK)
        return NULL;
    const int d = tfe_model_config(j->m)->d_model;
    float *out = malloc((size_t)j->batch * j->seq * d * sizeof *out);
    for (int rep = 0; out && rep < 3; rep++)
        if (tfe_encode(s, j->ids, j->lengths, j->batch, j->seq, out, NULL) != TFE_OK) {
            free(out);
            out = NULL;
        }
    tfe_session_free(s);
    j->out = out;
    return NULL;
}

TFE_TEST(encoder, concurrent_sessions)
{
    tfe_model *m = random_model(13, TFE_ISA_AUTO);
    const int d = tfe_model_config(m)->d_model, batch = 3, seq = 90;
    const int32_t lengths[] = {90, 33, 64};
    int32_t *ids = random_ids(batch, seq, 37, 16);
    tfe_session *s = session(m, 2);
    float *alone = encode(s, ids, lengths, batch, seq, d, 0);
    tfe_session_free(s);
    enum { N = 3 };
    concurrent_job jobs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (concurrent_job){.m = m, .ids = ids, .lengths = lengths, .batch = batch,
                                   .seq = seq};
        CHECK(pthread_create(&th[i], NULL, concurrent_encode, &jobs[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        CHECK(jobs[i].out != NULL, "thread %d: encode failed", i);
        CHECK(memcmp(jobs[i].out, alone, (size_t)batch * seq * d * sizeof *alone) == 0,
              "thread %d: concurrent encode differs from a lone one", i);
        free(jobs[i].out);
    }
    free(alone), free(ids);
    tfe_model_free(m);
}

/* Workspace is linear in tokens: no S² term (no materialised score matrix). */
TFE_TEST(encoder, workspace_linear_in_seq)
{
    tfe_model *m = random_model(10, TFE_ISA_AUTO);
    for (int S = 64; S <= 4096; S *= 4) {
        const size_t w1 = tfe_workspace_bytes(m, 1, S), w2 = tfe_workspace_bytes(m, 1, 2 * S);
        const size_t w3 = tfe_workspace_bytes(m, 1, 3 * S), w4 = tfe_workspace_bytes(m, 1, 4 * S);
        CHECK(w2 > w1 && w2 - w1 == w3 - w2 && w3 - w2 == w4 - w3,
              "tfe_workspace_bytes(S = %d, 2S, 3S, 4S) = %zu, %zu, %zu, %zu is not linear", S, w1,
              w2, w3, w4);
        const size_t b2 = tfe_workspace_bytes(m, 2, S), b4 = tfe_workspace_bytes(m, 4, S);
        CHECK(b4 - b2 <= 2 * (w2 - w1) + 64,
              "4 x %d tokens need %zu bytes more than 2 x %d, but %d more tokens need %zu", S,
              b4 - b2, S, S, w2 - w1);
    }
    size_t ws[4];
    for (int i = 0; i < 4; i++) {
        tfe_session_options so = {.threads = 2, .max_batch = 1, .max_seq = 256 * (i + 1)};
        tfe_session *s = NULL;
        CHECK(tfe_session_create(m, &so, &s, NULL) == TFE_OK, "session for %d tokens",
              so.max_seq);
        ws[i] = tfe_session_workspace_bytes(s);
        tfe_session_free(s);
    }
    CHECK(ws[1] - ws[0] == ws[3] - ws[2], "session workspace for 256/512/768/1024 tokens "
          "(%zu, %zu, %zu, %zu) is not linear", ws[0], ws[1], ws[2], ws[3]);
    tfe_model_free(m);
}

/* Random models are reproducible from the seed, differ across seeds, and encode to finite
 * values under every ISA, within TOL_ENCODER of each other. */
TFE_TEST(encoder, random_model)
{
    enum { SEQ = 400 }; /* past the 384 tokens from which attention runs on the tile unit */
    const int32_t lengths[] = {SEQ, 7, 64};
    int32_t *ids = random_ids(3, SEQ, 37, 14);
    tfe_model *m = random_model(11, TFE_ISA_SCALAR);
    const int d = tfe_model_config(m)->d_model;
    tfe_session *s = session(m, 2);
    float *ref = encode(s, ids, lengths, 3, SEQ, d, 0);
    tfe_session_free(s);
    tfe_model_free(m);
    for (size_t i = 0; i < (size_t)3 * SEQ * d; i++)
        CHECK(isfinite(ref[i]), "scalar output element %zu is %g", i, (double)ref[i]);
    for (int isa = 0; isa < TFE_ISA_COUNT; isa++) {
        if (!tfe_isa_allowed((tfe_isa)isa, tt_isa_cap()))
            continue;
        m = random_model(11, (tfe_isa)isa);
        s = session(m, 2);
        float *out = encode(s, ids, lengths, 3, SEQ, d, 0);
        for (size_t i = 0; i < (size_t)3 * SEQ * d; i++)
            CHECK(fabsf(out[i] - ref[i]) <= TOL_ENCODER,
                  "random model, isa %s: element %zu (sequence %zu, row %zu) is %.7g, scalar "
                  "gives %.7g", tfe_isa_name((tfe_isa)isa), i, i / (SEQ * (size_t)d),
                  i / d % SEQ, (double)out[i], (double)ref[i]);
        free(out);
        tfe_session_free(s);
        tfe_model_free(m);
    }
    m = random_model(12, TFE_ISA_SCALAR);
    s = session(m, 2);
    float *other = encode(s, ids, lengths, 3, SEQ, d, 0);
    CHECK(memcmp(ref, other, (size_t)SEQ * d * sizeof *ref) != 0,
          "seeds 11 and 12 gave the same output");
    free(other), free(ref), free(ids);
    tfe_session_free(s);
    tfe_model_free(m);
}

/* Every built-in preset validates and is constructible (minilm is built and run once). */
TFE_TEST(encoder, presets)
{
    const char *names[] = {"bert-base", "minilm", "seed-base"};
    for (int i = 0; i < 3; i++) {
        tfe_config c;
        CHECK(tfe_preset_config(names[i], &c) == 0, "preset %s unknown", names[i]);
        CHECK(c.d_model > 0 && c.d_model % c.n_heads == 0 && c.n_layers > 0,
              "preset %s: d_model %d n_heads %d n_layers %d", names[i], c.d_model, c.n_heads,
              c.n_layers);
    }
    tfe_config c;
    CHECK(tfe_preset_config("no-such-preset", &c) == -1, "an unknown preset must give -1");
    CHECK(tfe_preset_config(NULL, &c) == -1, "a NULL preset name must give -1");
    CHECK(tfe_preset_config("minilm", &c) == 0, "minilm");
    tfe_model *m = NULL;
    CHECK(tfe_model_create_random(&c, 1, NULL, &m, NULL) == TFE_OK, "minilm random model");
    tfe_session *s = session(m, 2);
    int32_t *ids = random_ids(1, 16, c.vocab_size, 15);
    float *out = encode(s, ids, NULL, 1, 16, c.d_model, 0);
    for (size_t i = 0; i < (size_t)16 * c.d_model; i++)
        CHECK(isfinite(out[i]), "minilm output element %zu is %g", i, (double)out[i]);
    free(out), free(ids);
    tfe_session_free(s);
    tfe_model_free(m);
}

/* The best ISA a cap allows on this host, in the registry's order of preference. */
static tfe_isa best_allowed(tfe_isa cap)
{
    const tfe_isa order[] = {TFE_ISA_AMX, TFE_ISA_AVX512, TFE_ISA_AVX2, TFE_ISA_NEON};
    for (int i = 0; i < 4; i++)
        if (tfe_isa_allowed(order[i], cap))
            return order[i];
    return TFE_ISA_SCALAR;
}

/* What a model loaded without a cap runs under the TFENC_ISA cap of this test run: the best
 * allowed ISA, except a tile unit that does not pay (tfe_effective_cap). */
static tfe_isa auto_isa(void)
{
    const tfe_isa cap = tt_isa_cap(), best = best_allowed(cap);
    if (cap == TFE_ISA_AUTO && best == TFE_ISA_AMX && !tfe_tile_unit_check_run()->pays)
        return TFE_ISA_AVX512;
    return best;
}

/* The tile unit runs only where it pays, by the rule in kernels.h; measured once per process;
 * an explicit cap of amx still runs it. */
TFE_TEST(encoder, tile_unit_runs_where_it_pays)
{
    const double at = 100.0 * TFE_TILE_UNIT_MIN_GAIN;
    CHECK(tfe_tile_unit_pays(at, 100.0) && !tfe_tile_unit_pays(at - 1.0, 100.0) &&
              !tfe_tile_unit_pays(0.0, 0.0),
          "the rule is tile >= %.1f x fma and a measured tile unit", TFE_TILE_UNIT_MIN_GAIN);
    const tfe_tile_unit_check *c = tfe_tile_unit_check_run();
    CHECK(c == tfe_tile_unit_check_run() && c == tfe_tile_unit_check_peek(),
          "the check runs once and is then kept");
    CHECK(c->measured == tfe_isa_supported(TFE_ISA_AMX), "measured %d on a host %s AMX",
          c->measured, tfe_isa_supported(TFE_ISA_AMX) ? "with" : "without");
    if (!c->measured) {
        CHECK(tfe_effective_cap(TFE_ISA_AUTO) == TFE_ISA_AUTO, "no tile unit, no change");
        return;
    }
    CHECK(c->threads >= 1 && c->tile_gflops > 0.0 && c->fma_gflops > 0.0,
          "peaks %.1f and %.1f GFLOP/s on %d threads", c->tile_gflops, c->fma_gflops, c->threads);
    CHECK(c->pays == tfe_tile_unit_pays(c->tile_gflops, c->fma_gflops),
          "pays %d against %.1f / %.1f", c->pays, c->tile_gflops, c->fma_gflops);
    CHECK(tfe_effective_cap(TFE_ISA_AUTO) == (c->pays ? TFE_ISA_AUTO : TFE_ISA_AVX512) &&
              tfe_effective_cap(TFE_ISA_AMX) == TFE_ISA_AMX,
          "the cap follows the check only when none is given");
    char dir[4096];
    tt_path(dir, sizeof dir, tt_fixtures(), "dhead80");
    tfe_model *m = load(dir, TFE_ISA_AUTO);
    if (tt_isa_cap() == TFE_ISA_AUTO)
        CHECK(tfe_model_isa(m) == (c->pays ? TFE_ISA_AMX : TFE_ISA_AVX512),
              "the tile unit %s (%.0f / %.0f), yet the model runs %s",
              c->pays ? "pays" : "does not pay", c->tile_gflops, c->fma_gflops,
              tfe_isa_name(tfe_model_isa(m)));
    tfe_model_free(m);
    m = load(dir, TFE_ISA_AMX);
    CHECK(tfe_model_isa(m) == TFE_ISA_AMX, "cap amx runs %s", tfe_isa_name(tfe_model_isa(m)));
    tfe_model_free(m);
    /* Both outcomes, whatever this host measured: a tile unit that pays and one that does not.
     * (A cap from TFENC_ISA wins over both, as above.) */
    const tfe_tile_unit_check measured = *c;
    for (int pays = 0; pays <= 1; pays++) {
        tfe_tile_unit_check forced = measured;
        forced.pays = pays;
        tfe_tile_unit_check_set(&forced);
        m = load(dir, TFE_ISA_AUTO);
        const tfe_isa want = auto_isa(); /* reads the forced result */
        CHECK(tfe_model_isa(m) == want, "a tile unit that %s: the model runs %s, expected %s",
              pays ? "pays" : "does not pay", tfe_isa_name(tfe_model_isa(m)), tfe_isa_name(want));
        tfe_model_free(m);
    }
    tfe_tile_unit_check_set(&measured);
}

/* An explicit cap never enables what the host lacks: every cap, supported or not, gives a
 * working model on the best ISA it allows. */
TFE_TEST(encoder, explicit_isa_caps)
{
    char dir[4096];
    tt_path(dir, sizeof dir, tt_fixtures(), "dhead80");
    fixture *f = fixture_load("dhead80");
    for (int cap = TFE_ISA_AUTO; cap < TFE_ISA_COUNT; cap++) {
        tfe_model *m = load(dir, (tfe_isa)cap);
        tfe_isa want = cap == TFE_ISA_AUTO ? auto_isa() : best_allowed((tfe_isa)cap);
        CHECK(tfe_model_isa(m) == want, "cap %s: model runs %s, expected %s",
              tfe_isa_name((tfe_isa)cap), tfe_isa_name(tfe_model_isa(m)), tfe_isa_name(want));
        tfe_session *s = session(m, 1);
        float *out = encode(s, f->ids, f->lengths, f->batch, f->seq, f->d, 0);
        char what[64];
        snprintf(what, sizeof what, "dhead80 under cap %s", tfe_isa_name((tfe_isa)cap));
        check_fixture_output(f, out, what);
        free(out);
        tfe_session_free(s);
        tfe_model_free(m);
    }
    fixture_free(f);
}

/* TFE_MODEL_OPTIONS_INIT is the default a NULL opts means (no cap), not the zeroed struct. */
TFE_TEST(encoder, options_init_is_the_default)
{
    const tfe_model_options init = TFE_MODEL_OPTIONS_INIT;
    CHECK(init.isa == TFE_ISA_AUTO, "TFE_MODEL_OPTIONS_INIT caps the ISA to %s",
          tfe_isa_name(init.isa));
    tfe_config c;
    CHECK(tfe_preset_config("minilm", &c) == 0, "minilm");
    c.n_layers = 1, c.vocab_size = 64, c.max_positions = 16;
    tfe_model *with_null, *with_init;
    tfe_error err;
    CHECK(tfe_model_create_random(&c, 1, NULL, &with_null, &err) == TFE_OK, "%s", err.message);
    CHECK(tfe_model_create_random(&c, 1, &init, &with_init, &err) == TFE_OK, "%s", err.message);
    CHECK(tfe_model_isa(with_init) == tfe_model_isa(with_null),
          "TFE_MODEL_OPTIONS_INIT runs %s, NULL options %s", tfe_isa_name(tfe_model_isa(with_init)),
          tfe_isa_name(tfe_model_isa(with_null)));
    tfe_model_free(with_null);
    tfe_model_free(with_init);
}

/* The queries of the public API report what the model was built with. */
TFE_TEST(encoder, model_queries)
{
    char dir[4096];
    tt_path(dir, sizeof dir, tt_fixtures(), "pre_gelu_learned_norm");
    tfe_model *m = load(dir, TFE_ISA_AUTO);
    const tfe_config *c = tfe_model_config(m);
    CHECK(c->vocab_size == 53 && c->d_model == 48 && c->n_heads == 3 && c->d_ff == 96 &&
              c->n_layers == 2 && c->max_positions == 10 && c->positional == TFE_POS_LEARNED &&
              c->activation == TFE_ACT_GELU && c->norm_first == 1 && c->embed_scale == 0 &&
              c->final_norm == 1 && fabsf(c->layer_norm_eps - 1e-6f) < 1e-12f,
          "config of %s does not match its config.json", dir);
    /* No cap given: the best ISA the TFENC_ISA cap allows (where the tile unit pays). */
    CHECK(tfe_model_isa(m) == auto_isa(), "model runs %s, expected %s",
          tfe_isa_name(tfe_model_isa(m)), tfe_isa_name(auto_isa()));
    const char *ops[] = {"gemm", "attention", "layernorm"};
    for (int i = 0; i < 3; i++) {
        const char *k = tfe_model_kernel(m, ops[i]);
        CHECK(k && strstr(k, "__"), "kernel for %s: %s", ops[i], k ? k : "NULL");
        CHECK(tfe_isa_allowed((tfe_isa)tfe_isa_parse(strstr(k, "__") + 2), tt_isa_cap()),
              "kernel %s is outside the TFENC_ISA cap", k);
    }
    CHECK(tfe_model_kernel(m, "no-such-op") == NULL, "an unknown op must give NULL");
    /* A tile-unit attention names the kernel its short sequences run, and only then. */
    const char *alt = tfe_model_kernel(m, "attention_short");
    const int tile_attention = tfe_kernel_isa(tfe_model_kernel(m, "attention")) == TFE_ISA_AMX;
    CHECK(tile_attention ? alt && strstr(alt, " under ") && !strstr(alt, "__amx ")
                         : alt == NULL,
          "attention_short is %s with attention %s", alt ? alt : "NULL",
          tfe_model_kernel(m, "attention"));
    CHECK(tfe_model_resident_bytes(m) >= (size_t)(53 + 10) * 48 * sizeof(float),
          "resident bytes %zu do not even cover the embedding tables",
          tfe_model_resident_bytes(m));
    const int32_t lengths[] = {3, 10};
    /* 2 per multiply-add, per layer: 8·s·D² (QKV + out) + 4·s²·D (QKᵀ, PV) + 4·s·D·F. */
    double want = 0.0;
    for (int b = 0; b < 2; b++) {
        double s = lengths[b];
        want += c->n_layers * (8.0 * s * 48 * 48 + 4.0 * s * s * 48 + 4.0 * s * 48 * 96);
    }
    CHECK(fabs(tfe_model_flops(m, 2, lengths) - want) <= 1e-9 * want,
          "tfe_model_flops = %.0f, expected %.0f", tfe_model_flops(m, 2, lengths), want);
    tfe_session *s = session(m, 1);
    tfe_session_set_profiling(s, 1);
    int32_t ids[] = {1, 2, 3};
    free(encode(s, ids, NULL, 1, 3, 48, 0));
    tfe_profile p;
    tfe_session_profile(s, &p);
    CHECK(p.total > 0.0 && p.qkv_gemm >= 0.0 && p.attention >= 0.0 && p.layernorm >= 0.0,
          "profile after one encode: total %g", p.total);
    tfe_session_free(s);
    tfe_model_free(m);
}

/* The measuring functions report for supported ISAs only. */
TFE_TEST(encoder, peak_and_triad)
{
    for (int isa = 0; isa < TFE_ISA_COUNT; isa++) {
        double g = tfe_peak_gflops((tfe_isa)isa, 1, 0.01);
        if (tfe_isa_supported((tfe_isa)isa))
            CHECK(g > 0.0 && isfinite(g), "peak %s: %g GFLOP/s", tfe_isa_name((tfe_isa)isa), g);
        else
            CHECK(g == 0.0, "peak %s is unsupported but reports %g", tfe_isa_name((tfe_isa)isa),
                  g);
    }
    double gbs = tfe_triad_gbs(1, 1 << 16);
    CHECK(gbs > 0.0 && isfinite(gbs), "triad: %g GB/s", gbs);
}
