/* Shared test helpers: seeds, exact-size buffers, canaries, ISA gating, comparisons, files. */
#ifndef TFE_TEST_UTIL_H
#define TFE_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "tfenc.h"

/* The run's base seed: TFENC_TEST_SEED when set (to reproduce a reported failure), else 1. */
uint64_t tt_seed(void);

/* A xorshift generator for one case, derived from the base seed and a case number. */
typedef struct tt_rng {
    uint64_t s;
} tt_rng;
tt_rng tt_rng_for(uint64_t case_id);
float tt_uniform(tt_rng *r, float lo, float hi);
void tt_fill(tt_rng *r, float *p, size_t n, float lo, float hi);

/* Exactly n floats (so ASan sees any access past the end), 64-byte aligned as the library's
 * own buffers are; fails the test when out of memory. Release with free(). */
float *tt_alloc(size_t n);

/* A NaN with a recognisable payload: a kernel that reads it spreads NaN, one that writes it
 * is caught by tt_canary_check. */
void tt_canary_fill(float *p, size_t n);
/* Index of the first element of p[0..n) that no longer holds the canary, or -1. */
long tt_canary_check(const float *p, size_t n);
/* Fills a rows×cols tile's row gaps (ld > cols) with canaries; tt_gaps_check returns the
 * flat index of the first disturbed gap element or -1. */
void tt_gaps_fill(float *p, int rows, int cols, size_t ld);
long tt_gaps_check(const float *p, int rows, int cols, size_t ld);

/* The ISA cap of this run (TFENC_ISA, as set by `meson test --setup=...`). */
tfe_isa tt_isa_cap(void);
/* Ends the test as skipped unless the host and build support `isa` and the cap allows it. */
void tt_require_isa(tfe_isa isa);

/* Fails the test at the first |got[i][j] - want[i][j]| > tol[i][j] (or NaN) of a rows×cols
 * tile, naming `what` (impl, shape, case), the index and the seed. want and tol are dense. */
void tt_check_close(const char *what, const float *got, size_t ld, const double *want,
                    const double *tol, int rows, int cols);

/* Fixture root: TFENC_FIXTURES when set, else the source tree's tests/fixtures. */
const char *tt_fixtures(void);
/* Path buffer helpers that fail the test instead of truncating. */
void tt_path(char *out, size_t cap, const char *dir, const char *file);
/* A fresh private directory under $TMPDIR (or /tmp); tt_rmdir removes it and its files. */
void tt_tempdir(char *out, size_t cap);
void tt_rmdir(const char *dir);
/* Whole-file helpers; tt_read_file returns malloc'd bytes (NUL-terminated) and the size. */
unsigned char *tt_read_file(const char *path, size_t *size);
void tt_write_file(const char *path, const void *data, size_t size);
void tt_copy_file(const char *from, const char *to);

#endif
