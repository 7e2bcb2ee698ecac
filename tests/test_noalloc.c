/* Verifies that tfe_encode allocates nothing once its session is sized: malloc and friends are
 * interposed here and counted while encode runs (after one warm-up call, which lets OpenMP
 * build its thread pool). A plain program: Criterion and sanitizers bring their own mallocs. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfenc.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_int counting;
static atomic_long allocations;

static void note(void)
{
    if (atomic_load(&counting))
        atomic_fetch_add(&allocations, 1);
}

void *malloc(size_t n) { note(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { note(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { note(); return __libc_realloc(p, n); }
void *aligned_alloc(size_t al, size_t n) { note(); return __libc_memalign(al, n); }
void *memalign(size_t al, size_t n) { note(); return __libc_memalign(al, n); }
int posix_memalign(void **out, size_t al, size_t n)
{
    note();
    *out = __libc_memalign(al, n);
    return *out ? 0 : 12; /* ENOMEM */
}

static int run(const char *preset_like, int threads)
{
    tfe_config cfg = {.vocab_size = 97, .d_model = 64, .n_heads = 4, .d_ff = 96, .n_layers = 2,
                      .max_positions = 80, .positional = TFE_POS_LEARNED,
                      .activation = TFE_ACT_GELU, .norm_first = 1, .final_norm = 1,
                      .layer_norm_eps = 1e-5f};
    tfe_model *m;
    tfe_session *s;
    tfe_error e;
    if (tfe_model_create_random(&cfg, 3, NULL, &m, &e) != TFE_OK) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    tfe_session_options so = {.threads = threads, .max_batch = 3, .max_seq = 70};
    if (tfe_session_create(m, &so, &s, &e) != TFE_OK) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    int32_t ids[3 * 70], lens[3] = {70, 33, 1};
    for (int i = 0; i < 3 * 70; i++)
        ids[i] = (i * 7) % 97;
    float *out = malloc(sizeof(float) * 3 * 70 * 64);
    int rc = tfe_encode(s, ids, lens, 3, 70, out, &e) != TFE_OK; /* warm-up: thread pool */
    atomic_store(&allocations, 0);
    atomic_store(&counting, 1);
    for (int i = 0; i < 3 && !rc; i++)
        rc = tfe_encode(s, ids, lens, 3, 70, out, &e) != TFE_OK ||
             tfe_encode_packed(s, ids, lens, 3, 70, out, &e) != TFE_OK ||
             tfe_encode_pooled(s, ids, lens, 3, 70, TFE_POOL_MEAN, 1, out, &e) != TFE_OK;
    atomic_store(&counting, 0);
    long n = atomic_load(&allocations);
    printf("%s, %d threads, gemm %s: %ld allocations during 9 encode calls\n", preset_like,
           threads, tfe_session_gemm(s), n);
    free(out);
    tfe_session_free(s);
    tfe_model_free(m);
    return rc || n != 0;
}

int main(void)
{
    int failed = run("pre-LN gelu model", 1) | run("pre-LN gelu model", 2) |
                 run("pre-LN gelu model", 3);
    printf(failed ? "FAILED\n" : "ok\n");
    return failed;
}
