/* The speed-up between two team sizes, measured in one process: one model, a session per team
 * size, encode calls alternating between them, the median ratio of their times and its spread.
 * Separate runs minutes apart move by ±5-10% on a shared machine; this ratio moves by ~2%.
 *
 *   tfenc-thread-speedup PRESET BATCH SEQ THREADS_A THREADS_B [ROUNDS]
 *
 * e.g. `tfenc-thread-speedup bert-base 1 128 1 2` (the 1 -> 2 thread speed-up of BERT-base
 * 1x128); run it with OMP_WAIT_POLICY=passive like the other measurements. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "paired.h"
#include "tfenc.h"

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr,
                "usage: tfenc-thread-speedup PRESET BATCH SEQ THREADS_A THREADS_B [ROUNDS]\n");
        return 2;
    }
    const int batch = atoi(argv[2]), seq = atoi(argv[3]);
    const int threads[2] = {atoi(argv[4]), atoi(argv[5])};
    const int rounds = argc > 6 ? atoi(argv[6]) : 15;
    if (batch < 1 || seq < 1 || threads[0] < 1 || threads[1] < 1 || rounds < 3 || rounds > 1000) {
        fprintf(stderr, "tfenc-thread-speedup: BATCH, SEQ, THREADS >= 1 and 3 <= ROUNDS <= 1000\n");
        return 2;
    }
    tfe_config cfg;
    if (tfe_preset_config(argv[1], &cfg) != 0) {
        fprintf(stderr, "tfenc-thread-speedup: unknown preset '%s'\n", argv[1]);
        return 2;
    }
    tfe_model *model;
    tfe_session *session[2];
    tfe_error err;
    if (tfe_model_create_random(&cfg, 1, NULL, &model, &err) != TFE_OK) {
        fprintf(stderr, "tfenc-thread-speedup: %s\n", err.message);
        return 1;
    }
    for (int v = 0; v < 2; v++) {
        tfe_session_options so = {.threads = threads[v], .max_batch = batch, .max_seq = seq};
        if (tfe_session_create(model, &so, &session[v], &err) != TFE_OK) {
            fprintf(stderr, "tfenc-thread-speedup: %s\n", err.message);
            return 1;
        }
    }
    int32_t *ids = malloc(sizeof *ids * (size_t)batch * seq);
    float *out = malloc(sizeof *out * (size_t)batch * seq * cfg.d_model);
    double *t[2] = {malloc(sizeof(double) * rounds), malloc(sizeof(double) * rounds)};
    double *ratio = malloc(sizeof(double) * rounds);
    if (!ids || !out || !t[0] || !t[1] || !ratio)
        return 1;
    for (size_t i = 0; i < (size_t)batch * seq; i++)
        ids[i] = 100 + (int32_t)(i % 1000);
    for (int w = 0; w < 4; w++) /* first touch, thread start-up */
        if (tfe_encode(session[w & 1], ids, NULL, batch, seq, out, &err) != TFE_OK) {
            fprintf(stderr, "tfenc-thread-speedup: %s\n", err.message);
            return 1;
        }
    for (int r = 0; r < rounds; r++) {
        for (int v = 0; v < 2; v++) {
            double t0 = paired_now();
            tfe_encode(session[v], ids, NULL, batch, seq, out, &err);
            t[v][r] = (paired_now() - t0) * 1e3;
        }
        ratio[r] = t[0][r] / t[1][r];
    }
    paired_sort(ratio, rounds);
    paired_sort(t[0], rounds);
    paired_sort(t[1], rounds);
    printf("%s %dx%d: %d threads %.3f ms, %d threads %.3f ms (medians of %d); speed-up median "
           "%.3f, middle two thirds %.3f..%.3f\n",
           argv[1], batch, seq, threads[0], paired_median(t[0], rounds), threads[1],
           paired_median(t[1], rounds), rounds, paired_median(ratio, rounds),
           paired_low(ratio, rounds), paired_high(ratio, rounds));
    for (int v = 0; v < 2; v++)
        tfe_session_free(session[v]);
    tfe_model_free(model);
    free(ids), free(out), free(t[0]), free(t[1]), free(ratio);
    return 0;
}
