/* Two builds of libtfenc side by side in one process: alternating encode calls, the median
 * ratio of their times and its spread. On a shared, noisy machine this resolves 1-2%
 * differences that separate runs (minutes apart, ±5-10% here) cannot.
 *
 *   tfenc-ab-libs LIB_A LIB_B PRESET BATCH SEQ THREADS [ROUNDS]
 *
 * Each library is dlopen'ed RTLD_LOCAL, so both keep their own symbols; each gets its own
 * random model (same preset and seed) and session. Run it twice with A and B swapped: the
 * library loaded second may sit differently in memory, and a real difference holds both ways. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "paired.h"
#include "tfenc.h"

typedef struct lib {
    tfe_status (*encode)(tfe_session *, const int32_t *, const int32_t *, int, int, float *,
                         tfe_error *);
    tfe_session *session;
    int d_model;
} lib;

static void open_lib(lib *l, const char *path, const char *preset, int batch, int seq, int threads)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "tfenc-ab-libs: %s\n", dlerror());
        exit(1);
    }
    int (*preset_config)(const char *, tfe_config *);
    tfe_status (*create)(const tfe_config *, uint64_t, const tfe_model_options *, tfe_model **,
                         tfe_error *);
    tfe_status (*session_create)(const tfe_model *, const tfe_session_options *, tfe_session **,
                                 tfe_error *);
    paired_symbol("tfenc-ab-libs", h, path, "tfe_preset_config", &preset_config);
    paired_symbol("tfenc-ab-libs", h, path, "tfe_model_create_random", &create);
    paired_symbol("tfenc-ab-libs", h, path, "tfe_session_create", &session_create);
    paired_symbol("tfenc-ab-libs", h, path, "tfe_encode", &l->encode);
    tfe_config cfg;
    tfe_model *model;
    tfe_error err;
    tfe_session_options so = {.threads = threads, .max_batch = batch, .max_seq = seq};
    if (preset_config(preset, &cfg) != 0) {
        fprintf(stderr, "tfenc-ab-libs: unknown preset '%s'\n", preset);
        exit(1);
    }
    l->d_model = cfg.d_model;
    if (create(&cfg, 1, NULL, &model, &err) != TFE_OK ||
        session_create(model, &so, &l->session, &err) != TFE_OK) {
        fprintf(stderr, "tfenc-ab-libs: %s: %s\n", path, err.message);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: tfenc-ab-libs LIB_A LIB_B PRESET BATCH SEQ THREADS [ROUNDS]\n");
        return 2;
    }
    const int batch = atoi(argv[4]), seq = atoi(argv[5]), threads = atoi(argv[6]);
    const int rounds = argc > 7 ? atoi(argv[7]) : 15;
    if (batch < 1 || seq < 1 || threads < 1 || rounds < 3 || rounds > 1000) {
        fprintf(stderr, "tfenc-ab-libs: BATCH, SEQ, THREADS >= 1 and 3 <= ROUNDS <= 1000\n");
        return 2;
    }
    lib l[2];
    open_lib(&l[0], argv[1], argv[3], batch, seq, threads);
    open_lib(&l[1], argv[2], argv[3], batch, seq, threads);
    int32_t *ids = malloc(sizeof *ids * (size_t)batch * seq);
    float *out = malloc(sizeof *out * (size_t)batch * seq * l[0].d_model);
    double *t[2] = {malloc(sizeof(double) * rounds), malloc(sizeof(double) * rounds)};
    double *ratio = malloc(sizeof(double) * rounds);
    if (!ids || !out || !t[0] || !t[1] || !ratio)
        return 1;
    for (size_t i = 0; i < (size_t)batch * seq; i++)
        ids[i] = 100 + (int32_t)(i % 1000);
    tfe_error err;
    /* Warm both (first-touch of the workspace, thread start-up), then size the calls per
     * round to ~0.3 s so that a round is not one scheduler tick. */
    for (int w = 0; w < 4; w++)
        if (l[w & 1].encode(l[w & 1].session, ids, NULL, batch, seq, out, &err) != TFE_OK) {
            fprintf(stderr, "tfenc-ab-libs: %s\n", err.message);
            return 1;
        }
    double t0 = paired_now();
    l[0].encode(l[0].session, ids, NULL, batch, seq, out, &err);
    const int calls = (int)(0.3 / (paired_now() - t0)) + 1;
    for (int r = 0; r < rounds; r++) {
        for (int v = 0; v < 2; v++) {
            t0 = paired_now();
            for (int c = 0; c < calls; c++)
                l[v].encode(l[v].session, ids, NULL, batch, seq, out, &err);
            t[v][r] = (paired_now() - t0) / calls * 1e3;
        }
        ratio[r] = t[1][r] / t[0][r];
    }
    paired_sort(ratio, rounds);
    paired_sort(t[0], rounds);
    paired_sort(t[1], rounds);
    printf("%s %dx%d, %d threads, %d rounds of %d calls: A %.3f ms, B %.3f ms (medians); "
           "B/A median %.3f, middle two thirds %.3f..%.3f\n",
           argv[3], batch, seq, threads, rounds, calls, paired_median(t[0], rounds),
           paired_median(t[1], rounds), paired_median(ratio, rounds), paired_low(ratio, rounds),
           paired_high(ratio, rounds));
    return 0;
}
